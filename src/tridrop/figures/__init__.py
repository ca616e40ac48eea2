"""The paper's figures: one ``plot(...) -> Figure`` per figure, drawn from aggregated results.

The backend is the caller's choice (the figure jobs pick Agg: figures are files).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tridrop.files import atomic

if TYPE_CHECKING:  # pyplot is imported by the figure jobs alone: every job imports this module
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# One colour per model across every figure.
PALETTE = {
    "td": "#0072B2",
    "notd": "#D55E00",
    "random": "#009E73",
    "nested": "#CC79A7",
    "dropout": "#E69F00",
    "fixed": "#555555",
    "pca": "#000000",
    "td_scratch": "#56B4E9",
    "loguniform": "#117733",
    "td_mix": "#332288",
    "td_long": "#88CCEE",
    "matryoshka": "#AA4499",
    "sandwich": "#DDCC77",
    "sandwich_distill": "#882255",
    "pcaae": "#999933",
    "ranked": "#AA3377",  # not no TD's colour: both are in the head's figure
    "svd": "#E69F00",
    "reference": "#000000",
    # No TD cut without training in better ways than zeroing its last units (controls).
    "notd_meanfill": "#E69F00",
    "notd_pca": "#8C2D04",
    "notd_greedy": "#CC6677",
    "notd_sorted": "#F4A582",
    "notd_cut": "#D55E00",  # no TD's own colour: its truncation, as a control
    "linear_probe": "#777777",
    # The cuts trained at the width: their cut's colour, dashed.
    "ranked_ft": "#AA3377",
    "svd_ft": "#E69F00",
}
LABELS = {
    "td": "Triangular Dropout",
    "notd": "no TD, truncated",
    "random": "TD, random widths",
    "nested": "nested dropout",
    "dropout": "plain dropout, truncated",
    "fixed": "trained at this width",
    "pca": "PCA",
    "td_scratch": "Triangular Dropout, from scratch",
    "loguniform": "TD, log-uniform widths",
    "td_mix": "TD, a share of each batch at full width",
    "td_long": "TD, trained longer (the cost of the dearest relative)",
    "matryoshka": "Matryoshka (nested widths in every step)",
    "sandwich": "sandwich rule (full, smallest, random widths)",
    "sandwich_distill": "sandwich rule, inplace distillation",
    "pcaae": "PCAAE (a decoder per width)",
    "ranked": "reference, importance-ranked cut",
    "svd": "reference, truncated SVD (matched params)",
    "reference": "reference (unconstrained), full width",
    "notd_meanfill": "no TD, dropped units at their mean",
    "notd_pca": "no TD, cut along its code's principal axes",
    "notd_greedy": "no TD, units in greedy order",
    "notd_sorted": "no TD, units sorted by importance",
    "notd_cut": "no TD, truncated (last units zeroed)",
    "linear_probe": "linear probe (no hidden layer)",
    "ranked_ft": "reference, ranked cut + fine-tuning at the width",
    "svd_ft": "reference, truncated SVD + fine-tuning",
}


def ordered(models) -> list[str]:
    """``models`` in the palette's order (TD first), then any others by name."""
    present = set(models)
    return [m for m in PALETTE if m in present] + sorted(present - set(PALETTE))


def log2_widths(ax: Axes, widths) -> None:
    """A logarithmic (base 2) width axis on ``ax`` with plain integer ticks at the powers of
    two up to the largest width, and at the largest width itself."""
    top = int(max(widths))
    ticks = sorted({2**k for k in range(top.bit_length()) if 2**k <= top} | {top})
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    from matplotlib.ticker import NullLocator

    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(min(widths) / 1.25, top * 1.25)


def save(fig: Figure, png: str | Path) -> None:
    """Write ``fig`` as PNG (at the given path) and PDF (same stem), then close it."""
    png = Path(png)
    # No timestamps in the files, so a rerun with equal results writes equal bytes.
    with atomic(png) as tmp:
        fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata={"Software": None})
    with atomic(png.with_suffix(".pdf")) as tmp:
        fig.savefig(tmp, bbox_inches="tight", metadata={"CreationDate": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
