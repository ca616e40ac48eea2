"""The "more features" grid: test images reconstructed as the latent width grows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def plot(originals: np.ndarray, recons: np.ndarray, widths: list[int], title: str) -> Figure:
    """Rows: images; first column the original, then one column per latent width.

    ``originals``: ``(N, C, H, W)``; ``recons``: ``(len(widths), N, C, H, W)``.
    """
    n, cols = len(originals), len(widths) + 1
    fig, axes = plt.subplots(n, cols, figsize=(0.8 * cols + 0.4, 0.8 * n + 0.6), squeeze=False)
    for r in range(n):
        images = [originals[r]] + [recons[c, r] for c in range(len(widths))]
        for c, img in enumerate(images):
            ax = axes[r, c]
            ax.imshow(_hwc(img), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("input" if c == 0 else f"w={widths[c - 1]}", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _hwc(img: np.ndarray) -> np.ndarray:
    return img[0] if img.shape[0] == 1 else np.transpose(img, (1, 2, 0)).clip(0, 1)
