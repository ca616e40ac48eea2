"""Autoencoder jobs end to end in the library: the real MNIST test split (qualitative claims at
reduced epochs), CelebA's conv path on synthetic faces, the fixed-width baseline's row."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_data import MNIST, celeba_tree, needs_mnist

from tridrop.data import load_split, prepare
from tridrop.extract import narrow
from tridrop.families.autoencoder import jobs
from tridrop.families.autoencoder.models import load_autoencoder
from tridrop.families.autoencoder.specs import (
    AutoencoderAnalysis,
    AutoencoderModel,
    AutoencoderSweep,
    AutoencoderTrain,
)
from tridrop.specs import Rows, TrainSpec


def train(data: Path, out: Path, cfg: TrainSpec, **model) -> None:
    jobs.train(AutoencoderTrain(AutoencoderModel(**model), cfg), data=data, model=out)


def sweep(model: Path, data: Path, width: int, name: str = "td", seed: int = 0, **kw):
    spec = AutoencoderSweep(Rows("x", name, seed), width, device="cpu", **kw)
    recon = model.with_name("recon.npz")
    jobs.sweep(spec, model=model, data=data, out=model.with_name("sweep.csv"), recon=recon)
    return pd.read_csv(model.with_name("sweep.csv"))


@pytest.mark.slow
@needs_mnist
def test_mnist_td_beats_truncated_notd_and_improves_with_width(tmp_path: Path):
    data = tmp_path / "mnist.npz"
    prepare("mnist", data, 0.2, 0, path=MNIST)  # 8000 train / 2000 test from t10k
    cfg = TrainSpec(epochs=6, batch_size=64, lr=2e-3, seed=0, device="cpu")
    mse = {}
    for name, mode in (("td", "triangle"), ("notd", "none")):
        out = tmp_path / name / "model.pt"
        train(data, out, cfg, hidden=128, latent=16, mode=mode)
        df = sweep(out, data, 16, name)
        mse[name] = df.set_index("width")["value"]
    td, notd = mse["td"], mse["notd"]
    # TD's MSE at a small width is clearly below the truncated plain autoencoder's ...
    for w in (2, 4):
        assert td[w] < 0.75 * notd[w], (w, td[w], notd[w])
    # ... and the TD curve decreases with width (in steps of a doubling, 1 -> 16).
    steps = [td[w] for w in (1, 2, 4, 8, 16)]
    assert all(b < a for a, b in zip(steps, steps[1:], strict=False)), steps
    assert td[16] < 0.5 * td[1]


def test_celeba_conv_autoencoder_trains_sweeps_and_narrows(tmp_path: Path):
    celeba_tree(tmp_path / "raw", partitions=[0] * 10 + [2] * 4)
    data = tmp_path / "celeba.npz"
    prepare("celeba", data, path=tmp_path / "raw")
    out = tmp_path / "td" / "model.pt"
    cfg = TrainSpec(epochs=2, batch_size=6, lr=1e-3, seed=0, device="cpu")
    train(data, out, cfg, arch="conv", hidden=0, latent=6, channels=(4, 8, 8, 8))
    meta = json.loads(out.with_suffix(".json").read_text())
    assert (
        meta["arch"]["kind"] == "autoencoder"
        and meta["arch"]["model"]["arch"] == "conv"
        and len(meta["history"]) == 2
    )
    df = sweep(out, data, 6, recon_images=3, recon_widths=(1, 6))
    assert df["width"].tolist() == list(range(1, 7)) and (df["value"] > 0).all()
    with np.load(out.with_name("recon.npz")) as f:
        assert f["recons"].shape == (2, 3, 3, 64, 64)
    # The latent Linear-TD-Linear narrows to a smaller dense conv net with the same output.
    model = load_autoencoder(out)
    x = load_split(data).x_test
    model.set_width(3)
    small = narrow(model, 3).eval()
    assert torch.allclose(small(x), model(x), atol=1e-5)
    spec = AutoencoderAnalysis(Rows("celeba", "td", 0), feature_images=4, device="cpu")
    paths = {k: tmp_path / f"{k}.csv" for k in ("importance", "dependence", "order")}
    jobs.analyse(spec, model=out, data=data, **paths)
    assert len(pd.read_csv(paths["importance"])) == 6
    assert len(pd.read_csv(paths["dependence"])) == 30
    assert len(pd.read_csv(paths["order"])) == 6 + 1  # prefix ratios at widths 1-6, pairs


def test_fixed_width_baseline_has_one_row_at_its_width(tmp_path: Path):
    data = tmp_path / "digits.npz"
    prepare("digits", data)
    out = tmp_path / "m.pt"
    cfg = TrainSpec(epochs=1, device="cpu")
    train(data, out, cfg, hidden=16, latent=3, mode="none")
    # Narrower (3 units) than the experiment's latent layer (8): a point at its own width.
    df = sweep(out, data, 8, "fixed", 4)
    assert df[["model", "seed", "width"]].values.tolist() == [["fixed", 4, 3]]
    with np.load(out.with_name("recon.npz")) as f:
        assert f["widths"].tolist() == [3]


def test_no_td_sweep_and_analysis_add_the_training_free_controls(tmp_path: Path):
    data = tmp_path / "digits.npz"
    prepare("digits", data)
    out = tmp_path / "notd" / "model.pt"
    train(data, out, TrainSpec(epochs=2, device="cpu"), hidden=16, latent=5, mode="none")
    df = sweep(out, data, 5, "notd", 1, controls=True, greedy_images=200)
    names = ("notd", "notd_meanfill", "notd_pca", "notd_greedy")
    assert df["model"].unique().tolist() == list(names) and set(df["seed"]) == {1}
    mse = df.pivot(index="width", columns="model", values="value")
    assert mse.index.tolist() == [1, 2, 3, 4, 5]
    # Every cut keeps the whole code at full width.
    assert np.allclose(mse.loc[5, list(names)], mse.loc[5, "notd"], rtol=1e-5)
    assert (mse > 0).all().all()
    spec = AutoencoderAnalysis(Rows("x", "notd", 1), feature_images=60, controls=True)
    paths = {k: tmp_path / f"{k}.csv" for k in ("importance", "dependence", "order")}
    jobs.analyse(replace(spec, device="cpu"), model=out, data=data, **paths)
    order = pd.read_csv(paths["order"])
    assert order["model"].unique().tolist() == ["notd", "notd_sorted"]
    ratio = order[order["metric"] == "prefix_optimality"].set_index(["model", "width"])["value"]
    assert ratio.index.get_level_values("width").max() == 5 and (ratio > 0.9).all()
    adjacent = order[order["metric"] == "adjacent_ordered"].set_index("model")
    assert adjacent.at["notd_sorted", "value"] == 1.0 and adjacent["width"].tolist() == [5, 5]
