"""The "more features" grid: the same test images reconstructed by every model as the latent
width grows, one row per model."""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from tridrop.figures import LABELS, ordered

# Rows in this order first: TD, the autoencoders trained at each width, PCA, no TD and its best
# training-free cut; then the others.
FIRST = ("td", "fixed", "pca", "notd", "notd_meanfill", "notd_pca", "notd_greedy")


@dataclass(frozen=True)
class Run:
    """One run's reconstructions: ``recons`` ``(len(widths), N, C, H, W)`` of the images."""

    model: str  # its row: runs of one model name (the fixed-width AEs) share a row
    widths: tuple[int, ...]
    recons: np.ndarray


def rows_of(runs: list[Run]) -> list[str]:
    """The row names in drawing order: :data:`FIRST`, then the palette's order."""
    names = {r.model for r in runs}
    return [m for m in FIRST if m in names] + [m for m in ordered(names) if m not in FIRST]


def plot(originals: np.ndarray, runs: list[Run], title: str) -> Figure:
    """Top row: the input images; then a row per model and a column per latent width w.

    Each cell tiles the ``N`` images (``originals``: ``(N, C, H, W)``) as the model rebuilds
    them from its first w latent units; a model without that width (a fixed-width autoencoder
    has only its own) leaves the cell empty; a fixed-width autoencoder at a width no other model
    shows gets no column.
    """
    names = rows_of(runs)
    # Columns: the widths of the models that serve every width; the fixed-width autoencoders
    # fill theirs among them (one trained at another width has no column of its own).
    curves = [r for r in runs if r.model != "fixed"] or runs
    widths = sorted({w for r in curves for w in r.widths})
    cells: dict[tuple[str, int], np.ndarray] = {}
    for r in runs:
        for i, w in enumerate(r.widths):
            cells[r.model, w] = _tile(r.recons[i])
    inputs = _tile(originals)
    h, w_px = inputs.shape[:2]
    cell_w = 1.3
    cell_h = cell_w * h / w_px
    label_w = 1.35
    fig = plt.figure(
        figsize=(label_w + cell_w * len(widths), (cell_h + 0.13) * (len(names) + 1) + 0.45)
    )
    grid = fig.add_gridspec(
        len(names) + 1,
        len(widths) + 1,
        width_ratios=[label_w] + [cell_w] * len(widths),
        wspace=0.04,
        hspace=0.18,
        left=0.01,
        right=0.99,
        bottom=0.01,
        top=1 - 0.45 / fig.get_figheight(),
    )
    for row, name in enumerate(["input", *names]):
        label = fig.add_subplot(grid[row, 0])
        label.axis("off")
        text = "input images" if row == 0 else LABELS.get(name, name)
        if name == "fixed":
            text = "trained at width w (one AE per width)"
        elif name == "pca":
            text = "PCA, first w components"
        elif name.startswith("notd_"):  # a cut chosen as the best, by test MSE
            text += " (best cut without training)"
        label.text(
            0.97,
            0.5,
            textwrap.fill(text, 22),
            ha="right",
            va="center",
            fontsize=8,
            fontweight="bold" if name == "td" else "normal",
            transform=label.transAxes,
        )
        for col, width in enumerate(widths, start=1):
            image = inputs if row == 0 and col == 1 else cells.get((name, width))
            if image is None:
                continue
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 1:
                ax.set_title(f"w = {width}", fontsize=8, pad=2)
    fig.suptitle(title, fontsize=10)
    return fig


def _tile(images: np.ndarray) -> np.ndarray:
    """``N`` images ``(N, C, H, W)`` tiled in two rows (one when ``N <= 5``), a grey line
    between them: ``(H', W')`` for grey images, ``(H', W', 3)`` for colour ones."""
    n = len(images)
    rows = 1 if n <= 5 else 2
    cols = math.ceil(n / rows)
    imgs = [_hwc(x) for x in images]
    h, w = imgs[0].shape[:2]
    shape = (rows * (h + 1) - 1, cols * (w + 1) - 1, *imgs[0].shape[2:])
    out = np.full(shape, 0.5, dtype=np.float32)
    for k, img in enumerate(imgs):
        r, c = divmod(k, cols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = img
    return out


def _hwc(img: np.ndarray) -> np.ndarray:
    return img[0].clip(0, 1) if img.shape[0] == 1 else np.transpose(img, (1, 2, 0)).clip(0, 1)
