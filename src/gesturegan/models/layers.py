"""Building blocks of the progressive GAN: equalised learning rate, pixel norm, minibatch stddev.

Equalised learning rate (Karras et al. 2018): weights are drawn from N(0, 1) and scaled at run time by
He's constant, so Adam's per-parameter step sizes are equal across layers of different fan-in.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate: ``x [B, in] → [B, out]``."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, gain: float = 2**0.5
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class EqualConv2d(nn.Module):
    """Stride-1 'same' convolution with equalised learning rate; any kernel (kh, kw), even ones too.

    ``x [B, in, H, W] → [B, out, H, W]``. Kernels are (frequency, time) for spectrogram images, so
    (1, 8) or (2, 8) favour the time axis as in the original project's "horizontal priority" kernels.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int] = (3, 3),
        gain: float = 2**0.5,
    ):
        super().__init__()
        kh, kw = kernel
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kh, kw))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kh * kw)
        # 'same' padding, the extra pixel of an even kernel going to the end of the axis.
        self.pad = (
            (kw - 1) // 2,
            kw // 2,
            (kh - 1) // 2,
            kh // 2,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad)
        return F.conv2d(x, self.weight * self.scale, self.bias)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise each feature vector (dim 1) to unit mean square."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one channel: the mean feature stddev over groups of the batch. ``[B, C, H, W] → [B, C+1, H, W]``.

    Lets the discriminator see batch diversity, which discourages mode collapse.
    """
    b, c, h, w = x.shape
    g = math.gcd(min(group_size, b), b)
    y = x.reshape(g, -1, c, h, w)
    y = (y - y.mean(dim=0)).pow(2).mean(dim=0).add(1e-8).sqrt()  # [B/g, C, H, W]
    y = y.mean(dim=(1, 2, 3)).reshape(-1, 1, 1, 1).repeat(g, 1, h, w)  # [B, 1, H, W]
    return torch.cat([x, y], dim=1)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)
