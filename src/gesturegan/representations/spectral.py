"""Spectral operations shared by the STFT/mel representations: STFT pairs and fast Griffin-Lim.

Frames follow one convention everywhere: ``hop = length // side`` and ``n_fft = 8 * hop`` with a
periodic Hann window, frames centred on ``k * hop`` (reflect padding). The STFT of a clip then has
``side + 1`` frames; images keep the first ``side`` and decoders restore the last by repeating
frame ``side - 1`` (it only covers the final half window).
"""

from __future__ import annotations

import math

import torch


class STFT:
    """Batched STFT/iSTFT pair for clips of ``length`` samples with ``n_fft`` and ``hop``."""

    def __init__(self, n_fft: int, hop: int, length: int) -> None:
        self.n_fft = n_fft
        self.hop = hop
        self.length = length
        self.window = torch.hann_window(n_fft)
        # A full-scale sine's bin then has magnitude ~1 (0 dB).
        self.scale = float(self.window.sum()) / 2

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave: [B, T]`` → complex ``[B, n_bins, T // hop + 1]``, scaled so a full-scale sine is ~1."""
        spec = torch.stft(
            wave,
            self.n_fft,
            self.hop,
            window=self.window.to(wave.device),
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        return spec / self.scale

    def inverse(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex ``[B, n_bins, frames]`` (scaled as ``forward``) → ``wave: [B, length]``."""
        return torch.istft(
            spec * self.scale,
            self.n_fft,
            self.hop,
            window=self.window.to(spec.device),
            center=True,
            length=self.length,
        )


def pad_last_frame(x: torch.Tensor) -> torch.Tensor:
    """``[..., F]`` → ``[..., F + 1]`` by repeating the last frame (undoes dropping it in images)."""
    return torch.cat([x, x[..., -1:]], dim=-1)


def griffin_lim(
    magnitude: torch.Tensor,
    stft: STFT,
    n_iter: int = 32,
    momentum: float = 0.99,
    phase: torch.Tensor | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin, Balazs & Søndergaard 2013): phase for a magnitude, batched.

    Parameters
    ----------
    magnitude : ``[B, n_bins, frames]`` non-negative, scaled as ``STFT.forward``.
    stft : the STFT pair that defines consistency.
    n_iter : projections; 0 returns the signal of the initial phase.
    momentum : the "fast" acceleration (0 gives classic Griffin-Lim; librosa also uses 0.99).
    phase : initial phase ``[B, n_bins, frames]`` in radians (e.g. from PGHI); default random.
    seed : seeds the random initial phase, one pattern shared by every clip of the batch, so a
        clip decodes the same whatever batch it is in.

    Returns
    -------
    wave : ``[B, length]``.
    """
    if phase is None:
        gen = torch.Generator().manual_seed(seed)
        phase = 2 * math.pi * torch.rand(magnitude.shape[-2:], generator=gen)
    angles = torch.polar(torch.ones_like(magnitude), phase.to(magnitude.device))
    previous = torch.zeros_like(angles)
    blend = momentum / (1 + momentum)
    for _ in range(n_iter):
        rebuilt = stft.forward(stft.inverse(magnitude * angles))
        angles = rebuilt - blend * previous
        angles = angles / (angles.abs() + 1e-16)
        previous = rebuilt
    return stft.inverse(magnitude * angles)
