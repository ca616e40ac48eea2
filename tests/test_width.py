"""Model-level width helpers."""

import pytest
import torch
from torch import nn

from tridrop.dropout import TriangularDropout
from tridrop.width import set_width, td_layers, width_sweep


def test_sweep_equals_the_masked_model_at_each_width_and_restores_state():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), TriangularDropout(6), nn.Linear(6, 2)).train()
    x = torch.randn(4, 3)
    outs = width_sweep(model, x, [1, 3, 6])
    for w, y in zip([1, 3, 6], outs, strict=True):
        h = model[0](x) * (torch.arange(6) < w)
        torch.testing.assert_close(y, model[2](h))
    assert model.training and td_layers(model)[0].eval_width is None
    total = width_sweep(model, x, [2], metric=lambda y: float(y.sum()))[0]
    with torch.no_grad():
        assert total == pytest.approx(float(model[2](model[0](x) * (torch.arange(6) < 2)).sum()))


def test_set_width_per_layer():
    model = nn.Sequential(TriangularDropout(4), TriangularDropout(8))
    set_width(model, [2, 0.5])
    assert [td.eval_width for td in td_layers(model)] == [2, 0.5]
    with pytest.raises(ValueError, match="1 widths for 2"):
        set_width(model, [1])
