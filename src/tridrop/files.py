"""Run files: atomic writes (a result appears under its name only once it is complete) and
safe reads of model files (``weights_only``: no pickled code runs).

A job killed while writing leaves a ``*.tmp*`` file behind, never a truncated output that a
rerun (or a reader) would take for a finished one.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn


@contextmanager
def atomic(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    The temporary name keeps the suffix (``x.tmp.npz`` for ``x.npz``) so that writers that
    choose a format by suffix still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:
        if _disk_full(err, path):
            raise DiskFull(path) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


class DiskFull(OSError):
    """No space left while writing a file: the output was not replaced."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            errno.ENOSPC,
            f"disk full while writing {path}: free some space and rerun "
            "(the previous file, if any, is kept)",
        )

    def __str__(self) -> str:
        return self.strerror


def _disk_full(err: BaseException, path: Path) -> bool:
    """ENOSPC, or torch's zip writer failing ("unexpected pos") on a nearly full disk."""
    if isinstance(err, OSError):
        return err.errno == errno.ENOSPC
    text = str(err)
    if "unexpected pos" not in text and "file write failed" not in text:
        return False
    try:
        return shutil.disk_usage(path.parent).free < 64 * 2**20
    except OSError:
        return False


def write_text(text: str, path: str | Path) -> None:
    with atomic(path) as tmp:
        tmp.write_text(text)


def write_json(obj: object, path: str | Path) -> None:
    write_text(json.dumps(obj, indent=2) + "\n", path)


def read_json(path: str | Path):
    """A JSON file's content; a file that is not JSON is refused in one line naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a JSON file ({err})") from None


def html_safe(text: str) -> str:
    """JSON text with ``<``, ``>`` and ``&`` written as ``\\u`` escapes: the same data, and nothing
    that ends the HTML ``<script>`` block it may be embedded in (Snakemake's report)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def ahead_of_clock(
    roots: Sequence[str | Path], now: float, slack: float = 60.0
) -> list[tuple[Path, float]]:
    """Files under ``roots`` (a file or a folder) modified more than ``slack`` seconds after
    ``now``, with how far ahead, in seconds. Snakemake fails a job whose output is older than
    such an input ("clock skew") and deletes its outputs; the check runs before any job."""
    found = []
    for root in map(Path, roots):
        for f in [root] if root.is_file() else (root.rglob("*") if root.is_dir() else []):
            try:
                ahead = f.stat().st_mtime - now
            except OSError:  # a broken link or a file deleted meanwhile: not an input
                continue
            if ahead > slack:
                found.append((f, ahead))
    return found


def write_csv(df, path: str | Path) -> None:
    """A tidy table as CSV (6 significant digits, so reruns with equal results are equal)."""
    with atomic(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")


def read_csv(path: str | Path, columns: Sequence[str] = ()):
    """A CSV table written by a job; an unreadable file, or one without ``columns`` (another
    job's file given by mistake), is a ValueError naming the file."""
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path}: not a readable CSV table ({detail})") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{path}: no column(s) {missing} (has {list(df.columns)[:8]}); is it the right file?"
        )
    return df


def read_npz(path: str | Path, keys: Sequence[str], optional: Sequence[str] = ()) -> dict:
    """Arrays ``keys`` of an ``.npz`` file (no pickles), and those of ``optional`` it has; a
    damaged file or a missing key is a ValueError naming the file."""
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise ValueError(f"{path}: no array(s) {missing} (has {sorted(f.files)})")
            return {k: f[k] for k in (*keys, *optional) if k in f.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        if isinstance(err, FileNotFoundError | IsADirectoryError) or str(err).startswith(
            f"{path}:"
        ):
            raise
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path}: not a readable .npz file ({detail})") from None


def save_torch(obj: object, path: str | Path) -> None:
    with atomic(path) as tmp:
        torch.save(obj, tmp)


def save_model(path: str | Path, model: nn.Module, meta: dict) -> None:
    """Write the weights and the run's metadata (architecture, config, environment).

    Weights with a NaN or an infinity are refused: a diverged run is not a result.
    """
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if (bad := nonfinite(state)) is not None:
        raise ValueError(
            f"{path}: not written: weight {bad!r} holds NaN or infinite values (training diverged?)"
        )
    save_torch({"state_dict": state, "meta": meta}, path)


def nonfinite(state: dict[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor of ``state`` with a NaN or an infinity."""
    for name, t in state.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return name
    return None


def load_model_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a file written by :func:`save_model`; ``weights_only`` never runs pickled code."""
    blob = safe_load(path)
    if not isinstance(blob, dict) or not {"state_dict", "meta"} <= set(blob):
        raise ValueError(
            f"{path}: not a tridrop model file (a PyTorch file without its weights and "
            "metadata; a checkpoint or another program's file?)"
        )
    return blob["state_dict"], blob["meta"]


def safe_load(path: str | Path, map_location: torch.device | str = "cpu") -> dict:
    """``torch.load`` with ``weights_only=True``; a file holding other objects is refused.

    Both failures are ValueErrors that name the file: one for pickled objects that could run
    code, one for a file that is not a readable PyTorch file at all (empty, truncated, corrupt).
    """

    def unreadable(detail: str) -> ValueError:
        return ValueError(
            f"{path}: not a readable PyTorch file (empty/truncated/corrupt: {detail}). Delete "
            "it and rerun the job that writes it."
        )

    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise unreadable("0 bytes")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        lines = [x.strip() for x in str(err).split("WeightsUnpickler error:")[-1].splitlines()]
        lines = [x for x in lines if x and not x.startswith(("Weights only", "Check the doc"))]
        first = next((x for x in lines if "global" in x.lower()), None)
        if first is None:  # a broken pickle stream, not a refused object
            raise unreadable(lines[0] if lines else "not a pickle") from None
        raise ValueError(
            f"{path}: refused to load: it holds Python objects other than tensors and plain "
            f"data, which could run code ({first}). Recreate it with tridrop, or load it "
            "yourself only if you trust its source."
        ) from None
    except (EOFError, RuntimeError, KeyError, IndexError, UnicodeDecodeError, OSError) as err:
        if isinstance(err, OSError) and type(err) is not OSError:
            raise  # a missing file, a folder, no permission: the usual message says it
        detail = str(err).split(". This is an internal")[0].strip() or type(err).__name__
        raise unreadable(f"{type(err).__name__}: {detail}") from None


def load_weights(model: object, state: dict, path: str | Path) -> None:
    """``model.load_state_dict(state)``; a mismatch is one line naming the model file."""
    try:
        model.load_state_dict(state)  # type: ignore[attr-defined]
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ValueError(f"{path}: weights do not match its architecture ({first})") from None
