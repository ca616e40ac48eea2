"""A narrowed model exports to ONNX, and onnxruntime gives the same outputs."""

import pytest
import torch
from torch import nn

from tridrop.dropout import TriangularDropout
from tridrop.extract import narrow
from tridrop.width import set_width

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")


def test_narrowed_convnet_runs_in_onnxruntime(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), TriangularDropout(8),
        nn.Conv2d(8, 6, 3), nn.ReLU(), TriangularDropout(6), nn.Flatten(), nn.Linear(6 * 36, 16),
        nn.GELU(), TriangularDropout(16), nn.Linear(16, 4),
    ).eval()  # fmt: skip
    set_width(model, 0.5)
    small = narrow(model, 0.5)
    x = torch.randn(2, 3, 8, 8)
    path = tmp_path / "small.onnx"
    torch.onnx.export(small, (x,), str(path), dynamo=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), model(x), rtol=1e-5, atol=1e-5)
