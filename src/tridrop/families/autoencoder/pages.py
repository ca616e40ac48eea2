"""The autoencoder family's part of the results pages: its gap reports, as Markdown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from tridrop.gap import gap_section
from tridrop.tables import select_line


def _interval(values: pd.Series) -> str:
    """Mean [95% t-interval] of per-seed values."""
    from tridrop.claims import interval

    mean, low, high = interval(values.tolist())
    return f"{mean:.3f}" if pd.isna(low) else f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def series_table(ratio: pd.DataFrame, column: str, unit: str) -> str:
    """TD's MSE ratio over each reference (rows) at each value of ``column`` (columns)."""
    values = sorted(ratio[column].unique())
    lines = [
        "| TD / reference | " + " | ".join(f"{v:g} {unit}" for v in values) + " |",
        "|---|" + "---|" * len(values),
    ]
    for ref, g in ratio.groupby("reference", sort=False):
        cells = [_interval(g[g[column] == v]["ratio"]) for v in values]
        lines.append(f"| {ref} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curve_table(curves: pd.DataFrame) -> str:
    """Per model of the longest run: the epoch of its lowest validation loss and the loss then
    and at the end (mean over seeds): whether longer training still helps, or overfits."""
    val = curves[curves["split"] == "val"]
    longest = val.groupby("experiment")["epoch"].max().idxmax()
    mean = val[val["experiment"] == longest].groupby(["model", "epoch"])["loss"].mean()
    lines = [
        f"| model ({longest}) | lowest validation loss | at epoch | at the last epoch |",
        "|---|---|---|---|",
    ]
    for model, g in mean.groupby(level="model"):
        g = g.droplevel("model")
        lines.append(f"| {model} | {g.min():.5f} | {g.idxmin()} | {g.iloc[-1]:.5f} |")
    return "\n".join(lines)


def choice_table(choice: pd.DataFrame) -> str:
    """Each model's validation loss at every learning rate, its choice in bold."""
    lrs = sorted(choice["lr"].unique())
    lines = [
        "| model | " + " | ".join(f"lr {v:g}" for v in lrs) + " |",
        "|---|" + "---|" * len(lrs),
    ]
    for model, g in choice.groupby("model"):
        by = g.set_index("lr")
        cells = []
        for v in lrs:
            text = f"{by.at[v, 'val_loss']:.5f} ± {by.at[v, 'val_std']:.1g}"
            cells.append(f"**{text}**" if by.at[v, "chosen"] else text)
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k`` of ``n`` (95% by default)."""
    p, d = k / n, 1 + z * z / n
    centre, half = (p + z * z / (2 * n)) / d, z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / d
    return max(0.0, centre - half), min(1.0, centre + half)


def mode_lines(sweeps: pd.DataFrame, bad: float, width: int = 2, min_seeds: int = 5) -> list[str]:
    """How often TD lands in the bad mode at ``width``: TD/fixed MSE above ``bad``, per seed,
    for each experiment with at least ``min_seeds`` seeds of both."""
    out = []
    mse = sweeps[(sweeps["metric"] == "mse") & (sweeps["width"] == width)]
    for exp, g in mse.groupby("experiment"):
        by = g.pivot_table(index="seed", columns="model", values="value")
        if not {"td", "fixed"} <= set(by.columns):
            continue
        ratio = (by["td"] / by["fixed"]).dropna()
        if len(ratio) < min_seeds:
            continue
        k, n = int((ratio > bad).sum()), len(ratio)
        low, high = wilson(k, n)
        seeds = ", ".join(f"{r:.2f}" for r in ratio)
        out += [
            f"### {exp}: the bad width-{width} mode",
            "",
            f"TD/fixed test MSE at width {width} per seed: {seeds}. Above {bad:g} (the bad "
            f"mode, pre-registered): **{k} of {n} seeds**, {k / n:.0%} (Wilson 95% interval "
            f"{low:.0%}-{high:.0%}).",
            "",
        ]
    return out


def _bad_mode(results: Path) -> float:
    """The pre-registered threshold of the bad mode in the run's config (else the default)."""
    import json

    from tridrop.families.autoencoder.specs import AutoencoderClaims

    path = results / "environment.json"
    found = set()
    if path.exists():
        config = json.loads(path.read_text()).get("config", {})
        for exp in config.get("autoencoders", {}).values():
            found.add(exp.get("claims", {}).get("bad_mode", AutoencoderClaims().bad_mode))
    return found.pop() if len(found) == 1 else AutoencoderClaims().bad_mode


def study_sections(results: Path) -> list[str]:
    """Budget and learning-rate series and the bad-mode frequency, where a run has them."""
    out = []
    for path in sorted((results / "tables").glob("*_budget.csv")):
        name = path.name.removesuffix("_budget.csv")
        ratio = pd.read_csv(path)
        out += [
            f"### {name}: TD's price against training budget",
            "",
            "TD's test MSE over each reference's after each budget (every model trained as "
            "long), mean [95% t-interval] over seeds, paired by seed:",
            "",
            series_table(ratio, "epochs", "epochs"),
            "",
        ]
        curves = results / "tables" / f"{name}_curves.csv"
        if curves.exists():
            out += [curve_table(pd.read_csv(curves)), ""]
    for path in sorted((results / "tables").glob("*_lr.csv")):
        name = path.name.removesuffix("_lr.csv")
        out += [
            f"### {name}: learning rates, tuned equally",
            "",
            "Validation loss after the last epoch, mean ± std over seeds (TD's: its "
            "objective); in bold each model's chosen rate:",
            "",
            choice_table(pd.read_csv(results / "tables" / f"{name}_lr_choice.csv")),
            "",
            "TD's test MSE over each reference's when both train at the same rate:",
            "",
            series_table(pd.read_csv(path), "lr", ""),
            "",
        ]
    sweeps = results / "sweeps.csv"
    if sweeps.exists():
        out += mode_lines(pd.read_csv(sweeps), _bad_mode(results))
    return out


def sections(results: Path, link: Callable[[Path], str]) -> list[str]:
    """The studies (budget and learning-rate series, the bad-mode frequency), the width each
    experiment's select chose, and the gap reports (the full results page)."""
    out = study_sections(results)
    for path in sorted((results / "tables").glob("*_select.csv")):
        name, rows = path.name.removesuffix("_select.csv"), pd.read_csv(path)
        if set(rows["metric"]) == {"mse"}:  # an autoencoder's (other families show their own)
            out += [f"### {name}: choosing a width", "", select_line(rows), ""]
    return out + gap_sections(results, link)


def gap_sections(results: Path, link: Callable[[Path], str]) -> list[str]:
    """The gap report of every autoencoder experiment that has one."""
    out = []
    for path in sorted((results / "tables").glob("*_gap.csv")):
        name = path.name.removesuffix("_gap.csv")
        if path.with_name(f"{name}_accuracy_vs_params.csv").exists():
            continue  # a classifier head's gap report: on the head's part of the page
        out += gap_section(
            name,
            pd.read_csv(path),
            "Each model's test MSE over the unconstrained autoencoder's at full width and over "
            "the autoencoders trained at each fixed width",
            link,
            "MSE",
            "autoencoder",
        )
    return out


def headline(results: Path, link: Callable[[Path], str]) -> list[str]:
    """The README's headline shows the studies and the gap reports too (the chosen widths are
    on the results pages)."""
    return study_sections(results) + gap_sections(results, link)
