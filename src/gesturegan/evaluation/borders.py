"""Border diagnostics of a generator: the frame around its images and the rise at its clips' end.

A generator whose convolutions pad with zeros knows where its image ends, and a young one draws
the borders apart from what is inside them: a bright or dark bottom row (the DC bin of a
linear-frequency image), top row, first or last column. Decoded, the last column is a thump or a
click at the very end of the clip. These figures say how far the generated clips are from the
real ones there (docs/study.md, "What the figures ask for next"). ``silent_share`` looks inside
the image: the share of its pixels at the floor, -1, silence in a magnitude image, where a real
one-shot's tail sits and a young last stage leaves a haze above it. They describe defects of the
model; the judge grades the clips.
"""

from __future__ import annotations

import numpy as np
import torch

BORDERS = ("bottom_row", "top_row", "first_column", "last_column")
INSIDE = 3
"""Rows or columns next to a border that it is compared with."""
WINDOW_S = 0.0116
"""Length of the windows whose level ``end_rise`` compares (256 samples at 22.05 kHz)."""
RISE_DB = 6.0
"""A clip whose last window is this much louder than the windows before it ends in a rise."""
SILENCE_TOL = 0.01
"""A pixel at most this far above -1 is silent (0.55 dB above the floor of ``stft_pghi``)."""


def border_excess(images: torch.Tensor) -> dict[str, float]:
    """Per border of ``images [B, C, H, W]`` (H frequency from the lowest bin up, W time), the mean
    of the border row or column minus the mean of the ``INSIDE`` ones next to it, over the batch
    and the channels."""
    m = images.detach().float().mean(dim=(0, 1))  # [H, W]
    k = INSIDE
    values = (
        m[0].mean() - m[1 : 1 + k].mean(),
        m[-1].mean() - m[-1 - k : -1].mean(),
        m[:, 0].mean() - m[:, 1 : 1 + k].mean(),
        m[:, -1].mean() - m[:, -1 - k : -1].mean(),
    )
    return {name: float(v) for name, v in zip(BORDERS, values, strict=True)}


def frame(generated: torch.Tensor, real: torch.Tensor) -> float:
    """How far the borders of the ``generated`` images stand out unlike those of the ``real`` ones
    (both ``[B, C, H, W]``): the mean over the borders of the difference of their excesses, in
    image units (0: the borders relate to their insides as the real ones do)."""
    g, r = border_excess(generated), border_excess(real)
    return float(np.mean([abs(g[b] - r[b]) for b in BORDERS]))


def silent_share(images: torch.Tensor) -> float:
    """Share of the pixels of channel 0 of ``images [B, C, H, W]`` at or below the floor, -1 (the
    lowest value every representation encodes into: silence in the magnitude images)."""
    return float((images.detach()[:, 0] <= -1.0 + SILENCE_TOL).float().mean())


def end_rise(waves: np.ndarray, sr: int, before: int = 3) -> np.ndarray:
    """``[B]``: dB by which each clip's last ``WINDOW_S`` of ``waves [B, T]`` is louder than the
    loudest of the ``before`` windows just before it (negative for a clip that fades out)."""
    n = max(1, round(WINDOW_S * sr))
    tail = np.asarray(waves, np.float64)[:, -(before + 1) * n :]
    level = 10 * np.log10(np.square(tail.reshape(len(waves), before + 1, n)).mean(-1) + 1e-12)
    return level[:, -1] - level[:, :-1].max(1)
