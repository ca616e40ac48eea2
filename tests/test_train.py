"""Training: deterministic on the CPU, resumable bit for bit, checkpoints load safely."""

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from failures import Failure
from tridrop.data import load_digits_split
from tridrop.families.autoencoder.models import mlp_autoencoder
from tridrop.families.autoencoder.specs import AutoencoderModel, AutoencoderTrain
from tridrop.files import load_model_file, save_model
from tridrop.specs import TrainSpec, dump
from tridrop.train import (
    check_memory,
    fit,
    held_out,
    reconstruction_loss,
    resolve_device,
    validation_loss,
)

FAILURES = [
    Failure("model files", "a checkpoint or model file holding a pickled object that would run code",
            "evil.pt: refused to load: it holds Python objects other than tensors and plain data, which could run code",
            "nothing is executed; no output written"),
    Failure("interruption", "`kill -9` of a training job mid-epoch, then the same command again",
            "resumed from work/ckpt.pt at epoch N/100",
            "every finished epoch (checkpoint per epoch, outside the outputs); the final weights equal an uninterrupted run's bit for bit (CPU)"),
    Failure("interruption", "an exception inside an epoch (e.g. out of memory)",
            "the traceback; the checkpoint holds the last finished epoch",
            "the checkpoint; the rerun resumes and matches an uninterrupted run"),
    Failure("interruption", "a killed training job rerun after its epochs, lr or mode were changed",
            "work/ckpt.pt was written by a run with other settings; starting fresh",
            "the new run starts from scratch (the checkpoint carries its spec); model.json matches the weights"),
    Failure("device", "`device: cuda` on a machine without a GPU",
            "device 'cuda' was asked for but CUDA is not available", "nothing ran"),
]  # fmt: skip

CFG = TrainSpec(epochs=4, batch_size=64, lr=1e-3, seed=3, device="cpu")


def data():
    return load_digits_split().x_train[:300], load_digits_split().y_train[:300]


def fresh(mode="random"):
    torch.manual_seed(0)
    return mlp_autoencoder((1, 8, 8), 16, 6, mode)


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path, caplog):
    caplog.set_level("INFO")
    x, y = data()
    ckpt = tmp_path / "work" / "ckpt.pt"
    fit(fresh(), x, y, CFG, checkpoint=ckpt, tag="epochs 4")  # leaves a checkpoint at epoch 4
    longer = TrainSpec(epochs=5, batch_size=64, lr=1e-3, seed=3, device="cpu")
    changed, reference = fresh(), fresh()
    history = fit(changed, x, y, longer, checkpoint=ckpt, tag="epochs 5")
    assert FAILURES[3].seen.replace("work/ckpt.pt", str(ckpt)) in caplog.text
    assert [r["loss"] for r in history] == [r["loss"] for r in fit(reference, x, y, longer)]
    resumed = fit(fresh(), x, y, longer, checkpoint=ckpt, tag="epochs 5")  # same tag: resumes
    assert "resumed from" in caplog.text and len(resumed) == 5


def test_same_seed_same_weights():
    x, y = data()
    a, b = fresh(), fresh()
    ha, hb = fit(a, x, y, CFG), fit(b, x, y, CFG)
    assert [r["loss"] for r in ha] == [r["loss"] for r in hb]
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k


def test_a_validation_split_is_held_out_and_does_not_change_the_run():
    """Training with ``val_fraction`` equals training on the other images alone (masks drawn
    from the random state: recording the validation loss must not consume it), and each
    epoch's ``val_loss`` is the objective on the held-out images."""
    x, y = data()
    cfg = TrainSpec(epochs=3, batch_size=64, seed=3, device="cpu", val_fraction=0.25)
    rows, val = held_out(len(x), 0.25)
    assert len(val) == 75 and sorted({*rows.tolist(), *val.tolist()}) == list(range(300))
    assert torch.equal(held_out(len(x), 0.25)[1], val)  # the same images in every run
    a, b = fresh(), fresh()
    history = fit(a, x, y, cfg)
    plain = fit(b, x[rows], y[rows], TrainSpec(epochs=3, batch_size=64, seed=3, device="cpu"))
    assert [r["loss"] for r in history] == [r["loss"] for r in plain]
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    # The last epoch's value, recomputed from the same random state, and a plain MSE check.
    again = validation_loss(a, x, y, val, reconstruction_loss, 64)
    assert history[-1]["val_loss"] == pytest.approx(again, rel=1e-6)
    assert "val_loss" not in plain[0]
    a.eval()
    with torch.no_grad():
        full = float(nn.functional.mse_loss(a(x[val]), x[val]))
    assert 0 < full <= history[-1]["val_loss"] * 1.5  # masks only add error on average
    with pytest.raises(ValueError, match="none to train on"):
        held_out(3, 0.9)


def test_training_reduces_the_loss():
    x, y = data()
    history = fit(fresh("triangle"), x, y, TrainSpec(epochs=20, lr=5e-3, device="cpu"))
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_result(tmp_path: Path):
    x, y = data()
    full = fresh()
    fit(full, x, y, CFG)

    calls = {"n": 0}

    def dies_in_epoch_three(model, xb, yb):
        calls["n"] += 1
        if calls["n"] == 2 * 5 + 2:  # 5 batches per epoch: mid-way through the third epoch
            raise Interrupt
        return torch.nn.functional.mse_loss(model(xb), xb)

    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(Interrupt):
        fit(fresh(), x, y, CFG, loss_fn=dies_in_epoch_three, checkpoint=ckpt)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2
    resumed = fresh()
    history = fit(resumed, x, y, CFG, checkpoint=ckpt)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    for k, v in full.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k


def test_model_file_round_trip_and_safe_loading(tmp_path: Path):
    model = fresh()
    save_model(tmp_path / "m.pt", model, {"arch": {"latent": 6}})
    state, meta = load_model_file(tmp_path / "m.pt")
    assert meta == {"arch": {"latent": 6}}
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())

    class Evil:
        def __reduce__(self):
            return (print, ("this code ran",))

    torch.save({"state_dict": {}, "meta": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError) as err:
        load_model_file(tmp_path / "evil.pt")
    assert FAILURES[0].seen in str(err.value)


def test_deterministic_option_switches_kernels(monkeypatch):
    x, y = data()
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    try:
        fit(fresh(), x, y, TrainSpec(epochs=1, device="cpu", deterministic=True))
        assert torch.are_deterministic_algorithms_enabled()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    finally:
        torch.use_deterministic_algorithms(False)


def test_device_choice():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match=FAILURES[4].seen):
            resolve_device("cuda")


def test_killed_job_resumes_to_the_same_result(tmp_path: Path):
    """kill -9 the training command mid-run; the same command resumes and ends bit for bit."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tridrop.data import prepare

    data = tmp_path / "digits.npz"
    prepare("digits", data)
    spec = AutoencoderTrain(
        AutoencoderModel(hidden=64, latent=8), TrainSpec(epochs=100, device="cpu", seed=5)
    )
    args = ["--spec", dump(spec), "--data", str(data)]
    cmd = [sys.executable, "-m", "tridrop.cli", "ae", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([*cmd, "--model", str(tmp_path / "ref.pt")], check=True, env=env,
                   capture_output=True)  # fmt: skip

    ckpt = tmp_path / "work" / "ckpt.pt"
    run = [*cmd, "--model", str(tmp_path / "run.pt"), "--checkpoint", str(ckpt)]
    proc = subprocess.Popen(run, env=env, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)  # land somewhere inside a later epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "run.pt").exists(), "the job finished before it was killed"
    done = torch.load(ckpt, weights_only=True)["epoch"]
    assert 1 <= done < 100

    resumed = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    seen = FAILURES[1].seen.replace("work/ckpt.pt", str(ckpt)).replace("N", str(done))
    assert seen in resumed.stderr
    ref, _ = load_model_file(tmp_path / "ref.pt")
    got, meta = load_model_file(tmp_path / "run.pt")
    assert all(torch.equal(ref[k], got[k]) for k in ref)
    assert len(meta["history"]) == 100 and ckpt.exists()

    # The pipeline refuses the outputs (interrupted, a later output failed) and deletes them:
    # the rerun resumes at the last epoch and writes the same model without training again.
    (tmp_path / "run.pt").unlink()
    again = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert KEPT_AFTER.seen.replace("work/ckpt.pt", str(ckpt)) in again.stderr
    got, _ = load_model_file(tmp_path / "run.pt")
    assert all(torch.equal(ref[k], got[k]) for k in ref)


UNREADABLE = "not a readable PyTorch file (empty/truncated/corrupt: "
KEPT_AFTER = Failure(
    "interruption",
    "Snakemake interrupted (Ctrl-C) or a later output failing after a training job wrote its "
    "model: Snakemake deletes the outputs as incomplete",
    "resumed from work/ckpt.pt at epoch 100/100",
    "the final checkpoint stays in work/: the rerun writes the same model at once, no training",
)
FAILURES += [
    Failure("model files", "an empty, truncated or garbled `.pt` model or checkpoint",
            "m.pt: " + UNREADABLE + "...)", "nothing is executed; the message names the file"),
    Failure("interruption", "a truncated checkpoint in work/ (e.g. the disk filled up while writing)",
            "moved it to work/ckpt.pt.corrupt and training starts from epoch 0",
            "the damaged checkpoint, renamed for inspection; the rerun trains from scratch"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("damage", "detail"),
    [(lambda raw: b"", "0 bytes"), (lambda raw: raw[: len(raw) // 2], ""),
     (lambda raw: raw[:10], "not a ZIP archive"), (lambda raw: b"hello, world", "KeyError"),
     (lambda raw: b"\x80\x02garbage", "Unsupported operand")],
    ids=["empty", "truncated", "cut-in-header", "text", "broken-pickle"],
)  # fmt: skip
def test_unreadable_pt_file_is_named_and_not_called_code(tmp_path: Path, damage, detail):
    path = tmp_path / "m.pt"
    save_model(path, fresh(), {})
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError) as err:
        load_model_file(path)
    assert FAILURES[5].seen.split("...")[0].replace("m.pt", str(path)) in str(err.value)
    assert detail in str(err.value) and "could run code" not in str(err.value)


def test_truncated_checkpoint_is_moved_aside_and_training_starts_fresh(tmp_path: Path, caplog):
    x, y = data()
    cfg = TrainSpec(epochs=2, batch_size=64, lr=1e-3, seed=3, device="cpu")
    ref = fresh()
    fit(ref, x, y, cfg)
    ckpt = tmp_path / "work" / "ckpt.pt"
    fit(fresh(), x, y, cfg, checkpoint=ckpt)
    damaged = ckpt.read_bytes()[: ckpt.stat().st_size // 2]
    ckpt.write_bytes(damaged)

    model = fresh()
    with caplog.at_level("WARNING", logger="tridrop.train"):
        history = fit(model, x, y, cfg, checkpoint=ckpt)
    seen = FAILURES[6].seen.replace("work/ckpt.pt", str(ckpt))
    assert seen in caplog.text and UNREADABLE in caplog.text
    assert (tmp_path / "work" / "ckpt.pt.corrupt").read_bytes() == damaged
    assert [r["epoch"] for r in history] == [1, 2]
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in ref.state_dict().items())
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2  # a new, whole checkpoint


# ---------------------------------------------------------------- divergence and Ctrl-C

DIVERGED = Failure(
    "training", "`tridrop ae train` with a learning rate so large that the loss becomes NaN (`\"lr\": 1e30`)",
    "training diverged in epoch 1/3: the loss is nan (lr 1e+30; a smaller lr may help)",
    "no model written; exit status 1; the checkpoint of the last epoch with a finite loss and "
    "weights (never NaN weights)")  # fmt: skip
NAN_WEIGHTS = Failure(
    "model files", "a model whose weights hold NaN or infinite values, about to be written",
    "m.pt: not written: weight '1.weight' holds NaN or infinite values (training diverged?)",
    "nothing written")  # fmt: skip
INTERRUPTED = Failure(
    "interruption", "Ctrl-C (SIGINT) during a training job",
    "ERROR tridrop: interrupted in epoch N/100; the checkpoint work/ckpt.pt (epoch M) is kept",
    "the checkpoint of the last finished epoch; exit status 130; the same command resumes")  # fmt: skip
FAILURES += [DIVERGED, NAN_WEIGHTS, INTERRUPTED]


class NanGrad(torch.autograd.Function):
    """The identity whose gradient is NaN: a finite loss that leaves NaN weights."""

    @staticmethod
    def forward(ctx, t):
        return t.clone()

    @staticmethod
    def backward(ctx, g):
        return g * float("nan")


def poisoned(when, how):
    """A reconstruction loss that ``how`` spoils at batch calls ``when`` (5 per epoch)."""
    calls = {"n": 0}

    def loss(model, xb, yb):
        calls["n"] += 1
        value = torch.nn.functional.mse_loss(model(xb), xb)
        return how(value) if when(calls["n"]) else value

    return loss


@pytest.mark.parametrize(
    ("loss", "epoch", "seen"),
    [(poisoned(lambda n: n > 10, lambda v: v * float("nan")), 3, "the loss is nan"),
     (poisoned(lambda n: n == 10, NanGrad.apply), 2, "but weight '1.weight' holds NaN")],
    ids=["nan-loss", "finite-loss-nan-weights"],
)  # fmt: skip
def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(tmp_path, loss, epoch, seen):
    from tridrop.train import Diverged

    x, y = data()
    ckpt = tmp_path / "work" / "ckpt.pt"
    with pytest.raises(Diverged) as err:
        fit(fresh(), x, y, CFG, loss_fn=loss, checkpoint=ckpt)
    assert f"training diverged in epoch {epoch}/4: " in str(err.value) and seen in str(err.value)
    assert f"the checkpoint {ckpt} (epoch {epoch - 1}) is kept" in str(err.value)
    state = torch.load(ckpt, weights_only=True)
    assert state["epoch"] == epoch - 1
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_a_diverging_job_writes_no_model(tmp_path: Path, caplog):
    from tridrop.cli import main
    from tridrop.data import prepare

    prepare("digits", tmp_path / "d.npz")
    spec = AutoencoderTrain(AutoencoderModel(hidden=16, latent=4),
                            TrainSpec(epochs=3, lr=1e30, device="cpu"))  # fmt: skip
    model, ckpt = tmp_path / "m.pt", tmp_path / "work" / "ckpt.pt"
    code = main(["ae", "train", "--spec", dump(spec), "--data", str(tmp_path / "d.npz"),
                 "--model", str(model), "--checkpoint", str(ckpt)])  # fmt: skip
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert code == 1 and len(errors) == 1 and DIVERGED.seen in errors[0], errors
    assert not model.exists() and not model.with_suffix(".json").exists()
    assert not ckpt.exists()  # epoch 1 diverged: nothing to keep


def test_nan_weights_are_not_written(tmp_path: Path):
    model = fresh()
    with torch.no_grad():
        model[1].weight[0, 0] = float("inf")
    with pytest.raises(ValueError) as err:
        save_model(tmp_path / "m.pt", model, {})
    assert NAN_WEIGHTS.seen.replace("m.pt", str(tmp_path / "m.pt")) in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_in_an_epoch_names_the_checkpoint_kept(tmp_path: Path):
    from tridrop.train import Interrupted

    x, y = data()

    def ctrl_c(n):
        raise KeyboardInterrupt

    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(Interrupted) as err:
        fit(fresh(), x, y, CFG, loss_fn=poisoned(lambda n: n == 12, ctrl_c), checkpoint=ckpt)
    assert str(err.value) == f"interrupted in epoch 3/4; the checkpoint {ckpt} (epoch 2) is kept"
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2
    first, other = poisoned(lambda n: n == 1, ctrl_c), tmp_path / "other.pt"
    with pytest.raises(Interrupted) as err:
        fit(fresh(), x, y, CFG, loss_fn=first, checkpoint=other)
    assert f"no checkpoint of this run in {other} yet: nothing to resume from" in str(err.value)


FAILURES.append(KEPT_AFTER)


def test_sigint_prints_one_line_and_keeps_the_checkpoint(tmp_path: Path):
    """SIGINT (Ctrl-C) to a training command: one line, no traceback, exit status 130."""
    import signal
    import subprocess
    import sys
    import time

    from tridrop.data import prepare

    data = tmp_path / "digits.npz"
    prepare("digits", data)
    # Far more epochs than it runs (an epoch takes ~20 ms): a loaded machine that wakes the
    # test late must still find it training.
    spec = AutoencoderTrain(
        AutoencoderModel(hidden=64, latent=8), TrainSpec(epochs=100000, device="cpu", seed=5)
    )
    ckpt = tmp_path / "work" / "ckpt.pt"
    cmd = [sys.executable, "-m", "tridrop.cli", "ae", "train", "--spec", dump(spec),
           "--data", str(data), "--model", str(tmp_path / "m.pt"), "--checkpoint", str(ckpt)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # Under pytest-xdist the worker ignores SIGINT, and a child inherits that (Python then
    # installs no Ctrl-C handler): start it with the default disposition, as a terminal does.
    proc = subprocess.Popen(
        cmd,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert not (tmp_path / "m.pt").exists(), "the job finished before the signal"
    done = torch.load(ckpt, weights_only=True)["epoch"]
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert proc.returncode == 130 and "Traceback" not in err and len(errors) == 1, err
    seen = INTERRUPTED.seen.split("N/100")[1].replace("work/ckpt.pt", str(ckpt))
    assert "/100000" + seen.replace("epoch M", f"epoch {done}") in errors[0]
    assert "ERROR tridrop: interrupted in epoch " in errors[0]


TOO_LARGE = Failure(
    "resources", "a network far too large for the machine's memory (a width typed with extra zeros)",
    "the network has 1,000,001,000,000 parameters: training it takes at least 14,901.2 GiB (weights, gradients, Adam's two moments), more than this machine's",
    "nothing allocated or written; the job stops before training",
)  # fmt: skip
FAILURES.append(TOO_LARGE)


def test_a_network_too_large_to_train_is_refused_before_any_allocation():
    cpu = torch.device("cpu")
    with pytest.raises(MemoryError) as err:
        check_memory(lambda: nn.Linear(10**6, 10**6), cpu)  # 16 TB: refused, nothing allocated
    assert TOO_LARGE.seen in str(err.value)
    state = torch.get_rng_state()
    check_memory(lambda: nn.Linear(784, 64), cpu)  # fits: passes, and draws no random numbers
    assert torch.equal(torch.get_rng_state(), state)
