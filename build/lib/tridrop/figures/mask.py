"""The triangular mask itself: which units each sample of a batch keeps."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from tridrop.dropout import triangular_mask


def plot(batch: int = 16, width: int = 16) -> Figure:
    """The "triangle" mask of a batch of ``batch`` samples on a layer of ``width`` units."""
    mask = triangular_mask(batch, width)
    fig, ax = plt.subplots(figsize=(4, 4 * batch / width + 0.3))
    ax.imshow(mask.numpy(), cmap="Blues", vmin=0, vmax=1.2, interpolation="nearest")
    ax.set_xlabel("unit index (kept: blue)")
    ax.set_ylabel("sample in batch")
    ax.set_title(f"Triangular Dropout mask, B={batch}, W={width}")
    ax.set_xticks(range(0, width, max(1, width // 8)))
    ax.set_yticks(range(0, batch, max(1, batch // 8)))
    fig.tight_layout()
    return fig
