"""The compact CNN: a representation image → class logits, and the embedding before them."""

from __future__ import annotations

import torch
from torch import nn


class GestureCNN(nn.Module):
    """Small convolutional classifier whose penultimate layer is a reusable embedding.

    ``image [B, C, H, W]`` (rows are frequency, columns time, values in about [-1, 1]) is first
    shifted so that its loudest pixel is 1 — the class of a sound does not depend on its level —
    averaged over ``freq_pool`` neighbouring rows and ``time_pool`` neighbouring columns (1 by
    default: time keeps its full resolution, attacks are short; more for long clips), then goes
    through ``len(channels)`` blocks (3x3 conv, batch norm, ReLU, 2x2 max-pool), is averaged
    over frequency and pooled to ``time_steps`` slots in time (the order of attack, body and tail
    matters), and is mapped to the embedding ``[B, embed_dim]`` (linear + ReLU). Dropout and one
    linear layer give the logits. Any image size works (adaptive pooling).
    """

    def __init__(
        self,
        n_classes: int,
        in_channels: int = 1,
        channels: tuple[int, ...] = (16, 32, 64, 96),
        time_steps: int = 8,
        embed_dim: int = 128,
        dropout: float = 0.3,
        freq_pool: int = 2,
        time_pool: int = 1,
    ) -> None:
        super().__init__()
        pool = (freq_pool, time_pool)
        layers: list[nn.Module] = [nn.AvgPool2d(pool)] if pool != (1, 1) else []
        c_in = in_channels
        for c in channels:
            layers += [
                nn.Conv2d(c_in, c, 3, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d((1, time_steps))
        self.embedding = nn.Sequential(
            nn.Flatten(), nn.Linear(c_in * time_steps, embed_dim), nn.ReLU(inplace=True)
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(embed_dim, n_classes))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``image [B, C, H, W]`` → ``(logits [B, n_classes], embedding [B, embed_dim])``."""
        x = image - image.amax(dim=(1, 2, 3), keepdim=True) + 1.0  # loudest pixel at 1
        emb = self.embedding(self.pool(self.features(x)))  # (B, D)
        return self.head(emb), emb
