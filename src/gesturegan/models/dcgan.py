"""Class-conditional DCGAN (Radford et al. 2016) for square representation images — the original
project's first model, with its failure modes fixed.

Fixes over the textbook network: nearest-neighbour upsampling + 'same' convolution instead of
transposed convolutions (no checkerboard artefacts in spectrograms, Odena et al. 2016); no batch norm
in D, so R1 / gradient penalties are per-sample; the class enters G as an embedding beside the latent
and D as a projection term (Miyato & Koyama 2018), so mixed conditions are meaningful. One stage:
``stages == ("HxW",)``; ``stage`` and ``alpha`` are accepted and ignored.
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
        256, "channels at 4x4, halved at every doubling of resolution", at_least=1
    )
    min_channels: int = option(16, "fewest channels of any layer", at_least=1)
    kernel: tuple[int, int] = option(
        (3, 3), "[frequency, time] kernel of every convolution", at_least=1
    )

    def channels_at(self, level: int) -> int:
        return max(self.min_channels, self.channels >> level)


def _levels(shape: tuple[int, int, int]) -> int:
    _, h, w = shape
    if h != w or h < 8 or h & (h - 1):
        raise ValueError(f"dcgan needs square power-of-two images of at least 8x8, got {h}x{w}")
    return int(math.log2(h)) - 2


def _conv(cin: int, cout: int, kernel: tuple[int, int], cls: type = nn.Conv2d) -> nn.Conv2d:
    return cls(cin, cout, kernel, padding="same")


class DCGANGenerator(nn.Module):
    """``(z [B, z_dim], c [B, n_classes]) → image [B, C, H, W]`` in [-1, 1] (tanh)."""

    def __init__(self, cfg: DCGANConfig, shape: tuple[int, int, int], n_classes: int):
        super().__init__()
        self.cfg, self.shape, self.n_classes = cfg, tuple(shape), n_classes
        levels = _levels(shape)
        self.stages = (f"{shape[1]}x{shape[2]}",)
        self.embed = nn.Embedding(n_classes, cfg.embed_dim) if n_classes else None
        in_dim = cfg.z_dim + (cfg.embed_dim if n_classes else 0)
        c0 = cfg.channels_at(0)
        self.input = nn.Linear(in_dim, c0 * 16)
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
        x = F.relu(self.norm0(self.input(h).view(z.shape[0], -1, 4, 4)))
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
        levels = _levels(shape)
        self.stages = (f"{shape[1]}x{shape[2]}",)
        # D's convolutions are differentiated twice by the penalties: conv.Conv2d does that fast.
        self.from_img = _conv(shape[0], cfg.channels_at(levels), cfg.kernel, Conv2d)
        self.blocks = nn.ModuleList(
            Conv2d(cfg.channels_at(i + 1), cfg.channels_at(i), 4, stride=2, padding=1)
            for i in reversed(range(levels))
        )
        c0 = cfg.channels_at(0)
        self.final = nn.Linear(c0 * 16, c0)
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
