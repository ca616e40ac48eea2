"""Learning-rate series: the same experiment at several Adam learning rates, tuned equally.

A series is the experiments of a preset whose settings differ in ``lr`` alone (found by the
workflow). Every model (TD, no TD, each fixed width) takes the rate whose runs end with the
lowest validation loss (mean over seeds; the validation images are held out of the training
split, the test split is untouched), the same rule for each. At those rates TD's test MSE is set
against each reference's, paired by seed (a seed's runs share their initialisation at every
rate), and tested with the autoencoder claims' thresholds: ``full_gap`` over no TD at full
width, whose control is PCA with as many components, ``fixed_ratio`` over each fixed-width AE,
whose control is no TD's best training-free cut at that width (as in the experiments' own
claims).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tridrop.claims import claim, table

CHOICE_COLUMNS = ["model", "lr", "val_loss", "val_std", "chosen"]
CUTS = ("notd", "notd_meanfill", "notd_pca", "notd_greedy")


def choices(curves: pd.DataFrame, lrs: dict[str, float]) -> pd.DataFrame:
    """Each model's validation loss after its last epoch at every rate (mean and std over
    seeds) and whether the rule chose that rate (the lowest mean)."""
    val = curves[curves["split"] == "val"]
    if val.empty:
        raise ValueError("no validation loss in the runs' histories: set val_fraction > 0")
    last = val[
        val["epoch"] == val.groupby(["experiment", "model", "seed"])["epoch"].transform("max")
    ]
    g = last.groupby(["model", "experiment"])["loss"].agg(["mean", "std"]).reset_index()
    g["lr"] = g["experiment"].map(lrs)
    g = g.rename(columns={"mean": "val_loss", "std": "val_std"})
    g["chosen"] = g["val_loss"] == g.groupby("model")["val_loss"].transform("min")
    return g.sort_values(["model", "lr"], ignore_index=True)[CHOICE_COLUMNS]


def chosen(choice: pd.DataFrame) -> dict[str, float]:
    """The chosen rate of each model (``fixed<w>`` runs appear as ``fixed<w>``)."""
    return dict(choice.loc[choice["chosen"], ["model", "lr"]].itertuples(index=False))


def tuned_claims(
    sweeps: pd.DataFrame,
    choice: pd.DataFrame,
    lrs: dict[str, float],
    series: str,
    full_gap: float,
    fixed_ratio: float,
    td: str = "td",
    notd: str = "notd",
) -> pd.DataFrame:
    """TD against each reference, each at its chosen rate, paired by seed."""
    rate = chosen(choice)
    by_lr = {lr: e for e, lr in lrs.items()}
    mse = sweeps[sweeps["metric"] == "mse"].set_index(["experiment", "model", "seed", "width"])
    mse = mse["value"]

    def at(model: str, run: str, width: int) -> pd.Series:
        """Per-seed MSE of result rows ``model`` at ``width`` from the runs of ``run``."""
        return mse.xs((by_lr[rate[run]], model), level=("experiment", "model")).xs(
            width, level="width"
        )

    have = set(mse.index.droplevel("seed"))
    td_runs = mse.xs((by_lr[rate[td]], td), level=("experiment", "model"))
    full = int(td_runs.index.get_level_values("width").max())
    t = f"TD at {rate[td]:g}"
    pca = (by_lr[rate[notd]], "pca", full) in have
    rows = [
        claim(
            f"tuned equally ({t}, no TD at {rate[notd]:g}): TD vs the same AE without TD at "
            f"full width: MSE ratio <= {full_gap}",
            "mse_ratio",
            (at(td, td, full) / at(notd, notd, full)).dropna().tolist(),
            full_gap,
            "<=",
            f"PCA with {full} components" if pca else "",
            float(at("pca", notd, full).mean() / at(notd, notd, full).mean()) if pca else np.nan,
            log=True,
        )
    ]
    fixed = sorted(int(m[5:]) for m in rate if m.startswith("fixed"))
    for w in fixed:
        ref = at("fixed", f"fixed{w}", w)
        cuts = {
            c: float(np.exp(np.log(at(c, notd, w) / ref).mean()))
            for c in CUTS
            if (by_lr[rate[notd]], c, w) in have
        }
        best = min(cuts, key=cuts.get) if cuts else ""
        rows.append(
            claim(
                f"tuned equally ({t}, fixed at {rate[f'fixed{w}']:g}): TD at width {w} vs an AE "
                f"trained at width {w}: MSE ratio <= {fixed_ratio}",
                "mse_ratio",
                (at(td, td, w) / ref).dropna().tolist(),
                fixed_ratio,
                "<=",
                f"no TD's best training-free cut ({best}) at {rate[notd]:g}" if cuts else "",
                cuts.get(best, float("nan")),
                log=True,
            )
        )
    return table(series, rows)
