"""A small transformer whose MLP blocks carry Triangular Dropout, narrowed exactly.

TD on (batch, tokens, features) masks the last dim: each sample keeps a prefix of every MLP's
hidden units, the blocks sharing the sample's width fraction. ``narrow`` then cuts fc1's rows
and fc2's columns in each block; attention, LayerNorm and the residual adds are untouched.
"""

import torch
from torch import nn

from tridrop import TriangularDropout, narrow, set_width


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.fc1, self.act = nn.Linear(dim, hidden), nn.GELU()
        self.td = TriangularDropout(hidden, "random")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.fc2(self.td(self.act(self.fc1(self.ln2(x)))))


class Transformer(nn.Module):
    def __init__(self, vocab: int = 50, dim: int = 32, depth: int = 2, hidden: int = 128) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.Sequential(*(Block(dim, 4, hidden) for _ in range(depth)))
        self.ln, self.out = nn.LayerNorm(dim), nn.Linear(dim, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.ln(self.blocks(self.embed(tokens))))


def main() -> None:
    torch.manual_seed(0)
    model = Transformer()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(5):
        tokens = torch.randint(0, 50, (16, 12))
        logits = model(tokens[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 50), tokens[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    tokens = torch.randint(0, 50, (4, 12))
    for width in (16, 64):
        set_width(model, width)
        small = narrow(model, width)
        diff = (small(tokens) - model(tokens)).abs().max().item()
        print(f"MLP width {width} of 128: max |narrowed - masked| = {diff:.1e}")
        assert diff < 1e-5


if __name__ == "__main__":
    main()
