"""torch.compile: TD trains without graph breaks or a recompilation per step; widths are cheap."""

import pytest
import torch
from torch import nn

from tridrop.dropout import TriangularDropout
from tridrop.width import set_width

dynamo = pytest.importorskip("torch._dynamo")
from torch._dynamo.testing import CompileCounter  # noqa: E402
from torch._dynamo.utils import counters  # noqa: E402


class Net(nn.Module):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.fc1, self.td1 = nn.Linear(6, 16), TriangularDropout(16, mode)
        self.fc2, self.td2 = nn.Linear(16, 8), TriangularDropout(8, mode)
        self.fc3 = nn.Linear(8, 3)

    def forward(self, x):
        x = self.td1(torch.relu(self.fc1(x)))
        return self.fc3(self.td2(torch.relu(self.fc2(x))))


@pytest.mark.parametrize("mode", ["triangle", "random", "nested", "dropout"])
def test_training_compiles_once_and_each_new_width_at_most_once(mode):
    dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    model, cnt = Net(mode), CompileCounter()
    compiled = torch.compile(model, backend=cnt)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    frames = []
    for _ in range(6):
        loss = compiled(torch.randn(32, 6)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        frames.append(cnt.frame_count)
    assert not counters["graph_break"], dict(counters["graph_break"])
    # Random modes compile twice: before and after the first shared draw exists; then no more.
    assert frames[1:] == [frames[1]] * 5 and frames[1] <= (
        1 if mode in ("triangle", "dropout") else 2
    )
    model.eval()
    x = torch.randn(5, 6)
    frames = cnt.frame_count
    for width in (3, 0.5, 1, 7):
        set_width(model, width)
        torch.testing.assert_close(compiled(x), model(x))
    assert cnt.frame_count - frames <= 1  # eval mode compiles once; new widths reuse it
    assert not counters["graph_break"]
