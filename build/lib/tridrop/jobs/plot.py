"""Figure jobs: each draws one of the paper's figures from aggregated results (PNG and PDF)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

# Column checks only (a CSV of another job names itself); figures read the columns they use.
from tridrop.files import read_csv, read_npz
from tridrop.specs import GapFigure, MaskFigure, Nothing, ReconstructionsFigure, SweepFigure


def _save(fig, png: Path) -> None:
    from tridrop.figures import save

    save(fig, png)


def _agg() -> None:
    matplotlib.use("Agg")  # figures are files; no display is assumed


def mask(spec: MaskFigure, *, png: Path):
    """The triangular mask of one batch (the method's picture)."""
    _agg()
    from tridrop.figures.mask import plot

    _save(plot(spec.mask_batch, spec.mask_width), png)


def sweep(spec: SweepFigure, *, sweeps: Path, png: Path):
    """The metric against width of every model and baseline of one experiment."""
    _agg()
    from tridrop.figures.sweep import plot

    df = read_csv(sweeps, ("experiment", "model", "seed", "width", "metric", "value"))
    df = df[df["experiment"] == spec.experiment]
    if df.empty:
        raise ValueError(f"{sweeps}: no rows for experiment {spec.experiment!r}")
    _save(plot(df, spec.metric), png)


def reconstructions(spec: ReconstructionsFigure, *, recon: Path, png: Path):
    """Test images reconstructed from the first w latent units, as w grows."""
    _agg()
    from tridrop.figures.reconstructions import plot

    f = read_npz(recon, ("originals", "recons", "widths"))
    fig = plot(f["originals"], f["recons"], f["widths"].tolist(), spec.title)
    _save(fig, png)


def importance(spec: Nothing, *, table: Path, png: Path):
    """Feature importance by unit index."""
    _agg()
    from tridrop.figures.importance import plot

    _save(plot(read_csv(table, ("model", "unit", "value"))), png)


def dependence(spec: Nothing, *, table: Path, png: Path):
    """The feature dependence matrix."""
    _agg()
    from tridrop.figures.dependence import plot

    _save(plot(read_csv(table, ("model", "unit", "removed", "value"))), png)


def accuracy(spec: Nothing, *, table: Path, png: Path):
    """A head's top-1 against its parameters."""
    _agg()
    from tridrop.figures.accuracy import plot

    _save(plot(read_csv(table, ("model", "width", "head_params", "head_pct", "top1"))), png)


def gap(spec: GapFigure, *, table: Path, sweeps: Path, png: Path):
    """Full-width against small-width cost of every variant, beside their MSE vs width."""
    import pandas as pd

    _agg()
    from tridrop.figures.gap import plot

    df = pd.read_csv(sweeps)
    _save(plot(pd.read_csv(table), df[df["experiment"] == spec.experiment]), png)


VERBS = ("mask", "sweep", "reconstructions", "importance", "dependence", "accuracy", "gap")
