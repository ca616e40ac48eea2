"""Jobs on a user's own model (not a pipeline run's): choose a width, and ship it.

``tridrop model select`` runs :func:`tridrop.select.select_width` on a model file and a file
of validation tensors and writes the selection (its width, bound and per-width table) as
JSON; ``tridrop model export`` cuts the model to that width (or one given) and writes the
``torch.export`` program, the ONNX graph and the metadata :func:`tridrop.export.load` checks.

The model file is a state dict for the module that ``build`` returns ("package.module:function",
importable from the working directory), or, with ``trust``, a module saved whole by
``torch.save(model)``, which runs code from the file when loaded. The data file holds a tensor
``x`` (an autoencoder: scored against itself), a pair ``(x, y)`` or a dict with keys ``x`` and
``y``, saved by ``torch.save``.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import sys
from pathlib import Path

import torch
from torch import nn

from tridrop.files import load_weights, read_json, safe_load, write_json
from tridrop.job import In, Out
from tridrop.specs import ExportOwn, OwnModel, SelectOwn

log = logging.getLogger(__name__)


def load_module(path: Path, spec: OwnModel) -> nn.Module:
    """The user's model, in eval mode, from ``path`` as ``spec`` says to read it."""
    if spec.build:
        model = _built(spec.build)
        state = safe_load(path)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]  # a checkpoint that wraps its weights
        if not isinstance(state, dict):
            raise ValueError(f"{path}: not a state dict (a {type(state).__name__})")
        load_weights(model, state, path)
        return model.eval()
    if not spec.trust:
        raise ValueError(
            f"{path}: tell how to read it: spec build 'package.module:function' (a function "
            "returning the model, the file its state dict), or spec trust true for a module "
            "saved whole (that runs code from the file: only files you trust)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        model = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # any unpickling failure (a corrupt stream raises many kinds)
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path}: not a module saved by torch.save ({detail})") from None
    if not isinstance(model, nn.Module):
        raise ValueError(f"{path}: holds a {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def _built(target: str) -> nn.Module:
    name, _, attr = target.partition(":")
    if not name or not attr:
        raise ValueError(f"spec: build = {target!r}; expected 'package.module:function'")
    if "" not in sys.path:  # the user's modules, as `python -m` finds them
        sys.path.insert(0, "")
    try:
        make = getattr(importlib.import_module(name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"spec: build = {target!r} cannot be imported ({err})") from None
    model = make()
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"spec: build = {target!r} returned a {type(model).__name__}, not a module"
        )
    return model


def load_batches(path: Path, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """Validation batches from a file of ``x``, ``(x, y)`` or ``{"x": x, "y": y}``."""
    blob = safe_load(path)
    if isinstance(blob, dict):
        if "x" not in blob:
            raise ValueError(f"{path}: a dict without key 'x' (keys {sorted(blob)})")
        x, y = blob["x"], blob.get("y")
    elif isinstance(blob, tuple | list) and len(blob) == 2:
        x, y = blob
    else:
        x, y = blob, None
    if not isinstance(x, torch.Tensor) or not (y is None or isinstance(y, torch.Tensor)):
        raise ValueError(f"{path}: expected tensors x and y, got {type(x).__name__}")
    if y is not None and len(y) != len(x):
        raise ValueError(f"{path}: {len(x)} inputs but {len(y)} targets")
    if len(x) == 0:
        raise ValueError(f"{path}: no examples")
    return [
        (x[i : i + batch_size], None if y is None else y[i : i + batch_size])
        for i in range(0, len(x), batch_size)
    ]


def select(spec: SelectOwn, *, model: In, data: In, out: Out):
    """The smallest width whose metric stays within the tolerance with the confidence."""
    from tridrop.select import select_width

    net = load_module(model, spec)
    batches = load_batches(data, spec.batch_size)
    sel = select_width(
        net,
        batches,
        spec.metric,
        spec.tolerance,
        relative=spec.relative,
        confidence=spec.confidence,
        widths=spec.widths or None,
        per_layer=spec.per_layer,
    )
    log.info("%s", sel.summary())
    write_json(dataclasses.asdict(sel) | {"summary": sel.summary()}, out)


def export(spec: ExportOwn, *, model: In, data: In, pt2: Out, selection: In | None = None):
    """The model cut to its width, saved as ``pt2`` with ONNX and metadata beside it."""
    from tridrop.export import export as ship
    from tridrop.select import Selection

    chosen = None
    if selection is not None:
        found = read_json(selection)
        fields = {f.name for f in dataclasses.fields(Selection)}
        if not isinstance(found, dict) or not fields <= set(found):
            raise ValueError(f"{selection}: not a selection written by `tridrop model select`")
        chosen = Selection(**{k: found[k] for k in fields})
    width = spec.width or (chosen.width if chosen is not None else None)
    if not width:
        why = "the selection chose no width below full" if chosen is not None else "none given"
        raise ValueError(f"spec: width: {why}; give spec width to cut to")
    net = load_module(model, spec)
    example = load_batches(data, spec.batch_size)[0][0]
    if pt2.suffix != ".pt2":
        raise ValueError(f"{pt2}: the program's file name must end in .pt2")
    for name in ("onnx_ir", "onnxscript"):  # their pass-by-pass INFO lines say nothing to a user
        logging.getLogger(name).setLevel(logging.WARNING)
    meta = ship(net, width, example, pt2, selection=chosen, onnx=spec.onnx, force=spec.force)
    log.info("width %s: %s parameters, %s", meta["width"], f"{meta['params']:,}", meta["files"])


VERBS = ("select", "export")
