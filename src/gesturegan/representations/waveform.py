"""Representations that keep the samples themselves: ``waveform`` (1-D) and ``wave_image``.

Both are exact: decode(encode(x)) == x bit for bit (float32).
"""

from __future__ import annotations

import torch

from .base import Representation, image_side, register


@register
class Waveform(Representation):
    """The clip as a 1-channel signal ``[B, 1, T]``, for 1-D models (WaveGAN)."""

    name = "waveform"
    description = "raw samples [B, 1, T] for 1-D models; exact"

    @property
    def shape(self) -> tuple[int, int]:
        return (1, self.length)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        return self._batch(wave)[:, None]

    def decode(self, image: torch.Tensor) -> torch.Tensor:
        return self._images(image)[:, 0]


@register
class WaveImage(Representation):
    """The clip reshaped row by row into a square (16384 samples → 1x128x128); exact.

    Row ``r`` holds samples ``r * side … (r + 1) * side - 1``: time runs along the width within a
    row and down the rows, so a 128-sample row spans 5.8 ms at 22050 Hz.
    """

    name = "wave_image"
    description = "samples reshaped to a square image, 1 channel (the original 128x128 idea); exact"

    def __init__(self, sr: int, length: int) -> None:
        super().__init__(sr, length)
        self.side = image_side(length)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (1, self.side, self.side)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        return self._batch(wave).reshape(-1, 1, self.side, self.side)

    def decode(self, image: torch.Tensor) -> torch.Tensor:
        return self._images(image).reshape(-1, self.length)
