"""Differentiable augmentation of what the discriminator sees, with adaptive strength (small data).

In the spirit of DiffAugment (Zhao et al. 2020) and StyleGAN2-ADA (Karras et al. 2020), adapted to
audio representation images ``[B, C, H, W]`` (H = frequency, W = time): the same random transforms
are applied to real and generated images before D (and in G's update, so gradients flow through
them), which keeps D from memorising a small training set without leaking the transforms into
what G learns. Each transform is applied to each image with probability ``p``:

- time shift: up to ±W/8 columns, edge columns repeated (a gesture starting a little earlier/later);
- pitch shift: up to ±H/32 rows, edge rows repeated (a small transposition in the spectral domain);
- gain: channel 0 (the magnitude / level channel of every image representation) offset by up to
  ±0.1 (±5 dB for ``logmel_gl``'s 100 dB range);
- frequency mask and time mask: one band of up to H/8 rows or W/8 columns set to the image's
  minimum (SpecAugment).

1-D representations (``[B, 1, T]``) get time shift and gain only. ``p`` is adapted by
``AdaController`` from the sign of D's outputs on real images (``r_t = E[sign D(real)]``): when D is
sure of every real image it is memorising them, so ``p`` rises; otherwise it falls.
"""

from __future__ import annotations

import torch

AUGMENT_MODES = ("off", "ada", "fixed")
"""``Augmentation``'s modes: none, adaptive strength, or a constant one."""


def augment(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Randomly transformed copy of ``x`` ``[B, C, H, W]`` (or ``[B, C, T]``); identity at p = 0."""
    if p <= 0:
        return x
    b = x.shape[0]

    def chosen() -> torch.Tensor:  # [B] bool: which images get this transform
        return torch.rand(b, generator=generator, device=generator.device) < p

    if x.ndim == 3:
        x = _shift(x, -1, chosen(), x.shape[-1] // 8, generator)
        return _gain(x, chosen(), generator)
    h, w = x.shape[-2:]
    x = _shift(x, -1, chosen(), w // 8, generator)
    x = _shift(x, -2, chosen(), max(1, h // 32), generator)
    x = _gain(x, chosen(), generator)
    x = _mask(x, -2, chosen(), h // 8, generator)
    return _mask(x, -1, chosen(), w // 8, generator)


def _shift(
    x: torch.Tensor, dim: int, which: torch.Tensor, max_shift: int, gen: torch.Generator
) -> torch.Tensor:
    """Shift the chosen images along ``dim`` by a random −max…max, repeating the edge."""
    if max_shift < 1:
        return x
    n = x.shape[dim]
    draw = torch.randint(-max_shift, max_shift + 1, (x.shape[0],), generator=gen, device=gen.device)
    shift = draw * which
    index = (torch.arange(n, device=shift.device)[None] - shift[:, None]).clamp(0, n - 1)  # [B, n]
    shape = [x.shape[0]] + [1] * (x.ndim - 1)
    shape[dim] = n
    index = index.view(shape).expand_as(x).to(x.device)
    return torch.gather(x, dim, index)


def _gain(x: torch.Tensor, which: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Offset channel 0 of the chosen images by a random −0.1…0.1."""
    offset = (torch.rand(x.shape[0], generator=gen, device=gen.device) * 0.2 - 0.1) * which
    channel = torch.zeros(x.shape[1], device=offset.device)
    channel[0] = 1.0
    shape = (x.shape[0], x.shape[1]) + (1,) * (x.ndim - 2)
    return x + (offset[:, None] * channel[None]).view(shape).to(x)


def _mask(
    x: torch.Tensor, dim: int, which: torch.Tensor, max_width: int, gen: torch.Generator
) -> torch.Tensor:
    """Set one random band of up to ``max_width`` along ``dim`` to each chosen image's minimum."""
    if max_width < 1:
        return x
    n, b = x.shape[dim], x.shape[0]
    width = torch.randint(1, max_width + 1, (b,), generator=gen, device=gen.device) * which
    start = (torch.rand(b, generator=gen, device=gen.device) * (n - width + 1)).long()
    pos = torch.arange(n, device=width.device)[None]
    band = (pos >= start[:, None]) & (pos < (start + width)[:, None])  # [B, n]
    shape = [b] + [1] * (x.ndim - 1)
    shape[dim] = n
    band = band.view(shape).to(x.device)
    floor = x.detach().flatten(1).min(dim=1).values.view([b] + [1] * (x.ndim - 1))
    return torch.where(band, floor, x)


class AdaController:
    """Adjusts the augmentation probability ``p`` from D's overfitting signal (StyleGAN2-ADA).

    Every call to ``update`` adds the batch's ``sign(D(real))``; every ``interval`` steps
    ``r_t = mean sign`` is compared with ``target``: above it ``p`` grows, below it shrinks, by
    ``images seen / (speed_kimg · 1000)`` — so p can go from 0 to 1 in ``speed_kimg`` thousand images.
    """

    def __init__(
        self, p: float = 0.0, target: float = 0.6, interval: int = 4, speed_kimg: float = 20.0
    ):
        self.p, self.target, self.interval, self.speed_kimg = p, target, interval, speed_kimg
        self.r_t = float("nan")
        self._sum, self._n, self._steps = 0.0, 0, 0

    def update(self, logits_real: torch.Tensor) -> None:
        # The sum stays on the device between adjustments: reading it waits for the device,
        # which happens once per ``interval`` steps (as in StyleGAN2-ADA), not every step. It is
        # a sum of ±1 and 0, exact in float32 far beyond any interval's count.
        self._sum = self._sum + torch.sign(logits_real.detach()).sum()
        self._n += logits_real.numel()
        self._steps += 1
        if self._steps % self.interval:
            return
        self.r_t = float(self._sum) / max(self._n, 1)
        step = self._n / (self.speed_kimg * 1000)
        self.p = min(1.0, max(0.0, self.p + (step if self.r_t > self.target else -step)))
        self._sum, self._n = 0.0, 0

    def state_dict(self) -> dict[str, float]:
        state = {"p": self.p, "r_t": self.r_t, "sum": float(self._sum), "n": self._n}
        return {**state, "steps": self._steps}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.p, self.r_t = state["p"], state["r_t"]
        self._sum, self._n, self._steps = state["sum"], int(state["n"]), int(state["steps"])


class Augmentation:
    """What the training step asks of augmentation: the strength ``p`` of this step, the
    transform itself, and D's outputs on real images to adapt ``p`` from (mode ``ada``).

    ``mode``: ``off`` (p = 0), ``fixed`` (p stays ``p``) or ``ada`` (``AdaController``)."""

    def __init__(self, mode: str, p: float, target: float, speed_kimg: float):
        self.mode = mode
        self.ada = AdaController(p, target, 4, speed_kimg)

    @property
    def p(self) -> float:
        return self.ada.p if self.mode != "off" else 0.0

    @property
    def r_t(self) -> float:
        """D's overfitting signal ``E[sign D(real)]`` (NaN until ``ada`` has measured it)."""
        return self.ada.r_t

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``x`` randomly transformed at the current strength (see ``augment``)."""
        return augment(x, self.p, generator)

    def observe(self, logits_real: torch.Tensor) -> None:
        """D's logits ``[B]`` on this step's real images."""
        if self.mode == "ada":
            self.ada.update(logits_real)

    def state_dict(self) -> dict[str, float]:
        return self.ada.state_dict()

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.ada.load_state_dict(state)
