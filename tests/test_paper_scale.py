"""The paper-scale benchmark at its smallest setting (seconds), so that it cannot rot.

Runs ``benchmarks/paper_scale.py --smallest`` as a user would and checks the table's shape and
the consistency of its scaled numbers; no timing thresholds.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "paper_scale.py"
POSITIVE = ["params", "step_s", "steps_per_epoch", "epoch_s_scaled", "sweep_s_scaled", "runs",
            "epochs", "peak_rss_gb", "data_gb", "preset_s", "preset_h"]  # fmt: skip
HEAD_ONLY = ["cache_images_per_s", "cache_s_scaled", "matmul_tflops", "bound_epoch_s",
             "epoch_over_bound"]  # fmt: skip


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    out = tmp_path_factory.mktemp("bench") / "paper_scale.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smallest", "--device", "cpu", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "paper preset total" in proc.stdout
    return pd.read_csv(out), out


def test_one_row_per_experiment_of_the_paper_preset(table):
    df, out = table
    paper = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["presets"]["paper"]
    assert list(df["experiment"]) == [*paper["autoencoders"], *paper["heads"]]
    for col in POSITIVE:
        assert (df[col] > 0).all() and df[col].map(math.isfinite).all(), col
    heads = df["experiment"].isin(paper["heads"])
    for col in HEAD_ONLY:
        assert (df.loc[heads, col] > 0).all() and df.loc[~heads, col].isna().all(), col


def test_csv_columns_and_sidecar(table):
    df, out = table
    assert {"experiment", "device", "step_s", "epoch_s_scaled", "sweep_s_scaled",
            "peak_rss_gb", "epoch_over_bound", "preset_h"} <= set(df.columns)  # fmt: skip
    assert (df["device"] == "cpu").all()
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["settings"]["smallest"] and side["environment"]["torch"]
    assert side["preset_total_h"] == pytest.approx(df["preset_h"].sum(), rel=1e-4)


def test_scaled_numbers_are_consistent(table):
    df, _ = table
    assert df["steps_per_epoch"].tolist() == [
        math.ceil(r / b) for r, b in zip(df["train_rows"], df["batch_size"], strict=True)
    ]
    assert df["epoch_s_scaled"].tolist() == pytest.approx(
        (df["step_s"] * df["steps_per_epoch"]).tolist(), rel=1e-4
    )
    # The preset's time covers at least every run's training epochs.
    assert (df["preset_s"] >= df["epoch_s_scaled"] * df["epochs"] * 0.999).all()
    assert df["preset_h"].tolist() == pytest.approx((df["preset_s"] / 3600).tolist(), rel=1e-4)
    head = df.iloc[-1]
    assert head["epoch_over_bound"] == pytest.approx(
        head["epoch_s_scaled"] / head["bound_epoch_s"], rel=1e-4
    )
    assert head["bound_epoch_s"] == pytest.approx(
        6 * head["params"] * head["train_rows"] / (head["matmul_tflops"] * 1e12), rel=1e-4
    )
