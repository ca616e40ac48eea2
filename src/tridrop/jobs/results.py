"""Result jobs shared by every experiment family: collect and aggregate sweeps, combine
claims, record the environment, and write the README's results from them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from tridrop import tables
from tridrop.claims import combine, markdown, tally
from tridrop.files import write_csv, write_json, write_text
from tridrop.job import In, Out, Work
from tridrop.specs import Aggregate, Environment, Nothing, Readme
from tridrop.train import environment as versions
from tridrop.train import resolve_device

log = logging.getLogger(__name__)


def collect(spec: Nothing, *, sweeps: list[In], out: Out):
    """One experiment's per-run sweeps (models, seeds, baselines) in one tidy file."""
    write_csv(tables.combine(sweeps), out)


def aggregate(
    spec: Aggregate, *, sweeps: list[In], out: Out, summary: Out, plots: Work, metrics: Out
):
    """The preset's results: every experiment's sweeps, summaries, plot data, metrics.

    ``plots`` is a path with ``{experiment}`` and ``{metric}``: one file per pair.
    """
    df = tables.combine(sweeps)
    means = tables.summary(df)
    write_csv(df, out)
    write_csv(means, summary)
    for (experiment, metric), part in means.groupby(["experiment", "metric"]):
        write_csv(
            tables.by_width(part, metric), str(plots).format(experiment=experiment, metric=metric)
        )
    write_text(json.dumps(tables.headline(means, spec.headline_widths), indent=2), metrics)


def claims(spec: Nothing, *, claims: list[In], out: Out, metrics: Out):
    """The preset's claims table, and the claims per verdict per experiment (DVC metrics)."""
    df = combine(claims)
    write_csv(df, out)
    write_json(tally(df), metrics)
    log.info("claims:\n%s", markdown(df))


def environment(spec: Environment, *, out: Out):
    """Library versions, the device and the resolved config: the run's record."""
    write_json({"environment": versions(resolve_device(spec.device)), "config": spec.config}, out)


def readme(spec: Readme, *, config: In, captions: In, check: bool = False):
    """Write (with ``check``: verify) the generated results pages (``tridrop.readme.PAGES``:
    the README's headline and each preset's full results page) of ``spec.presets``."""
    from tridrop.config import read
    from tridrop.readme import PAGES, update

    cfg = read(config)
    shown = sorted(set(PAGES.values()))
    unknown = sorted(set(spec.presets) - set(shown))
    if unknown:
        raise ValueError(f"spec.presets: no results pages for {unknown}; pages show {shown}")
    for page, preset in PAGES.items():
        if spec.presets and preset not in spec.presets:
            continue
        text = update(page, cfg, Path(captions))
        if check and text != page.read_text():
            raise ValueError(f"{page}'s results are out of date; run `make readme`")
        if not check:
            write_text(text, page)


VERBS = ("collect", "aggregate", "claims", "environment", "readme")
