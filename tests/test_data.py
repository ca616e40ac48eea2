"""Datasets: digits, MNIST-format IDX folders (real MNIST test split), CelebA's layout,
Google Drive's quota page, and the stored .npz round trip."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from failures import Failure
from tridrop.data import (
    DataFormatError,
    check_not_html,
    download,
    load_digits_split,
    load_mnist_folder,
    load_split,
    prepare,
    read_idx,
    uses_local,
)


def test_digits_split_is_stratified_and_scaled():
    s = load_digits_split(test_fraction=0.2, seed=0)
    assert s.x_train.shape[1:] == (1, 8, 8) and len(s.x_train) + len(s.x_test) == 1797
    assert float(s.x_train.min()) >= 0.0 and float(s.x_train.max()) <= 1.0
    assert torch.bincount(s.y_test).min() >= 30  # every class is in the test set


def test_prepare_round_trip_leaves_no_temporary(tmp_path: Path):
    out = tmp_path / "d" / "digits.npz"
    split = prepare("digits", out, 0.25, 1)
    back = load_split(out)
    assert torch.equal(back.x_test, split.x_test) and torch.equal(back.y_train, split.y_train)
    assert [p.name for p in out.parent.iterdir()] == ["digits.npz"]


def test_unknown_dataset(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown dataset 'mnits'"):
        prepare("mnits", tmp_path / "x.npz")


# ---------------------------------------------------------------- MNIST-format IDX files

MNIST = Path(__file__).parents[2] / "shared/data/mnist"
needs_mnist = pytest.mark.skipif(
    not (MNIST / "t10k-images-idx3-ubyte.gz").exists(),
    reason=f"the real MNIST test split is not in {MNIST} (../shared/data/mnist)",
)


def write_idx(path: Path, array: np.ndarray, code: int = 0x08, gz: bool = False) -> Path:
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_gzipped_or_not(tmp_path: Path, gz: bool):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a", a, gz=gz)), a)


IDX_KEPT = "nothing written; the error names the file"
FAILURES = [
    Failure("data", "an IDX file with a wrong magic number (e.g. a zip saved under its name)", "not an IDX file", IDX_KEPT),
    Failure("data", "a truncated IDX file", "size mismatch", IDX_KEPT),
    Failure("data", "an IDX file with trailing bytes", "size mismatch", IDX_KEPT),
    Failure("data", "an IDX file cut inside its header", "truncated IDX header", IDX_KEPT),
    Failure("data", "image and label files of different lengths", "5 images but", IDX_KEPT + " (both files)"),
    Failure("data", "a local MNIST folder without the IDX files", "t10k-images-idx3-ubyte", "nothing written; the missing files are listed"),
    Failure("data", "a CelebA folder in the wrong layout", "img_align_celeba/000001.jpg", "nothing written; the expected layout is shown"),
    Failure("data", "Google Drive's HTML quota page saved as img_align_celeba.zip", "HTML page, not a zip",
            "nothing written; the manual download steps and the folder layout are shown"),
]  # fmt: skip
DAMAGE = [lambda raw: b"PK\x03\x04" + raw[4:], lambda raw: raw[:-5], lambda raw: raw + b"\x00",
          lambda raw: raw[:6]]  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "message"), [(d, f.seen) for d, f in zip(DAMAGE, FAILURES, strict=False)]
)
def test_corrupt_idx_names_the_file(tmp_path: Path, damage, message):
    good = write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 4, 4), np.uint8))
    good.write_bytes(damage(good.read_bytes()))
    with pytest.raises(DataFormatError, match=message) as err:
        read_idx(good)
    assert str(good) in str(err.value)


def test_subset_t10k_is_the_same_split_with_or_without_the_train_files(tmp_path: Path):
    """The mnist preset's `subset: t10k`: ../shared/data/mnist (t10k files only) and a
    download (all four) give the same split; `auto` needs only the t10k pair."""
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (50, 4, 4)), np.repeat(np.arange(10), 5)
    t10k, full = tmp_path / "t10k", tmp_path / "full"
    for folder in (t10k, full):
        folder.mkdir()
        write_idx(folder / "t10k-images-idx3-ubyte", x)
        write_idx(folder / "t10k-labels-idx1-ubyte", y)
    write_idx(full / "train-images-idx3-ubyte", x[::-1])
    write_idx(full / "train-labels-idx1-ubyte", y[::-1])
    assert uses_local("mnist", "auto", t10k, subset="t10k")
    assert not uses_local("mnist", "auto", t10k)  # the official split needs the train files
    a = prepare("mnist", tmp_path / "a.npz", 0.2, path=t10k, subset="t10k")
    b = prepare("mnist", tmp_path / "b.npz", 0.2, path=full, subset="t10k")
    official = prepare("mnist", tmp_path / "c.npz", 0.2, path=full)
    assert len(a.x_train) == 40 and len(a.x_test) == 10 and len(official.x_train) == 50
    for key in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(a, key), getattr(b, key))
    with pytest.raises(ValueError, match="subset t10k is for MNIST-format datasets"):
        prepare("digits", tmp_path / "d.npz", subset="t10k")
    assert not (tmp_path / "d.npz").exists()


def test_folder_with_mismatched_labels_names_both_files(tmp_path: Path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((5, 4, 4)), gz=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4), gz=True)
    with pytest.raises(DataFormatError, match=FAILURES[4].seen + " .*t10k-labels-idx1-ubyte.gz"):
        load_mnist_folder(tmp_path)


def test_missing_idx_files_are_listed(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=FAILURES[5].seen):
        prepare("mnist", tmp_path / "m.npz", path=tmp_path)


def test_official_split_when_train_files_exist(tmp_path: Path):
    raw = tmp_path / "MNIST" / "raw"  # torchvision's download layout
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 10)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 6, 6)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    split = prepare("mnist", tmp_path / "m.npz", path=tmp_path, max_train=20)
    assert split.x_train.shape == (20, 1, 6, 6) and split.x_test.shape == (10, 1, 6, 6)
    assert split.x_train.dtype == torch.float32 and float(split.x_train.max()) <= 1.0
    # Stored as uint8, loaded exactly: pixel k is k / 255.
    want = read_idx(raw / "t10k-images-idx3-ubyte")[:, None] / 255.0
    assert np.allclose(split.x_test.numpy(), want, atol=1e-7)


@needs_mnist
def test_real_mnist_test_split_is_split_8000_2000(tmp_path: Path):
    split = prepare("mnist", tmp_path / "mnist.npz", 0.2, 0, path=MNIST)
    assert split.x_train.shape == (8000, 1, 28, 28) and split.x_test.shape == (2000, 1, 28, 28)
    assert torch.bincount(split.y_test).min() > 150  # stratified: every digit is there
    assert 0.10 < float(split.x_train.mean()) < 0.15  # MNIST's mean pixel is about 0.13


def test_download_uses_torchvision_mnist(tmp_path: Path, monkeypatch):
    calls = []

    class FakeMNIST:
        def __init__(self, root, train, download):
            calls.append((root, train, download))

    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    assert download("mnist", tmp_path) == tmp_path / "MNIST" / "raw"
    assert calls == [(str(tmp_path), True, True), (str(tmp_path), False, True)]


# ---------------------------------------------------------------- CelebA


def celeba_tree(root: Path, partitions=(0, 0, 0, 1, 2, 2)) -> Path:
    """Synthetic aligned faces (178x218 JPEGs) in CelebA's folder layout."""
    from PIL import Image

    images = root / "celeba" / "img_align_celeba"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i, part in enumerate(partitions, 1):
        name = f"{i:06d}.jpg"
        pixels = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        pixels[109 - 74 : 109 + 74, 89 - 74 : 89 + 74] = (40 * i) % 256  # a flat centre crop
        Image.fromarray(pixels).save(images / name, quality=95)
        lines.append(f"{name} {part}")
    (root / "celeba" / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return root


def test_celeba_folder_is_cropped_resized_and_split(tmp_path: Path):
    celeba_tree(tmp_path)
    split = prepare("celeba", tmp_path / "celeba.npz", path=tmp_path)
    assert split.x_train.shape == (3, 3, 64, 64) and split.x_test.shape == (2, 3, 64, 64)
    assert split.y_train.tolist() == [0, 0, 0] and split.y_test.tolist() == [2, 2]
    # The centre crop keeps the flat face region only (JPEG noise aside).
    assert abs(float(split.x_test[1].mean()) - 240 / 255) < 0.02
    assert float(split.x_test[1].std()) < 0.02
    assert prepare("celeba", tmp_path / "c2.npz", path=tmp_path / "celeba", max_train=2)
    assert len(load_split(tmp_path / "c2.npz").x_train) == 2


def test_celeba_missing_layout_is_explained(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=FAILURES[6].seen):
        prepare("celeba", tmp_path / "c.npz", path=tmp_path)


QUOTA_PAGE = b"""<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head>
<body>Too many users have viewed or downloaded this file recently.</body></html>"""


def test_quota_page_instead_of_the_zip_stops_with_the_manual_layout(tmp_path: Path):
    (tmp_path / "celeba").mkdir()
    (tmp_path / "celeba" / "img_align_celeba.zip").write_bytes(QUOTA_PAGE)
    with pytest.raises(RuntimeError, match=FAILURES[7].seen) as err:
        check_not_html(tmp_path / "celeba" / "img_align_celeba.zip")
    assert "list_eval_partition.txt" in str(err.value) and "source: local" in str(err.value)
    with pytest.raises(RuntimeError, match="HTML page"):
        prepare("celeba", tmp_path / "c.npz", path=tmp_path)  # no images, but a quota page


def test_download_celeba_detects_the_quota_page(tmp_path: Path, monkeypatch):
    """torchvision saves Drive's HTML answer under the zip's name and fails its MD5 check."""

    class QuotaCelebA:
        def __init__(self, root, split, target_type, download):
            folder = Path(root) / "celeba"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "img_align_celeba.zip").write_bytes(QUOTA_PAGE)
            raise RuntimeError("File not found or corrupted.")

    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "CelebA", QuotaCelebA)
    with pytest.raises(RuntimeError, match="Google Drive refused the download"):
        download("celeba", tmp_path)


def test_a_real_zip_is_not_mistaken_for_a_quota_page(tmp_path: Path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "img_align_celeba.zip", "w") as z:
        z.writestr("img_align_celeba/000001.jpg", b"<html> inside a member is fine")
    check_not_html(tmp_path / "img_align_celeba.zip")


FAILURES += [
    Failure("data", "both t10k-images-idx3-ubyte and t10k-images-idx3-ubyte.gz, with different data",
            "are two copies of t10k-images-idx3-ubyte with different data", IDX_KEPT + " (both files)"),
    Failure("data", "a local MNIST folder with the train files only",
            "missing t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte", "nothing written; the missing files and the ones found are listed"),
    Failure("data", "an IDX file name that is a loop of symbolic links",
            "a loop of symbolic links", IDX_KEPT + " (the link)"),
    Failure("data", "a label outside 0-9 in an IDX labels file", "label 12 at position 3 is outside 0-9",
            IDX_KEPT),
    Failure("data", "t10k files only, with a class of a single image (no stratified split)",
            "t10k-labels-idx1-ubyte: cannot split", IDX_KEPT),
]  # fmt: skip


def test_gz_and_plain_copies_must_agree(tmp_path: Path, caplog):
    a = np.zeros((20, 4, 4), np.uint8)
    plain = write_idx(tmp_path / "t10k-images-idx3-ubyte", a)
    gz = write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", a, gz=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(20) % 2)
    with caplog.at_level("INFO", logger="tridrop.data"):
        assert len(load_mnist_folder(tmp_path)[0]) == 16
    assert f"using {plain}" in caplog.text and str(gz) in caplog.text

    write_idx(gz, a + 1, gz=True)
    with pytest.raises(DataFormatError, match=FAILURES[8].seen) as err:
        load_mnist_folder(tmp_path)
    assert str(plain) in str(err.value) and str(gz) in str(err.value)


def test_train_files_only_names_the_missing_test_files(tmp_path: Path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 4, 4)))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(3))
    with pytest.raises(FileNotFoundError, match=FAILURES[9].seen) as err:
        prepare("mnist", tmp_path / "m.npz", path=tmp_path)
    assert str(tmp_path / "train-labels-idx1-ubyte") in str(err.value)
    assert "no MNIST-format IDX files" not in str(err.value)
    (tmp_path / "train-labels-idx1-ubyte").unlink()  # half a train pair is named too
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 4, 4)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(3))
    with pytest.raises(FileNotFoundError, match="missing train-labels-idx1-ubyte"):
        load_mnist_folder(tmp_path)
    assert not (tmp_path / "m.npz").exists()


def test_symlink_loop_is_named(tmp_path: Path):
    loop = tmp_path / "t10k-images-idx3-ubyte"
    loop.symlink_to(tmp_path / "other")
    (tmp_path / "other").symlink_to(loop)
    with pytest.raises(DataFormatError, match=FAILURES[10].seen) as err:
        load_mnist_folder(tmp_path)
    assert str(loop) in str(err.value)
    folder = tmp_path / "folder"
    folder.symlink_to(folder)
    with pytest.raises(DataFormatError, match=f"{folder}: {FAILURES[10].seen}"):
        load_mnist_folder(folder)


def test_label_outside_the_classes_names_the_file(tmp_path: Path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((20, 4, 4)))
    labels = write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 12] + [5] * 16))
    with pytest.raises(DataFormatError, match=FAILURES[11].seen) as err:
        prepare("mnist", tmp_path / "m.npz", path=tmp_path)
    assert str(labels) in str(err.value)


def test_unsplittable_labels_name_the_file(tmp_path: Path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((20, 4, 4)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([7] + [5] * 19))
    with pytest.raises(DataFormatError, match=FAILURES[12].seen + ".*label 7 has 1 image"):
        prepare("mnist", tmp_path / "m.npz", path=tmp_path)


# ---------------------------------------------------------------- subsets, odd files, odd data

FAILURES += [
    Failure("data", "a link to /dev/zero (or a folder, a pipe) under an IDX file's name",
            "t10k-images-idx3-ubyte: a character device (a symbolic link to /dev/zero), not a data file",
            IDX_KEPT + " (the link); nothing is read"),
    Failure("data", "a training set of 1 image (e.g. `max_train: 1`)",
            "digits: a training set of 1 image(s) (max_train: 1); training needs at least 2",
            "nothing written"),
    Failure("data", "labels that are all the same class (e.g. a labels file of zeros)",
            "every training image has label 0; a dataset needs at least 2 classes (check the labels file)",
            "nothing written"),
    Failure("data", "constant images (every pixel the same, e.g. all black)",
            "20 of 20 training images are constant (every pixel the same value): blank or broken images?",
            "the split is written (a warning, not an error)"),
]  # fmt: skip
DEV_ZERO, ONE_IMAGE, ONE_CLASS, CONSTANT = FAILURES[-4:]


def test_max_train_and_max_test_apply_to_the_bundled_digits(tmp_path: Path):
    full = prepare("digits", tmp_path / "full.npz")
    split = prepare("digits", tmp_path / "d.npz", max_train=100, max_test=30)
    assert len(split.x_train) == 100 and len(split.x_test) == 30
    assert torch.equal(split.x_train, full.x_train[:100])
    assert torch.equal(split.y_test, full.y_test[:30])
    assert len(load_split(tmp_path / "d.npz").x_train) == 100


@pytest.mark.parametrize(
    ("make", "kind"),
    [(lambda p: p.symlink_to("/dev/zero"), "a character device (a symbolic link to /dev/zero)"),
     (lambda p: p.mkdir(), "a folder"), (lambda p: os.mkfifo(p), "a named pipe")],
    ids=["dev-zero", "folder", "fifo"],
)  # fmt: skip
def test_a_name_that_is_not_a_file_is_named(tmp_path: Path, make, kind):
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(20) % 2)
    make(tmp_path / "t10k-images-idx3-ubyte")
    with pytest.raises(DataFormatError) as err:
        prepare("mnist", tmp_path / "m.npz", path=tmp_path)
    name = tmp_path / "t10k-images-idx3-ubyte"
    assert str(err.value) == f"{name}: {kind}, not a data file"
    if kind.startswith("a character"):
        assert str(err.value).endswith(DEV_ZERO.seen)
        with pytest.raises(DataFormatError, match="t10k-images-idx3-ubyte: not a folder"):
            prepare("mnist", tmp_path / "m.npz", path=name)  # the folder itself
    assert not (tmp_path / "m.npz").exists()


def test_a_training_set_of_one_image_or_one_class_is_refused(tmp_path: Path):
    with pytest.raises(DataFormatError) as err:
        prepare("digits", tmp_path / "d.npz", max_train=1)
    assert str(err.value) == ONE_IMAGE.seen
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.arange(20 * 16).reshape(20, 4, 4))
    labels = write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(20))
    with pytest.raises(DataFormatError) as err:
        prepare("mnist", tmp_path / "m.npz", path=tmp_path)
    assert str(err.value) == f"mnist in {tmp_path}: " + ONE_CLASS.seen
    write_idx(labels, np.arange(20) % 2)
    prepare("mnist", tmp_path / "m.npz", path=tmp_path)  # two classes: fine
    assert not (tmp_path / "d.npz").exists()


def test_constant_images_are_a_warning(tmp_path: Path, caplog):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((25, 4, 4)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(25) % 5)
    with caplog.at_level("WARNING", logger="tridrop.data"):
        split = prepare("mnist", tmp_path / "m.npz", path=tmp_path)
    assert len(split.x_train) == 20 and f"mnist in {tmp_path}: {CONSTANT.seen}" in caplog.text
    assert "5 of 5 test images are constant" in caplog.text


def test_the_fingerprint_follows_contents_not_modification_times(tmp_path: Path):
    from tridrop.data import fingerprint, raw_files

    a = write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 4, 4)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(3))
    first = fingerprint(raw_files("mnist", tmp_path))
    assert len(first) == 64 and fingerprint(raw_files("mnist", tmp_path)) == first
    os.utime(a, (0, 0))  # `touch -d 1970`: same data, same fingerprint
    assert fingerprint(raw_files("mnist", tmp_path)) == first
    write_idx(a, np.ones((3, 4, 4)))
    os.utime(a, (0, 0))  # other data with an older time (`cp -p`): another fingerprint
    assert fingerprint(raw_files("mnist", tmp_path)) != first
    # A folder (CelebA's): every file below it, by name and content.
    tree = celeba_tree(tmp_path / "c", partitions=(0, 2))
    before = fingerprint([tree])
    img = tree / "celeba" / "img_align_celeba" / "000001.jpg"
    img.write_bytes(img.read_bytes()[::-1])
    assert fingerprint([tree]) != before
    img.write_bytes(img.read_bytes()[::-1])
    assert fingerprint([tree]) == before
    img.rename(img.with_name("000009.jpg"))
    assert fingerprint([tree]) != before
