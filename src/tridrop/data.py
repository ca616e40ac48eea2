"""Datasets as tensors: load, split and store them as ``.npz`` files the training jobs read.

Images are float32 in [0, 1] with shape ``(N, C, H, W)``; labels are int64. The stored split is
the only thing later jobs see, so every model of a preset trains on exactly the same data.
8-bit sources (MNIST, CelebA) are stored as uint8 and scaled when loaded.

Sources: scikit-learn's bundled digits; MNIST-format IDX files (downloaded by torchvision from
its mirrors with checksums, or any local folder of IDX files, gzipped or not); CelebA aligned
faces (downloaded by torchvision through gdown, or a local folder in CelebA's layout).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from tridrop.files import atomic, read_npz

log = logging.getLogger(__name__)

DATASETS = ("digits", "mnist", "fashion_mnist", "celeba")
# torchvision classes that download each MNIST-format dataset (mirrors and MD5 checksums).
TORCHVISION_MNIST = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# Classes of MNIST-format datasets (MNIST, Fashion-MNIST): labels 0-9.
CLASSES = 10
# IDX type codes: numpy dtype (big-endian) of the elements.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
CELEBA_LAYOUT = """\
  <root>/celeba/img_align_celeba/000001.jpg ... 202599.jpg   (from img_align_celeba.zip)
  <root>/celeba/list_eval_partition.txt                      (lines "000001.jpg 0"; 0 train,
                                                              1 validation, 2 test)"""
CELEBA_MANUAL = f"""\
Download CelebA by hand: open https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, follow
"Align&Cropped Images" to the Google Drive folder, download Img/img_align_celeba.zip and
Eval/list_eval_partition.txt, unzip the archive, and arrange the files as
{CELEBA_LAYOUT}
then either place them under the download folder named above and rerun, or point the
experiment's `path:` at <root> with `source: local` in config/config.yaml."""


class DataFormatError(ValueError):
    """A dataset file that is not what it claims to be (the message names the file)."""


@dataclass(frozen=True)
class Split:
    """Train and test tensors of one dataset."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def to(self, device: torch.device | str) -> Split:
        return Split(
            *(t.to(device) for t in (self.x_train, self.y_train, self.x_test, self.y_test))
        )


KEYS = ("x_train", "y_train", "x_test", "y_test")


def split_arrays(
    x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stratified train/test split: ``x_train, y_train, x_test, y_test``."""
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return x_tr, y_tr, x_te, y_te


def load_digits_split(test_fraction: float = 0.2, seed: int = 0) -> Split:
    """scikit-learn's bundled 8x8 digits (1797 images, offline), pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    return Split(*(torch.from_numpy(a) for a in split_arrays(x, y, test_fraction, seed)))


# ---------------------------------------------------------------- MNIST-format IDX files


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or not), checking its magic number and its size.

    Raises :class:`DataFormatError` naming the file when the header or the length is wrong.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataFormatError(f"{path}: corrupt gzip stream ({err})") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES or raw[3] == 0:
        raise DataFormatError(
            f"{path}: not an IDX file (magic number {raw[:4].hex() or 'missing'}; expected "
            "00 00 <type 08-0e> <dims>, e.g. 00000803 for images, 00000801 for labels)"
        )
    ndim, dtype = raw[3], np.dtype(IDX_TYPES[raw[2]])
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    expected = header + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        raise DataFormatError(
            f"{path}: IDX size mismatch: header says {dims} ({expected} bytes), file has "
            f"{len(raw)} bytes (truncated or corrupt)"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _idx_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def _check_link(path: Path) -> None:
    """A symbolic link that leads nowhere is an error naming it, not a missing file."""
    if path.is_symlink() and not path.exists():
        try:
            target = path.resolve(strict=True)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path}: a symbolic link to {os.readlink(path)}, which does not exist"
            ) from None
        except (RuntimeError, OSError) as err:  # RuntimeError/ELOOP: a loop of links
            raise DataFormatError(f"{path}: a loop of symbolic links ({err})") from None
        raise DataFormatError(f"{path}: cannot be read through its link to {target}")


# What a name that is not a regular file is, for the message.
KINDS = {
    stat.S_ISDIR: "a folder",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISFIFO: "a named pipe",
    stat.S_ISSOCK: "a socket",
}


def _check_regular(path: Path) -> None:
    """A data file's name that is something else (a folder, a link to ``/dev/zero``, a pipe)
    is an error naming it: reading it would fail, hang or never end."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # absent (or a broken link, which _check_link names)
    if stat.S_ISREG(mode):
        return
    kind = next((text for test, text in KINDS.items() if test(mode)), "not a regular file")
    link = f" (a symbolic link to {os.readlink(path)})" if path.is_symlink() else ""
    raise DataFormatError(f"{path}: {kind}{link}, not a data file")


def find_idx(folder: str | Path, stem: str) -> Path | None:
    """The IDX file ``stem`` (or ``stem.gz``, or ``stem`` with '.' for the last '-') in
    ``folder`` or in torchvision's ``folder/<Dataset>/raw``; None when absent.

    Two copies (e.g. ``stem`` and ``stem.gz``) with the same data: the first is used and the
    choice logged; with different data: a :class:`DataFormatError` naming both.
    """
    folder = Path(folder)
    names = [stem, stem + ".gz"]
    dotted = stem[::-1].replace("-", ".", 1)[::-1]  # t10k-images.idx3-ubyte style
    names += [dotted, dotted + ".gz"]
    found: list[Path] = []
    for base in [folder, *sorted(folder.glob("*/raw"))]:
        for name in names:
            _check_link(base / name)
            _check_regular(base / name)
            if (base / name).is_file():
                found.append(base / name)
    if len(found) > 1:
        first = _idx_bytes(found[0])
        for other in found[1:]:
            if _idx_bytes(other) != first:
                raise DataFormatError(
                    f"{found[0]} and {other} are two copies of {stem} with different data; "
                    "remove the wrong one"
                )
        log.info("%s: same data in %s; using %s", stem, ", ".join(map(str, found)), found[0])
    return found[0] if found else None


def raw_files(dataset: str, folder: str | Path) -> list[Path]:
    """The files a local copy of ``dataset`` is read from (CelebA: its folder), so that a
    pipeline can depend on their contents rather than on the folder's modification time."""
    if dataset == "celeba":
        return [Path(folder)]
    return [f for stem in IDX_FILES.values() if (f := find_idx(folder, stem)) is not None]


def fingerprint(paths: Iterable[str | Path]) -> str:
    """SHA-256 of the names, sizes and contents of ``paths`` (a folder: every file below it),
    so that a pipeline notices data replaced in place, whatever its modification time."""
    digest = hashlib.sha256()
    for root in map(Path, paths):
        files = sorted(f for f in root.rglob("*") if f.is_file()) if root.is_dir() else [root]
        for f in files:
            with f.open("rb") as stream:
                content = hashlib.file_digest(stream, "sha256").hexdigest()
            name = f.relative_to(root) if f != root else Path(f.name)
            digest.update(f"{name}\0{f.stat().st_size}\0{content}\n".encode())
    return digest.hexdigest()


def uses_local(
    dataset: str, source: str = "download", path: str | Path | None = None, subset: str = "all"
) -> bool:
    """Whether the raw files come from ``path`` (``source: local``, or ``auto`` with a copy
    there: the t10k pair for ``subset`` t10k, all four files otherwise) rather than a download
    (``download``, or ``auto`` without one)."""
    if source == "local":
        return True
    if source != "auto" or not path or not Path(path).is_dir():
        return False
    if dataset == "celeba":
        return True
    needed = [k for k in IDX_FILES if subset != "t10k" or k.startswith("test")]
    return all(find_idx(path, IDX_FILES[k]) is not None for k in needed)


def load_idx_pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 1, H, W)`` uint8 and labels ``(N,)`` int64, checked against each other."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise DataFormatError(f"{images}: expected 8-bit images (N, H, W), got {x.dtype} {x.shape}")
    if y.ndim != 1:
        raise DataFormatError(f"{labels}: expected labels (N,), got shape {y.shape}")
    if len(x) != len(y):
        raise DataFormatError(f"{images} has {len(x)} images but {labels} has {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() >= CLASSES):
        bad = int(np.flatnonzero((y < 0) | (y >= CLASSES))[0])
        raise DataFormatError(
            f"{labels}: label {int(y[bad])} at position {bad} is outside 0-{CLASSES - 1} "
            "(MNIST-format datasets have 10 classes)"
        )
    return x[:, None], y.astype(np.int64)


def load_mnist_folder(
    folder: str | Path, test_fraction: float = 0.2, seed: int = 0, test_only: bool = False
) -> tuple[np.ndarray, ...]:
    """An MNIST-format dataset from a folder of IDX files, as uint8 arrays.

    With both the train and the t10k files the official split is used; with only the t10k
    pair (as in ``../shared/data/mnist``), or with ``test_only``, the t10k images are split by
    ``test_fraction`` (stratified).
    """
    folder = Path(folder)
    _check_link(folder)
    if folder.exists() and not folder.is_dir():
        raise DataFormatError(f"{folder}: not a folder (the IDX files' folder)")
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (the IDX files' folder)")
    files = {k: find_idx(folder, v) for k, v in IDX_FILES.items()}
    where = "(optionally .gz) in the folder or in <folder>/<Dataset>/raw"
    found = [str(p) for p in files.values() if p is not None]
    missing = [IDX_FILES[k] for k, p in files.items() if p is None]
    if not found:
        raise FileNotFoundError(
            f"{folder}: no MNIST-format IDX files; expected {', '.join(IDX_FILES.values())} "
            + where
        )
    # The test pair is needed; the train pair is optional, but half of it is a mistake.
    if files["test_images"] is None or files["test_labels"] is None or len(missing) == 1:
        raise FileNotFoundError(
            f"{folder}: missing {', '.join(missing)} {where}; found {', '.join(found)}"
        )
    x_te, y_te = load_idx_pair(files["test_images"], files["test_labels"])
    if files["train_images"] is None or test_only:
        (log.info if test_only else log.warning)(
            "%s: no train files, splitting the t10k files %.0f/%.0f",
            folder,
            100 * (1 - test_fraction),
            100 * test_fraction,
        )
        counts = np.bincount(y_te, minlength=CLASSES)
        if rare := [c for c in range(CLASSES) if counts[c] == 1]:
            raise DataFormatError(
                f"{files['test_labels']}: cannot split it {1 - test_fraction:.0%}/"
                f"{test_fraction:.0%} by class: label {rare[0]} has 1 image (a stratified split "
                "needs at least 2 per class); check the labels or add the train files"
            )
        return split_arrays(x_te, y_te, test_fraction, seed)
    x_tr, y_tr = load_idx_pair(files["train_images"], files["train_labels"])
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise DataFormatError(f"{folder}: train images {x_tr.shape[1:]} vs test {x_te.shape[1:]}")
    return x_tr, y_tr, x_te, y_te


def download_mnist(root: str | Path, dataset: str = "mnist") -> Path:
    """Download an MNIST-format dataset with torchvision (mirrors, MD5 checks) into ``root``."""
    from torchvision import datasets

    cls = getattr(datasets, TORCHVISION_MNIST[dataset])
    for train in (True, False):
        cls(str(root), train=train, download=True)
    return Path(root) / TORCHVISION_MNIST[dataset] / "raw"


# ---------------------------------------------------------------- CelebA aligned faces


def check_not_html(path: str | Path) -> None:
    """Stop with the manual-download instructions when Google Drive sent an HTML page.

    Google Drive answers over-quota downloads with an HTML page ("Too many users have viewed
    or downloaded this file recently") that gets saved under the archive's name.
    """
    path = Path(path)
    if not path.is_file():
        return
    with path.open("rb") as f:
        head = f.read(2048).lstrip().lower()
    # A zip starts with "PK"; Drive's page starts with a tag and has <html somewhere early.
    if head.startswith(b"<") and (head.startswith(b"<!doctype html") or b"<html" in head):
        raise RuntimeError(
            f"{path} is an HTML page, not a zip archive: Google Drive refused the download "
            f"(usually its daily quota for CelebA is exhausted).\n{CELEBA_MANUAL}"
        )


def download_celeba(root: str | Path) -> Path:
    """Download CelebA's aligned faces with torchvision (via gdown) into ``root/celeba``."""
    from torchvision import datasets

    root = Path(root)
    archive = root / "celeba" / "img_align_celeba.zip"
    try:
        datasets.CelebA(str(root), split="all", target_type="identity", download=True)
    except Exception as err:
        check_not_html(archive)  # the common failure gets the useful message
        raise RuntimeError(f"CelebA download failed: {err}\n{CELEBA_MANUAL}") from err
    check_not_html(archive)
    return root / "celeba"


def celeba_folder(root: str | Path) -> Path:
    """The folder holding ``img_align_celeba/`` and ``list_eval_partition.txt``."""
    root = Path(root)
    for base in (root, root / "celeba"):
        if (base / "img_align_celeba").is_dir() and (base / "list_eval_partition.txt").is_file():
            return base
    check_not_html(root / "celeba" / "img_align_celeba.zip")
    raise FileNotFoundError(f"{root}: not a CelebA folder; expected\n{CELEBA_LAYOUT}")


def load_celeba_folder(
    root: str | Path,
    size: int = 64,
    crop: int = 148,
    max_train: int | None = None,
    max_test: int | None = None,
) -> tuple[np.ndarray, ...]:
    """CelebA's official train (0) and test (2) partitions as uint8 ``(N, 3, size, size)``.

    Each 178x218 aligned face is centre-cropped to ``crop`` x ``crop`` (the face, without most
    of the background) and resized to ``size`` x ``size``. Labels are the partition ids.
    """
    from PIL import Image

    base = celeba_folder(root)
    parts: dict[int, list[str]] = {0: [], 2: []}
    for n, line in enumerate((base / "list_eval_partition.txt").read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DataFormatError(f"{base / 'list_eval_partition.txt'}:{n}: bad line {line!r}")
        if int(fields[1]) in parts:
            parts[int(fields[1])].append(fields[0])
    limits = {0: max_train, 2: max_test}
    out = []
    for part, names in parts.items():
        names = names[: limits[part]] if limits[part] else names
        if not names:
            raise DataFormatError(f"{base}: partition {part} has no images")
        x = np.empty((len(names), 3, size, size), np.uint8)
        for i, name in enumerate(tqdm(names, desc=f"celeba {part}", disable=None)):
            with Image.open(base / "img_align_celeba" / name) as img:
                img = img.convert("RGB")
                w, h = img.size
                c = min(crop, w, h)
                left, top = (w - c) // 2, (h - c) // 2
                img = img.crop((left, top, left + c, top + c))
                img = img.resize((size, size), Image.Resampling.BILINEAR)
                x[i] = np.asarray(img).transpose(2, 0, 1)
        out += [x, np.full(len(names), part, np.int64)]
    return tuple(out)


# ---------------------------------------------------------------- stored splits


def prepare(
    dataset: str,
    out: str | Path,
    test_fraction: float = 0.2,
    seed: int = 0,
    *,
    path: str | Path | None = None,
    max_train: int | None = None,
    max_test: int | None = None,
    subset: str = "all",
) -> Split:
    """Build the split of ``dataset`` and write it to ``out`` (atomically).

    ``path``: the folder of the raw files (IDX files for MNIST-format datasets, CelebA's
    layout for celeba), downloaded by :func:`download` or the user's local copy. ``subset``
    ``t10k``: of an MNIST-format dataset, the t10k files alone, split by ``test_fraction``.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")
    if subset not in ("all", "t10k"):
        raise ValueError(f"unknown subset {subset!r}; choose all or t10k")
    if subset == "t10k" and dataset not in TORCHVISION_MNIST:
        raise ValueError(f"subset t10k is for MNIST-format datasets, not {dataset!r}")
    if dataset == "celeba":
        if path is None:
            raise ValueError(f"dataset {dataset!r} needs the folder of its raw files (path)")
        arrays = load_celeba_folder(path, max_train=max_train, max_test=max_test)
    else:
        if dataset == "digits":
            digits = load_digits_split(test_fraction, seed)
            arrays = tuple(getattr(digits, k).numpy() for k in KEYS)
        elif path is None:
            raise ValueError(f"dataset {dataset!r} needs the folder of its raw files (path)")
        else:
            arrays = load_mnist_folder(path, test_fraction, seed, test_only=subset == "t10k")
        # The first images of the (shuffled, stratified) split: a subset for quick runs.
        arrays = (
            arrays[0][:max_train],
            arrays[1][:max_train],
            arrays[2][:max_test],
            arrays[3][:max_test],
        )
    source = dataset if path is None else f"{dataset} in {path}"
    # CelebA's labels are its partition ids (one per split); elsewhere they are classes.
    check_arrays(source, *arrays, classes=dataset != "celeba", max_train=max_train)
    save_arrays(out, dict(zip(KEYS, arrays, strict=True)))
    split = load_split(out)
    log.info(
        "%s: %d train, %d test images of shape %s -> %s",
        dataset,
        len(split.x_train),
        len(split.x_test),
        tuple(split.x_train.shape[1:]),
        out,
    )
    return split


def check_arrays(
    source: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    classes: bool = True,
    max_train: int | None = None,
) -> None:
    """Refuse a training set that cannot train anything (under 2 images; one class, when the
    labels are ``classes``); warn about constant images (blank or broken files)."""
    limit = f" (max_train: {max_train})" if max_train is not None else ""
    if len(x_train) < 2:
        raise DataFormatError(
            f"{source}: a training set of {len(x_train)} image(s){limit}; training needs at least 2"
        )
    if classes and len(np.unique(y_train)) < 2:
        raise DataFormatError(
            f"{source}: every training image has label {int(y_train[0])}{limit}; a dataset "
            "needs at least 2 classes (check the labels file)"
        )
    for name, x in (("training", x_train), ("test", x_test)):
        flat = x.reshape(len(x), -1)
        constant = int(np.count_nonzero(flat.min(axis=1) == flat.max(axis=1))) if len(x) else 0
        if constant:
            log.warning(
                "%s: %d of %d %s images are constant (every pixel the same value): blank or "
                "broken images?",
                source,
                constant,
                len(x),
                name,
            )


def download(dataset: str, root: str | Path) -> Path:
    """Download the raw files of ``dataset`` into ``root``; return the folder holding them."""
    if dataset in TORCHVISION_MNIST:
        return download_mnist(root, dataset)
    if dataset == "celeba":
        return download_celeba(root)
    raise ValueError(
        f"dataset {dataset!r} is not downloadable; choose one of "
        f"{sorted([*TORCHVISION_MNIST, 'celeba'])}"
    )


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as ``.npz``; a temporary name and a rename leave no half-written file."""
    with atomic(path) as tmp:
        np.savez(tmp, **arrays)


def save_split(split: Split, path: str | Path) -> None:
    """Write a split as ``.npz`` (float images as they are)."""
    save_arrays(path, {k: getattr(split, k).numpy() for k in KEYS})


def load_split(path: str | Path) -> Split:
    """Read a stored split (no pickles are loaded); uint8 images are scaled to [0, 1]."""
    arrays = {k: torch.from_numpy(v) for k, v in read_npz(path, KEYS).items()}
    for k in ("x_train", "x_test"):
        if arrays[k].dtype == torch.uint8:
            arrays[k] = arrays[k].float().div_(255.0)
    return Split(*(arrays[k] for k in KEYS))
