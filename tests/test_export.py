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


def head(mode="triangle"):
    from tridrop.dropout import SharedWidth

    torch.manual_seed(0)
    return SharedWidth(
        nn.Linear(6, 16), nn.ReLU(), TriangularDropout(16, mode), nn.Linear(16, 16), nn.ReLU(),
        TriangularDropout(16, mode), nn.Linear(16, 3),
    ).eval()  # fmt: skip


def test_export_then_load_gives_the_narrowed_model_with_what_it_is(tmp_path):
    """torch.export and ONNX files of the cut model, its metadata beside them; the loaded
    model (and onnxruntime) give the masked model's outputs at that width."""
    from tridrop.export import export, load, source_hash
    from tridrop.select import Selection

    model, x = head(), torch.randn(5, 6)
    selection = Selection(4, "accuracy", 0.9, 0.01, True, 0.95, "binomial", 100, [{"width": 4}])
    meta = export(model, 4, x, tmp_path / "small", selection=selection, onnx=True,
                  trained_widths=range(1, 17))  # fmt: skip
    assert meta["width"] == 4 and meta["trained_for_truncation"] and not meta["forced"]
    assert meta["td_layers"] == [{"width": 16, "mode": "triangle", "p": 0.1}] * 2
    assert meta["params"] == 6 * 4 + 4 + 4 * 4 + 4 + 4 * 3 + 3
    other = head()
    with torch.no_grad():
        other[0].bias[0] += 1e-6
    assert meta["source_sha256"] == source_hash(head()) != source_hash(other)
    assert meta["selection"]["confidence"] == 0.95 and meta["trained_widths"][-1] == 16
    loaded, again = load(tmp_path / "small")
    assert again == meta
    set_width(model, 4)
    torch.testing.assert_close(loaded(x), model(x))
    session = ort.InferenceSession(str(tmp_path / "small.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), model(x), rtol=1e-5, atol=1e-5)


def test_a_model_not_trained_for_truncation_is_refused_unless_forced(tmp_path):
    from tridrop.export import NotTrainedForTruncation, export, load

    model, x = head("none"), torch.randn(5, 6)
    with pytest.raises(
        NotTrainedForTruncation, match=r"not trained for truncation \(TD modes \['none'\]\)"
    ):
        export(model, 4, x, tmp_path / "plain")
    assert not list(tmp_path.iterdir())  # nothing written
    meta = export(model, 4, x, tmp_path / "plain", force=True)
    assert meta["forced"] and not meta["trained_for_truncation"]
    with pytest.raises(NotTrainedForTruncation, match="plain.json: the source model was not"):
        load(tmp_path / "plain")
    assert load(tmp_path / "plain", force=True)[0](x).shape == (5, 3)
    (tmp_path / "plain.json").unlink()
    with pytest.raises(NotTrainedForTruncation, match="no metadata beside the model"):
        load(tmp_path / "plain")


def test_the_onnx_width_benchmark_prints_a_row_per_width():
    import subprocess
    import sys

    from conftest import ROOT

    script = ROOT / "benchmarks" / "onnx_widths.py"
    args = [sys.executable, str(script), "--width", "64", "--batch", "4", "--repeats", "2"]
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line for line in out.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [int(r.split("|")[0]) for r in rows] == [64, 32, 16, 8, 4]
