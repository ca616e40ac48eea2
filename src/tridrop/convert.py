"""Put Triangular Dropout layers into an existing model, after named modules.

A named Dropout is replaced by a TD layer (its state-dict keys unchanged); any other named
module ``m`` becomes ``nn.Sequential(m, TD)`` (its keys gain ``.0``). The width is the number
of units the module outputs, or for a parameter-free module (Dropout, ReLU) those of the
nearest Linear, Conv or norm layer before it in the order the model calls them (torch.fx).
The TD layers of a model share each sample's width: in "triangle" mode by batch position, in
"random" and "nested" modes through one draw per forward pass; a plain ``nn.Sequential`` at
the top becomes a :class:`~tridrop.dropout.SharedWidth`, as the pipeline's models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import fx, nn

from tridrop.dropout import SharedWidth, TriangularDropout, _share_draw
from tridrop.extract import _is_elementwise, _is_pool, _Tracer

_DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)
_UNITS = (nn.Linear, nn.modules.conv._ConvNd, nn.modules.batchnorm._NormBase)


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
    cannot be read from the model. The model is changed in place, and only once every name
    and width is known to be good; the returned model is the same object, or a ``SharedWidth``
    holding the same layers when it is a plain Sequential.
    """
    found = dict(model.named_modules())
    widths = dict(names) if isinstance(names, Mapping) else dict.fromkeys(names)
    unknown = [name for name in widths if name not in found or name == ""]
    if unknown:
        known = ", ".join(name for name in found if name)
        raise KeyError(
            f"the model has no submodule named {', '.join(map(repr, unknown))}; "
            f"its submodules: {known}"
        )
    inferred = _widths_after(model, [name for name, w in widths.items() if w is None], found)
    layers = {
        name: TriangularDropout(inferred[name] if w is None else w, mode, p, dim=dim)
        for name, w in widths.items()
    }
    for name, td in layers.items():
        module = found[name]
        parent, _, leaf = name.rpartition(".")
        new = td if isinstance(module, _DROPOUTS) else nn.Sequential(module, td)
        setattr(found[parent], leaf, new)
    # Layers put into separate submodules would otherwise each keep a draw of their own.
    _share_draw(model.modules())
    if type(model) is nn.Sequential:
        return SharedWidth(*model)
    return model


def _widths_after(model: nn.Module, names: list[str], found: dict[str, nn.Module]) -> dict:
    """The units each named module outputs: its own, or those of the layer that feeds it.

    The feeding layer is found in call order (a traced graph): registration order, used before,
    picked a wrong width when a model registers its modules in another order than it calls them.
    """
    widths = {name: _own_units(found[name]) for name in names}
    walk = [name for name, width in widths.items() if width is None]
    for name in walk:
        if next(found[name].children(), None) is not None:
            raise ValueError(
                f"cannot tell the width after {name!r}: it holds other modules; "
                f"pass {{{name!r}: width}}"
            )
    if not walk:
        return widths
    try:
        graph = _Leaves(set(walk)).trace(model)
    except Exception as err:  # any tracing failure means the same to the user
        raise ValueError(
            f"cannot tell the width after {walk[0]!r}: the model does not trace with torch.fx "
            f"({type(err).__name__}: {err}); pass {{{walk[0]!r}: width}}"
        ) from err
    for name in walk:
        calls = [n for n in graph.nodes if n.op == "call_module" and n.target == name]
        seen = {_units_into(node, found) for node in calls}
        if not seen:
            why = "it is not called in forward"
        elif None in seen:
            why = "no Linear, Conv or norm layer feeds it through element-wise layers only"
        elif len(seen) > 1:
            why = f"it is called on inputs of {sorted(seen)} units"
        else:
            widths[name] = seen.pop()
            continue
        raise ValueError(f"cannot tell the width after {name!r}: {why}; pass {{{name!r}: width}}")
    return widths


class _Leaves(_Tracer):
    """Keeps the named modules (and TD layers) as single nodes, to walk back from them."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return qualname in self.names or super().is_leaf_module(m, qualname)


def _own_units(module: nn.Module) -> int | None:
    if not isinstance(module, _UNITS):
        return None
    for attr in ("out_features", "out_channels", "num_features"):
        if isinstance(getattr(module, attr, None), int):
            return getattr(module, attr)
    return None


def _units_into(node: fx.Node, modules: dict[str, nn.Module]) -> int | None:
    """The units of the nearest Linear, Conv or norm before ``node``, through per-unit layers."""
    pooled = False
    x = node.args[0] if node.args else None
    while isinstance(x, fx.Node):
        m = modules.get(x.target) if x.op == "call_module" else None
        units = None if m is None else _own_units(m)
        if units is not None:
            # Pooling keeps the channels of a conv map, not the units of a Linear.
            return None if pooled and isinstance(m, nn.Linear) else units
        if _is_pool(x, modules):
            pooled = True
        elif not _is_elementwise(x, modules, zero=False):
            return None
        x = x.args[0] if x.args else None
    return None
