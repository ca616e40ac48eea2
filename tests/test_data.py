"""Datasets: the digits split, and the stored .npz round trip."""

from pathlib import Path

import pytest
import torch

from tridrop.data import load_digits_split, load_split, prepare


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
