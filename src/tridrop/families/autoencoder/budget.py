"""Budget curves: the same experiment trained for several numbers of epochs (a budget series).

A series is the experiments of a preset whose settings differ in ``epochs`` alone (found by the
workflow). At each budget every model trains as long (matched training), so TD's price over a
reference is measured at equal training:

- over the unconstrained autoencoder (no TD) at full width, and
- over the autoencoder trained at width w, for each fixed width,

each as TD's test MSE over the reference's, per seed (paired: a seed's runs share their
initialisation and, at a constant learning rate, a short run is the start of a longer one).
The claim per reference: training longer shrinks TD's price (ratio - 1) below
``budget_shrink`` times its price after the shortest budget. Learning curves (train and
validation loss per epoch) come from the runs' metadata.
"""

from __future__ import annotations

import math

import pandas as pd

from tridrop.claims import claim, table

RATIO_COLUMNS = ["experiment", "epochs", "reference", "width", "seed", "td", "ref", "ratio"]
CURVE_COLUMNS = ["experiment", "model", "seed", "epoch", "split", "loss"]


def ratios(
    sweeps: pd.DataFrame,
    epochs: dict[str, float],
    td: str = "td",
    notd: str = "notd",
    column: str = "epochs",
) -> pd.DataFrame:
    """TD's test MSE over each reference's, per experiment (budget), reference and seed; the
    experiments' ``epochs`` (or another setting of a series: ``column``) in its own column."""
    mse = sweeps[sweeps["metric"] == "mse"]
    rows = []
    for experiment, g in mse.groupby("experiment"):
        by = g.set_index(["model", "seed", "width"])["value"]
        full = int(g.loc[g["model"] == td, "width"].max())
        refs = [(f"{notd} at full width", notd, full)] + [
            (f"fixed at {w}", "fixed", int(w))
            for w in sorted(g.loc[g["model"] == "fixed", "width"].unique())
        ]
        for name, model, width in refs:
            for seed in sorted(g.loc[g["model"] == td, "seed"].unique()):
                t, r = by.get((td, seed, width)), by.get((model, seed, width))
                if t is None or r is None:
                    raise ValueError(
                        f"{experiment}: seed {seed} has no {td} or {model} MSE at width {width}"
                    )
                rows.append([experiment, epochs[experiment], name, width, int(seed), t, r, t / r])
    out = pd.DataFrame(rows, columns=RATIO_COLUMNS).rename(columns={"epochs": column})
    return out.sort_values([column, "width", "reference", "seed"], ignore_index=True)


def budget_claims(ratio: pd.DataFrame, series: str, shrink: float) -> pd.DataFrame:
    """Per reference: TD's price (ratio - 1) after the longest budget over its price after the
    shortest, paired by seed, against ``shrink`` (a price that was not positive to begin with
    cannot shrink: no claim)."""
    short, long_ = ratio["epochs"].min(), ratio["epochs"].max()
    if short == long_:
        raise ValueError(f"a budget series needs two budgets, got only {short} epochs")
    rows = []
    for reference, g in ratio.groupby("reference", sort=False):
        by = g.pivot(index="seed", columns="epochs", values="ratio")
        price = by[short] - 1
        if (price <= 0).any():
            continue
        values = ((by[long_] - 1) / price).tolist()
        rows.append(
            claim(
                f"training {long_ / short:g}x longer ({short} to {long_} epochs) at least halves "
                f"TD's price over {reference}",
                f"(TD/ref - 1) after {long_} / after {short} epochs",
                values,
                shrink,
                "<",
            )
        )
    return table(series, rows)


def read_curves(meta: list[str], runs: tuple[str, ...]) -> pd.DataFrame:
    """:func:`curves` of the metadata files ``meta`` of ``runs`` (``experiment/variant/seed``
    each, in the same order)."""
    import json
    from pathlib import Path

    if len(meta) != len(runs):
        raise ValueError(f"{len(meta)} metadata files for {len(runs)} runs")
    histories = []
    for path, run in zip(meta, runs, strict=True):
        experiment, variant, seed = run.split("/")
        history = json.loads(Path(path).read_text())["history"]
        histories.append((experiment, variant, int(seed), history))
    return curves(histories)


def curves(histories: list[tuple[str, str, int, list[dict]]]) -> pd.DataFrame:
    """Tidy learning curves from ``(experiment, model, seed, history)``: the training loss of
    each epoch (its running mean over the epoch's batches) and, where recorded, the
    validation loss after it."""
    rows = []
    for experiment, model, seed, history in histories:
        for r in history:
            rows.append([experiment, model, seed, int(r["epoch"]), "train", float(r["loss"])])
            if "val_loss" in r:
                rows.append([experiment, model, seed, int(r["epoch"]), "val", r["val_loss"]])
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def prefix_mismatches(curve: pd.DataFrame) -> list[str]:
    """Runs whose shorter budget is not the start of the longer one (the same model and seed,
    at a constant learning rate): a check that the budgets differ in training length alone."""
    out = []
    for (model, seed), g in curve.groupby(["model", "seed"]):
        runs = {e: h.set_index(["epoch", "split"])["loss"] for e, h in g.groupby("experiment")}
        longest = max(runs.values(), key=len)
        for e, h in runs.items():
            other = longest.reindex(h.index)
            if not all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(h, other, strict=True)):
                out.append(f"{e}/{model}/seed{seed}")
    return out
