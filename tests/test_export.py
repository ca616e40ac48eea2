"""A narrowed model exports to ONNX, and onnxruntime gives the same outputs."""

import json

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


OWN = """
import torch
from torch import nn
from tridrop.dropout import SharedWidth, TriangularDropout

def make(mode="triangle"):
    torch.manual_seed(0)
    return SharedWidth(
        nn.Linear(6, 16), nn.ReLU(), TriangularDropout(16, mode), nn.Linear(16, 16), nn.ReLU(),
        TriangularDropout(16, mode), nn.Linear(16, 3),
    )

def plain():
    return make("none")
"""


def test_the_command_line_selects_and_ships_a_users_own_model(tmp_path, monkeypatch, caplog):
    """`tridrop model select` then `export` on a state dict and its build function: the same
    choice as select_width in the process, and files that give the masked model's outputs."""
    from tridrop.cli import main
    from tridrop.export import load
    from tridrop.select import select_width

    monkeypatch.chdir(tmp_path)
    (tmp_path / "own_net.py").write_text(OWN)
    model, x = head(), torch.randn(400, 6)
    y = model(x).argmax(1)  # full width's own answers: what narrower widths must keep
    torch.save(model.state_dict(), tmp_path / "w.pt")
    torch.save({"x": x, "y": y}, tmp_path / "val.pt")
    spec = {"build": "own_net:make", "tolerance": 0.1, "widths": [2, 4, 6, 8, 12]}
    io = ["--model", "w.pt", "--data", "val.pt"]
    assert main(["model", "select", "--spec", json.dumps(spec), *io, "--out", "sel.json"]) == 0
    chosen = json.loads((tmp_path / "sel.json").read_text())
    expected = select_width(model, [(x[:256], y[:256]), (x[256:], y[256:])], "accuracy", 0.1,
                            widths=[2, 4, 6, 8, 12])  # fmt: skip
    assert chosen["width"] == expected.width is not None and chosen["table"] == expected.table
    ship = ["--selection", "sel.json", "--pt2", "ship/m.pt2"]
    assert main(["model", "export", "--spec", '{"build": "own_net:make"}', *io, *ship]) == 0
    small, meta = load(tmp_path / "ship" / "m")
    assert meta["width"] == expected.width and meta["selection"]["table"] == expected.table
    set_width(model, expected.width)
    torch.testing.assert_close(small(x), model(x))
    session = ort.InferenceSession(str(tmp_path / "ship" / "m.onnx"))
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), model(x), rtol=1e-5, atol=1e-5)
    # A model not trained for truncation, a file without a way to read it: one line each.
    torch.save(head("none").state_dict(), tmp_path / "plain.pt")
    spec = '{"build": "own_net:plain", "width": 4}'
    plain = ["--model", "plain.pt", "--data", "val.pt", "--pt2", "out/p.pt2"]
    assert main(["model", "export", "--spec", spec, *plain]) == 1
    assert main(["model", "select", "--spec", "{}", *io, "--out", "out/s.json"]) == 1
    assert "plain.pt" not in caplog.text or "not trained for truncation" in caplog.text
    assert "w.pt: tell how to read it: spec build" in caplog.text
    assert not (tmp_path / "out").exists()


def test_one_graph_with_the_width_as_an_input_equals_each_narrowed_model(tmp_path):
    """width="input": the program and the ONNX graph take (x, width) and give narrow's output
    at every width; a model the run-time slices cannot cut is refused, naming what they need."""
    from tridrop.export import export, load
    from tridrop.extract import NarrowError

    model, x = head(), torch.randn(7, 6)
    meta = export(model, "input", x[:1], tmp_path / "any", onnx=True)
    assert meta["width"] == "input" and meta["widths"] == [1, 16]
    program, _ = load(tmp_path / "any")
    session = ort.InferenceSession(str(tmp_path / "any.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x", "width"]
    for w in range(1, 17):
        expected = narrow(model, w)(x)
        torch.testing.assert_close(program(x, torch.tensor(w)), expected, rtol=0, atol=0)
        (got,) = session.run(None, {"x": x.numpy(), "width": torch.tensor(w).numpy()})
        torch.testing.assert_close(torch.from_numpy(got), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="u0 <= 16"):
        program(x, torch.tensor(17))
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), TriangularDropout(4, dim=1), nn.Flatten())
    with pytest.raises(NarrowError, match="a width input needs an nn.Sequential of Linear"):
        export(conv, "input", torch.randn(2, 1, 5, 5), tmp_path / "conv")
