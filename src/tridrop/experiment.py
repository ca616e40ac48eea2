"""One autoencoder run: train it on a stored split, then sweep it over every latent width."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tridrop.data import load_split
from tridrop.features import importance_and_dependence, tidy_features
from tridrop.files import atomic
from tridrop.models.autoencoder import build_autoencoder, split_at_latent
from tridrop.sweep import latent_mse, reconstructions, tidy
from tridrop.train import TrainConfig, environment, fit, load_model_file, resolve_device, save_model

log = logging.getLogger(__name__)


def train_autoencoder(
    data: str | Path,
    out: str | Path,
    *,
    hidden: int,
    latent: int,
    mode: str,
    p: float,
    cfg: TrainConfig,
    checkpoint: str | Path | None = None,
    arch: str = "mlp",
    channels: list[int] | None = None,
) -> dict:
    """Train an autoencoder (``arch`` mlp or conv); write its weights to ``out`` and its
    resolved config as JSON (``hidden`` is used by the MLP, ``channels`` by the conv net).

    Returns the metadata written beside the weights (``out`` with suffix ``.json``).
    """
    device = resolve_device(cfg.device)
    split = load_split(data).to(device)
    shape = tuple(split.x_train.shape[1:])
    if arch == "mlp":
        spec = {"kind": "mlp_autoencoder", "shape": list(shape), "hidden": hidden}
    elif arch == "conv":
        spec = {"kind": "conv_autoencoder", "shape": list(shape), "channels": list(channels or [])}
    else:
        raise ValueError(f"unknown architecture {arch!r}; choose mlp or conv")
    arch_spec = {**spec, "latent": latent, "mode": mode, "p": p}
    torch.manual_seed(cfg.seed)
    model = build_autoencoder(arch_spec).to(device)
    log.info("training %s on %s (%d images) on %s", arch_spec, data, len(split.x_train), device)
    history = fit(model, split.x_train, split.y_train, cfg, checkpoint=checkpoint)
    meta = {"arch": arch_spec, "train": asdict(cfg), "data": str(data),
            "environment": environment(device), "history": history}  # fmt: skip
    save_model(out, model, meta)
    with atomic(Path(out).with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)  # the run is complete; the outputs hold it
    return meta


def load_autoencoder(path: str | Path, device: torch.device | str = "cpu") -> torch.nn.Sequential:
    """Rebuild a trained autoencoder from a file written by :func:`train_autoencoder`."""
    state, meta = load_model_file(path)
    model = build_autoencoder(meta["arch"])
    model.load_state_dict(state)
    return model.to(device).eval()


def sweep_autoencoder(
    model_path: str | Path,
    data: str | Path,
    *,
    experiment: str,
    name: str,
    seed: int,
    device: str = "auto",
    recon_out: str | Path | None = None,
    recon_images: int = 8,
    recon_widths: list[int] | None = None,
    full_width_only: bool = False,
) -> pd.DataFrame:
    """Test MSE at every latent width as tidy rows; optionally save reconstructions (``.npz``).

    ``full_width_only``: one row at the model's own width (an autoencoder trained at a fixed
    width is a baseline at that width only).
    """
    dev = resolve_device(device)
    split = load_split(data).to(dev)
    model = load_autoencoder(model_path, dev)
    df = tidy(latent_mse(model, split.x_test), experiment, name, seed, "mse")
    if full_width_only:
        df = df.iloc[[-1]].reset_index(drop=True)
    if recon_out is not None:
        widths = recon_widths or list(range(1, split_at_latent(model)[1].width + 1))
        x = _one_per_class(split.x_test, split.y_test, recon_images)
        rec = reconstructions(model, x, widths)
        with atomic(recon_out) as tmp:
            np.savez(tmp, originals=x.cpu().numpy(), recons=rec.cpu().numpy(),
                     widths=np.array(widths))  # fmt: skip
    return df


def _one_per_class(x: torch.Tensor, y: torch.Tensor, n: int) -> torch.Tensor:
    """The first test image of each class in turn, so a grid shows different digits."""
    picks: list[int] = []
    classes = torch.unique(y).tolist()
    for rank in range(len(x)):
        for c in classes:
            hits = (y == c).nonzero().flatten()
            if rank < len(hits) and len(picks) < n:
                picks.append(int(hits[rank]))
        if len(picks) >= n:
            break
    return x[picks]


def features_autoencoder(
    model_path: str | Path,
    data: str | Path,
    *,
    experiment: str,
    name: str,
    seed: int,
    images: int,
    device: str = "auto",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Importance and dependence of the latent units on the first ``images`` test images."""
    dev = resolve_device(device)
    split = load_split(data).to(dev)
    model = load_autoencoder(model_path, dev)
    x = split.x_test[:images]
    importance, dependence = importance_and_dependence(model, x)
    rounded = [round(v, 5) for v in importance.tolist()]
    log.info("%s/%s seed %d: importance by unit on %d test images: %s", experiment, name, seed,
             len(x), rounded)  # fmt: skip
    return tidy_features(importance, dependence, experiment, name, seed)
