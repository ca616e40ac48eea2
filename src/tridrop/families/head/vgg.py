"""VGG19 split into its frozen feature extractor and its fully-connected head.

The backbone is ``features`` (16 conv layers) + ``avgpool`` (adaptive, 7x7) + flatten, giving
25088-d features for any input of at least 32x32 pixels. Weights come from torchvision's
``IMAGENET1K_V1`` file (downloaded once into torch's hub cache), from a local state-dict file,
or are random (tests only); files load with ``weights_only=True``, so no pickled code runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from tridrop.dropout import SharedWidth
from tridrop.families.head.models import head_linears, td_head
from tridrop.files import safe_load

log = logging.getLogger(__name__)

FEATURES = 512 * 7 * 7
HIDDEN = 4096
CLASSES = 1000
HEAD_INDICES = (0, 3, 6)  # Linear layers of torchvision's vgg19().classifier


def load_state_dict(weights: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """VGG19 weights: ``imagenet1k_v1``, a path to a state-dict file, or ``random`` (tests)."""
    import torchvision

    if weights == "random":
        torch.manual_seed(seed)
        return torchvision.models.vgg19(weights=None).state_dict()
    if weights == "imagenet1k_v1":
        spec = torchvision.models.VGG19_Weights.IMAGENET1K_V1
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(spec.url).name
        if not path.exists():
            log.info("downloading %s to %s", spec.url, path)
            path.parent.mkdir(parents=True, exist_ok=True)
            # The file name carries the first hex digits of its SHA-256; the download checks them.
            torch.hub.download_url_to_file(
                spec.url, str(path), hash_prefix=path.stem.split("-")[-1]
            )
    else:
        path = Path(weights)
        if not path.exists():
            raise FileNotFoundError(f"VGG19 weights file {path} does not exist")
    state = safe_load(path)
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state


def backbone(state: dict[str, torch.Tensor]) -> nn.Sequential:
    """The frozen convolutional part plus pooling, flattened to 25088-d features."""
    import torchvision

    with torch.device("meta"):  # no random init of 143M parameters that are overwritten
        net = torchvision.models.vgg19(weights=None)
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    net.features.load_state_dict(
        {k[len("features.") :]: v for k, v in features.items()}, assign=True
    )
    model = nn.Sequential(net.features, net.avgpool, nn.Flatten(1)).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def backbone_params(state: dict[str, torch.Tensor]) -> int:
    return sum(v.numel() for k, v in state.items() if k.startswith("features."))


def pretrained_head(
    state: dict[str, torch.Tensor], classes: int = CLASSES, hidden: int = HIDDEN
) -> SharedWidth:
    """VGG19's classifier as a head without TD (``mode="none"``).

    With ``classes < 1000`` it keeps the outputs of the first classes (the sorted-wnid order of
    a class subset); with ``hidden < 4096`` the first hidden units (quick runs and tests only:
    the unmodified head is ``hidden=4096``).
    """
    head = td_head(FEATURES, hidden, classes, mode="none")
    with torch.no_grad():
        for layer, i in zip(head_linears(head), HEAD_INDICES, strict=True):
            w, b = state[f"classifier.{i}.weight"], state[f"classifier.{i}.bias"]
            layer.weight.copy_(w[: layer.out_features, : layer.in_features])
            layer.bias.copy_(b[: layer.out_features])
    return head
