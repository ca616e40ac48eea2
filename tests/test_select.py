"""Choosing a width with a confidence bound: coverage on synthetic cases with a known answer,
and the model-level search (tied and per layer)."""

import pytest
import torch

from tridrop import TriangularDropout
from tridrop.dropout import SharedWidth
from tridrop.select import _binomial_root, choose, select_width

# Five widths, widest first, and the share of the full width's right answers each loses.
WIDTHS = (64, 32, 16, 8, 4)
LOST = (0.0, 0.002, 0.008, 0.0125, 0.2)  # x 0.9 accuracy: drops 0, .0018, .0072, .01125, .18
TOL = 0.01  # absolute: 64, 32 and 16 meet it; 8 (drop 0.01125, just beyond) and 4 do not


def paired_accuracy(n: int, g: torch.Generator):
    """Right/wrong per example at full width (accuracy 0.9) and at each width: each example
    right at full width is lost with the width's probability (none is gained)."""
    ref = (torch.rand(n, generator=g) < 0.9).double()
    scored = [
        (w, ref * (torch.rand(n, generator=g) >= p)) for w, p in zip(WIDTHS, LOST, strict=True)
    ]
    return ref, scored


def test_the_binomial_bound_is_clopper_pearson():
    scipy = pytest.importorskip("scipy.stats")
    assert _binomial_root(5, 100, 0.025) == pytest.approx(scipy.beta.ppf(0.975, 6, 95))
    assert _binomial_root(4, 100, 0.975) == pytest.approx(scipy.beta.ppf(0.025, 5, 96))


def test_a_width_beyond_the_tolerance_is_chosen_at_most_one_time_in_twenty():
    """Coverage over 300 draws (fixed seed): the chosen width's true drop exceeds the
    tolerance in at most 5% of them (plus three standard errors), although width 8 sits just
    beyond it and every width is tested; and the bound is not vacuous: width 16 or narrower
    is chosen in most draws."""
    g = torch.Generator().manual_seed(0)
    chosen = []
    for _ in range(300):
        ref, scored = paired_accuracy(20000, g)
        width, table = choose(ref, scored, TOL, relative=False, method="binomial")
        chosen.append(width)
        assert [r["width"] for r in table][: len(table)] == list(WIDTHS[: len(table)])
    bad = sum(w in (8, 4) for w in chosen) / len(chosen)
    assert bad <= 0.05 + 3 * (0.05 * 0.95 / 300) ** 0.5
    assert sum(w == 16 for w in chosen) / len(chosen) > 0.5


def test_the_bootstrap_bound_covers_a_mean_squared_error():
    """The same for a per-example error (lower is better), relative tolerance 5%: widths whose
    true mean error is 1.052x full width's are chosen rarely, 1.02x usually."""
    g = torch.Generator().manual_seed(1)
    ratios = {32: 1.0, 16: 1.02, 8: 1.052, 4: 1.5}
    chosen = []
    for _ in range(60):
        ref = 1.0 - torch.rand(2000, generator=g, dtype=torch.float64).log()  # 1 + Exp(1)
        noise = 0.05 * torch.randn(2000, generator=g, dtype=torch.float64)
        scored = [(w, ref * r + noise) for w, r in ratios.items()]
        width, _ = choose(ref, scored, 0.05, higher=False, resamples=400, seed=2)
        chosen.append(width)
    assert sum(w in (8, 4) for w in chosen) <= 6 and sum(w == 16 for w in chosen) > 48


def td_classifier():
    """Inputs whose first units carry the class: a head whose narrow widths lose accuracy."""
    torch.manual_seed(0)
    x = torch.randn(3000, 8)
    y = (x[:, :4].sum(1) > 0).long()
    model = SharedWidth(
        torch.nn.Linear(8, 16), torch.nn.ReLU(), TriangularDropout(16), torch.nn.Linear(16, 2)
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(300):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model, [(x[i : i + 500], y[i : i + 500]) for i in range(0, 3000, 500)]


def test_select_width_on_a_td_model_keeps_its_promise_on_its_own_data():
    model, data = td_classifier()
    sel = select_width(model, data, "accuracy", 0.02)
    assert sel.width is not None and sel.method == "binomial" and sel.examples == 3000
    row = next(r for r in sel.table if r["width"] == sel.width)
    assert row["meets"] and row["value"] >= sel.full * 0.98
    tested = [r["width"] for r in sel.table]
    assert tested == sorted(tested, reverse=True) and tested[0] == 15
    if len(tested) > 1 + tested.index(sel.width):  # the search stopped at the first failure
        assert not sel.table[-1]["meets"]
    assert all(td.eval_width is None for td in model.td_layers())  # full width again
    assert "confidence" in sel.summary()
    # Per layer, on a model with two TD layers: the cheapest passing pair by units kept.
    grid = select_width(
        SharedWidth(model[0], model[1], model[2], torch.nn.Linear(16, 4), TriangularDropout(4),
                    torch.nn.ReLU(), torch.nn.Linear(4, 2)),  # fmt: skip
        data, "accuracy", 0.5, per_layer=True, widths=[2, 8],
    )  # fmt: skip
    assert {r["width"] for r in grid.table} == {(2, 2), (2, 4), (8, 2), (8, 4), (16, 2)}


def test_bad_requests_are_refused():
    model, data = td_classifier()
    with pytest.raises(ValueError, match="higher_is_better"):
        select_width(model, data, lambda out, y: out[:, 0])
    with pytest.raises(ValueError, match="binomial bound is for accuracy"):
        select_width(model, data, "mse", method="binomial")
    with pytest.raises(ValueError, match="no TriangularDropout layer"):
        select_width(torch.nn.Linear(8, 2), data)
