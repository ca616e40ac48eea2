"""The autoencoders with Triangular Dropout on their latent layer: an MLP and a conv net.

MLP (MNIST-format images): ``Flatten - Linear(D, hidden) - ReLU - Linear(hidden, latent) - TD -
Linear(latent, hidden) - ReLU - Linear(hidden, D) - Sigmoid - Unflatten``.

Conv (CelebA faces, 64x64; Fashion-MNIST padded to 32x32): stride-2 ``Conv(4x4) - BatchNorm -
ReLU`` blocks halve the image down to a 4x4 map, then ``Flatten - Linear - TD - Linear -
Unflatten`` and mirrored transposed convolutions back up, ``Sigmoid`` output. In both the
latent code is linear (as in PCA) and the TD layer sits between two ``nn.Linear`` layers, so
:func:`~tridrop.dropout.narrow` cuts the code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from torch import nn

from tridrop.dropout import SharedWidth, TriangularDropout
from tridrop.families.autoencoder.specs import AutoencoderModel
from tridrop.files import load_model_file, load_weights
from tridrop.specs import load

ARCHS = ("mlp", "conv")


def mlp_autoencoder(
    shape: tuple[int, ...],
    hidden: int,
    latent: int,
    mode: str = "triangle",
    p: float = 0.1,
    full: float = 0.0,
) -> SharedWidth:
    """An MLP autoencoder for images of ``shape`` (C, H, W) with a latent of ``latent`` units.

    ``full``: the share of each training batch kept at full width (see the layer).
    """
    dim = math.prod(shape)
    return SharedWidth(
        nn.Flatten(),
        nn.Linear(dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, latent),
        TriangularDropout(latent, mode, p, full=full),
        nn.Linear(latent, hidden),
        nn.ReLU(),
        nn.Linear(hidden, dim),
        nn.Sigmoid(),
        nn.Unflatten(1, tuple(shape)),
    )


def conv_autoencoder(
    shape: tuple[int, ...],
    channels: Sequence[int],
    latent: int,
    mode: str = "triangle",
    p: float = 0.1,
    full: float = 0.0,
) -> SharedWidth:
    """A convolutional autoencoder whose fully-connected latent layer has Triangular Dropout.

    Each of the ``len(channels)`` encoder blocks halves height and width; the decoder mirrors
    the encoder. Images whose sides are not multiples of ``2 ** len(channels)`` are zero-padded
    to the next multiple on the way in and cropped back on the way out (Fashion-MNIST: 28x28
    to 32x32), so the loss and the MSE are over the original pixels.
    """
    c, h, w = shape
    scale = 2 ** len(channels)
    ph, pw = -h % scale, -w % scale
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    small = (channels[-1], (h + ph) // scale, (w + pw) // scale)
    layers: list[nn.Module] = [nn.ZeroPad2d(pad)] if any(pad) else []
    for cin, cout in zip([c, *channels[:-1]], channels, strict=True):
        layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.ReLU()]
    layers += [
        nn.Flatten(),
        nn.Linear(math.prod(small), latent),
        TriangularDropout(latent, mode, p, full=full),
        nn.Linear(latent, math.prod(small)),
        nn.Unflatten(1, small),
    ]
    ups = list(reversed(channels))
    for cin, cout in zip(ups[:-1], ups[1:], strict=True):
        layers += [nn.ReLU(), nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout)]
    layers += [nn.ReLU(), nn.ConvTranspose2d(ups[-1], c, 4, 2, 1), nn.Sigmoid()]
    if any(pad):
        layers.append(nn.ZeroPad2d(tuple(-p for p in pad)))  # a negative pad crops
    return SharedWidth(*layers)


def build_autoencoder(model: AutoencoderModel, shape: Sequence[int]) -> SharedWidth:
    """The autoencoder of the typed spec ``model`` for images of ``shape`` (C, H, W)."""
    td = (model.latent, model.mode, model.p, model.full)
    if model.arch == "mlp":
        return mlp_autoencoder(tuple(shape), model.hidden, *td)
    return conv_autoencoder(tuple(shape), list(model.channels), *td)


def arch(model: AutoencoderModel, shape: Sequence[int]) -> dict:
    """What a model file records of its network: the family, the image shape, the typed spec."""
    return {"kind": "autoencoder", "shape": list(shape), "model": asdict(model)}


def split_at_latent(model: nn.Sequential) -> tuple[nn.Sequential, TriangularDropout, nn.Sequential]:
    """The encoder, the latent TD layer and the decoder of an autoencoder (views, not copies)."""
    idx = [i for i, m in enumerate(model) if isinstance(m, TriangularDropout)]
    if len(idx) != 1:
        raise ValueError(f"expected one TriangularDropout layer, found {len(idx)}")
    i = idx[0]
    return model[:i], model[i], model[i + 1 :]


def load_autoencoder(
    path: str | Path, device: str | object = "cpu", shape: Sequence[int] | None = None
) -> SharedWidth:
    """Rebuild a trained autoencoder from its model file, in eval mode.

    A model file of another family, or one made for images of another ``shape`` (C, H, W),
    is refused with one line naming the file (not a matrix-shape error later).
    """
    state, meta = load_model_file(path)
    recorded = meta.get("arch", {}) if isinstance(meta, dict) else {}
    kind = recorded.get("kind")
    if kind != "autoencoder":
        raise ValueError(
            f"{path}: not an autoencoder model file (its kind is {kind!r}); "
            "give one written by `tridrop ae train`"
        )
    if shape is not None and list(recorded["shape"]) != list(shape):
        raise ValueError(
            f"{path}: an autoencoder for images of shape {list(recorded['shape'])}, but the data "
            f"has images of shape {list(shape)}"
        )
    model = build_autoencoder(
        load(AutoencoderModel, recorded["model"], str(path)), recorded["shape"]
    )
    load_weights(model, state, path)
    return model.to(device).eval()
