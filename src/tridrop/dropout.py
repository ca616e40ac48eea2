"""Triangular Dropout and its relatives as prefix masks over a layer's units.

Each sample i of a batch keeps the prefix ``[0, w_i)`` of a layer's units. In "triangle" mode
``w_i = ceil((i+1) W / B)``, so the stacked masks form a lower-triangular matrix. Several layers
share each sample's width *fraction* ``f_i``: a layer of width W keeps ``ceil(f_i W)`` units.
After training, :func:`tridrop.extract.narrow` cuts the network to a smaller dense one with
equal outputs.

Fractions become units by ``ceil(f W)`` (computed in float64, clipped to [1, W]); the authors'
``vsnn`` rounds instead (``round(f W)``, half to even): pass ``max(1, round(f * W))`` as an int
width to reproduce its widths.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real

import torch
from torch import nn
from torch.nn.modules.module import register_module_module_registration_hook

from tridrop.modes import MODES

# Modes whose training masks are prefixes drawn per sample (the others keep every unit).
PREFIX_MODES = ("triangle", "random", "nested", "loguniform")
RANDOM_MODES = ("random", "nested", "loguniform")  # drawn, not set by batch position
_EPS = 1e-9  # absorbs float error in ceil(f * W) when f * W is an integer


def sample_fractions(
    batch: int,
    mode: str = "triangle",
    *,
    width: int | None = None,
    p: float = 0.1,
    full: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Per-sample width fractions in (0, 1], float64, shape ``(batch,)``.

    "triangle": ``(i+1)/B``; "random": uniform and stratified (one draw in each ``1/B`` of
    (0, 1], shuffled), so ``ceil(f W)`` is uniform on ``1..W`` and near-balanced in each batch;
    "nested": cut point ``k ~ Geometric(p)`` on ``1..width`` (truncated), ``f = k/width``;
    "loguniform": ``k = floor((W+1)^u)``, u uniform, so ``P(k) = log((k+1)/k) / log(W+1)``
    (more samples at small widths), ``f = k/width``; "none" and "dropout": all ones.
    ``full``: the last ``round(full * B)`` samples keep full width (vsnn's mix of unmasked
    samples, as an exact share); the others follow ``mode`` as a batch of their own.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
    if not 0.0 <= full <= 1.0:
        raise ValueError(f"full must be in [0, 1], got {full}")
    kw = {"dtype": torch.float64, "device": device}
    n_full = round(full * batch) if mode in PREFIX_MODES else 0
    if n_full:
        rest = batch - n_full
        if rest == 0:
            return torch.ones(batch, **kw)
        head = sample_fractions(rest, mode, width=width, p=p, generator=generator, device=device)
        return torch.cat([head, torch.ones(n_full, **kw)])
    if mode == "triangle":
        return torch.arange(1, batch + 1, **kw) / batch
    if mode == "random":
        # Stratified (as vsnn's draw without replacement): one fraction in each of the B equal
        # strata of (0, 1], shuffled, so a batch holds each width of any layer B/W times (+-1).
        strata = torch.randperm(batch, generator=generator, device=device).to(torch.float64)
        return 1.0 - (strata + torch.rand(batch, generator=generator, **kw)) / batch
    if mode == "nested":
        if width is None:
            raise ValueError("nested mode needs the reference width for its cut point")
        if not 0.0 < p <= 1.0:
            raise ValueError(f"nested p must be in (0, 1], got {p}")
        u = torch.rand(batch, generator=generator, **kw)
        # Inverse CDF of Geometric(p) on {1, 2, ...}; the tail beyond `width` keeps everything.
        k = torch.ceil(torch.log1p(-u) / math.log1p(-p)) if p < 1.0 else torch.ones_like(u)
        return k.clamp(1, width) / width
    if mode == "loguniform":
        if width is None:
            raise ValueError("loguniform mode needs the reference width")
        u = torch.rand(batch, generator=generator, **kw)
        k = torch.floor(torch.exp(u * math.log(width + 1)))  # exp(u log(W+1)) < W+1 as u < 1
        return k.clamp(1, width) / width
    return torch.ones(batch, **kw)


def widths_from_fractions(fractions: torch.Tensor, width: int) -> torch.Tensor:
    """Units kept per sample by a layer of ``width`` units: ``ceil(f W)`` clipped to [1, W]."""
    return torch.ceil(fractions.double() * width - _EPS).clamp(1, width).long()


def prefix_mask(
    widths: torch.Tensor, width: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """0/1 mask of shape ``(len(widths), width)`` whose row i keeps units ``[0, widths[i])``."""
    units = torch.arange(width, device=widths.device)
    return (units.unsqueeze(0) < widths.unsqueeze(1)).to(dtype)


def triangle_widths(width: int, batch: int) -> set[int]:
    """The widths the triangle mask trains on a batch of ``batch`` samples and a layer of
    ``width`` units: sample i keeps ``ceil((i+1) W / B)`` units, so with B < W only those
    (the multiples of W/B when B divides W); every width when B >= W. The last, smaller batch
    of an epoch (N mod B samples) draws a few others once per epoch: not counted."""
    if batch <= 0 or batch >= width:
        return set(range(1, width + 1))
    return {-(-(i + 1) * width // batch) for i in range(batch)}


def triangular_mask(
    batch: int,
    width: int,
    mode: str = "triangle",
    *,
    p: float = 0.1,
    full: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The training mask of one layer for a batch, shape ``(batch, width)``.

    "triangle" gives row i the prefix ``ceil((i+1) width / batch)`` (computed in integers);
    "random" and "nested" draw prefixes; "dropout" is plain inverted dropout, as in the layer:
    each unit is kept with probability 1-p and *rescaled* by 1/(1-p) (the same random numbers as
    ``nn.functional.dropout`` on a CPU); "none" keeps everything. Prefix masks never rescale.
    ``full``: the share of the batch kept at full width (see :func:`sample_fractions`).
    """
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    if mode == "triangle" and not full:
        i = torch.arange(batch, device=device)
        return prefix_mask((i + 1) * width // batch + ((i + 1) * width % batch > 0), width)
    if mode == "dropout":
        if p >= 1.0:
            return torch.zeros(batch, width, device=device)
        keep = torch.empty(batch, width, device=device).bernoulli_(1.0 - p, generator=generator)
        return keep.div_(1.0 - p)
    f = sample_fractions(
        batch, mode, width=width, p=p, full=full, generator=generator, device=device
    )
    return prefix_mask(widths_from_fractions(f, width), width)


class TriangularDropout(nn.Module):
    """Multiply a layer's output by a prefix mask over its units, with no rescaling.

    The units lie on ``dim``; by default dim 1 (channels of (B, C, ...) conv maps and of (B, C)
    inputs) or, for 3-D (B, T, C) token tensors, the last dim (pass ``dim=1`` for (B, C, L) maps).
    In training each sample keeps a prefix drawn by ``mode``, or given through ``fraction``
    (:class:`SharedWidth` passes one fraction per sample to all its TD layers). Outside
    ``SharedWidth``, randomly drawn modes share one draw per forward pass when ``share``
    (the default) among the TD layers of one model (one module tree; separate models draw
    independently): the first layer draws, the others reuse it until the first runs again. In
    eval mode the layer keeps the first ``eval_width`` units (an int, or a fraction of
    ``width``); the default is full width, the identity. Mode "dropout" is plain inverted
    dropout with rate ``p`` (rescaled by 1/(1-p), as ``triangular_mask(mode="dropout")``).
    ``full`` is the share of each training batch kept at full width (prefix modes only).
    """

    def __init__(
        self,
        width: int,
        mode: str = "triangle",
        p: float = 0.1,
        *,
        dim: int | None = None,
        share: bool = True,
        full: float = 0.0,
    ) -> None:
        super().__init__()
        # Checked here, not at the first forward: a float width used to fail only there.
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
        if not _is_int(width):
            raise TypeError(f"width must be a whole number of units, got {width!r}")
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        if not _is_real(p) or not 0.0 <= p <= 1.0 or (mode == "nested" and p == 0.0):
            bounds = "(0, 1]" if mode == "nested" else "[0, 1]"
            raise ValueError(f"p must be a number in {bounds}, got {p!r}")
        if dim is not None and not _is_int(dim):
            raise TypeError(f"dim must be an int or None, got {dim!r}")
        if dim == 0:
            raise ValueError("dim 0 is the batch; the units must lie on another dim")
        if not _is_real(full) or not 0.0 <= full <= 1.0:
            raise ValueError(f"full must be a number in [0, 1], got {full!r}")
        width, dim = int(width), None if dim is None else int(dim)
        self.width, self.mode, self.p, self.dim, self.share = width, mode, p, dim, share
        self.full = full
        # The draw this layer shares with the other TD layers of its model (see _join_draws).
        self._width_draw = _WidthDraw()
        self.eval_width: int | float | None = None
        # Kept units in eval mode as a tensor, so that a new width needs no recompilation.
        self._masked = False
        self.register_buffer("_kept", torch.tensor(width), persistent=False)

    def extra_repr(self) -> str:
        dim = "" if self.dim is None else f", dim={self.dim}"
        full = f", full={self.full}" if self.full else ""
        return f"width={self.width}, mode={self.mode!r}, p={self.p}{dim}{full}"

    def set_width(self, width: int | float | None) -> None:
        """Choose the evaluation width: units (int), a fraction in (0, 1] (float) or None (full)."""
        kept = self.kept_units(width)  # validates
        self.eval_width = width
        self._masked = kept < self.width
        self._kept.fill_(kept)

    def kept_units(self, width: int | float | None = None) -> int:
        """Resolve an evaluation width (int, fraction or None) to a number of units."""
        if width is None:
            return self.width
        if isinstance(width, bool) or not isinstance(width, int | float):
            raise TypeError(f"width must be an int, a float fraction or None, got {width!r}")
        if isinstance(width, float):
            if not 0.0 < width <= 1.0:
                raise ValueError(f"a width fraction must be in (0, 1], got {width}")
            # float64, as in training: in float32 e.g. 0.3 * 10 rounds up to 3.0000001 -> 4.
            fraction = torch.tensor([width], dtype=torch.float64)
            return int(widths_from_fractions(fraction, self.width))
        if not 1 <= width <= self.width:
            raise ValueError(f"width must be in [1, {self.width}], got {width}")
        return width

    def unit_dim(self, x: torch.Tensor) -> int:
        """The (non-negative) dim of ``x`` that holds the units."""
        dim = (2 if x.dim() == 3 else 1) if self.dim is None else self.dim
        dim = dim + x.dim() if dim < 0 else dim
        if not 1 <= dim < x.dim():
            raise ValueError(f"dim {self.dim} is not a feature dim of shape {tuple(x.shape)}")
        return dim

    def forward(self, x: torch.Tensor, fraction: torch.Tensor | None = None) -> torch.Tensor:
        dim = self.unit_dim(x)
        if x.shape[dim] != self.width:
            raise ValueError(
                f"expected {self.width} units on dim {dim}, got shape {tuple(x.shape)}"
            )
        if self.training and self.mode != "none":
            if self.mode == "dropout":
                return nn.functional.dropout(x, self.p, training=True)
            if fraction is None and self.share and self.mode in RANDOM_MODES:
                fraction = _shared_fractions(self, x.shape[0], x.device)
            if fraction is None:
                mask = triangular_mask(
                    x.shape[0], self.width, self.mode, p=self.p, full=self.full, device=x.device
                )
            else:
                mask = prefix_mask(widths_from_fractions(fraction, self.width), self.width)
            return x * _expand(mask.to(device=x.device, dtype=x.dtype), x, dim)
        if self.training or not self._masked:
            return x
        mask = torch.arange(self.width, device=x.device) < self._kept.to(x.device)
        return x * _expand(mask.to(x.dtype).unsqueeze(0), x, dim)


def _expand(mask: torch.Tensor, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Broadcast a (B or 1, W) mask over x with the W units on ``dim``."""
    shape = [1] * x.dim()
    shape[0], shape[dim] = mask.shape
    return mask.reshape(shape)


def _is_int(x: object) -> bool:
    return isinstance(x, Integral) and not isinstance(x, bool)


def _is_real(x: object) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


class _WidthDraw:
    """The latest draw shared by one model's TD layers, and the layer that drew it."""

    def __init__(self) -> None:
        self.owner: TriangularDropout | None = None
        self.fraction: torch.Tensor | None = None


def _shared_fractions(td: TriangularDropout, batch: int, device: torch.device) -> torch.Tensor:
    """One draw per forward pass for all sharing layers of a model (as vsnn's shared mask maker).

    The layer that drew last draws again when it runs again (the next step), so a single layer
    draws exactly what it drew on its own; the others reuse the draw of a matching batch.
    """
    draw = td._width_draw
    owner, f = draw.owner, draw.fraction
    if (
        owner is None
        or owner is td
        or f is None
        or f.shape[0] != batch
        or f.device != device
        or (owner.mode, owner.p, owner.full) != (td.mode, td.p, td.full)
    ):
        f = sample_fractions(batch, td.mode, width=td.width, p=td.p, full=td.full, device=device)
        draw.owner, draw.fraction = td, f
    return f


def _draw_of(module: object) -> _WidthDraw | None:
    """The draw of a TD layer, or of a module holding TD layers (None for other modules)."""
    return vars(module).get("_width_draw") if isinstance(module, nn.Module) else None


def _share_draw(modules: Iterable[nn.Module], draw: _WidthDraw | None = None) -> None:
    """One draw for the TD layers and TD holders among ``modules``: the first one's or ``draw``."""
    held = [m for m in modules if _draw_of(m) is not None]
    draw = draw or (_draw_of(held[0]) if held else None)
    for m in held:
        vars(m)["_width_draw"] = draw


def _join_draws(parent: nn.Module, name: str, child: object) -> None:
    """Module registration hook: the TD layers of one module tree share one draw.

    Each TD layer starts with a draw of its own; a module that holds TD layers carries their
    draw, and registering it in another module moves the new tree's layers to the draw already
    there. So one model's layers share each sample's width and separate models draw
    independently (one process-global draw gave two models the same widths). A limit: TD
    layers put into a submodule after its parent already held others keep a draw apart
    (:func:`~tridrop.convert.add_triangular_dropout` shares them explicitly).
    """
    draw = _draw_of(child)
    if draw is None:
        return
    into = _draw_of(parent)
    if into is None:  # TD layers may have been put below parent after it was registered
        into = next((d for m in parent.modules() if (d := _draw_of(m)) is not None), draw)
        vars(parent)["_width_draw"] = into
    if into is not draw:
        _share_draw(child.modules(), into)


_JOIN_HOOK = register_module_module_registration_hook(_join_draws)


class SharedWidth(nn.Sequential):
    """A Sequential whose Triangular Dropout layers share each sample's width fraction.

    In training one fraction per sample is drawn (from the first TD layer's mode) and passed to
    every TD layer, so each sample trains one coherent narrower network.
    """

    def td_layers(self) -> list[TriangularDropout]:
        return [m for m in self if isinstance(m, TriangularDropout)]

    def set_width(self, width: int | float | None) -> None:
        """Set the evaluation width of every TD layer (int units or a shared fraction)."""
        for td in self.td_layers():
            td.set_width(width)

    _shard: tuple[int, int, int] | None = None

    def set_batch_shard(self, rank: int, world: int, batch: int | None) -> None:
        """Declare this process's share of a data-parallel batch of ``batch`` samples.

        The process holds samples ``rank, rank + world, ...`` of the whole batch; in "triangle"
        mode they keep the fractions of those positions, so several processes together train
        exactly the single-process triangle. ``batch=None`` goes back to a whole local batch.
        """
        self._shard = None if batch is None else (rank, world, batch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tds = self.td_layers()
        fraction = None
        if self.training and tds and tds[0].mode in PREFIX_MODES:
            first = tds[0]
            if first.mode == "triangle" and self._shard is not None:
                rank, world, batch = self._shard
                whole = sample_fractions(batch, "triangle", full=first.full, device=x.device)
                fraction = whole[rank::world][: x.shape[0]]
            else:
                fraction = sample_fractions(
                    x.shape[0],
                    first.mode,
                    width=first.width,
                    p=first.p,
                    full=first.full,
                    device=x.device,
                )
        for module in self:
            x = module(x, fraction) if isinstance(module, TriangularDropout) else module(x)
        return x
