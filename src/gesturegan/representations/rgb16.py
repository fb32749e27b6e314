"""``rgb16``: every 16-bit sample as three base-41 digits in a reflected (Gray) code; bit-exact.

The original project packed each 16-bit sample into the bytes of an RGB pixel. A byte split is
exact but hard to learn: the low byte wraps from 255 to 0 every 256 steps of the sample, so for
any sound louder than a whisper the low channel is white noise with no relation to its neighbours,
and a one-unit error in the high channel is a 256-step jump.

Here a sample ``q`` (int16) becomes ``v = q + 34460`` and is written with three base-41 digits,
coarse, mid and fine, in a *reflected* mixed-radix code: the mid digit counts down instead of up
while the coarse digit is odd, and the fine digit counts down while ``v // 41`` is odd. Counting
up through the values then changes exactly one digit by exactly one, so each channel is a
continuous function of the sample:

- channel 0 (coarse) is the waveform itself on a 41-level staircase (1 step = 1681 LSB, -25.8 dBFS);
- channel 1 (mid) is the waveform folded back on itself every 1681 LSB (a triangle-wave fold);
- channel 2 (fine) is the waveform folded every 41 LSB.

So a CNN sees the shape of the wave at three magnifications, never a wrap-around, and a small
error in any channel is a small error in the sample. The offset 34460 = 20·41² + 20·41 + 20 puts
silence at the middle of every digit: silence is 0 in all three channels, and because
41³ - 1 - 2·34460 = 0 the code is odd-symmetric, ``encode(-x) == -encode(x)`` (for ``x`` ≠ -1).
Digits ``g`` map to ``(g - 20) / 20`` in [-1, 1]; the coarse channel spans [-0.95, 0.95].

Shape: one pixel per sample, the samples laid out row by row as in ``wave_image`` on the shared
grid (``base.image_grid``): 16384 samples → 3x128x128, 65536 → 3x256x256, 131072 → 3x256x512,
262144 → 3x256x1024. ``decode(encode(x)) == x`` exactly when ``x`` is int16-quantised (``k / 32768``);
other input is rounded to the nearest 16-bit level (and clipped to [-1, 1 - 2⁻¹⁵]). Decoding a
generated image rounds each channel to its nearest digit.
"""

from __future__ import annotations

import functools

import torch

from .base import Representation, image_grid, register

BASE = 41
OFFSET = 20 * BASE * BASE + 20 * BASE + 20  # silence → the middle digit (20) in every channel
HALF = (BASE - 1) // 2


def to_digits(q: torch.Tensor) -> torch.Tensor:
    """int16 levels ``[...]`` (int64 tensor) → reflected base-41 digits ``[3, ...]`` (coarse first)."""
    v = q + OFFSET
    coarse, rest = v // BASE**2, v % BASE**2
    mid, fine = rest // BASE, rest % BASE
    fine = torch.where((v // BASE) % 2 == 1, BASE - 1 - fine, fine)
    mid = torch.where(coarse % 2 == 1, BASE - 1 - mid, mid)
    return torch.stack([coarse, mid, fine])


def from_digits(digits: torch.Tensor) -> torch.Tensor:
    """Inverse of ``to_digits``: digits ``[3, ...]`` (int64) → int16 levels ``[...]``."""
    coarse, mid, fine = digits
    mid = torch.where(coarse % 2 == 1, BASE - 1 - mid, mid)
    upper = coarse * BASE + mid  # v // 41
    fine = torch.where(upper % 2 == 1, BASE - 1 - fine, fine)
    return upper * BASE + fine - OFFSET


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[torch.Tensor, torch.Tensor]:
    """``(digits [65536, 3] uint8, level [41³] int16)``: encoding and decoding as one gather each.

    ``level[(c * 41 + m) * 41 + f]`` is the int16 level of the reflected digits ``(c, m, f)``.
    """
    digits = to_digits(torch.arange(-32768, 32768))
    v = torch.arange(BASE**3)
    level = from_digits(torch.stack([v // BASE**2, (v // BASE) % BASE, v % BASE]))
    return digits.T.to(torch.uint8).contiguous(), level.clamp(-32768, 32767).to(torch.int16)


@register
class RGB16(Representation):
    """16-bit samples as coarse / mid / fine reflected base-41 digits; bit-exact on int16 audio."""

    name = "rgb16"
    description = (
        "16-bit samples as 3 reflected base-41 digits (coarse/mid/fine), 3 channels; bit-exact"
    )

    def __init__(self, sr: int, length: int) -> None:
        super().__init__(sr, length)
        self.rows, self.cols = image_grid(length)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (3, self.rows, self.cols)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        wave = self._batch(wave)
        digits, _ = _tables()
        q = torch.round(wave.double() * 32768).clamp(-32768, 32767).long() + 32768  # [B, T]
        image = digits.to(wave.device)[q].float().sub_(HALF).div_(HALF)  # [B, T, 3]
        return image.transpose(1, 2).reshape(-1, 3, self.rows, self.cols)

    def decode(self, image: torch.Tensor) -> torch.Tensor:
        image = self._images(image).reshape(-1, 3, self.length)
        _, level = _tables()
        g = torch.round(image * HALF + HALF).clamp_(0, BASE - 1).long()
        index = (g[:, 0] * BASE + g[:, 1]) * BASE + g[:, 2]  # the digits read as one number
        return level.to(image.device)[index].float() / 32768
