"""torchvision's VGG19 (random weights) converted to Triangular Dropout and cut.

The classifier's two Dropout layers become TD layers sharing each sample's width (same module
indices, so pretrained classifier weights load as they are). After the head is fine-tuned (here
one step on random features), the whole network is cut: the head to 512 of 4096 hidden units.
Needs torchvision, which the core package does not install (`pip install torchvision`).
"""

import torch
import torchvision
from torch import nn

from tridrop import add_triangular_dropout, narrow, set_width


def main() -> None:
    torch.manual_seed(0)
    vgg = torchvision.models.vgg19(weights=None)
    vgg.classifier = add_triangular_dropout(vgg.classifier, ["2", "5"])
    head = vgg.classifier
    opt = torch.optim.SGD(head.parameters(), lr=1e-3)
    features, labels = torch.randn(8, 25088), torch.randint(0, 1000, (8,))
    loss = nn.functional.cross_entropy(head(features), labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
    vgg.eval()
    set_width(vgg, 512)
    small = narrow(vgg, 512)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        diff = (small(x) - vgg(x)).abs().max().item()
    params = [sum(p.numel() for p in m.parameters()) / 1e6 for m in (vgg, small)]
    print(f"VGG19 {params[0]:.1f}M -> {params[1]:.1f}M parameters, max |diff| = {diff:.1e}")
    assert diff < 1e-4


if __name__ == "__main__":
    main()
