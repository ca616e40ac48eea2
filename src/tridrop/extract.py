"""Extract the smaller dense network from any model with Triangular Dropout layers.

:func:`narrow` cuts a plain Sequential of Linear layers directly and traces any other model
(torch.fx, :func:`narrow_graph`): for each TD layer the producer of its units keeps its first w
outputs (Linear rows, Conv output channels, with any BatchNorm's parameters and statistics in
between) and every consumer keeps its first w inputs (Linear columns, a block of columns per
channel after a flatten, Conv input channels), through element-wise maps with f(0) = 0 and
pooling. The TD layer is then removed. Whatever cannot be cut exactly is refused, naming the
node.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import fx, nn
from torch.nn import functional as F

from tridrop.dropout import TriangularDropout


class NarrowError(ValueError):
    """The model cannot be cut exactly at a TD layer (the message names the node and why)."""


class _Tracer(fx.Tracer):
    """Keeps TD layers as single nodes (their forward branches on the mode)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, TriangularDropout) or super().is_leaf_module(m, qualname)


def trace(model: nn.Module) -> fx.GraphModule:
    """The model (a copy, in eval mode) as a GraphModule with one node per TD layer."""
    model = copy.deepcopy(model).eval()
    graph = _Tracer().trace(model)
    return fx.GraphModule(model, graph, model.__class__.__name__)


# Element-wise maps with f(0) = 0: a unit that is zero stays zero through them.
_ZERO_MODULE_NAMES = (
    "ReLU ReLU6 LeakyReLU GELU SiLU Mish Tanh Hardtanh Hardswish ELU CELU SELU "
    "Softsign Tanhshrink Softshrink Hardshrink Identity Dropout Dropout1d Dropout2d "
    "Dropout3d"
)
_ZERO_MODULES = tuple(getattr(nn, name) for name in _ZERO_MODULE_NAMES.split())
_ZERO_FUNCTION_NAMES = (
    "relu relu6 leaky_relu gelu silu mish tanh hardtanh hardswish elu celu selu "
    "softsign dropout dropout1d dropout2d"
)
_ZERO_FUNCTIONS = {torch.relu, torch.tanh} | {getattr(F, n) for n in _ZERO_FUNCTION_NAMES.split()}
_ZERO_METHODS = {"relu", "tanh", "clone", "contiguous", "detach"}
# Per-channel pooling keeps a zero channel zero and keeps the channel dim.
_POOL_KINDS = ("max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool")
_POOL_FUNCTIONS = {getattr(F, f"{kind}{d}d") for kind in _POOL_KINDS for d in (1, 2, 3)}
_POOL_MODULES = tuple(
    getattr(nn, f"{kind.title().replace('_', '')}{d}d") for kind in _POOL_KINDS for d in (1, 2, 3)
)
_SCALE_FUNCTIONS = {operator.mul, operator.truediv, torch.mul}
_ADD_FUNCTIONS = {operator.add, operator.iadd, torch.add, operator.sub, torch.sub}
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
# Why some common layers after a TD layer cannot be cut.
_WHY = {
    nn.LayerNorm: "it normalises over all units, so removing units changes the kept ones",
    nn.GroupNorm: "it normalises over groups of channels, so removing units changes the rest",
    nn.Softmax: "it normalises over all units, so removing units changes the kept ones",
    nn.LogSoftmax: "it normalises over all units, so removing units changes the kept ones",
    nn.Sigmoid: "it maps 0 to 0.5, so a removed unit would still contribute",
    nn.Softplus: "it maps 0 to log 2, so a removed unit would still contribute",
    _NORMS: "it maps a zero unit to bias - mean * weight / std, not 0",
}
_WHY_FUNCTIONS = {
    F.layer_norm: _WHY[nn.LayerNorm],
    F.softmax: _WHY[nn.Softmax],
    torch.softmax: _WHY[nn.Softmax],
    F.log_softmax: _WHY[nn.Softmax],
    torch.sigmoid: _WHY[nn.Sigmoid],
    F.sigmoid: _WHY[nn.Sigmoid],
}


@dataclass
class _Edit:
    """Prefixes kept by one module: its outputs (rows, channels) and its inputs (columns)."""

    out: int | None = None
    inp: int | None = None
    sites: list[str] = field(default_factory=list)


@dataclass
class _Cut:
    """A TD call site being cut: its node, its kept units and its width."""

    node: fx.Node
    td: TriangularDropout
    kept: int
    edits: dict[str, _Edit]

    def fail(self, node: fx.Node, why: str) -> NarrowError:
        return NarrowError(
            f"cannot narrow at TriangularDropout {self.node.target!r}: node {node.name!r} "
            f"({_describe(node)}) {why}"
        )

    def edit(self, node: fx.Node, side: str, units: int) -> None:
        e = self.edits.setdefault(node.target, _Edit())
        if getattr(e, side) not in (None, units):
            raise self.fail(node, f"is cut to both {getattr(e, side)} and {units} {side} units")
        setattr(e, side, units)
        e.sites.append(self.node.name)


def narrow_linear(layer: nn.Linear, width: int, dim: str) -> nn.Linear:
    """A copy of ``layer`` keeping its first ``width`` outputs (dim="out") or inputs (dim="in")."""
    out_f, in_f = (width, layer.in_features) if dim == "out" else (layer.out_features, width)
    new = nn.Linear(in_f, out_f, bias=layer.bias is not None)
    new = new.to(device=layer.weight.device, dtype=layer.weight.dtype)
    with torch.no_grad():
        if dim == "out":
            new.weight.copy_(layer.weight[:width])
            if layer.bias is not None:
                new.bias.copy_(layer.bias[:width])
        else:
            new.weight.copy_(layer.weight[:, :width])
            if layer.bias is not None:
                new.bias.copy_(layer.bias)
    return new


def narrow(
    model: nn.Module, width: int | float | Sequence[int | float]
) -> nn.Sequential | nn.Module:
    """Extract the smaller dense network: each TD layer is cut to ``width`` and removed.

    ``width`` is one value for every TD layer (units or a fraction) or one per TD layer, in
    module order. For an ``nn.Sequential`` of Linear layers, the nearest Linear before each TD
    layer keeps its first w output rows and the nearest Linear after it its first w input
    columns (element-wise layers in between; after the TD layer only maps with f(0) = 0, such
    as ReLU), giving an ``nn.Sequential``. Any other model goes through :func:`narrow_graph`
    (torch.fx). The result's output equals the masked model's in eval mode.
    """
    tds = [m for m in model.modules() if isinstance(m, TriangularDropout)]
    if not tds:
        raise ValueError("the model has no TriangularDropout layer to narrow")
    widths = list(width) if isinstance(width, Sequence) else [width] * len(tds)
    if len(widths) != len(tds):
        raise ValueError(f"got {len(widths)} widths for {len(tds)} TriangularDropout layers")
    if isinstance(model, nn.Sequential) and len(widths) == sum(
        isinstance(m, TriangularDropout) for m in model
    ):
        try:
            return _narrow_sequential(model, widths)
        except _NotSequential:
            pass  # e.g. Conv2d-BatchNorm2d-ReLU-TD: the graph extraction cuts those
    return narrow_graph(model, widths)


class _NotSequential(ValueError):
    """The Sequential path cannot cut this model (no Linear next to a TD layer)."""


def _narrow_sequential(model: nn.Sequential, widths: list[int | float]) -> nn.Sequential:
    layers = [copy.deepcopy(m) for m in model]
    tds = [i for i, m in enumerate(layers) if isinstance(m, TriangularDropout)]
    for i, w in zip(tds, widths, strict=True):
        kept = layers[i].kept_units(w)
        before = _nearest_linear(layers, range(i - 1, -1, -1), i, "before")
        after = _nearest_linear(layers, range(i + 1, len(layers)), i, "after")
        layers[before] = narrow_linear(layers[before], kept, "out")
        layers[after] = narrow_linear(layers[after], kept, "in")
    return nn.Sequential(*(m for m in layers if not isinstance(m, TriangularDropout)))


def _nearest_linear(layers: list[nn.Module], search: range, td: int, side: str) -> int:
    for j in search:
        if isinstance(layers[j], nn.Linear):
            return j
        if isinstance(layers[j], TriangularDropout) or _has_parameters(layers[j]):
            break
        if side == "after" and not _keeps_zero(layers[j]):
            break  # e.g. Sigmoid: a removed unit would no longer contribute zero
    raise _NotSequential(
        f"TriangularDropout at index {td} needs an nn.Linear {side} it, with only "
        "parameter-free element-wise layers (ReLU, ...) in between"
    )


def _has_parameters(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def _keeps_zero(module: nn.Module) -> bool:
    with torch.no_grad():
        return bool((module.eval()(torch.zeros(1, 2)) == 0).all())


def narrow_graph(model: nn.Module, width: int | float | Sequence[int | float]) -> fx.GraphModule:
    """The model traced and cut to ``width`` at every TD layer, the TD layers removed.

    ``width`` is one value for all TD layers (units, or a fraction of each layer's width) or
    one per TD module, in ``model.modules()`` order. In eval mode the result's output equals
    the masked model's. Raises :class:`NarrowError` naming the node it cannot cut exactly.
    """
    gm = trace(model)
    modules = dict(gm.named_modules())
    td_names = [n for n, m in model.named_modules() if isinstance(m, TriangularDropout)]
    if not td_names:
        raise NarrowError("the model has no TriangularDropout layer to narrow")
    widths = list(width) if isinstance(width, Sequence) else [width] * len(td_names)
    if len(widths) != len(td_names):
        raise NarrowError(f"got {len(widths)} widths for {len(td_names)} TriangularDropout layers")
    width_of = dict(zip(td_names, widths, strict=True))
    calls: dict[str, int] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    edits: dict[str, _Edit] = {}
    td_nodes = [
        n
        for n in gm.graph.nodes
        if n.op == "call_module" and isinstance(modules[n.target], TriangularDropout)
    ]
    for node in td_nodes:
        td = modules[node.target]
        if node.target not in width_of:
            raise NarrowError(f"TriangularDropout {node.target!r} is not a module of the model")
        cut = _Cut(node, td, td.kept_units(width_of[node.target]), edits)
        axis = _cut_producer(cut, node.args[0], modules)
        _check_dim(cut, axis)
        _cut_consumers(cut, node, axis, modules)
    for target, e in edits.items():
        if calls[target] > 1:
            raise NarrowError(
                f"cannot narrow: module {target!r} is called {calls[target]} times, and cutting "
                f"it for TriangularDropout {e.sites[0]!r} would change every call"
            )
        _replace(gm, target, _narrowed(modules[target], e))
    for node in td_nodes:
        node.replace_all_uses_with(node.args[0])
        gm.graph.erase_node(node)
    gm.graph.lint()
    gm.recompile()
    gm.delete_all_unused_submodules()
    return gm.eval()


def _describe(node: fx.Node) -> str:
    if node.op == "call_module":
        return f"module {node.target!r}"
    if node.op == "call_function":
        return f"function {getattr(node.target, '__name__', node.target)}"
    if node.op == "call_method":
        return f"method .{node.target}()"
    return node.op


def _cut_producer(cut: _Cut, node: fx.Node, modules: dict[str, nn.Module]) -> tuple[str, int]:
    """Cut the outputs of the layer that makes the TD layer's units; return the units' axis.

    The axis is ("last", 0) after a Linear, ("channel", n) after an n-d convolution.
    """
    between: list[fx.Node] = []
    while True:
        users = [u for u in node.users if u is not (between[-1] if between else cut.node)]
        if users:
            raise cut.fail(
                node, f"is also used by {users[0].name!r}, which would see the cut units"
            )
        m = modules.get(node.target) if node.op == "call_module" else None
        if isinstance(m, nn.Linear):
            cut.edit(node, "out", cut.kept)
            axis = ("last", 0)
            break
        if isinstance(m, _CONVS):
            if m.groups != 1:
                raise cut.fail(node, "is a grouped convolution (only groups=1 can be cut)")
            cut.edit(node, "out", cut.kept)
            axis = ("channel", len(m.kernel_size))
            break
        if isinstance(m, _NORMS):
            cut.edit(node, "out", cut.kept)
        elif not _is_elementwise(node, modules, zero=False):
            raise cut.fail(
                node,
                "makes the units, but only a Linear or a Conv (with element-wise maps and "
                "BatchNorm after it) can be cut",
            )
        between.append(node)
        node = node.args[0]
    for n in between:
        m = modules.get(n.target) if n.op == "call_module" else None
        if isinstance(m, nn.BatchNorm2d | nn.BatchNorm3d) and axis[0] != "channel":
            raise cut.fail(n, "normalises channels, but the units come from a Linear")
    return axis


def _check_dim(cut: _Cut, axis: tuple[str, int]) -> None:
    """The TD layer must mask the axis the producer's units lie on."""
    dim, kind = cut.td.dim, axis[0]
    if kind == "last" and dim not in (None, -1):
        raise cut.fail(cut.node, f"masks dim {dim}, but its units come from a Linear (dim -1)")
    if kind == "channel":
        rank = axis[1] + 2
        if (dim is None and rank == 3) or (dim is not None and dim not in (1, 1 - rank)):
            raise cut.fail(
                cut.node, f"must mask the channels (dim=1) of the {rank}-d conv map it follows"
            )


def _cut_consumers(
    cut: _Cut, node: fx.Node, axis: tuple[str, int], modules: dict[str, nn.Module]
) -> None:
    """Cut the inputs of every layer that reads the TD layer's units (through f(0) = 0 maps)."""
    for user in node.users:
        m = modules.get(user.target) if user.op == "call_module" else None
        if user.op == "output":
            raise cut.fail(user, "is the model's output: the cut units would be missing from it")
        if user.args[0] is not node:
            raise cut.fail(user, _why_not(user, m))
        if isinstance(m, nn.Linear):
            if axis[0] == "channel":
                raise cut.fail(user, "reads a conv map without a flatten; cannot cut it")
            block = 1
            if axis[0] == "blocks":
                block, rest = divmod(m.in_features, cut.td.width)
                if rest:
                    raise cut.fail(user, f"has {m.in_features} inputs, not a multiple of "
                                         f"{cut.td.width} channels")  # fmt: skip
            elif m.in_features != cut.td.width:
                raise cut.fail(user, f"has {m.in_features} inputs, not {cut.td.width}")
            cut.edit(user, "inp", cut.kept * block)
        elif isinstance(m, _CONVS):
            if axis[0] != "channel" or m.groups != 1 or m.in_channels != cut.td.width:
                raise cut.fail(user, "does not read the cut channels as its input channels")
            cut.edit(user, "inp", cut.kept)
        elif _is_flatten(user, modules):
            if axis[0] != "channel":
                raise cut.fail(user, "flattens units that do not lie on the channel dim")
            _cut_consumers(cut, user, ("blocks", 0), modules)
        elif _is_elementwise(user, modules, zero=True) or (
            _is_pool(user, modules) and axis[0] == "channel"
        ):
            _cut_consumers(cut, user, axis, modules)
        else:
            raise cut.fail(user, _why_not(user, m))


def _why_not(node: fx.Node, m: nn.Module | None) -> str:
    for kind, why in _WHY.items():
        if m is not None and isinstance(m, kind):
            return why
    if node.op == "call_function" and node.target in _WHY_FUNCTIONS:
        return _WHY_FUNCTIONS[node.target]
    if node.op == "call_function" and node.target in _ADD_FUNCTIONS:
        return "adds the cut units to another tensor (a residual add of a cut and an uncut tensor)"
    if node.op == "call_function" and node.target is torch.cat:
        return "concatenates the cut units with other features"
    return (
        "reads the cut units, and it is not a Linear, a Conv or an element-wise map with f(0) = 0"
    )


def _is_elementwise(node: fx.Node, modules: dict[str, nn.Module], zero: bool) -> bool:
    """An element-wise map of its first argument (with f(0) = 0 when ``zero``)."""
    if len(node.all_input_nodes) != 1:
        return False  # e.g. x * y: not a map of x alone
    if node.op == "call_module":
        m = modules[node.target]
        if isinstance(m, nn.PReLU):
            return m.num_parameters == 1
        if isinstance(m, _ZERO_MODULES):
            return True
        return not zero and isinstance(m, nn.Sigmoid | nn.Softplus)
    if node.op == "call_function":
        if node.target in _ZERO_FUNCTIONS or node.target in _SCALE_FUNCTIONS:
            return node.target is not operator.truediv or node.args[0] is node.all_input_nodes[0]
        return not zero and node.target in (torch.sigmoid, F.sigmoid, F.softplus)
    if node.op == "call_method":
        return node.target in _ZERO_METHODS or (not zero and node.target == "sigmoid")
    return False


def _is_flatten(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    """Flattening (B, C, ...) from dim 1 to the end: channel c becomes a block of columns."""
    if node.op == "call_module":
        m = modules[node.target]
        return isinstance(m, nn.Flatten) and (m.start_dim, m.end_dim) == (1, -1)
    if node.op in ("call_function", "call_method") and (
        node.target is torch.flatten or node.target == "flatten"
    ):
        start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
        end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
        return (start, end) == (1, -1)
    return False


def _is_pool(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    if node.op == "call_module":
        return isinstance(modules[node.target], _POOL_MODULES)
    return node.op == "call_function" and node.target in _POOL_FUNCTIONS


@torch.no_grad()
def _narrowed(m: nn.Module, e: _Edit) -> nn.Module:
    """A copy of a Linear, Conv or BatchNorm keeping the first ``e.out`` / ``e.inp`` units."""
    new = copy.deepcopy(m)
    out = slice(None) if e.out is None else slice(0, e.out)
    inp = slice(None) if e.inp is None else slice(0, e.inp)
    if isinstance(m, _NORMS):
        for name in ("weight", "bias", "running_mean", "running_var"):
            t = getattr(m, name)
            if t is not None:  # parameters stay parameters, statistics stay buffers
                kept = t[out].clone()
                setattr(new, name, nn.Parameter(kept) if isinstance(t, nn.Parameter) else kept)
        new.num_features = e.out
        return new
    new.weight = nn.Parameter(m.weight[out, inp].clone())
    if m.bias is not None:
        new.bias = nn.Parameter(m.bias[out].clone())
    if isinstance(m, nn.Linear):
        new.out_features, new.in_features = new.weight.shape
    else:
        new.out_channels, new.in_channels = new.weight.shape[:2]
    return new


def _replace(gm: fx.GraphModule, target: str, module: nn.Module) -> None:
    parent, _, name = target.rpartition(".")
    setattr(gm.get_submodule(parent) if parent else gm, name, module)
