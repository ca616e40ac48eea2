"""A small ResNet-style convnet with Triangular Dropout on conv channels, narrowed exactly.

Each residual block carries TD on its inner channels (conv1-BN-ReLU-TD-conv2), and the last
feature map carries TD before pooling, flatten and the classifier. After a few training steps
on random data, ``narrow`` cuts every TD layer to half width and the dense model's output
equals the masked model's.
"""

import torch
from torch import nn

from tridrop import TriangularDropout, narrow, set_width


class Block(nn.Module):
    def __init__(self, channels: int, inner: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, inner, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.td = TriangularDropout(inner, "random")  # masks channels (dim 1) of the 4-D map
        self.conv2 = nn.Conv2d(inner, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.td(torch.relu(self.bn1(self.conv1(x))))
        return torch.relu(x + self.bn2(self.conv2(h)))


class ResNet(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(Block(16, 32), Block(16, 32))
        self.head_conv, self.head_bn = nn.Conv2d(16, 64, 3, padding=1), nn.BatchNorm2d(64)
        self.td = TriangularDropout(64, "random")
        self.pool, self.fc = nn.AdaptiveAvgPool2d(2), nn.Linear(64 * 4, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        x = self.td(torch.relu(self.head_bn(self.head_conv(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def main() -> None:
    torch.manual_seed(0)
    model = ResNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(5):  # the TD layers share each sample's width fraction
        x, y = torch.randn(32, 3, 16, 16), torch.randint(0, 10, (32,))
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x = torch.randn(8, 3, 16, 16)
    set_width(model, 0.5)
    small = narrow(model, 0.5)
    diff = (small(x) - model(x)).abs().max().item()
    params = [sum(p.numel() for p in m.parameters()) for m in (model, small)]
    print(
        f"half width: {params[1]} of {params[0]} parameters, max |narrowed - masked| = {diff:.1e}"
    )
    assert diff < 1e-5


if __name__ == "__main__":
    main()
