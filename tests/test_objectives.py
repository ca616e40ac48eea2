"""Matryoshka and sandwich-rule losses (autoencoders, classifier heads) against per-width
losses computed one by one."""

import pytest
import torch
from torch import nn

from tridrop.families.autoencoder.models import mlp_autoencoder
from tridrop.families.autoencoder.objectives import (
    matryoshka_loss,
    nested_widths,
    passes,
    sandwich_loss,
)
from tridrop.specs import Objective


def loss_at(model, x: torch.Tensor, width: int) -> torch.Tensor:
    """The reconstruction MSE of the model cut to ``width`` (eval mode, its own mask)."""
    model.eval().set_width(width)
    out = nn.functional.mse_loss(model(x), x)
    model.set_width(None)
    return out


def test_nested_widths():
    assert nested_widths(16) == [1, 2, 4, 8, 16]
    assert nested_widths(12) == [1, 2, 4, 8, 12]
    assert nested_widths(1) == [1]


def test_matryoshka_loss_is_the_mean_of_the_per_width_losses():
    torch.manual_seed(0)
    model = mlp_autoencoder((1, 4, 4), 16, 6, mode="none")
    x = torch.rand(9, 1, 4, 4)
    loss = matryoshka_loss(model.train(), x, None)
    expected = torch.stack([loss_at(model, x, w) for w in (1, 2, 4, 6)]).mean()
    assert torch.allclose(loss, expected, atol=1e-6)


def test_sandwich_trains_full_and_smallest_width_and_distils_to_the_full_output():
    torch.manual_seed(0)
    model = mlp_autoencoder((1, 4, 4), 16, 6, mode="none")
    x = torch.rand(9, 1, 4, 4)
    plain = sandwich_loss(0, distill=False)(model.train(), x, None)
    full, one = loss_at(model, x, 6), loss_at(model, x, 1)
    assert torch.allclose(plain, (full + one) / 2, atol=1e-6)
    distilled = sandwich_loss(0, distill=True)(model.train(), x, None)
    with torch.no_grad():
        model.eval().set_width(6)
        teacher = model(x)
        model.set_width(1)
        to_teacher = nn.functional.mse_loss(model(x), teacher)
    assert torch.allclose(distilled, (full + (one + to_teacher) / 2) / 2, atol=1e-6)


def test_passes_count_the_decoder_runs_per_step():
    assert passes(Objective(), 16) == {"encoder": 1, "decoder": 1}
    assert passes(Objective("matryoshka"), 16)["decoder"] == 5
    assert passes(Objective("sandwich", sandwich_random=3), 16)["decoder"] == 5


# ---------------------------------------------------------------- the classifier head's


def head_loss_at(model, x: torch.Tensor, y: torch.Tensor, width: int) -> torch.Tensor:
    """Cross-entropy of the head cut to ``width`` (eval mode, its TD layers' own masks)."""
    model.eval().set_width(width)
    out = nn.functional.cross_entropy(model(x), y)
    model.set_width(None)
    return out


def a_head(mode="none"):
    from tridrop.families.head.models import td_head

    torch.manual_seed(0)
    return td_head(7, 12, 5, mode), torch.randn(10, 7), torch.randint(0, 5, (10,))


def test_head_logits_at_each_width_equal_the_head_cut_to_that_width():
    from tridrop.families.head.objectives import logits_at

    model, x, _ = a_head("triangle")
    logits = logits_at(model.train(), x, [1, 3, 12])
    for k, w in enumerate((1, 3, 12)):
        model.eval().set_width(w)
        assert torch.allclose(logits[k], model(x), atol=1e-6)


def test_head_matryoshka_and_sandwich_are_the_per_width_cross_entropies():
    from tridrop.families.head.objectives import loss_for

    model, x, y = a_head()
    loss = loss_for(Objective("matryoshka"))(model.train(), x, y)
    expected = torch.stack([head_loss_at(model, x, y, w) for w in (1, 2, 4, 8, 12)]).mean()
    assert torch.allclose(loss, expected, atol=1e-6)
    plain = loss_for(Objective("sandwich", sandwich_random=0))(model.train(), x, y)
    full, one = head_loss_at(model, x, y, 12), head_loss_at(model, x, y, 1)
    assert torch.allclose(plain, (full + one) / 2, atol=1e-6)
    distilled = loss_for(Objective("sandwich", 0, distill=True))(model.train(), x, y)
    with torch.no_grad():
        model.eval().set_width(12)
        teacher = model(x).softmax(-1)
        model.set_width(1)
        to_teacher = nn.functional.cross_entropy(model(x), teacher)  # soft targets
    assert torch.allclose(distilled, (full + (one + to_teacher) / 2) / 2, atol=1e-6)
    assert loss_for(Objective())(model.train(), x, y).requires_grad


def test_head_passes_count_the_first_layer_once():
    from tridrop.families.head.objectives import passes

    assert passes(Objective(), 3136, 512, 10) == 1
    # The fashion_hard preset's td_long epochs (23 = 10 x 2.28) rest on this ratio.
    assert round(passes(Objective("matryoshka"), 3136, 512, 10), 2) == 2.28
    assert round(passes(Objective("sandwich"), 3136, 512, 10), 2) == 1.43


def test_a_head_trains_with_each_objective_and_records_its_cost(tmp_path):
    """The train job with Matryoshka and the distilled sandwich: the head learns (narrow
    widths too, where a no-TD head trained as long does not) and its metadata says what it
    minimised and at what cost."""
    import json

    from test_head import blobs

    from tridrop.families.head import jobs
    from tridrop.families.head.evaluation import head_topk
    from tridrop.families.head.feature_cache import FeatureCache
    from tridrop.families.head.models import load_head
    from tridrop.families.head.specs import HeadModel, HeadTrain
    from tridrop.specs import TrainSpec

    blobs(tmp_path, classes=6, dim=10, sizes=(600, 300), seed=0)
    train = TrainSpec(epochs=8, batch_size=32, lr=1e-2, seed=0, device="cpu")
    val = FeatureCache(tmp_path / "val", torch.device("cpu"))
    top1 = {}
    for name, objective in (
        ("plain", Objective()),
        ("matryoshka", Objective("matryoshka")),
        ("sandwich", Objective("sandwich", distill=True)),
    ):
        model = tmp_path / f"{name}.pt"
        spec = HeadTrain(HeadModel(hidden=16, mode="none"), train, objective)
        jobs.train(spec, features=tmp_path / "train", model=model)
        meta = json.loads(model.with_suffix(".json").read_text())
        assert meta["objective"]["loss"] == objective.loss
        assert meta["forward_passes"] == pytest.approx(8 * passes_of(objective))
        top1[name] = head_topk(load_head(model), val.batches(256), [2, 16])[:, 0]
    for name in ("matryoshka", "sandwich"):
        assert top1[name][1] > 0.9 and top1[name][0] > top1["plain"][0]  # widths 16, 2


def passes_of(objective: Objective) -> float:
    from tridrop.families.head.objectives import passes

    return passes(objective, 10, 16, 6)
