"""Class-conditional WaveGAN (Donahue et al. 2019): 1-D convolutions straight on the waveform.

For the ``waveform`` representation (``[B, 1, T]``), T = 16 · 4^k (16384: k = 5, 65536: k = 6).
G: latent (+ class embedding) → dense → [B, 16·d·2^?, 16] → k transposed 1-D convs (kernel 25,
stride 4) → tanh. D: k strided 1-D convs (kernel 25, stride 4) with LeakyReLU 0.2 and phase shuffle
(each layer's output shifted by a random −n…n samples, reflect-padded) so D cannot key on the
phase artefacts of transposed convolutions; a projection term adds the class. One stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import option
from .conv import Conv1d, leaky_relu


@dataclass
class WaveGANConfig:
    """Architecture of WaveGAN. Saved into every run's config.yaml."""

    z_dim: int = option(100, "latent size", at_least=1)
    embed_dim: int = option(
        32, "size of the class embedding fed to G beside the latent", at_least=1
    )
    model_size: int = option(
        16, "d of the paper (64 there); layer i has d * 2^i channels", at_least=1
    )
    kernel: int = option(25, "kernel length of the 1-D convolutions", at_least=1)
    phase_shuffle: int = option(
        2, "D shifts each layer's input by -n..n samples (0: off)", at_least=0
    )


def _layers(shape: tuple[int, ...]) -> int:
    if len(shape) != 2 or shape[0] != 1:
        raise ValueError(f"wavegan needs the 'waveform' representation [1, T], got shape {shape}")
    t = shape[1]
    k = round(math.log(t / 16, 4)) if t >= 64 else 0
    if k < 1 or 16 * 4**k != t:
        raise ValueError(f"wavegan needs T = 16 * 4^k samples (16384, 65536), got {t}")
    return k


def _channels(cfg: WaveGANConfig, k: int) -> list[int]:
    """Channels from the 16-sample input up to the last hidden layer: d·2^(k-1) … d."""
    return [cfg.model_size * 2 ** (k - 1 - i) for i in range(k)]


class WaveGANGenerator(nn.Module):
    """``(z [B, z_dim], c [B, n_classes]) → wave [B, 1, T]`` in [-1, 1]."""

    def __init__(self, cfg: WaveGANConfig, shape: tuple[int, ...], n_classes: int):
        super().__init__()
        self.cfg, self.shape, self.n_classes = cfg, tuple(shape), n_classes
        k = _layers(shape)
        self.stages = (str(shape[1]),)
        ch = _channels(cfg, k)
        self.embed = nn.Embedding(n_classes, cfg.embed_dim) if n_classes else None
        in_dim = cfg.z_dim + (cfg.embed_dim if n_classes else 0)
        self.input = nn.Linear(in_dim, 16 * ch[0])
        outs = [*ch[1:], 1]
        pad, out_pad = (cfg.kernel - 4 + 1) // 2, (cfg.kernel - 4) % 2
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(cin, cout, cfg.kernel, 4, padding=pad, output_padding=out_pad)
            for cin, cout in zip(ch, outs, strict=True)
        )

    def forward(self, z, c, stage=None, alpha=1.0) -> torch.Tensor:
        h = z if self.embed is None else torch.cat([z, c @ self.embed.weight], dim=1)
        x = F.relu(self.input(h).view(z.shape[0], -1, 16))
        for i, up in enumerate(self.ups):
            x = up(x)
            x = torch.tanh(x) if i == len(self.ups) - 1 else F.relu(x)
        return x

    def render(self, z, c, stage=None, alpha=1.0) -> torch.Tensor:
        """Same as ``forward`` (a single-stage model is always full size)."""
        return self(z, c, stage, alpha)


def phase_shuffle(x: torch.Tensor, n: int) -> torch.Tensor:
    """Shift each clip of ``x [B, C, T]`` by a random −n…n samples, reflect-padding the edge."""
    if n == 0:
        return x
    shifts = torch.randint(-n, n + 1, (x.shape[0],))
    padded = F.pad(x, (n, n), mode="reflect")
    b, c, t = x.shape
    # One gather, where stacking B slices cost a full-size zero tensor per clip in the backward.
    index = (n - shifts).view(b, 1, 1) + torch.arange(t).view(1, 1, t)  # [B, 1, T]
    return torch.gather(padded, 2, index.expand(b, c, t).to(x.device))


class WaveGANDiscriminator(nn.Module):
    """``(wave [B, 1, T], c [B, n_classes]) → logits [B]``."""

    def __init__(self, cfg: WaveGANConfig, shape: tuple[int, ...], n_classes: int):
        super().__init__()
        self.cfg, self.shape, self.n_classes = cfg, tuple(shape), n_classes
        k = _layers(shape)
        self.stages = (str(shape[1]),)
        ch = list(reversed(_channels(cfg, k)))  # d … d·2^(k-1)
        ins = [1, *ch[:-1]]
        pad = (cfg.kernel - 1) // 2 - 1
        self.downs = nn.ModuleList(
            Conv1d(cin, cout, cfg.kernel, 4, padding=pad + 1)  # fast double backward
            for cin, cout in zip(ins, ch, strict=True)
        )
        self.out = nn.Linear(16 * ch[-1], 1)
        self.project = nn.Linear(n_classes, 16 * ch[-1], bias=False) if n_classes else None

    def forward(self, wave, c, stage=None, alpha=1.0, clean=None) -> torch.Tensor:
        x = wave
        for i, down in enumerate(self.downs):
            x = leaky_relu(down(x), 0.2)
            if i < len(self.downs) - 1 and self.training:
                x = phase_shuffle(x, self.cfg.phase_shuffle)
        feat = x.flatten(1)
        logits = self.out(feat).squeeze(1)
        if self.project is not None:
            logits = logits + (self.project(c) * feat).sum(dim=1)
        return logits
