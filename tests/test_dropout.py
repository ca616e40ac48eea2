"""The layer: masks against naive loops, no rescaling, gradients, shared fractions, narrow."""

import copy
import math

import pytest
import torch
from torch import nn

from failures import Failure
from tridrop.dropout import (
    SharedWidth,
    TriangularDropout,
    sample_fractions,
    triangular_mask,
    widths_from_fractions,
)
from tridrop.extract import narrow
from tridrop.families.head.models import td_head

FAILURES = [
    Failure("layer", "`TriangularDropout(2.5)`: a width that is not a whole number of units",
            "width must be a whole number of units, got 2.5",
            "nothing is built (it failed only at the first forward before)"),
    Failure("layer", "`TriangularDropout('8')`: a width given as a string",
            "width must be a whole number of units, got '8'", "nothing is built"),
    Failure("layer", "`TriangularDropout(8, p=1.5)`", "p must be a number in [0, 1], got 1.5",
            "nothing is built (plain dropout failed at the first forward before)"),
]  # fmt: skip


def naive_triangle(batch: int, width: int) -> torch.Tensor:
    mask = torch.zeros(batch, width)
    for i in range(batch):
        keep = math.ceil((i + 1) * width / batch)
        for k in range(width):
            if k < keep:
                mask[i, k] = 1.0
    return mask


PAIRS = [(1, 1), (1, 7), (3, 8), (4, 16), (5, 16), (7, 10), (16, 16), (13, 13), (32, 16),
         (64, 16), (33, 16), (100, 7), (128, 4096), (250, 1000), (17, 3)]  # fmt: skip


@pytest.mark.parametrize(("batch", "width"), PAIRS)
def test_triangle_mask_equals_naive_loop(batch, width):
    assert torch.equal(triangular_mask(batch, width), naive_triangle(batch, width))


@pytest.mark.parametrize(("batch", "width"), PAIRS)
def test_triangle_fractions_give_the_same_widths(batch, width):
    # The shared-fraction path must reproduce the integer triangle exactly.
    w = widths_from_fractions(sample_fractions(batch, "triangle"), width)
    assert torch.equal(w, naive_triangle(batch, width).sum(1).long())


def test_square_triangle_is_lower_triangular_ones():
    assert torch.equal(triangular_mask(6, 6), torch.tril(torch.ones(6, 6)))


@pytest.mark.parametrize("mode", ["random", "nested"])
def test_random_masks_are_prefixes(mode):
    gen = torch.Generator().manual_seed(0)
    mask = triangular_mask(500, 12, mode, p=0.2, generator=gen)
    widths = mask.sum(1).long()
    assert (widths >= 1).all() and (widths <= 12).all()
    # A prefix mask is non-increasing along the units.
    assert torch.equal(mask, (torch.arange(12) < widths[:, None]).float())


def test_random_widths_are_uniform():
    gen = torch.Generator().manual_seed(1)
    widths = triangular_mask(40_000, 8, "random", generator=gen).sum(1).long()
    counts = torch.bincount(widths, minlength=9)[1:].double() / 40_000
    assert torch.allclose(counts, torch.full((8,), 1 / 8, dtype=torch.float64), atol=0.01)


@pytest.mark.parametrize(("batch", "width"), [(256, 64), (50, 12), (8, 64), (5120, 256)])
def test_random_widths_are_balanced_within_each_batch(batch, width):
    # vsnn draws random widths without replacement; independent draws gave counts 11-34 per
    # width in a batch of 5120 at width 256 where vsnn gives 15-21.
    gen = torch.Generator().manual_seed(4)
    for _ in range(5):
        widths = triangular_mask(batch, width, "random", generator=gen).sum(1).long()
        counts = torch.bincount(widths, minlength=width + 1)[1:]
        if batch >= width:
            assert counts.min() >= batch // width - 1 and counts.max() <= -(-batch // width) + 1
        else:
            assert counts.max() <= 1 + (width % batch != 0)  # distinct when B divides W


def test_nested_widths_follow_a_truncated_geometric():
    gen = torch.Generator().manual_seed(2)
    p, width, n = 0.3, 6, 60_000
    widths = triangular_mask(n, width, "nested", p=p, generator=gen).sum(1).long()
    freq = torch.bincount(widths, minlength=width + 1)[1:].double() / n
    expect = torch.tensor([(1 - p) ** (k - 1) * p for k in range(1, width)] + [(1 - p) ** 5])
    assert torch.allclose(freq, expect.double(), atol=0.01)


def test_none_and_dropout_modes():
    assert torch.equal(triangular_mask(5, 4, "none"), torch.ones(5, 4))
    gen = torch.Generator().manual_seed(3)
    kept = (triangular_mask(2000, 50, "dropout", p=0.25, generator=gen) > 0).float().mean()
    assert abs(float(kept) - 0.75) < 0.01


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown mode"):
        triangular_mask(4, 4, "triangel")
    with pytest.raises(ValueError, match="width must be >= 1"):
        triangular_mask(4, 0)
    with pytest.raises(ValueError, match="batch must be >= 1"):
        sample_fractions(0)
    td = TriangularDropout(8)
    with pytest.raises(ValueError, match=r"width must be in \[1, 8\]"):
        td.set_width(9)
    with pytest.raises(ValueError, match="fraction"):
        td.set_width(1.5)
    with pytest.raises(ValueError, match="expected 8 units"):
        td(torch.ones(2, 7))


def test_training_output_is_input_times_mask_without_rescaling():
    torch.manual_seed(0)
    x = torch.randn(10, 6)
    td = TriangularDropout(6).train()
    assert torch.equal(td(x), x * naive_triangle(10, 6))


def test_eval_is_identity_at_full_width_and_a_prefix_otherwise():
    x = torch.randn(5, 8)
    td = TriangularDropout(8).eval()
    assert torch.equal(td(x), x)
    td.set_width(3)
    assert torch.equal(td(x)[:, :3], x[:, :3]) and not td(x)[:, 3:].any()
    td.set_width(0.5)  # a fraction of the width: ceil(0.5 * 8) = 4 units
    assert not td(x)[:, 4:].any() and torch.equal(td(x)[:, :4], x[:, :4])


def test_gradients_reach_only_kept_units():
    x = torch.randn(7, 5, requires_grad=True)
    TriangularDropout(5).train()(x).sum().backward()
    assert torch.equal(x.grad, naive_triangle(7, 5))


def test_mask_covers_conv_channels():
    x = torch.randn(4, 4, 3, 3)
    y = TriangularDropout(4).train()(x)
    assert torch.equal(y, x * naive_triangle(4, 4)[:, :, None, None])


def test_shared_fractions_are_coherent_across_layers_of_different_widths():
    torch.manual_seed(0)
    net = SharedWidth(
        nn.Linear(3, 8), TriangularDropout(8, "random"), nn.Linear(8, 32),
        TriangularDropout(32, "random"),
    )  # fmt: skip
    seen = []
    for td in net.td_layers():
        td.register_forward_hook(lambda m, i, o: seen.append((o != 0).sum(1)))
    with torch.no_grad():
        net.train()(torch.randn(256, 3).abs())
    kept8, kept32 = seen
    # Sample i keeps ceil(f_i * 8) and ceil(f_i * 32) units for one f_i, so the two widths agree
    # on the fraction: kept32 lies in the range that maps to kept8.
    assert ((kept32 > (kept8 - 1) * 4) & (kept32 <= kept8 * 4)).all()
    assert len(set(kept8.tolist())) > 4  # several widths were drawn


def test_shared_triangle_fractions_match_per_layer_triangles():
    f = sample_fractions(16, "triangle")
    for width in (4, 16, 40):
        assert torch.equal(widths_from_fractions(f, width), naive_triangle(16, width).sum(1).long())


def autoencoder(width: int = 12) -> SharedWidth:
    torch.manual_seed(0)
    return SharedWidth(
        nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, width), TriangularDropout(width),
        nn.Linear(width, 20), nn.ReLU(), nn.Linear(20, 10),
    )  # fmt: skip


@pytest.mark.parametrize("width", [1, 2, 5, 11, 12, 0.25, 1.0])
def test_narrow_equals_masked_network(width):
    model = autoencoder().eval()
    x = torch.randn(9, 10)
    model.set_width(width)
    small = narrow(model, width)
    kept = model.td_layers()[0].kept_units(width)
    assert small[2].out_features == kept and small[3].in_features == kept
    assert not any(isinstance(m, TriangularDropout) for m in small)
    torch.testing.assert_close(small(x), model(x))


def test_narrow_two_layer_head_with_per_layer_widths():
    torch.manual_seed(0)
    head = td_head(6, 16, 4)  # Linear-ReLU-TD-Linear-ReLU-TD-Linear in a SharedWidth
    x = torch.randn(5, 6)
    for w1, w2 in [(3, 7), (16, 1), (8, 8)]:
        for td, w in zip(head.td_layers(), (w1, w2), strict=True):
            td.set_width(w)
        small = narrow(head, [w1, w2])
        assert (small[0].out_features, small[2].in_features) == (w1, w1)
        assert (small[2].out_features, small[4].in_features) == (w2, w2)
        torch.testing.assert_close(small(x), head.eval()(x))
    n_small = sum(p.numel() for p in narrow(head, [3, 7]).parameters())
    assert n_small == 6 * 3 + 3 + 3 * 7 + 7 + 7 * 4 + 4


def test_narrow_refuses_layers_it_cannot_cut_exactly():
    with pytest.raises(ValueError, match="no TriangularDropout"):
        narrow(nn.Sequential(nn.Linear(2, 2)), 1)
    bad = nn.Sequential(nn.Linear(2, 4), TriangularDropout(4), nn.Sigmoid(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="'2'.*maps 0 to 0.5"):
        narrow(bad, 2)
    with pytest.raises(ValueError, match="2 widths for 1"):
        narrow(autoencoder(), [1, 2])


# Bugs found against the authors' vsnn (each test failed before its fix).


@pytest.mark.parametrize("width", [10, 100, 7, 4096])
def test_fraction_widths_keep_the_units_training_keeps(width):
    # f = j/W is not exact in float32: 0.3 * 10 became 3.0000001 and kept 4 units, not 3.
    td = TriangularDropout(width)
    for j in range(1, width + 1, max(1, width // 100)):
        f = j / width
        trained = widths_from_fractions(torch.tensor([f], dtype=torch.float64), width)
        assert td.kept_units(f) == j == int(trained), f
        td.eval().set_width(f)
        assert int((td(torch.ones(1, width)) != 0).sum()) == j


def test_narrow_with_a_fraction_keeps_the_trained_units():
    model = autoencoder(10).eval()
    for j in range(1, 11):
        assert narrow(model, j / 10)[2].out_features == j


def test_vsnn_widths_are_reproduced_by_rounding_to_an_int():
    # vsnn keeps int(round(f W)) units; pass that as an int width.
    td = TriangularDropout(8)
    assert td.kept_units(0.3) == 3 and td.kept_units(max(1, round(0.3 * 8))) == 2


def test_token_tensors_are_masked_on_their_last_dim():
    # (B, T, C) with T != C raised; with T == C the time steps were masked.
    for t in (3, 6):
        x = torch.randn(6, t, 6)
        y = TriangularDropout(6).train()(x)
        assert torch.equal(y, x * naive_triangle(6, 6)[:, None, :])
        td = TriangularDropout(6).eval()
        td.set_width(2)
        assert torch.equal(td(x), x * (torch.arange(6) < 2))


@pytest.mark.parametrize(("shape", "dim"), [((4, 5, 3), 1), ((4, 2, 3, 5), -1), ((4, 3, 5), -1)])
def test_an_explicit_dim_is_masked(shape, dim):
    x = torch.randn(shape)
    y = TriangularDropout(5, dim=dim).train()(x)
    mask = naive_triangle(4, 5)
    view = [4] + [1] * (x.dim() - 1)
    view[dim] = 5
    assert torch.equal(y, x * mask.reshape(view))
    with pytest.raises(ValueError, match="dim 0 is the batch"):
        TriangularDropout(5, dim=0)


def test_dropout_mask_and_layer_both_rescale_with_the_same_random_numbers():
    x = torch.randn(64, 33)
    torch.manual_seed(5)
    mask = triangular_mask(64, 33, "dropout", p=0.25)
    torch.manual_seed(5)
    y = TriangularDropout(33, "dropout", p=0.25).train()(x)
    assert torch.equal(y, x * mask)
    assert torch.equal(mask.unique(), torch.tensor([0.0, 1 / 0.75]))


def test_eval_mask_is_built_on_the_input_device():
    # It was built on the CPU and copied to x's device at every forward.
    from torch.utils._python_dispatch import TorchDispatchMode

    class Devices(TorchDispatchMode):
        seen: set = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in out if isinstance(out, tuple | list) else [out]:
                if isinstance(t, torch.Tensor):
                    self.seen.add(t.device.type)
            return out

    td = TriangularDropout(8).eval()
    td.set_width(3)
    x = torch.empty(2, 8, device="meta")
    with Devices() as mode:
        td(x)
    assert mode.seen == {"meta"}


def test_random_layers_outside_shared_width_share_each_samples_width():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(3, 8), TriangularDropout(8, "random"), nn.Linear(8, 32),
        TriangularDropout(32, "random"),
    ).train()  # fmt: skip
    seen = []
    for td in net[1], net[3]:
        td.register_forward_hook(lambda m, i, o: seen.append((o != 0).sum(1)))
    with torch.no_grad():
        for _ in range(2):
            net(torch.randn(256, 3).abs())
    first8, first32, next8, _ = seen
    assert ((first32 > (first8 - 1) * 4) & (first32 <= first8 * 4)).all()
    assert not torch.equal(first8, next8)  # a new draw at the next step


def test_a_single_random_layer_draws_what_it_drew_before_sharing():
    # The pipeline's results must not change: one layer draws sample_fractions' numbers.
    td = TriangularDropout(12, "random").train()
    x = torch.ones(50, 12)
    for seed in (0, 1):
        torch.manual_seed(seed)
        y = td(x)
        torch.manual_seed(seed)
        assert torch.equal(y, triangular_mask(50, 12, "random"))


def test_independent_random_layers_when_not_shared():
    torch.manual_seed(0)
    a, b = (
        TriangularDropout(16, "random", share=False),
        TriangularDropout(16, "random", share=False),
    )
    x = torch.ones(64, 16)
    assert not torch.equal(a.train()(x), b.train()(x))


def test_shared_width_draws_the_same_numbers_as_before():
    # SharedWidth's fractions come from one sample_fractions call per forward, in order.
    net = SharedWidth(nn.Identity(), TriangularDropout(8, "random"), TriangularDropout(8, "random"))
    torch.manual_seed(3)
    y = net.train()(torch.ones(40, 8))
    torch.manual_seed(3)
    f = sample_fractions(40, "random", width=8)
    assert torch.equal(y, (torch.arange(8) < widths_from_fractions(f, 8)[:, None]).float())


def test_eval_widths_are_set_without_changing_the_state_dict():
    td = TriangularDropout(8)
    td.set_width(3)
    assert td.state_dict() == {}


def test_mixed_batches_keep_full_width_for_their_share():
    # td_mix: round(q B) samples keep every unit; the others form the triangle of the rest.
    layer = TriangularDropout(8, "triangle", full=0.25).train()
    out = layer(torch.ones(16, 8))
    assert torch.equal(out[12:], torch.ones(4, 8))
    assert torch.equal(out[:12], triangular_mask(12, 8))
    model = SharedWidth(nn.Linear(3, 8), TriangularDropout(8, "random", full=0.5)).train()
    f = sample_fractions(10, "random", full=0.5, generator=torch.Generator().manual_seed(0))
    assert (f[5:] == 1).all() and (f[:5] < 1).all()
    kept = (model(torch.randn(10, 3)) != 0).sum(1)
    assert (kept[5:] == 8).all()
    assert torch.equal(
        sample_fractions(4, "triangle", full=1.0), torch.ones(4, dtype=torch.float64)
    )


def test_loguniform_widths_follow_their_distribution():
    from scipy.stats import chisquare

    width, n = 16, 20000
    f = sample_fractions(n, "loguniform", width=width, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(widths_from_fractions(f, width), minlength=width + 1)[1:]
    k = torch.arange(1, width + 1, dtype=torch.float64)
    p = torch.log((k + 1) / k) / math.log(width + 1)
    assert torch.isclose(p.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert chisquare(counts.numpy(), (n * p).numpy()).pvalue > 0.01
    assert counts[0] > 5 * counts[-1]  # more samples at small widths than uniform


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "failure"),
    [((2.5,), {}, TypeError, 0), (("8",), {}, TypeError, 1), ((8,), {"p": 1.5}, ValueError, 2)],
)
def test_bad_layer_arguments_are_refused_at_construction(args, kwargs, error, failure):
    # A float width was accepted and failed only at the first forward.
    with pytest.raises(error) as err:
        TriangularDropout(*args, **kwargs)
    assert str(err.value) == FAILURES[failure].seen


def test_other_bad_layer_arguments():
    for kwargs, match in [
        ({"width": True}, "whole number"),
        ({"width": 8, "mode": "nested", "p": 0.0}, r"p must be a number in \(0, 1\]"),
        ({"width": 8, "dim": "1"}, "dim must be an int or None"),
        ({"width": 8, "full": "half"}, r"full must be a number in \[0, 1\]"),
    ]:
        with pytest.raises((TypeError, ValueError), match=match):
            TriangularDropout(**kwargs)


def test_numpy_integer_widths_become_ints():
    np = pytest.importorskip("numpy")
    td = TriangularDropout(np.int64(8))
    assert td.width == 8 and type(td.width) is int


class TwoLayers(nn.Module):
    """Two random TD layers of widths 8 and 16 on a ones input; returns each one's kept units."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = TriangularDropout(8, "random"), TriangularDropout(16, "random")

    def forward(self, x):
        return (self.a(x[:, :8]) != 0).sum(1), (self.b(x) != 0).sum(1)


def coherent(kept8: torch.Tensor, kept16: torch.Tensor) -> bool:
    """Both layers kept ceil(f * W) units for one fraction f per sample."""
    return bool(((kept16 > (kept8 - 1) * 2) & (kept16 <= kept8 * 2)).all())


def test_separate_models_draw_their_own_widths():
    # The shared draw was process-global: a second model reused the first one's widths.
    x = torch.ones(64, 16)
    first, second = TwoLayers().train(), TwoLayers().train()
    torch.manual_seed(0)
    runs = [(first(x), second(x)) for _ in range(3)]
    for (a8, a16), (b8, b16) in runs:
        assert coherent(a8, a16) and coherent(b8, b16)  # each model shares within itself
        assert not torch.equal(a8, b8) and not torch.equal(a16, b16)
    torch.manual_seed(0)  # and the draws are reproducible
    again = [(first(x), second(x)) for _ in range(3)]
    assert all(
        torch.equal(u, v) for run, rerun in zip(runs, again, strict=True)
        for out, out2 in zip(run, rerun, strict=True) for u, v in zip(out, out2, strict=True)
    )  # fmt: skip
    copied = copy.deepcopy(first)  # a copy is another model: it draws for itself
    torch.manual_seed(1)
    (c8, _), (f8, _) = copied(x), first(x)
    assert not torch.equal(c8, f8)


def test_layers_added_to_a_built_model_share_its_draw():
    class TopDown(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList()  # registered empty, filled below
            self.blocks.append(nn.Sequential(TriangularDropout(8, "random")))
            self.b = TriangularDropout(16, "random")

        def forward(self, x):
            return (self.blocks[0](x[:, :8]) != 0).sum(1), (self.b(x) != 0).sum(1)

    model = TopDown().train()
    for _ in range(3):
        assert coherent(*model(torch.ones(64, 16)))
    model.c = nn.Sequential(nn.Identity(), TriangularDropout(4, "random"))  # after building
    assert model.c[1]._width_draw is model.b._width_draw
