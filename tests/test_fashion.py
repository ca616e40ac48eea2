"""The `fashion` preset end to end on a subset of the real Fashion-MNIST, through the same rules.

Needs Debian's `dataset-fashion-mnist` (`.ci/run` installs it): the preset's `source: auto`
reads that folder, offline. The subset keeps every rule of the preset: the MLP and conv
autoencoders with their baselines, the VGG-style backbone, its feature cache and the TD heads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import run

pytestmark = pytest.mark.slow


def subset(root: Path, fashion: dict) -> Path:
    """The preset on 600 training and 200 test images, tiny networks, one epoch or two."""
    split = {"max_train": 600, "max_test": 200}
    for spec in fashion["autoencoders"].values():
        spec.update(split, latent=4, epochs=2, seeds=[0], feature_images=40, recon_images=3)
        spec.update(recon_widths=[1, 2, 4], headline_widths=[1, 4])
        spec["variants"] = {k: v for k, v in spec["variants"].items() if k in ("td", "notd")}
        if "pcaae_widths" in spec:  # PCAAE's widths fit the subset's latent layer
            spec["pcaae_widths"] = 2
    mlp, conv = fashion["autoencoders"]["fashion_mlp"], fashion["autoencoders"]["fashion_conv"]
    mlp.update(hidden=16, fixed_widths=[2])
    conv.update(channels=[4, 8], fixed_widths=[2])
    head = fashion["heads"]["fashion_head"]
    head.update(split, hidden=16, epochs=2, seeds=[0], widths=[2, 4, 8, 16], fixed_widths=[4])
    head.update(rank_samples=200)
    head["backbone"].update(channels=[4, 8], epochs=1)
    return root


def test_fashion_preset_on_a_subset(workflow_copy: Path):
    cfg_path = workflow_copy / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    path = Path(cfg["presets"]["fashion"]["heads"]["fashion_head"]["path"])
    if not (path / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"{path}: apt-get install dataset-fashion-mnist (.ci/run does)")
    subset(workflow_copy, cfg["presets"]["fashion"])
    cfg["preset"] = "fashion"
    cfg_path.write_text(yaml.safe_dump(cfg))
    run(["snakemake", "--cores", "2"], workflow_copy)
    res = workflow_copy / "results/fashion"

    sweeps = pd.read_csv(res / "sweeps.csv")
    assert set(sweeps["experiment"]) == {"fashion_mlp", "fashion_conv", "fashion_head"}
    conv = sweeps[sweeps["experiment"] == "fashion_conv"]
    controls = {"notd_meanfill", "notd_pca", "notd_greedy"}  # no TD cut without training
    assert set(conv["model"]) == {"td", "notd", "pca", "fixed"} | controls and sorted(
        set(conv["width"])
    ) == [
        1,
        2,
        3,
        4,
    ]
    assert (sweeps.loc[sweeps["metric"] == "mse", "value"] > 0).all()

    # The backbone: trained on the images, its head 2-layer wide, its conv part cached.
    backbone = json.loads((res / "runs/fashion_head/backbone/model.json").read_text())
    assert backbone["arch"]["kind"] == "cnn" and 0 <= backbone["test_top1"] <= 1
    index = json.loads((res / "runs/fashion_head/features/val/index.json").read_text())
    assert index["rows"] == 200 and index["dim"] == 8 * 7 * 7
    assert index["backbone_params"] == backbone["params"] - backbone["head_params"]
    heads = sweeps[sweeps["experiment"] == "fashion_head"]
    assert {"td", "td_scratch", "fixed", "ranked", "reference", "svd"} <= set(heads["model"])
    # The reference head on cached features is the backbone network (up to fp16 features).
    ref = heads[(heads["model"] == "reference") & (heads["metric"] == "top1")]["value"].iloc[0]
    assert abs(ref - backbone["test_top1"]) <= 0.01
    table = pd.read_csv(res / "tables/fashion_head_accuracy_vs_params.csv")
    full = table[(table["model"] == "td") & (table["width"] == 16)].iloc[0]
    assert full["head_pct"] == 100 and full["network_params"] > full["head_params"]

    claims = pd.read_csv(res / "claims.csv")
    assert set(claims["experiment"]) == {"fashion_mlp", "fashion_conv", "fashion_head"}
    for fig in ("fashion_mlp_mse_vs_width", "fashion_conv_reconstructions",
                "fashion_head_accuracy_vs_params", "fashion_conv_dependence"):  # fmt: skip
        assert (res / f"figures/{fig}.png").stat().st_size > 1000
    assert "Nothing to be done" in run(["snakemake", "-n"], workflow_copy).stdout
