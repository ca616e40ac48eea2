"""Training loop: tensors on the device, shuffled mini-batches, resumable checkpoints.

Small datasets live as tensors on the device (no DataLoader). Every epoch ends with an atomic
checkpoint holding the model, the optimiser and the random states, so a killed job resumes at
the last finished epoch and ends with the same result as an uninterrupted run (on the CPU).
An epoch with a NaN or infinite loss or weights stops training before its checkpoint is
written (:class:`Diverged`); Ctrl-C stops it with one line naming the checkpoint kept.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from tridrop.files import nonfinite, safe_load, save_model, save_torch, write_json
from tridrop.specs import TrainSpec

log = logging.getLogger(__name__)

LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


class Diverged(RuntimeError):
    """A non-finite loss or weights: training stopped, the last good checkpoint is kept."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during training; the message says which checkpoint is kept."""


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for but CUDA is not available")
    return torch.device(name)


def check_memory(build: Callable[[], nn.Module], device: torch.device) -> None:
    """Refuse, in one line, a network too large to train on ``device``: it is first built
    without storage (torch's meta device) and counted, so a size typo fails before any
    allocation, not mid-way or with ``std::bad_alloc``. Training with Adam keeps weights,
    gradients and two moments: at least 16 bytes a parameter."""
    with torch.device("meta"):
        params = sum(p.numel() for p in build().parameters())
    if device.type == "cuda":
        have = torch.cuda.get_device_properties(device).total_memory
    else:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if 16 * params > have:
        raise MemoryError(
            f"the network has {params:,} parameters: training it takes at least "
            f"{16 * params / 2**30:,.1f} GiB (weights, gradients, Adam's two moments), more than "
            f"this machine's {have / 2**30:,.1f} GiB of {device.type} memory; choose smaller widths"
        )


def environment(device: torch.device) -> dict[str, str]:
    """Library versions and the device, recorded beside each run's outputs."""
    versions = {name: _version(name) for name in LIBRARIES}
    return {
        "python": platform.python_version(),
        **versions,
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "",
        "cpu": platform.processor() or platform.machine(),
        "threads": str(torch.get_num_threads()),
    }


LIBRARIES = ("tridrop", "torch", "torchvision", "numpy", "scikit-learn", "snakemake", "dvc")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def use_deterministic_kernels() -> None:
    """Make CUDA runs repeatable: deterministic algorithms and cuBLAS workspace, no autotuning.

    Costs speed on the GPU (some kernels have slower deterministic versions); on the CPU the
    same seed already gives the same result.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False


def reconstruction_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error of an autoencoder's reconstruction (labels unused)."""
    return nn.functional.mse_loss(model(x).float(), x.float())


def classification_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of a classifier's logits against integer labels."""
    return nn.functional.cross_entropy(model(x).float(), y)


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainSpec,
    loss_fn: LossFn = reconstruction_loss,
    checkpoint: str | Path | None = None,
    tag: str = "",
    betas: tuple[float, float] = (0.9, 0.999),
) -> list[dict[str, float]]:
    """Train ``model`` in place on ``(x, y)`` with Adam; return one record per epoch.

    ``checkpoint``: a file outside the declared outputs; if it exists and was written with the
    same ``tag`` (the run's spec), training resumes from it, else it starts fresh and says why.
    ``x`` may be any object with ``len``, ``.device`` and row gathering by an index tensor (a
    :class:`~tridrop.families.head.feature_cache.FeatureCache`). Under ``torch.distributed``
    (``torchrun``) every process draws the same batches and takes every world-th sample of
    each; gradients are averaged by DDP and weighted so that each step equals the
    single-process step.

    Raises :class:`Diverged` at a non-finite epoch and :class:`Interrupted` on Ctrl-C; both
    messages say which checkpoint is kept.
    """
    device = x.device
    dist = _distributed()
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist else (0, 1)
    step_model = model
    if dist:
        step_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    torch.manual_seed(cfg.seed)
    if cfg.deterministic:
        use_deterministic_kernels()
    order = torch.Generator().manual_seed(cfg.seed)  # CPU generator: same batches on any device
    opt = torch.optim.Adam(
        model.parameters(), lr=cfg.lr, betas=betas, weight_decay=cfg.weight_decay
    )
    history: list[dict[str, float]] = []
    start = 0
    state = None
    if checkpoint is not None and Path(checkpoint).exists():
        try:
            state = safe_load(checkpoint, map_location=device)
        except ValueError as err:  # truncated or foreign: keep it for inspection, start fresh
            aside = Path(checkpoint).with_name(Path(checkpoint).name + ".corrupt")
            if rank == 0:  # under torchrun every process finds it unreadable and starts fresh
                os.replace(checkpoint, aside)
            log.warning("%s; moved it to %s and training starts from epoch 0", err, aside)
    if state is not None and state.get("tag", "") != tag:
        log.warning("%s was written by a run with other settings; starting fresh", checkpoint)
        state = None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        order.set_state(state["order_rng"])
        torch.set_rng_state(state["torch_rng"])
        history, start = state["history"], int(state["epoch"])
        log.info("resumed from %s at epoch %d/%d", checkpoint, start, cfg.epochs)
    amp = device.type == "cuda"
    n = len(x)
    rows, val = held_out(n, cfg.val_fraction)
    if val is not None:
        n = len(rows)
        log.info("%d images train, %d held out for the validation loss", n, len(val))
    saved = start if state is not None else 0  # the epoch the checkpoint on disk holds
    bar = tqdm(range(start, cfg.epochs), desc="train", unit="epoch", disable=True if rank else None)
    try:
        for epoch in bar:
            model.train()
            t0, total = time.perf_counter(), torch.zeros((), dtype=torch.float64, device=device)
            batches = torch.randperm(n, generator=order)
            if rows is not None:
                batches = rows[batches]
            for batch in batches.split(cfg.batch_size):
                idx = batch[rank::world].to(device)
                for m in model.modules():
                    if hasattr(m, "set_batch_shard"):  # position-dependent masks: whole batch
                        m.set_batch_shard(rank, world, len(batch) if dist else None)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                    loss = loss_fn(step_model, x[idx], y[idx])
                opt.zero_grad(set_to_none=True)
                # DDP averages gradients over processes; weighting by the local share of the
                # batch makes the average the gradient of the whole batch's mean loss.
                (loss * (len(idx) * world / len(batch))).backward()
                opt.step()
                total += loss.detach().double() * len(idx)
            if dist:
                dist.all_reduce(total)
            total = float(total)
            record = {"epoch": epoch + 1, "loss": total / n, "seconds": time.perf_counter() - t0}
            if val is not None:
                _whole_batches(model)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                    record["val_loss"] = validation_loss(model, x, y, val, loss_fn, cfg.batch_size)
            history.append(record)
            bar.set_postfix(loss=f"{record['loss']:.4g}")
            log.info(
                "epoch %d/%d loss %.6g (%.2fs)",
                epoch + 1,
                cfg.epochs,
                record["loss"],
                record["seconds"],
            )
            _check_finite(model, record["loss"], epoch + 1, cfg, _kept(checkpoint, saved))
            if checkpoint is not None and rank == 0:
                state = {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "order_rng": order.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "history": history,
                    "epoch": epoch + 1,
                    "tag": tag,
                }
                save_torch(state, checkpoint)
                saved = epoch + 1
    except KeyboardInterrupt:
        # One line instead of a traceback from wherever the signal landed. The signal may land
        # between writing a checkpoint and counting it: the file says which epoch it holds.
        where = f"interrupted in epoch {min(len(history) + 1, cfg.epochs)}/{cfg.epochs}"
        saved = _saved_epoch(checkpoint, tag, saved)
        raise Interrupted(f"{where}; {_kept(checkpoint, saved)}") from None
    finally:
        _whole_batches(model)
    return history


def _whole_batches(model: nn.Module) -> None:
    """Position-dependent masks back to one process's whole batch (after a sharded step)."""
    for m in model.modules():
        if hasattr(m, "set_batch_shard"):
            m.set_batch_shard(0, 1, None)


def held_out(n: int, fraction: float) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """``(training rows, validation rows)`` of ``n`` images: a ``fraction`` held out, drawn
    with seed 0 so that every run (any seed, any variant) validates on the same images;
    ``(None, None)`` for no validation (all ``n`` train, in the order of a run without it)."""
    k = round(n * fraction)
    if k == 0:
        return None, None
    if k >= n:
        raise ValueError(f"val_fraction {fraction} of {n} images leaves none to train on")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    return perm[k:].sort().values, perm[:k].sort().values


def validation_loss(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    rows: torch.Tensor,
    loss_fn: LossFn,
    batch_size: int,
) -> float:
    """The training objective on the held-out ``rows`` (masks drawn as in training, by batch),
    without a gradient, leaving the random state and the buffers (e.g. batch-norm statistics)
    as they were: recording it does not change the run."""
    device = x.device
    buffers = [b.clone() for b in model.buffers()]
    total = 0.0
    forked = torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])
    with forked, torch.no_grad():
        for batch in rows.split(batch_size):
            idx = batch.to(device)
            total += float(loss_fn(model, x[idx], y[idx])) * len(idx)
    with torch.no_grad():
        for b, kept in zip(model.buffers(), buffers, strict=True):
            b.copy_(kept)
    return total / len(rows)


def _saved_epoch(checkpoint: str | Path | None, tag: str, saved: int) -> int:
    """The epoch this run's checkpoint file holds (``saved`` if there is none of this run)."""
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception:  # none, unreadable, or not written yet
        return saved
    return int(state["epoch"]) if state.get("tag") == tag else saved


def _kept(checkpoint: str | Path | None, saved: int) -> str:
    """What a stopped run leaves to resume from, for its one-line message."""
    if checkpoint is None:
        return "no checkpoint was asked for: nothing to resume from"
    if not saved:
        return f"no checkpoint of this run in {checkpoint} yet: nothing to resume from"
    return f"the checkpoint {checkpoint} (epoch {saved}) is kept"


def _check_finite(model: nn.Module, loss: float, epoch: int, cfg: TrainSpec, kept: str) -> None:
    """Stop at the first epoch whose loss or weights are NaN or infinite, before its
    checkpoint replaces the last good one (NaN weights never recover)."""
    if math.isfinite(loss):
        bad = nonfinite(model.state_dict())
        if bad is None:
            return
        what = f"the loss is {loss:.6g} but weight {bad!r} holds NaN or infinite values"
    else:
        what = f"the loss is {loss}"
    raise Diverged(
        f"training diverged in epoch {epoch}/{cfg.epochs}: {what} (lr {cfg.lr:g}; a smaller "
        f"lr may help); {kept}"
    )


def _distributed():
    """``torch.distributed`` when this process is one of several (torchrun), else None."""
    d = torch.distributed
    return d if d.is_available() and d.is_initialized() and d.get_world_size() > 1 else None


def save_run(
    path: str | Path,
    model: nn.Module,
    meta: dict,
    device: torch.device,
    history: list[dict[str, float]],
    checkpoint: str | Path | None = None,  # kept (see below); the argument stays for callers
) -> None:
    """Write a trained model and its metadata (``.json`` beside it); the checkpoint stays.

    ``meta["train"]`` (a :class:`TrainSpec`) is stored as a dict; the environment (versions,
    device) and the per-epoch history are added. The final checkpoint is kept until the next
    run: if the pipeline then refuses the outputs (interrupted, a later output failed) and
    deletes them, a rerun resumes at the last epoch and writes the same model at once instead
    of training again (``make clean-work`` removes the work folder).
    """
    meta = {
        **meta,
        "train": asdict(meta["train"]),
        "environment": environment(device),
        "history": history,
    }
    save_model(path, model, meta)
    write_json(meta, Path(path).with_suffix(".json"))
