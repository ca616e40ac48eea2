"""Benchmark: an exported width in onnxruntime against the narrowed torch model (CPU, one run).

The VGG19-shaped head (scaled down, as in ``narrow.py``) is exported at full width and at
W/2, W/4, W/8 and W/16 by :func:`tridrop.export.export`, one ONNX graph per width, and once
with the width as an input (``width="input"``: the weights sliced at run time). Each graph's
time per batch is printed relative to the full-width graph's, beside the narrowed torch
model's. Ratios only: absolute times depend on the machine. Needs onnx, onnxscript and
onnxruntime (the dev extra).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from narrow import head, seconds

from tridrop import narrow
from tridrop.export import export


def ort_seconds(session, x, repeats: int, width: int | None = None) -> float:
    """Median wall time of one onnxruntime run (``width``: the graph's width input)."""
    feed = {session.get_inputs()[0].name: x.numpy()}
    if width is not None:
        feed[session.get_inputs()[1].name] = torch.tensor(width).numpy()
    session.run(None, feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    import onnxruntime as ort

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one thread each, as the torch side
    model, x = head(args.width).eval(), torch.randn(args.batch, 2048)
    widths = [args.width // k for k in (1, 2, 4, 8, 16)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        export(model, "input", x, Path(tmp) / "any", onnx=True)
        any_width = ort.InferenceSession(str(Path(tmp) / "any.onnx"), options)
        for w in widths:
            stem = Path(tmp) / f"w{w}"
            export(model, w, x, stem, onnx=True)
            session = ort.InferenceSession(str(stem.with_suffix(".onnx")), options)
            rows.append(
                (
                    w,
                    ort_seconds(session, x, args.repeats),
                    seconds(narrow(model, w), x, args.repeats),
                    ort_seconds(any_width, x, args.repeats, w),
                )
            )
    full_ort, full_torch = rows[0][1], rows[0][2]
    print(f"head 2048-{args.width}-{args.width}-1000, batch {args.batch}, one thread")
    print(
        "width | onnxruntime / its full width | torch narrowed / its full width | ort / torch "
        "| width-input graph / the full-width graph"
    )
    for w, t_ort, t_torch, t_any in rows:
        print(
            f"{w:>5} | {t_ort / full_ort:.3f} | {t_torch / full_torch:.3f} | "
            f"{t_ort / t_torch:.2f} | {t_any / full_ort:.3f}"
        )


if __name__ == "__main__":
    main()
