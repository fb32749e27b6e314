"""``mel_ifreq``: ``stft_ifreq`` warped onto a mel frequency axis (GANSynth's best, "IF-Mel").

Shapes follow ``stft_ifreq`` (the shared grid): 16384 samples → 2x128x128, 65536 → 2x256x256,
131072 → 2x256x512, 262144 → 2x256x1024.

GANSynth's best models drew log-magnitude and instantaneous frequency on a mel scale "without
dimensional compression": as many mel rows as linear bins, so low frequencies get more rows and
high ones fewer. Here the 128 linear bins of ``stft_ifreq``'s STFT become 128 mel rows through a
square matrix ``W`` (``mel_matrix``): row ``j`` sits at ``f_j``, evenly spaced on the Slaney mel
scale from 0 Hz to the top bin (10.98 kHz); its weights are a triangle over the bins from
``f_{j-1}`` to ``f_{j+1}``, widened to at least one bin either side (no row is empty), normalised
to sum to 1. Rows are closer than bins (86 Hz) below ~3.1 kHz — there a row interpolates between
the two nearest bins — and farther apart above, where a row averages the bins of its band.

Channels (rows: mel bands, row 0 = 0 Hz; columns: frames as ``stft_ifreq``):

0. ``10 log10(W @ |X|²)``: the band's mean power (a partial reads at its own level), clipped to
   ``[min_db, max_db]`` and mapped to [-1, 1].
1. The band's instantaneous frequency, in two forms split at row ``J`` (``split_row``: 86 of 128
   for the default clip, the most rows that still determine every bin they touch, bins 0-41,
   up to 3.6 kHz):

   - rows below ``J``: ``W @ IF``, the band's weighted mean of ``stft_ifreq``'s IF deviation
     (GANSynth's construction: W applied to the unwrapped phase, then differentiated). There ``W``
     has full column rank, so decoding by least squares is exact;
   - rows from ``J`` up: the power-weighted circular mean of the bins' phase advance, relative to
     the row's own centre frequency, ``angle(W @ (|X|² e^{iΔφ})) - ω̄_j hop`` (wrapped, / π).
     Averaging GANSynth's way fails here: with a 50 % overlap a bin's IF deviation wraps ±1 bin
     from a partial, so the mean of a band's deviations is noise and a clear 6 kHz tone came back
     with spectral convergence 1.2 (worse than silence). All bins of one partial share its phase
     advance, so the circular mean keeps it; each bin decodes it from the rows covering it,
     weighted by their power.

   Column 0 holds the first frame's phase in the same two forms. All values stay in [-1, 1].

Inverse (what is lost): band powers → bin powers by the pseudo-inverse of ``W`` (clipped at 0);
above 3.6 kHz 42 rows cannot hold 86 bins, so partials closer than a band blur into one and a
band's spectrum comes back as the smoothest one with the same band means, and its phase as the
band's dominant partial. Below, magnitude and phase come back exactly (a 2 kHz tone decodes at
80 dB SNR, a 6 kHz one at 6.5 dB). Figures in docs/representations.md.
"""

from __future__ import annotations

import functools
import math

import librosa
import numpy as np
import torch

from .base import Representation, image_grid, register
from .spectral import CircularSTFT
from .stft_ifreq import PI64, from_db_image, ifreq_to_phase, phase_to_ifreq, to_db_image


def mel_matrix(sr: int, n_bins: int) -> torch.Tensor:
    """The square ``[n_bins (mel rows), n_bins (linear bins)]`` warp of ``mel_ifreq``, rows summing to 1."""
    n_fft = 2 * n_bins - 1
    bins = np.arange(n_bins) * sr / n_fft
    centres = librosa.mel_frequencies(n_mels=n_bins, fmin=0.0, fmax=bins[-1])
    spacing = sr / n_fft
    gaps = np.diff(centres)
    left = np.maximum(np.concatenate([[spacing], gaps]), spacing)
    right = np.maximum(np.concatenate([gaps, [spacing]]), spacing)
    offset = bins[None, :] - centres[:, None]  # [row, bin] Hz
    width = np.where(offset < 0, left[:, None], right[:, None])
    weights = np.clip(1 - np.abs(offset) / width, 0, None)
    return torch.from_numpy(weights / weights.sum(axis=1, keepdims=True)).float()


@functools.lru_cache(maxsize=8)
def _matrices(sr: int, n_bins: int) -> tuple[torch.Tensor, torch.Tensor, int, int, torch.Tensor]:
    """``W [mel, bin]``, its pseudo-inverse, ``split_row(W)`` and the pseudo-inverse of the low block."""
    warp = mel_matrix(sr, n_bins)
    split, cut = split_row(warp)
    unwarp = torch.from_numpy(np.linalg.pinv(warp.double().numpy())).float()
    low = torch.from_numpy(np.linalg.pinv(warp[:split, :cut].double().numpy())).float()
    return warp, unwarp, split, cut, low


def split_row(warp: torch.Tensor) -> tuple[int, int]:
    """``(J, cut)``: the most rows ``J`` whose support (bins ``0..cut-1``) they determine exactly.

    ``warp[:J, :cut]`` has full column rank and no row below ``J`` touches a bin from ``cut`` up.
    """
    w = warp.double().numpy()
    last = np.array([np.flatnonzero(row).max() for row in w])  # highest bin each row touches
    cuts = np.maximum.accumulate(last) + 1  # cuts[rows - 1]: bins touched by the first rows
    # Mel rows only spread out further up: stop before the first count of rows that touches
    # more bins than it has rows, then take the largest count below it with full column rank
    # (searched downwards: one rank computation, usually, instead of one per row).
    fits = np.flatnonzero(cuts > np.arange(1, len(w) + 1))
    for rows in range(fits[0] if len(fits) else len(w), 0, -1):
        cut = int(cuts[rows - 1])
        if np.linalg.matrix_rank(w[:rows, :cut]) == cut:
            return rows, cut
    return 0, 0


def _phasor_matmul(weights: torch.Tensor, power: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """``angle(weights @ (power * exp(i * angle)))`` on real tensors (no complex matmul)."""
    return torch.atan2(weights @ (power * torch.sin(angle)), weights @ (power * torch.cos(angle)))


@register
class MelIFreq(Representation):
    """``stft_ifreq``'s log-power and IF in mel bands (square warp; exact below ~3 kHz)."""

    name = "mel_ifreq"
    floor_is_silence = True
    description = "mel-scale log-magnitude + instantaneous frequency (GANSynth IF-Mel), 2 channels"

    def __init__(self, sr: int, length: int, min_db: float = -100.0, max_db: float = 10.0) -> None:
        super().__init__(sr, length, min_db=min_db, max_db=max_db)
        self.bins, self.frames = image_grid(length)
        self.stft = CircularSTFT(self.bins, self.frames)
        self.min_db, self.max_db = float(min_db), float(max_db)
        k = torch.arange(self.bins, dtype=torch.float64)
        self.advance = 2 * math.pi * k * self.stft.hop / self.stft.n_fft  # [bin] rad per frame
        self.warp, self.unwarp, self.split, self.cut, self.low_unwarp = _matrices(
            self.sr, self.bins
        )
        # Centre phase advance of each upper row (its weighted mean bin).
        self.row_advance = (self.warp[self.split :].double() @ self.advance).float()

    @property
    def shape(self) -> tuple[int, int, int]:
        return (2, self.bins, self.frames)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        spec = self.stft.forward(self._batch(wave))  # [B, bin, frame]
        dev = spec.device
        warp, j = self.warp.to(dev), self.split
        power = spec.real**2 + spec.imag**2
        phase = spec.angle()
        db = 10 * torch.log10((warp @ power).clamp_min(1e-24))
        low = warp[:j] @ phase_to_ifreq(phase, self.advance.to(dev, power.dtype))
        steps = torch.cat([phase[..., :1], phase[..., 1:] - phase[..., :-1]], dim=-1)
        high = _phasor_matmul(warp[j:], power, steps)
        high[..., 1:] = _wrap(high[..., 1:] - self.row_advance.to(dev)[:, None])
        ifreq = torch.cat([low, high / math.pi], dim=1)
        return torch.stack([to_db_image(db, self.min_db, self.max_db), ifreq], dim=1)

    def decode(self, image: torch.Tensor) -> torch.Tensor:
        image = self._images(image)
        dev, j, cut = image.device, self.split, self.cut
        band_power = from_db_image(image[:, 0], self.min_db, self.max_db).square()
        magnitude = (self.unwarp.to(dev) @ band_power).clamp_min(0).sqrt()
        rows = image[:, 1, j:] * math.pi
        rows[..., 1:] += self.row_advance.to(dev)[:, None]
        steps = _phasor_matmul(self.warp[j:].to(dev).T, band_power[:, j:], rows)
        phase = torch.remainder(torch.cumsum(steps.double(), dim=-1), 2 * PI64).float()
        low = self.low_unwarp.to(dev) @ image[:, 1, :j]
        phase[:, :cut] = ifreq_to_phase(low, self.advance[:cut].to(dev))
        return self.stft.inverse(torch.polar(magnitude, phase))


def _wrap(angle: torch.Tensor) -> torch.Tensor:
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi
