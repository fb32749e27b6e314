"""Randomly initialised, fixed-seed convolutional networks on log-mel: an embedding with no training.

Random conv nets already order audio quality usefully (their features respond to local
time-frequency structure: bandwidth, noise, smearing, distortion), and no data of ours chose their
weights. Each seed gives one network; the judge computes every figure per network and averages.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

CHANNELS = (16, 32, 64, 128)
"""Output channels of the four conv blocks; the embedding is mean and std of each block's maps."""

DB_CENTRE, DB_SCALE = -50.0, 25.0
"""Fixed affine map of log-mel dB to the nets' input: ``(dB - centre) / scale``."""

MIN_FRAMES = 2 ** len(CHANNELS)
"""Shorter log-mels are padded with silence: each block halves time and frequency."""


class RandomConvNet(nn.Module):
    """Four blocks of conv 3×3 + ReLU + 2×2 max-pool, weights drawn once from ``seed``.

    ``forward(x: [B, 1, n_mels, frames]) -> [B, 2 * sum(CHANNELS)]``: per block, the mean and the
    standard deviation of each channel over time and frequency (a multi-scale texture summary).
    """

    def __init__(self, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(int(seed))
        blocks, c_in = [], 1
        for c in CHANNELS:
            conv = nn.Conv2d(c_in, c, 3, padding=1)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu", generator=gen)
            bound = 1.0 / np.sqrt(c_in * 9)
            nn.init.uniform_(conv.bias, -bound, bound, generator=gen)
            blocks.append(conv)
            c_in = c
        self.blocks = nn.ModuleList(blocks)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stats = []
        for conv in self.blocks:
            x = torch.relu(conv(x))
            stats += [x.mean(dim=(2, 3)), x.std(dim=(2, 3))]
            x = nn.functional.max_pool2d(x, 2, ceil_mode=True)
        return torch.cat(stats, dim=1)


def net_input(mel_db: np.ndarray) -> torch.Tensor:
    """``[B, 1, n_mels, frames']`` float32 input from ``mel_db: [B, n_mels, frames]`` (padded to
    ``MIN_FRAMES`` with -100 dB)."""
    x = (np.asarray(mel_db, np.float32) - DB_CENTRE) / DB_SCALE
    short = MIN_FRAMES - x.shape[-1]
    if short > 0:
        x = np.pad(x, ((0, 0), (0, 0), (0, short)), constant_values=(-100.0 - DB_CENTRE) / DB_SCALE)
    return torch.from_numpy(np.ascontiguousarray(x))[:, None]


@torch.inference_mode()
def embed(nets: list[RandomConvNet], mel_db: np.ndarray) -> list[np.ndarray]:
    """One ``[B, 2 * sum(CHANNELS)] float64`` embedding of ``mel_db: [B, n_mels, frames]`` per net."""
    x = net_input(mel_db)
    return [net(x).double().numpy() for net in nets]
