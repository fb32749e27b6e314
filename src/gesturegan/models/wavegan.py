"""Class-conditional WaveGAN (Donahue et al. 2019): 1-D convolutions straight on the waveform.

For the ``waveform`` representation (``[B, 1, T]``), T a power of two ≥ 64: 16384 and 65536 as in
the paper, 131072 and 262144 for long clips. G: latent (+ class embedding) → dense → [B, ch, 16]
→ transposed 1-D convs (kernel 25) of stride 4, one for every factor of 4 in T / 16, and one of
stride 2 last where a factor of 2 is left (as the paper's code does for 32768), → tanh: 16384 has 5
layers, 65536 6, 131072 6 + 1 of stride 2, 262144 7. Layer i has d · 2^(n-1-i) channels, at most 32 d (the
paper's widest). D mirrors G: strided 1-D convs (the stride-2 one first) with LeakyReLU 0.2 and
phase shuffle (each layer's output shifted by a random −n…n samples, reflect-padded) so D cannot key
on the phase artefacts of transposed convolutions; a projection term adds the class. One stage.
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


def _strides(shape: tuple[int, ...]) -> list[int]:
    """The upsampling factor of each of G's layers, from the 16-sample input up to ``T``: 4 as
    often as it goes into ``T / 16``, then 2 where a factor of 2 is left."""
    if len(shape) != 2 or shape[0] != 1:
        raise ValueError(f"wavegan needs the 'waveform' representation [1, T], got shape {shape}")
    t = shape[1]
    if t < 64 or t & (t - 1):
        raise ValueError(
            f"wavegan needs T a power of two of at least 64 (16384, 65536, 131072, 262144), got {t}"
        )
    doublings = int(math.log2(t // 16))
    return [4] * (doublings // 2) + [2] * (doublings % 2)


def _channels(cfg: WaveGANConfig, n: int) -> list[int]:
    """Channels from the 16-sample input up to the last hidden layer of ``n`` layers:
    d·2^(n-1) … d, at most 32·d (the paper's widest, at 65536 samples)."""
    return [cfg.model_size * 2 ** min(n - 1 - i, 5) for i in range(n)]


class WaveGANGenerator(nn.Module):
    """``(z [B, z_dim], c [B, n_classes]) → wave [B, 1, T]`` in [-1, 1]."""

    def __init__(self, cfg: WaveGANConfig, shape: tuple[int, ...], n_classes: int):
        super().__init__()
        self.cfg, self.shape, self.n_classes = cfg, tuple(shape), n_classes
        strides = _strides(shape)
        self.stages = (str(shape[1]),)
        ch = _channels(cfg, len(strides))
        self.embed = nn.Embedding(n_classes, cfg.embed_dim) if n_classes else None
        in_dim = cfg.z_dim + (cfg.embed_dim if n_classes else 0)
        self.input = nn.Linear(in_dim, 16 * ch[0])
        outs = [*ch[1:], 1]
        self.ups = nn.ModuleList(
            # Padding and output padding that make each layer's output exactly ``stride`` times
            # its input (kernel - stride = 2·pad - out_pad).
            nn.ConvTranspose1d(
                cin, cout, cfg.kernel, s, padding=(cfg.kernel - s + 1) // 2,
                output_padding=(cfg.kernel - s) % 2,
            )
            for cin, cout, s in zip(ch, outs, strides, strict=True)
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
        strides = list(reversed(_strides(shape)))
        self.stages = (str(shape[1]),)
        ch = list(reversed(_channels(cfg, len(strides))))  # d … at most 32·d
        ins = [1, *ch[:-1]]
        self.downs = nn.ModuleList(
            Conv1d(cin, cout, cfg.kernel, s, padding=(cfg.kernel - 1) // 2)  # fast double backward
            for cin, cout, s in zip(ins, ch, strides, strict=True)
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
