"""Autoencoder runs end to end in the library: the real MNIST test split (qualitative claims at
reduced epochs), CelebA's conv path on synthetic faces, the fixed-width baseline's row."""

from pathlib import Path

import numpy as np
import pytest
import torch
from test_data import MNIST, celeba_tree, needs_mnist

from tridrop.data import load_split, prepare
from tridrop.dropout import narrow
from tridrop.experiment import features_autoencoder, load_autoencoder, sweep_autoencoder
from tridrop.experiment import train_autoencoder as train
from tridrop.train import TrainConfig


@pytest.mark.slow
@needs_mnist
def test_mnist_td_beats_truncated_notd_and_improves_with_width(tmp_path: Path):
    data = tmp_path / "mnist.npz"
    prepare("mnist", data, 0.2, 0, path=MNIST)  # 8000 train / 2000 test from t10k
    cfg = TrainConfig(epochs=6, batch_size=64, lr=2e-3, seed=0, device="cpu")
    mse = {}
    for name, mode in (("td", "triangle"), ("notd", "none")):
        out = tmp_path / name / "model.pt"
        train(data, out, hidden=128, latent=16, mode=mode, p=0.1, cfg=cfg)
        df = sweep_autoencoder(out, data, experiment="mnist", name=name, seed=0, device="cpu")
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
    cfg = TrainConfig(epochs=2, batch_size=5, lr=1e-3, seed=0, device="cpu")
    meta = train(data, out, hidden=0, latent=6, mode="triangle", p=0.1, cfg=cfg, arch="conv",
                 channels=[4, 8, 8, 8])  # fmt: skip
    assert meta["arch"]["kind"] == "conv_autoencoder" and len(meta["history"]) == 2
    df = sweep_autoencoder(out, data, experiment="celeba", name="td", seed=0, device="cpu",
                           recon_out=tmp_path / "r.npz", recon_images=3,
                           recon_widths=[1, 6])  # fmt: skip
    assert df["width"].tolist() == list(range(1, 7)) and (df["value"] > 0).all()
    with np.load(tmp_path / "r.npz") as f:
        assert f["recons"].shape == (2, 3, 3, 64, 64)
    # The latent Linear-TD-Linear narrows to a smaller dense conv net with the same output.
    model = load_autoencoder(out)
    x = load_split(data).x_test
    model.set_width(3)
    small = narrow(model, 3).eval()
    assert torch.allclose(small(x), model(x), atol=1e-5)
    imp, dep = features_autoencoder(out, data, experiment="celeba", name="td", seed=0,
                                    images=4, device="cpu")  # fmt: skip
    assert len(imp) == 6 and len(dep) == 30


def test_fixed_width_baseline_has_one_row_at_its_width(tmp_path: Path):
    data = tmp_path / "digits.npz"
    prepare("digits", data)
    out = tmp_path / "m.pt"
    cfg = TrainConfig(epochs=1, device="cpu")
    train(data, out, hidden=16, latent=3, mode="none", p=0.1, cfg=cfg)
    df = sweep_autoencoder(out, data, experiment="digits", name="fixed", seed=4, device="cpu",
                           full_width_only=True)  # fmt: skip
    assert df[["model", "seed", "width"]].values.tolist() == [["fixed", 4, 3]]
