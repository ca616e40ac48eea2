"""Put Triangular Dropout layers into an existing model, after named modules.

A named Dropout is replaced by a TD layer (its state-dict keys unchanged); any other named
module ``m`` becomes ``nn.Sequential(m, TD)`` (its keys gain ``.0``). The width is the number
of units the module outputs, or for a parameter-free module (Dropout, ReLU) those of the nearest
Linear, Conv or norm layer before it. The TD
layers of a model share each sample's width: in "triangle" mode by batch position, in
"random" and "nested" modes through one draw per forward pass; a plain ``nn.Sequential`` at
the top becomes a :class:`~tridrop.dropout.SharedWidth`, as the pipeline's models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import nn

from tridrop.dropout import SharedWidth, TriangularDropout

_DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def add_triangular_dropout(
    model: nn.Module,
    names: Iterable[str] | Mapping[str, int],
    mode: str = "triangle",
    p: float = 0.1,
    *,
    dim: int | None = None,
) -> nn.Module:
    """The model with a TD layer after (or instead of a Dropout at) each named module.

    ``names`` are ``model.named_modules()`` names, or a mapping name -> width where the width
    cannot be read from the module. The model is changed in place; the returned model is the
    same object, or a ``SharedWidth`` holding the same layers when it is a plain Sequential.
    """
    found = dict(model.named_modules())
    order = list(found)
    widths = dict(names) if isinstance(names, Mapping) else dict.fromkeys(names)
    for name, width in widths.items():
        if name not in found or name == "":
            raise KeyError(f"the model has no submodule named {name!r}")
        module = found[name]
        is_dropout = isinstance(module, _DROPOUTS)
        if width is None:  # its own outputs, or those of the nearest layer before it
            before = [found[n] for n in order[: order.index(name) + 1]]
            width = _units_before(before)
        if width is None:
            raise ValueError(f"cannot tell the width after {name!r}: pass {{{name!r}: width}}")
        td = TriangularDropout(width, mode, p, dim=dim)
        parent, _, leaf = name.rpartition(".")
        setattr(model.get_submodule(parent), leaf, td if is_dropout else nn.Sequential(module, td))
    if type(model) is nn.Sequential:
        return SharedWidth(*model)
    return model


def _units_out(module: nn.Module) -> int | None:
    for attr in ("out_features", "out_channels", "num_features", "embed_dim"):
        if isinstance(getattr(module, attr, None), int):
            return getattr(module, attr)
    return None


def _units_before(modules: list[nn.Module]) -> int | None:
    for m in reversed(modules):
        if isinstance(m, nn.Linear | nn.modules.conv._ConvNd | nn.modules.batchnorm._NormBase):
            return _units_out(m)
    return None
