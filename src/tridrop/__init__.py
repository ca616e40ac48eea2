"""Triangular Dropout: the layer, extraction of the narrower dense model, and helpers.

The names below need only torch; the replication pipeline (``tridrop[pipeline]``) lives in the
other modules and is imported only when used.
"""

from tridrop.convert import add_triangular_dropout
from tridrop.dropout import (
    MODES,
    SharedWidth,
    TriangularDropout,
    prefix_mask,
    sample_fractions,
    triangular_mask,
    widths_from_fractions,
)
from tridrop.extract import NarrowError, narrow, narrow_graph, narrow_linear
from tridrop.width import set_width, td_layers, width_sweep

__all__ = [
    "MODES",
    "NarrowError",
    "SharedWidth",
    "TriangularDropout",
    "add_triangular_dropout",
    "narrow",
    "narrow_graph",
    "narrow_linear",
    "prefix_mask",
    "sample_fractions",
    "set_width",
    "td_layers",
    "triangular_mask",
    "width_sweep",
    "widths_from_fractions",
]
