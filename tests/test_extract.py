"""narrow on any model (torch.fx): the cut model equals the masked one, or a clear refusal."""

import re

import pytest
import torch
from torch import fx, nn
from torch.nn import functional as F

from failures import Failure
from tridrop.dropout import TriangularDropout
from tridrop.extract import NarrowError, narrow, narrow_graph
from tridrop.families.head.models import td_head
from tridrop.width import set_width

FAILURES = [
    Failure("narrow", "`narrow` with a layer that mixes the units next to a TD layer (a softmax, "
            "LayerNorm or InstanceNorm over them, before or after it)",
            "cannot narrow at TriangularDropout '2': node '_1' (module '1') it normalises over "
            "all units, so the kept units depend on the cut ones",
            "the model is unchanged; no narrowed model (it would differ from the masked one)"),
    Failure("narrow", "`narrow` with a layer it does not know between the producer of the units "
            "and the TD layer",
            "cannot narrow at TriangularDropout '2': node '_1' (module '1') makes the units, but "
            "only a Linear or a Conv (with element-wise maps, pooling and BatchNorm after it) can "
            "be cut",
            "the model is unchanged; no narrowed model"),
]  # fmt: skip


def check_exact(model: nn.Module, x: torch.Tensor, width) -> nn.Module:
    """The narrowed model's output equals the masked model's (eval mode, float32)."""
    model.eval()
    set_width(model, width)
    small = narrow(model, width)
    assert not any(isinstance(m, TriangularDropout) for m in small.modules())
    torch.testing.assert_close(small(x), model(x), rtol=1e-6, atol=1e-6)
    set_width(model, None)
    return small


def randomise_norms(model: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics, so that a wrong cut shows."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            nn.init.normal_(m.weight)
            nn.init.normal_(m.bias)
    return model


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.td, self.fc2 = nn.Linear(5, 12), TriangularDropout(12), nn.Linear(12, 3)

    def forward(self, x):
        return self.fc2(self.td(torch.relu(self.fc1(x))))


@pytest.mark.parametrize("width", [1, 4, 12, 0.3, 1.0])
def test_linear_td_linear_in_a_custom_module(width):
    torch.manual_seed(0)
    small = check_exact(MLP(), torch.randn(7, 5), width)
    kept = TriangularDropout(12).kept_units(width)
    assert isinstance(small, fx.GraphModule)
    assert (small.fc1.out_features, small.fc2.in_features) == (kept, kept)


class ConvNet(nn.Module):
    """Conv2d-BN-ReLU-TD-Conv2d, then a TD conv map flattened into a Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.td1, self.conv2 = TriangularDropout(8), nn.Conv2d(8, 6, 3, padding=1)
        self.bn2, self.td2 = nn.BatchNorm2d(6), TriangularDropout(6)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(2), nn.Linear(6 * 4, 5)

    def forward(self, x):
        x = self.td1(nn.functional.relu(self.bn1(self.conv1(x))))
        x = self.td2(torch.relu(self.bn2(self.conv2(x))))
        return self.fc(self.pool(x).flatten(1))


@pytest.mark.parametrize("widths", [(1, 1), (3, 5), (8, 6), (0.5, 0.5)])
def test_conv_bn_relu_td_conv_and_flatten_into_linear(widths):
    torch.manual_seed(0)
    model = randomise_norms(ConvNet())
    small = check_exact(model, torch.randn(4, 3, 8, 8), list(widths))
    k1, k2 = (td.kept_units(w) for td, w in zip((model.td1, model.td2), widths, strict=True))
    assert small.conv1.out_channels == small.bn1.num_features == small.conv2.in_channels == k1
    assert small.bn1.running_mean.shape == small.bn1.running_var.shape == (k1,)
    torch.testing.assert_close(small.bn1.running_var, model.bn1.running_var[:k1])
    # Channel c of the flattened 6 x 2 x 2 map is the block of columns [4c, 4c + 4).
    assert small.fc.in_features == 4 * k2
    torch.testing.assert_close(small.fc.weight, model.fc.weight[:, : 4 * k2])


class Block(nn.Module):
    """A pre-norm transformer block whose MLP carries TD on its hidden units."""

    def __init__(self, dim: int = 8, hidden: int = 16) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.fc1, self.act, self.td = nn.Linear(dim, hidden), nn.GELU(), TriangularDropout(hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.fc2(self.td(self.act(self.fc1(self.ln2(x)))))


@pytest.mark.parametrize("width", [1, 5, 16, 0.25])
def test_transformer_mlp_blocks_sharing_a_width(width):
    torch.manual_seed(0)
    model = nn.Sequential(Block(), Block(), nn.Linear(8, 4))
    small = check_exact(model, torch.randn(3, 6, 8), width)
    kept = TriangularDropout(16).kept_units(width)
    assert [small.get_submodule(f"{i}.fc1").out_features for i in (0, 1)] == [kept, kept]


def test_token_td_is_masked_on_the_last_dim_in_training():
    x = torch.randn(4, 6, 16)
    y = Block().td.train()(x)
    assert ((y != 0).sum(-1) == torch.tensor([4, 8, 12, 16])[:, None]).all()


def test_pipeline_sequential_models_keep_the_sequential_path():
    torch.manual_seed(0)
    head = td_head(6, 16, 4)  # Linear-ReLU-TD-Linear-ReLU-TD-Linear in a SharedWidth
    small = narrow(head, [3, 7])
    assert type(small) is nn.Sequential and [m.__class__ for m in small][::2] == [nn.Linear] * 3


def test_a_sequential_conv_net_goes_through_the_graph():
    torch.manual_seed(0)
    model = randomise_norms(
        nn.Sequential(
            nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), TriangularDropout(4),
            nn.Flatten(), nn.Linear(4 * 4 * 4, 3),
        )
    )  # fmt: skip
    small = check_exact(model, torch.randn(2, 1, 6, 6), 2)
    assert small.get_submodule("5").in_features == 2 * 16


def wrap(*after: nn.Module, residual: bool = False) -> nn.Module:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.td = nn.Linear(4, 4), TriangularDropout(4)
            self.after, self.fc2 = nn.Sequential(*after), nn.Linear(4, 2)

        def forward(self, x):
            h = self.after(self.td(self.fc1(x)))
            return self.fc2(h + x if residual else h)

    return Net()


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (
            wrap(nn.LayerNorm(4)),
            r"node 'after_0' \(module 'after.0'\) it normalises over all units",
        ),
        (wrap(nn.Softmax(-1)), r"node 'after_0' .* normalises over all units"),
        (wrap(nn.Sigmoid()), r"node 'after_0' .* maps 0 to 0.5"),
        (wrap(residual=True), r"node 'add' .* residual add of a cut and an uncut tensor"),
        (wrap(nn.BatchNorm1d(4)), r"node 'after_0' .* bias - mean"),
    ],
)
def test_what_cannot_be_cut_exactly_is_refused_by_node(model, match):
    with pytest.raises(NarrowError, match=match):
        narrow(model, 2)


def test_refusals_on_the_producer_side():
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.td, self.fc2 = nn.Linear(4, 4), TriangularDropout(4), nn.Linear(8, 2)

        def forward(self, x):
            h = self.fc1(x)
            return self.fc2(torch.cat([self.td(h), h], -1))

    with pytest.raises(NarrowError, match="node 'fc1' .* also used by 'cat'"):
        narrow(Shared(), 2)
    ln = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), TriangularDropout(4), nn.Linear(4, 2))
    with pytest.raises(NarrowError, match=re.escape(FAILURES[0].seen)):
        narrow(ln, 2)
    odd = nn.Sequential(nn.Linear(4, 4), nn.Flatten(), TriangularDropout(4), nn.Linear(4, 2))
    with pytest.raises(NarrowError, match=re.escape(FAILURES[1].seen)):
        narrow(odd, 2)
    out = nn.Sequential(nn.Linear(4, 4), TriangularDropout(4))
    with pytest.raises(NarrowError, match="model's output"):
        narrow(out, 2)


def test_td_on_the_wrong_dim_is_refused():
    model = nn.Sequential(nn.Conv1d(2, 4, 3), TriangularDropout(4), nn.Conv1d(4, 2, 3))
    with pytest.raises(NarrowError, match="must mask the channels"):
        narrow(model, 2)
    model[1] = TriangularDropout(4, dim=1)
    check_exact(model, torch.randn(3, 2, 9), 2)


def test_widths_per_layer_in_module_order():
    with pytest.raises(ValueError, match="3 widths for 2"):
        narrow_graph(ConvNet(), [1, 2, 3])


# A catalogue of layers placed before and after a TD layer: each narrows exactly or is refused
# naming its node. Softmax and InstanceNorm1d before or after TD, Hardtanh(0.1, 1) after it,
# and a ReLU subclass that mixes the units narrowed silently wrong before.
EXACT, REFUSED = "exact", "refused"


class CenteredReLU(nn.ReLU):
    """A subclass of an allowed layer whose forward mixes the units."""

    def forward(self, x):
        return super().forward(x - x.mean(-1, keepdim=True))


LINEAR_LAYERS = {  # name: (layer, before TD, after TD)
    "Identity": (nn.Identity, EXACT, EXACT),
    "ReLU": (nn.ReLU, EXACT, EXACT),
    "ReLU6": (nn.ReLU6, EXACT, EXACT),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.1), EXACT, EXACT),
    "PReLU": (nn.PReLU, EXACT, EXACT),
    "PReLU per unit": (lambda: nn.PReLU(6), REFUSED, REFUSED),
    "ELU": (nn.ELU, EXACT, EXACT),
    "CELU": (nn.CELU, EXACT, EXACT),
    "SELU": (nn.SELU, EXACT, EXACT),
    "GELU": (nn.GELU, EXACT, EXACT),
    "SiLU": (nn.SiLU, EXACT, EXACT),
    "Mish": (nn.Mish, EXACT, EXACT),
    "Tanh": (nn.Tanh, EXACT, EXACT),
    "Hardtanh": (nn.Hardtanh, EXACT, EXACT),
    "Hardtanh(0.1, 1)": (lambda: nn.Hardtanh(0.1, 1.0), EXACT, REFUSED),
    "Hardswish": (nn.Hardswish, EXACT, EXACT),
    "Softsign": (nn.Softsign, EXACT, EXACT),
    "Tanhshrink": (nn.Tanhshrink, EXACT, EXACT),
    "Softshrink": (lambda: nn.Softshrink(0.1), EXACT, EXACT),
    "Hardshrink": (lambda: nn.Hardshrink(0.1), EXACT, EXACT),
    "Dropout": (lambda: nn.Dropout(0.5), EXACT, EXACT),
    "AlphaDropout": (lambda: nn.AlphaDropout(0.5), REFUSED, REFUSED),
    "Sigmoid": (nn.Sigmoid, EXACT, REFUSED),
    "Hardsigmoid": (nn.Hardsigmoid, EXACT, REFUSED),
    "Softplus": (nn.Softplus, EXACT, REFUSED),
    "LogSigmoid": (nn.LogSigmoid, EXACT, REFUSED),
    "Threshold": (lambda: nn.Threshold(0.1, 0.0), EXACT, EXACT),
    "Threshold(0.1, 2)": (lambda: nn.Threshold(0.1, 2.0), EXACT, REFUSED),
    "Softmax": (lambda: nn.Softmax(-1), REFUSED, REFUSED),
    "LogSoftmax": (lambda: nn.LogSoftmax(-1), REFUSED, REFUSED),
    "Softmin": (lambda: nn.Softmin(-1), REFUSED, REFUSED),
    "LayerNorm": (lambda: nn.LayerNorm(6), REFUSED, REFUSED),
    "RMSNorm": (lambda: nn.RMSNorm(6), REFUSED, REFUSED),
    "InstanceNorm1d": (lambda: nn.InstanceNorm1d(6), REFUSED, REFUSED),
    "GroupNorm": (lambda: nn.GroupNorm(2, 6), REFUSED, REFUSED),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(6), EXACT, REFUSED),
    "Flatten": (nn.Flatten, REFUSED, REFUSED),
    "CenteredReLU": (CenteredReLU, REFUSED, REFUSED),
}
CONV_LAYERS = {
    "ReLU": (nn.ReLU, EXACT, EXACT),
    "Dropout2d": (nn.Dropout2d, EXACT, EXACT),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(6), EXACT, REFUSED),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), EXACT, EXACT),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), EXACT, EXACT),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(3), EXACT, EXACT),
    "AdaptiveMaxPool2d": (lambda: nn.AdaptiveMaxPool2d(3), EXACT, EXACT),
    "Sigmoid": (nn.Sigmoid, EXACT, REFUSED),
    "InstanceNorm2d": (lambda: nn.InstanceNorm2d(6), REFUSED, REFUSED),
    "GroupNorm": (lambda: nn.GroupNorm(3, 6), REFUSED, REFUSED),
    "LocalResponseNorm": (lambda: nn.LocalResponseNorm(2), REFUSED, REFUSED),
    "Softmax2d": (nn.Softmax2d, REFUSED, REFUSED),
    "ChannelShuffle": (lambda: nn.ChannelShuffle(2), REFUSED, REFUSED),
    "Upsample": (lambda: nn.Upsample(scale_factor=2), REFUSED, REFUSED),
}


def randomise(model: nn.Module) -> nn.Module:
    """Non-trivial norm statistics and affine parameters, so that a wrong cut shows."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._NormBase) and m.running_mean is not None:
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
        norm = isinstance(m, nn.modules.batchnorm._NormBase | nn.LayerNorm | nn.GroupNorm)
        if norm and m.weight is not None:
            nn.init.normal_(m.weight)
            nn.init.normal_(m.bias)
    return model


CATALOGUE = [
    pytest.param(kind, make, side, expected, id=f"{kind}-{name}-{side}")
    for kind, layers in (("linear", LINEAR_LAYERS), ("conv", CONV_LAYERS))
    for name, (make, *sides) in layers.items()
    for side, expected in zip(("before", "after"), sides, strict=True)
]


@pytest.mark.filterwarnings("ignore:input's size at dim=0")  # InstanceNorm1d on (B, C)
@pytest.mark.parametrize(("kind", "make", "side", "expected"), CATALOGUE)
def test_each_layer_beside_a_td_layer_narrows_exactly_or_is_refused_by_node(
    kind, make, side, expected
):
    torch.manual_seed(0)
    if kind == "linear":
        first, last, x = nn.Linear(4, 6), nn.Linear(6, 3), torch.randn(5, 4)
    else:
        first, last, x = nn.Conv2d(2, 6, 3, padding=1), nn.Conv2d(6, 3, 1), torch.randn(3, 2, 6, 6)
    td = TriangularDropout(6, dim=None if kind == "linear" else 1)
    layers = [first, make(), td, last] if side == "before" else [first, td, make(), last]
    model = randomise(nn.Sequential(*layers)).eval()
    layer = "1" if side == "before" else "2"
    set_width(model, 3)
    masked = model(x)
    for cut in (narrow, narrow_graph):
        try:
            small = cut(model, 3)
        except NarrowError as err:
            assert expected == REFUSED, f"{cut.__name__} refused: {err}"
            node = {"before": "node 'sub'", "after": "node 'mean'"}[side]  # its forward's ops
            assert (node if make is CenteredReLU else f"(module '{layer}')") in str(err), err
            continue
        assert expected == EXACT, (
            f"{cut.__name__} cut it (max diff {small(x).sub(masked).abs().max()})"
        )
        torch.testing.assert_close(small(x), masked, rtol=1e-6, atol=1e-6)
        assert sum(p.numel() for p in small.parameters()) < sum(
            p.numel() for p in model.parameters()
        )
    set_width(model, None)
    assert not torch.allclose(model(x), masked)  # the cut units mattered


class Beside(nn.Module):
    """fc1 -> f -> TD -> fc2 or fc1 -> TD -> f -> fc2, with f a function in forward."""

    def __init__(self, f, side: str) -> None:
        super().__init__()
        self.fc1, self.td, self.fc2 = nn.Linear(4, 6), TriangularDropout(6), nn.Linear(6, 3)
        self.f, self.side = f, side

    def forward(self, x):
        h = self.fc1(x)
        h = self.td(self.f(h)) if self.side == "before" else self.f(self.td(h))
        return self.fc2(h)


FUNCTIONS = {  # name: (function, its node, before TD, after TD)
    "relu": (torch.relu, "relu", EXACT, EXACT),
    "scale": (lambda h: h * 2.0, "mul", EXACT, EXACT),
    "hardtanh(0.1, 1)": (lambda h: F.hardtanh(h, 0.1, 1.0), "hardtanh", EXACT, REFUSED),
    "sigmoid method": (lambda h: h.sigmoid(), "sigmoid", EXACT, REFUSED),
    "softmax": (lambda h: torch.softmax(h, -1), "softmax", REFUSED, REFUSED),
    "softmax method": (lambda h: h.softmax(-1), "softmax", REFUSED, REFUSED),
    "layer_norm": (lambda h: F.layer_norm(h, (6,)), "layer_norm", REFUSED, REFUSED),
    "x / x": (lambda h: h / h, "truediv", REFUSED, REFUSED),
    "1 / x": (lambda h: 1.0 / h, "truediv", REFUSED, REFUSED),
}


@pytest.mark.parametrize(
    ("f", "node", "side", "expected"),
    [
        pytest.param(f, node, side, expected, id=f"{name}-{side}")
        for name, (f, node, *sides) in FUNCTIONS.items()
        for side, expected in zip(("before", "after"), sides, strict=True)
    ],
)
def test_functions_beside_a_td_layer_narrow_exactly_or_are_refused_by_node(f, node, side, expected):
    torch.manual_seed(0)
    model, x = Beside(f, side).eval(), torch.randn(5, 4)
    set_width(model, 3)
    if expected == REFUSED:
        with pytest.raises(NarrowError, match=f"node '{node}' "):
            narrow(model, 3)
    else:
        torch.testing.assert_close(narrow(model, 3)(x), model(x), rtol=1e-6, atol=1e-6)


def test_a_linear_td_layer_masking_another_dim_is_refused():
    # TD(dim=1) on (B, T, C) tokens masks positions, not the Linear's units; the Sequential path
    # cut the Linear anyway when T == C (max |narrowed - masked| 0.57, no error).
    model = nn.Sequential(nn.Linear(4, 4), TriangularDropout(4, dim=1), nn.Linear(4, 2)).eval()
    with pytest.raises(NarrowError, match=r"masks dim 1, but its units come from a Linear"):
        narrow(model, 2)


def test_a_sequential_subclass_with_its_own_forward_goes_through_the_graph():
    # The Sequential path returned a plain Sequential of the layers: the residual add was lost.
    class Residual(nn.Sequential):
        def forward(self, x):
            return super().forward(x) + x

    torch.manual_seed(0)
    model = Residual(nn.Linear(4, 6), nn.ReLU(), TriangularDropout(6), nn.Linear(6, 4))
    check_exact(model, torch.randn(5, 4), 3)
