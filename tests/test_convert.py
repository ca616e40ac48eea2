"""Converting an existing model: TD layers after named modules, state dicts kept."""

from collections import OrderedDict

import pytest
import torch
from torch import nn

from failures import Failure
from tridrop.convert import add_triangular_dropout
from tridrop.dropout import SharedWidth, TriangularDropout
from tridrop.extract import narrow
from tridrop.width import set_width

FAILURES = [
    Failure("conversion", "`add_triangular_dropout(model, ['fc1', 'fc3'])` with a name the model "
            "does not have (a typo)",
            "the model has no submodule named 'fc3'; its submodules: fc1, fc2, drop",
            "the model is unchanged: every name and width is checked before a layer is added"),
    Failure("conversion", "`add_triangular_dropout` after a block of modules (its width cannot "
            "be read)",
            "cannot tell the width after 'block': it holds other modules; pass {'block': width}",
            "the model is unchanged"),
    Failure("conversion", "`add_triangular_dropout` after a Dropout or ReLU in a model that "
            "torch.fx cannot trace",
            "cannot tell the width after 'drop': the model does not trace with torch.fx",
            "the model is unchanged; passing {'drop': width} converts it"),
]  # fmt: skip


def test_vgg19_classifier_loads_the_pipelines_td_head_one_to_one():
    torchvision = pytest.importorskip("torchvision")
    from tridrop.families.head.models import td_head

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


class Registered(nn.Module):
    """fc1 -> drop -> fc2, registered as fc1, fc2, drop: not in the order they are called."""

    def __init__(self, traceable: bool = True) -> None:
        super().__init__()
        self.fc1, self.fc2, self.drop = nn.Linear(3, 8), nn.Linear(8, 2), nn.Dropout()
        self.traceable = traceable

    def forward(self, x):
        h = self.fc1(x)
        if not self.traceable and h.sum() > 0:  # data-dependent control flow: fx cannot trace
            h = h * 1.0
        return self.fc2(self.drop(h))


def test_the_width_comes_from_the_layer_called_before_not_the_one_registered_before():
    # It was fc2's 2 units (registration order), not fc1's 8.
    model = add_triangular_dropout(Registered(), ["drop"], mode="random")
    assert model.drop.width == 8
    assert model.train()(torch.randn(4, 3)).shape == (4, 2)


def test_a_bad_name_or_width_leaves_the_model_unchanged():
    model = Registered()
    before = repr(model)
    with pytest.raises(KeyError) as err:
        add_triangular_dropout(model, ["fc1", "fc3"])  # fc1 alone would be fine
    assert FAILURES[0].seen in str(err.value) and repr(model) == before
    nested = nn.Sequential(
        OrderedDict(
            fc=nn.Linear(3, 4), block=nn.Sequential(nn.Linear(4, 6), nn.ReLU()), out=nn.Linear(6, 2)
        )
    )  # the width before 'block' was fc's 4 (the last layer registered before it), not 6
    before = repr(nested)
    with pytest.raises(ValueError) as err:
        add_triangular_dropout(nested, ["fc", "block"])
    assert str(err.value) == FAILURES[1].seen and repr(nested) == before
    model = Registered(traceable=False)
    before = repr(model)
    with pytest.raises(ValueError) as err:
        add_triangular_dropout(model, ["fc1", "drop"])
    assert str(err.value).startswith(FAILURES[2].seen) and repr(model) == before
    assert add_triangular_dropout(model, {"drop": 8}).drop.width == 8


class TwoBlocks(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block1 = nn.Sequential(nn.Linear(3, 8), nn.Dropout())
        self.block2 = nn.Sequential(nn.Linear(8, 16), nn.Dropout())

    def forward(self, x):
        h = self.block1(x)
        return h, self.block2(h)


def test_converted_models_draw_apart_and_their_layers_together():
    # Two converted models drew identical widths (one process-global draw).
    torch.manual_seed(0)
    models = [
        add_triangular_dropout(TwoBlocks(), ["block1.1", "block2.1"], mode="random").train()
        for _ in range(2)
    ]
    for model in models:
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.constant_(m.weight, 1.0)
                nn.init.constant_(m.bias, 1.0)
    x = torch.ones(64, 3)
    with torch.no_grad():
        kept = [[(y != 0).sum(1) for y in model(x)] for model in models]
    for k8, k16 in kept:  # the layers in the two blocks share each sample's fraction
        assert ((k16 > (k8 - 1) * 2) & (k16 <= k8 * 2)).all()
    assert not torch.equal(kept[0][0], kept[1][0])
