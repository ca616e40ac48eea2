"""narrow on any model (torch.fx): the cut model equals the masked one, or a clear refusal."""

import pytest
import torch
from torch import fx, nn

from tridrop.dropout import TriangularDropout
from tridrop.extract import NarrowError, narrow, narrow_graph
from tridrop.models.head import td_head
from tridrop.width import set_width


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
    with pytest.raises(
        NarrowError, match=r"node '_1' \(module '1'\) makes the units, but only a Linear or a Conv"
    ):
        narrow(ln, 2)
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
