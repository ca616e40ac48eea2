"""Converting an existing model: TD layers after named modules, state dicts kept."""

import pytest
import torch
from torch import nn

from tridrop.convert import add_triangular_dropout
from tridrop.dropout import SharedWidth, TriangularDropout
from tridrop.extract import narrow
from tridrop.width import set_width

torchvision = pytest.importorskip("torchvision")


def test_vgg19_classifier_loads_the_pipelines_td_head_one_to_one():
    from tridrop.models.head import td_head

    torch.manual_seed(0)
    head = add_triangular_dropout(torchvision.models.vgg19(weights=None).classifier, ["2", "5"])
    assert isinstance(head, SharedWidth)
    assert [type(m) for m in head] == [type(m) for m in td_head(8, 8, 2)]
    assert [(td.width, td.mode) for td in head.td_layers()] == [(4096, "triangle")] * 2
    ref = td_head(25088, 4096, 1000)
    assert list(head.state_dict()) == list(ref.state_dict())  # indices 0, 3, 6
    head.load_state_dict(ref.state_dict())
    x = torch.randn(2, 25088)
    set_width(head.eval(), 100)
    set_width(ref.eval(), 100)
    torch.testing.assert_close(head(x), ref(x))
    torch.testing.assert_close(narrow(head, 100)(x), ref(x), rtol=1e-6, atol=1e-6)


def test_td_after_a_named_conv_and_the_model_narrows():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 2, 3))
    conv = add_triangular_dropout(net, ["1"], mode="random")
    assert isinstance(conv[1][1], TriangularDropout) and conv[1][1].width == 6
    x = torch.randn(2, 1, 7, 7)
    set_width(conv.eval(), 2)
    torch.testing.assert_close(narrow(conv, 2)(x), conv(x), rtol=1e-6, atol=1e-6)


def test_unknown_names_and_unknown_widths_are_errors():
    with pytest.raises(KeyError, match="no submodule named 'x'"):
        add_triangular_dropout(nn.Sequential(nn.ReLU()), ["x"])
    with pytest.raises(ValueError, match="cannot tell the width after '0'"):
        add_triangular_dropout(nn.Sequential(nn.Dropout()), ["0"])
    net = add_triangular_dropout(nn.Sequential(nn.Dropout()), {"0": 5})
    assert net[0].width == 5
