"""Ship a chosen width: the narrowed model saved with what it is, and loaded only if it was
trained for truncation.

:func:`export` cuts the model to ``width`` (:func:`~tridrop.extract.narrow`), saves it as a
``torch.export`` program (``<stem>.pt2``, no pickled classes) and, on request, as ONNX
(``<stem>.onnx``), and writes ``<stem>.json`` beside them: the TD layers the source was
trained with (mode, width; ``trained_widths`` when the caller knows them), the width it was
cut to, the selection that chose it (table and confidence), the source's hash and the
narrowed model's parameter count. With ``width="input"`` the file takes the width with each
input and slices its weights at run time, so a narrower width computes less in onnxruntime
too (a Sequential of Linear layers: :class:`~tridrop.extract.WidthInput`). A model whose TD
layers never drew a width in training (modes ``none`` and ``dropout``: it was not trained for
truncation) is refused with one line, on export and on :func:`load`, unless ``force``.
Torch only (ONNX needs ``onnx`` and ``onnxscript``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from tridrop.dropout import PREFIX_MODES
from tridrop.extract import WidthInput, narrow
from tridrop.files import write_json
from tridrop.select import Selection
from tridrop.width import td_layers


class NotTrainedForTruncation(ValueError):
    """The model's TD layers never drew a width in training: its narrow widths are untested."""


def source_hash(model: nn.Module) -> str:
    """SHA-256 of the model's state (names, shapes, dtypes and values, in order)."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def describe(model: nn.Module, trained_widths: Sequence[int] | None = None) -> dict:
    """What the source model's TD layers say about its training."""
    layers = [{"width": td.width, "mode": td.mode, "p": td.p} for td in td_layers(model)]
    trained = bool(layers) and all(layer["mode"] in PREFIX_MODES for layer in layers)
    found = {"td_layers": layers, "trained_for_truncation": trained}
    if trained_widths is not None:
        found["trained_widths"] = sorted(int(w) for w in trained_widths)
    return found


def export(
    model: nn.Module,
    width: int | float | Sequence[int | float] | str,
    example: torch.Tensor,
    stem: str | Path,
    *,
    selection: Selection | None = None,
    trained_widths: Sequence[int] | None = None,
    onnx: bool = False,
    force: bool = False,
) -> dict:
    """Narrow ``model`` to ``width``, save it (``stem.pt2``, and ``stem.onnx`` with ``onnx``)
    and its metadata (``stem.json``, returned). ``example``: an input batch for tracing.

    ``width="input"``: one program (and graph) taking the width with each input, ``(x,
    width)``, that slices the weights at run time (:class:`~tridrop.extract.WidthInput`: a
    Sequential of Linear layers); its metadata says the widths it accepts."""
    info = describe(model, trained_widths)
    if not info["trained_for_truncation"] and not force:
        modes = sorted({layer["mode"] for layer in info["td_layers"]}) or ["no TD layer"]
        raise NotTrainedForTruncation(
            f"the model was not trained for truncation (TD modes {modes}): its narrow widths "
            "were never trained; pass force=True to export it anyway"
        )
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    batch: tuple = ({0: torch.export.Dim.DYNAMIC},)  # any batch size, not just the example's
    if len(example) == 1:  # tracing a batch of one would fix the size at 1
        example = torch.cat([example, example])
    if width == "input":
        small = WidthInput(model.eval()).eval()
        inputs: tuple = (example, torch.tensor(small.limit))
        batch = (*batch, None)
    else:
        small, inputs = narrow(model.eval(), width).eval(), (example,)
    program = torch.export.export(small, inputs, dynamic_shapes=batch)
    torch.export.save(program, str(stem.with_suffix(".pt2")))
    files = [stem.with_suffix(".pt2").name]
    if onnx:
        # One file while protobuf allows it (2 GiB); larger weights go to <stem>.onnx.data.
        size = sum(p.numel() * p.element_size() for p in small.parameters())
        large = size > 2**30
        path = stem.with_suffix(".onnx")
        torch.onnx.export(
            small, inputs, str(path), dynamo=True, external_data=large, dynamic_shapes=batch
        )
        files += [path.name, path.name + ".data"] if large else [path.name]
    meta = {
        **info,
        "width": list(width) if isinstance(width, list | tuple) else width,
        **({"widths": [1, small.limit]} if width == "input" else {}),
        "params": sum(p.numel() for p in small.parameters()),
        "source_sha256": source_hash(model),
        "selection": dataclasses.asdict(selection) if selection is not None else None,
        "files": files,
        "forced": force and not info["trained_for_truncation"],
    }
    write_json(meta, stem.with_suffix(".json"))
    return meta


def load(stem: str | Path, *, force: bool = False) -> tuple[nn.Module, dict]:
    """The exported model (``stem.pt2``) and its metadata; refused, in one line, when the
    metadata is missing or says the source was not trained for truncation (unless ``force``)."""
    stem = Path(stem)
    meta_path = stem.with_suffix(".json")
    if not meta_path.is_file():
        raise NotTrainedForTruncation(
            f"{meta_path}: no metadata beside the model, so nothing says it was trained for "
            "truncation; export it with tridrop.export.export, or pass force=True"
        )
    meta = json.loads(meta_path.read_text())
    if not meta.get("trained_for_truncation") and not force:
        raise NotTrainedForTruncation(
            f"{meta_path}: the source model was not trained for truncation; pass force=True "
            "to load it anyway"
        )
    return torch.export.load(str(stem.with_suffix(".pt2"))).module(), meta
