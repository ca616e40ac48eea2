"""The paper's figures: one ``plot(...) -> Figure`` per figure, drawn from aggregated results.

The backend is the caller's choice (the figure jobs pick Agg: figures are files).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from tridrop.files import atomic

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
    "notd_meanfill": "#F4A582",
    "notd_pca": "#8C510A",
    "notd_greedy": "#B2182B",
    "notd_sorted": "#FDB863",
    "ranked": "#D55E00",
    "svd": "#E69F00",
    "reference": "#000000",
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
    "td_long": "TD, trained 1.6x longer",
    "matryoshka": "Matryoshka (nested widths in every step)",
    "sandwich": "sandwich rule (full, smallest, random widths)",
    "sandwich_distill": "sandwich rule, inplace distillation",
    "pcaae": "PCAAE (a decoder per width)",
    "notd_meanfill": "no TD, dropped units at their mean",
    "notd_pca": "no TD, code rotated by its PCA",
    "notd_greedy": "no TD, units in greedy order",
    "notd_sorted": "no TD, units sorted by importance",
    "ranked": "reference, importance-ranked cut",
    "svd": "reference, truncated SVD (matched params)",
    "reference": "reference (unconstrained), full width",
}


def save(fig: Figure, png: str | Path) -> None:
    """Write ``fig`` as PNG (at the given path) and PDF (same stem), then close it."""
    png = Path(png)
    # No timestamps in the files, so a rerun with equal results writes equal bytes.
    with atomic(png) as tmp:
        fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata={"Software": None})
    with atomic(png.with_suffix(".pdf")) as tmp:
        fig.savefig(tmp, bbox_inches="tight", metadata={"CreationDate": None})
    plt.close(fig)
