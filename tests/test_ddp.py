"""Data-parallel head training: torchrun with 2 gloo processes on the CPU equals one process.

Both runs see the same batches (one seed), the two processes each take every other sample of a
batch with the fractions of those positions in the triangle, and DDP averages gradients weighted
by each process's share (the digits' last batch of 29 splits 15/14). The results agree to float32
rounding: the tolerance is 1e-5 absolute on every weight after 3 epochs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import run
from tridrop.data import prepare
from tridrop.families.head.jobs import cache
from tridrop.families.head.models import td_head
from tridrop.families.head.specs import FeatureCacheSpec, HeadModel, HeadTrain
from tridrop.files import load_model_file
from tridrop.specs import TrainSpec, dump

pytestmark = pytest.mark.slow
TOLERANCE = 1e-5


def test_two_gloo_processes_train_the_same_head_as_one(tmp_path: Path):
    prepare("digits", tmp_path / "digits.npz")
    cache(FeatureCacheSpec("digits", "train"), data=tmp_path / "digits.npz", out=tmp_path / "train")
    spec = HeadTrain(HeadModel(hidden=32), TrainSpec(epochs=3, lr=0.003, seed=1, device="cpu"))
    args = ["tridrop", "head", "train", "--spec", dump(spec), "--features", str(tmp_path / "train")]
    env_threads = ["env", "OMP_NUM_THREADS=1"]
    run([*env_threads, *args, "--model", str(tmp_path / "one.pt")], tmp_path)
    ddp = run([*env_threads, "torchrun", "--standalone", "--nproc-per-node", "2", "--no-python",
               *args, "--checkpoint", str(tmp_path / "ckpt.pt"), "--model",
               str(tmp_path / "two.pt")], tmp_path)  # fmt: skip
    one, meta_one = load_model_file(tmp_path / "one.pt")
    two, meta_two = load_model_file(tmp_path / "two.pt")
    assert meta_two["processes"] == 2 and meta_one["processes"] == 1
    assert "epoch 3/3" in ddp.stderr
    for k, v in one.items():
        torch.testing.assert_close(two[k], v, rtol=0, atol=TOLERANCE, msg=k)
    torch.manual_seed(1)  # the initial weights of both runs: training moved them far more
    init = td_head(64, 32, 10).state_dict()
    assert max(float((one[k] - init[k]).abs().max()) for k in one) > 1000 * TOLERANCE
    losses = [r["loss"] for r in meta_one["history"]]
    assert [r["loss"] for r in meta_two["history"]] == pytest.approx(losses, rel=1e-5)
    assert (tmp_path / "ckpt.pt").exists()  # kept (a rerun resumes at the end), by process 0
