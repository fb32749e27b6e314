"""Class-conditional DCGAN (Radford et al. 2016) for representation images ``[C, H, W]`` (H and W
powers of two ≥ 8, any aspect ratio) — the original project's first model, with its failure modes
fixed.

Fixes over the textbook network: nearest-neighbour upsampling + 'same' convolution instead of
transposed convolutions (no checkerboard artefacts in spectrograms, Odena et al. 2016); no batch norm
in D, so R1 / gradient penalties are per-sample; the class enters G as an embedding beside the latent
and D as a projection term (Miyato & Koyama 2018), so mixed conditions are meaningful. G starts from
the image's aspect ratio with a shorter side of 4 (4x4, or 4x16 for 256x1024) and doubles both
sides; D mirrors it. One stage: ``stages == ("HxW",)``; ``stage`` and ``alpha`` are accepted and
ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import option
from .conv import Conv2d, leaky_relu


@dataclass
class DCGANConfig:
    """Architecture of the DCGAN. Saved into every run's config.yaml."""

    z_dim: int = option(128, "latent size", at_least=1)
    embed_dim: int = option(
        32, "size of the class embedding fed to G beside the latent", at_least=1
    )
    channels: int = option(
        256, "channels at the first size (shorter side 4), halved at every doubling", at_least=1
    )
    min_channels: int = option(16, "fewest channels of any layer", at_least=1)
    kernel: tuple[int, int] = option(
        (3, 3), "[frequency, time] kernel of every convolution", at_least=1
    )

    def channels_at(self, level: int) -> int:
        return max(self.min_channels, self.channels >> level)


def _levels(shape: tuple[int, ...]) -> tuple[int, tuple[int, int]]:
    """The number of x2 upsamplings from the first size to ``shape = (C, H, W)``, and that first
    size ``(h, w)``: the image's aspect ratio with a shorter side of 4."""
    h, w = shape[-2:]
    if len(shape) != 3 or min(h, w) < 8 or h & (h - 1) or w & (w - 1):
        raise ValueError(
            f"dcgan needs images [C, H, W] with H and W powers of two of at least 8, got {shape}"
        )
    levels = int(math.log2(min(h, w))) - 2
    return levels, (h >> levels, w >> levels)


def _conv(cin: int, cout: int, kernel: tuple[int, int], cls: type = nn.Conv2d) -> nn.Conv2d:
    return cls(cin, cout, kernel, padding="same")


class DCGANGenerator(nn.Module):
    """``(z [B, z_dim], c [B, n_classes]) → image [B, C, H, W]`` in [-1, 1] (tanh)."""

    def __init__(self, cfg: DCGANConfig, shape: tuple[int, int, int], n_classes: int):
        super().__init__()
        self.cfg, self.shape, self.n_classes = cfg, tuple(shape), n_classes
        levels, self.first = _levels(shape)
        self.stages = (f"{shape[1]}x{shape[2]}",)
        self.embed = nn.Embedding(n_classes, cfg.embed_dim) if n_classes else None
        in_dim = cfg.z_dim + (cfg.embed_dim if n_classes else 0)
        c0 = cfg.channels_at(0)
        self.input = nn.Linear(in_dim, c0 * self.first[0] * self.first[1])
        self.norm0 = nn.BatchNorm2d(c0)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2.0, mode="nearest"),
                _conv(cfg.channels_at(i), cfg.channels_at(i + 1), cfg.kernel),
                nn.BatchNorm2d(cfg.channels_at(i + 1)),
                nn.ReLU(),
            )
            for i in range(levels)
        )
        self.to_img = _conv(cfg.channels_at(levels), shape[0], cfg.kernel)

    def forward(
        self, z: torch.Tensor, c: torch.Tensor | None, stage: int | None = None, alpha: float = 1.0
    ) -> torch.Tensor:
        h = z
        if self.embed is not None:
            # c may mix classes: the embedding of a mix is the mix of embeddings.
            h = torch.cat([z, c @ self.embed.weight], dim=1)
        x = F.relu(self.norm0(self.input(h).view(z.shape[0], -1, *self.first)))
        for block in self.blocks:
            x = block(x)
        return torch.tanh(self.to_img(x))

    def render(self, z, c, stage=None, alpha=1.0) -> torch.Tensor:
        """Same as ``forward`` (a single-stage model is always full size)."""
        return self(z, c, stage, alpha)


class DCGANDiscriminator(nn.Module):
    """``(image [B, C, H, W], c [B, n_classes]) → logits [B]``; strided convs, LeakyReLU."""

    def __init__(self, cfg: DCGANConfig, shape: tuple[int, int, int], n_classes: int):
        super().__init__()
        self.cfg, self.shape, self.n_classes = cfg, tuple(shape), n_classes
        levels, first = _levels(shape)
        self.stages = (f"{shape[1]}x{shape[2]}",)
        # D's convolutions are differentiated twice by the penalties: conv.Conv2d does that fast.
        self.from_img = _conv(shape[0], cfg.channels_at(levels), cfg.kernel, Conv2d)
        self.blocks = nn.ModuleList(
            Conv2d(cfg.channels_at(i + 1), cfg.channels_at(i), 4, stride=2, padding=1)
            for i in reversed(range(levels))
        )
        c0 = cfg.channels_at(0)
        self.final = nn.Linear(c0 * first[0] * first[1], c0)
        self.out = nn.Linear(c0, 1)
        self.project = nn.Linear(n_classes, c0, bias=False) if n_classes else None

    def forward(self, img, c, stage=None, alpha=1.0, clean=None) -> torch.Tensor:
        x = leaky_relu(self.from_img(img), 0.2)
        for block in self.blocks:
            x = leaky_relu(block(x), 0.2)
        feat = leaky_relu(self.final(x.flatten(1)), 0.2)  # [B, c0]
        logits = self.out(feat).squeeze(1)
        if self.project is not None:
            logits = logits + (self.project(c) * feat).sum(dim=1)
        return logits
