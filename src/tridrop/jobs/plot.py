"""The figure job of the method itself, shared by every family (a family's own figure jobs are
in its wing's ``jobs`` module, named ``plot_<figure>``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

# Column checks only (a CSV of another job names itself); figures read the columns they use.
from tridrop.job import Out
from tridrop.specs import MaskFigure


def _save(fig, png: Path) -> None:
    from tridrop.figures import save

    save(fig, png)


def _agg() -> None:
    matplotlib.use("Agg")  # figures are files; no display is assumed


def mask(spec: MaskFigure, *, png: Out):
    """The triangular mask of one batch (the method's picture)."""
    _agg()
    from tridrop.figures.mask import plot

    _save(plot(spec.mask_batch, spec.mask_width), png)


VERBS = ("mask",)
