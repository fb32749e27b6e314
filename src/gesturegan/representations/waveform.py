"""Representations that keep the samples themselves: ``waveform`` (1-D) and ``wave_image``.

``waveform``: ``[B, 1, T]``. ``wave_image``: ``[B, 1, H, W]`` on the shared grid
(``base.image_grid``: 16384 → 1x128x128, 65536 → 1x256x256, 131072 → 1x256x512,
262144 → 1x256x1024), the samples laid out row by row. Both are exact: decode(encode(x)) == x bit
for bit (float32).
"""

from __future__ import annotations

import torch

from .base import Representation, image_grid, register


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
    """The clip reshaped row by row into the grid's ``H x W`` (16384 samples → 1x128x128); exact.

    Row ``r`` holds samples ``r * W … (r + 1) * W - 1``: time runs along the width within a row
    and down the rows, so a 128-sample row spans 5.8 ms at 22050 Hz. (Unlike the spectral images,
    rows are not frequencies; the layout of square images is the original project's.)
    """

    name = "wave_image"
    description = "samples reshaped row by row to an image, 1 channel (the original 128x128 idea); exact"

    def __init__(self, sr: int, length: int) -> None:
        super().__init__(sr, length)
        self.rows, self.cols = image_grid(length)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (1, self.rows, self.cols)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        return self._batch(wave).reshape(-1, 1, self.rows, self.cols)

    def decode(self, image: torch.Tensor) -> torch.Tensor:
        return self._images(image).reshape(-1, self.length)
