"""Extract the smaller dense network from any model with Triangular Dropout layers.

:func:`narrow` cuts a plain Sequential of Linear layers directly and traces any other model
(torch.fx, :func:`narrow_graph`): for each TD layer the producer of its units keeps its first w
outputs (Linear rows, Conv output channels, with any BatchNorm's parameters and statistics in
between) and every consumer keeps its first w inputs (Linear columns, a block of columns per
channel after a flatten, Conv input channels), through element-wise maps with f(0) = 0 and
pooling. The TD layer is then removed. Only layers known to act on each unit alone may sit
next to a TD layer; anything else (a softmax or a norm over the units, an unknown module) is
refused, naming the node, as are the cuts that would not be exact.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import fx, nn
from torch.nn import functional as F

from tridrop.dropout import SharedWidth, TriangularDropout


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


# The allow-lists below name the layers known to act on each unit alone; anything else next to a
# TD layer is refused (a layer that mixes the units, such as a softmax, gave a wrong model).
# Element-wise maps with f(0) = 0: a unit that is zero stays zero through them. Exact types: a
# subclass may override forward. Hardtanh and Threshold keep 0 only for some arguments.
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
# Element-wise maps with f(0) != 0: fine before a TD layer, not after it.
_NONZERO_MODULES = (nn.Sigmoid, nn.Softplus, nn.LogSigmoid, nn.Hardsigmoid)
_NONZERO_FUNCTIONS = {torch.sigmoid, F.sigmoid, F.softplus, F.logsigmoid, F.hardsigmoid}
_NONZERO_METHODS = {"sigmoid"}
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
# Layers that mix the units a TD layer cuts, on either side of it, and what they do.
_ALL_UNITS = "it normalises over all units"
_MIXING = {
    nn.LayerNorm: _ALL_UNITS,
    nn.RMSNorm: _ALL_UNITS,
    nn.Softmax: _ALL_UNITS,
    nn.LogSoftmax: _ALL_UNITS,
    nn.Softmin: _ALL_UNITS,
    nn.GroupNorm: "it normalises over groups of channels",
    nn.Softmax2d: "it normalises over the channels",
    nn.LocalResponseNorm: "it normalises each channel by its neighbours",
    nn.modules.instancenorm._InstanceNorm: (
        "it normalises each sample on its own (over the units themselves for a (B, C) input)"
    ),
    nn.ChannelShuffle: "it moves units between positions",
    nn.GLU: "it multiplies one half of the units by the other half",
}
_MIXING_FUNCTIONS = {
    F.layer_norm: _ALL_UNITS,
    F.rms_norm: _ALL_UNITS,
    F.softmax: _ALL_UNITS,
    torch.softmax: _ALL_UNITS,
    F.log_softmax: _ALL_UNITS,
    torch.log_softmax: _ALL_UNITS,
    F.softmin: _ALL_UNITS,
    F.group_norm: _MIXING[nn.GroupNorm],
    F.instance_norm: _MIXING[nn.modules.instancenorm._InstanceNorm],
    F.local_response_norm: _MIXING[nn.LocalResponseNorm],
    F.glu: _MIXING[nn.GLU],
}
_MIXING_METHODS = {"softmax": _ALL_UNITS, "log_softmax": _ALL_UNITS}
# Why some per-unit layers after a TD layer cannot be cut: a removed unit would not give 0.
_WHY = {
    nn.Sigmoid: "it maps 0 to 0.5, so a removed unit would still contribute",
    nn.Hardsigmoid: "it maps 0 to 0.5, so a removed unit would still contribute",
    nn.Softplus: "it maps 0 to log 2, so a removed unit would still contribute",
    nn.LogSigmoid: "it maps 0 to -log 2, so a removed unit would still contribute",
    nn.Hardtanh: "its range does not hold 0, so a removed unit would still contribute",
    nn.Threshold: "it maps 0 to its value, so a removed unit would still contribute",
    _NORMS: "it maps a zero unit to bias - mean * weight / std, not 0",
}
_WHY_FUNCTIONS = {
    torch.sigmoid: _WHY[nn.Sigmoid],
    F.sigmoid: _WHY[nn.Sigmoid],
    F.hardsigmoid: _WHY[nn.Sigmoid],
    F.softplus: _WHY[nn.Softplus],
    F.logsigmoid: _WHY[nn.LogSigmoid],
    F.hardtanh: _WHY[nn.Hardtanh],
    F.batch_norm: _WHY[_NORMS],
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


def narrow(
    model: nn.Module, width: int | float | Sequence[int | float]
) -> nn.Sequential | nn.Module:
    """Extract the smaller dense network: each TD layer is cut to ``width`` and removed.

    ``width`` is one value for every TD layer (units or a fraction) or one per TD layer, in
    module order. For an ``nn.Sequential`` of Linear layers, the nearest Linear before each TD
    layer keeps its first w output rows and the nearest Linear after it its first w input
    columns (with only element-wise maps in between; after the TD layer only maps with
    f(0) = 0, such as ReLU), giving an ``nn.Sequential``. Any other model goes through
    :func:`narrow_graph` (torch.fx). The result's output equals the masked model's in eval
    mode; what cannot be cut exactly raises :class:`NarrowError` naming the node.
    """
    tds = [m for m in model.modules() if isinstance(m, TriangularDropout)]
    if not tds:
        raise NarrowError("the model has no TriangularDropout layer to narrow")
    widths = list(width) if isinstance(width, Sequence) else [width] * len(tds)
    if len(widths) != len(tds):
        raise NarrowError(f"got {len(widths)} widths for {len(tds)} TriangularDropout layers")
    if _in_order(model) and len(widths) == sum(isinstance(m, TriangularDropout) for m in model):
        try:
            return _narrow_sequential(model, widths)
        except _NotSequential:
            pass  # e.g. Conv2d-BatchNorm2d-ReLU-TD: the graph cuts those, or names the node
    return narrow_graph(model, widths)


def _in_order(model: nn.Module) -> bool:
    """Only a Sequential's own forward runs its layers in order (a subclass may not)."""
    return type(model).forward in (nn.Sequential.forward, SharedWidth.forward)


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


class _NotSequential(ValueError):
    """The Sequential path cannot cut this model; the graph path cuts it or names the node."""


def _narrow_sequential(model: nn.Sequential, widths: list[int | float]) -> nn.Sequential:
    layers = [copy.deepcopy(m) for m in model]
    tds = [i for i, m in enumerate(layers) if isinstance(m, TriangularDropout)]
    for i, w in zip(tds, widths, strict=True):
        kept = layers[i].kept_units(w)
        if layers[i].dim not in (None, -1):
            raise _NotSequential  # a Linear's units lie on the last dim; the graph says why
        before, after = _around(layers, i)
        layers[before] = narrow_linear(layers[before], kept, "out")
        layers[after] = narrow_linear(layers[after], kept, "in")
    return nn.Sequential(*(m for m in layers if not isinstance(m, TriangularDropout)))


class WidthInput(nn.Module):
    """A Sequential of Linear layers with TD layers, run at a width given with each input.

    ``forward(x, width)``: ``width`` (a 0-d integer tensor, the units kept in every TD layer)
    slices the weights of the Linear layers around each TD layer, as :func:`narrow` does, but
    at run time: a narrower width multiplies smaller matrices, in torch, in ``torch.export``
    programs and in ONNX graphs (Slice, then MatMul on the slices). Equal to
    ``narrow(model, width)`` at every width.
    """

    def __init__(self, model: nn.Sequential) -> None:
        super().__init__()
        layers = [copy.deepcopy(m) for m in model] if _in_order(model) else []
        tds = [i for i, m in enumerate(layers) if isinstance(m, TriangularDropout)]
        if not tds or any(layers[i].dim not in (None, -1) for i in tds):
            raise NarrowError(
                "a width input needs an nn.Sequential of Linear layers with TD layers between "
                "them; export one graph per width (narrow) for other models"
            )
        sides: dict[int, set[str]] = {}
        try:
            for i in tds:
                before, after = _around(layers, i)
                sides.setdefault(before, set()).add("out")
                sides.setdefault(after, set()).add("in")
        except _NotSequential:
            raise NarrowError(
                "a width input needs a Linear before and after each TD layer, with only "
                "element-wise maps between"
            ) from None
        self.limit = min(layers[i].width for i in tds)
        kept = [i for i, m in enumerate(layers) if not isinstance(m, TriangularDropout)]
        self.layers = nn.ModuleList(layers[i] for i in kept)
        self.sides = [tuple(sorted(sides.get(i, ()))) for i in kept]

    def forward(self, x: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
        w = width.item()
        torch._check(w >= 1)
        torch._check(w <= self.limit)
        for m, sides in zip(self.layers, self.sides, strict=True):
            if not sides:
                x = m(x)
                continue
            weight, bias = m.weight, m.bias
            if "out" in sides:
                weight, bias = weight[:w], None if bias is None else bias[:w]
            if "in" in sides:
                weight = weight[:, :w]
            x = F.linear(x, weight, bias)
        return x


def _around(layers: list[nn.Module], i: int) -> tuple[int, int]:
    """The Linear layers cut around TD layer ``i``: the nearest before it keeps its first w
    outputs, the nearest after it (through maps with f(0) = 0) its first w inputs."""
    before = _nearest_linear(layers, range(i - 1, -1, -1), zero=False)
    return before, _nearest_linear(layers, range(i + 1, len(layers)), zero=True)


def _nearest_linear(layers: list[nn.Module], search: range, zero: bool) -> int:
    """The nearest Linear, with only element-wise maps (with f(0) = 0 when ``zero``) between."""
    for j in search:
        if isinstance(layers[j], nn.Linear):
            return j
        if not _is_elementwise_module(layers[j], zero):
            break
    raise _NotSequential


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
        elif not (_is_elementwise(node, modules, zero=False) or _is_pool(node, modules)):
            why = _mixes(node, m)
            raise cut.fail(
                node,
                f"{why}, so the kept units depend on the cut ones"
                if why
                else "makes the units, but only a Linear or a Conv (with element-wise maps, "
                "pooling and BatchNorm after it) can be cut",
            )
        between.append(node)
        node = node.args[0]
    for n in between:
        m = modules.get(n.target) if n.op == "call_module" else None
        if isinstance(m, nn.BatchNorm2d | nn.BatchNorm3d) and axis[0] != "channel":
            raise cut.fail(n, "normalises channels, but the units come from a Linear")
        if _is_pool(n, modules) and axis[0] != "channel":
            raise cut.fail(n, "pools along the units, which come from a Linear")
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
        if not user.args or user.args[0] is not node:
            raise cut.fail(user, _why_not(user, m))
        if isinstance(m, nn.Linear):
            if axis[0] == "channel":
                raise cut.fail(user, "reads a conv map without a flatten; cannot cut it")
            block = 1
            if axis[0] == "blocks":
                block, rest = divmod(m.in_features, cut.td.width)
                if rest:
                    raise cut.fail(
                        user,
                        f"has {m.in_features} inputs, not a multiple of {cut.td.width} channels",
                    )
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
    """Why a layer reading the cut units cannot be cut."""
    why = _mixes(node, m)
    if why:
        return f"{why}, so removing units changes the kept ones"
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


def _mixes(node: fx.Node, m: nn.Module | None) -> str | None:
    """How a layer known to mix units does so (None for the others)."""
    for kind, why in _MIXING.items():
        if m is not None and isinstance(m, kind):
            return why
    if node.op == "call_function":
        return _MIXING_FUNCTIONS.get(node.target)
    if node.op == "call_method":
        return _MIXING_METHODS.get(node.target)
    return None


def _is_elementwise(node: fx.Node, modules: dict[str, nn.Module], zero: bool) -> bool:
    """An element-wise map of its first argument (with f(0) = 0 when ``zero``)."""
    if len(node.all_input_nodes) != 1:
        return False  # e.g. x * y: not a map of x alone
    if node.op == "call_module":
        return _is_elementwise_module(modules[node.target], zero)
    if node.op == "call_function":
        if node.target in _SCALE_FUNCTIONS:  # x * c and x / c, not c / x nor x / x (1/0, 0/0)
            return node.target is not operator.truediv or not isinstance(node.args[1], fx.Node)
        if node.target is F.hardtanh:
            args = dict(zip(("min_val", "max_val"), node.args[1:], strict=False))
            args = {"min_val": -1.0, "max_val": 1.0, **node.kwargs, **args}
            return not zero or args["min_val"] <= 0 <= args["max_val"]
        return node.target in _ZERO_FUNCTIONS or (not zero and node.target in _NONZERO_FUNCTIONS)
    if node.op == "call_method":
        return node.target in _ZERO_METHODS or (not zero and node.target in _NONZERO_METHODS)
    return False


def _is_elementwise_module(m: nn.Module, zero: bool) -> bool:
    """A module known to map each unit alone (with f(0) = 0 when ``zero``)."""
    kind = type(m)
    if kind is nn.PReLU:
        return m.num_parameters == 1  # one slope per unit would need cutting too
    if kind in (nn.Hardtanh, nn.ReLU6):
        return not zero or m.min_val <= 0 <= m.max_val
    if kind is nn.Threshold:  # x if x > threshold else value
        return not zero or m.threshold < 0 or m.value == 0
    return kind in _ZERO_MODULES or (not zero and kind in _NONZERO_MODULES)


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
