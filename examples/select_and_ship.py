"""Choose a width and ship it: convert, train, select, export, load in onnxruntime.

A small MLP classifier gets Triangular Dropout in place of its Dropout, trains on a synthetic
task, then ``select_width`` picks the smallest width whose validation accuracy is within 1% of
full width's with 95% confidence; ``export`` writes the cut model (torch.export and ONNX) with
what it is beside it, and onnxruntime runs it (when installed), then one graph that takes the
width as an input.
"""

import tempfile
from pathlib import Path

import torch
from torch import nn

from tridrop import add_triangular_dropout, set_width
from tridrop.export import export, load
from tridrop.select import select_width

torch.manual_seed(0)
# A task where about 24 hidden units suffice: the label is the sign of 8 random projections.
proj = torch.randn(32, 8)


def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 32)
    return x, ((x @ proj) > 0).long() @ (2 ** torch.arange(8)) % 4


model = nn.Sequential(
    nn.Linear(32, 256), nn.ReLU(), nn.Dropout(0.1), nn.Linear(256, 4)
)  # fmt: skip
model = add_triangular_dropout(model, ["2"])  # the Dropout becomes a TD layer of 256 units
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for _step in range(1000):
    x, y = batch(256)
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()

val = [batch(1000) for _ in range(5)]
sel = select_width(model, val, "accuracy", 0.01, widths=[2, 4, 8, 16, 32, 64, 128, 192])
print(sel.summary())
for row in sel.table:
    print(f"  width {row['width']:>3}: accuracy {row['value']:.4f}, drop bound {row['bound']:+.4f}")

with tempfile.TemporaryDirectory() as tmp:
    stem = Path(tmp) / "mlp"
    width = sel.width or 256
    x = val[0][0][:8]
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    meta = export(model, width, x, stem, selection=sel, onnx=ort is not None)
    small, meta = load(stem)
    set_width(model.eval(), width)
    print(f"exported width {meta['width']}: {meta['params']:,} parameters, files {meta['files']}")
    print(f"max |loaded - masked| = {(small(x) - model(x)).abs().max():.2e}")
    if ort is not None:
        session = ort.InferenceSession(str(stem.with_suffix(".onnx")))
        (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        print(f"max |onnxruntime - masked| = {(torch.from_numpy(got) - model(x)).abs().max():.2e}")
        # One graph for every width: the width is an input, the weights sliced by it.
        export(model, "input", x, Path(tmp) / "any", onnx=True)
        session = ort.InferenceSession(str(Path(tmp) / "any.onnx"))
        for w in (width, 256):
            feed = {"x": x.numpy(), "width": torch.tensor(w).numpy()}
            set_width(model, w)
            diff = (torch.from_numpy(session.run(None, feed)[0]) - model(x)).abs().max()
            print(f"width-input graph at width {w}: max |onnxruntime - masked| = {diff:.2e}")
