"""Round-trip quality measures between reference clips and reconstructions, per clip.

All take ``reference, estimate: [B, T]`` (numpy or torch) and return ``[B]`` float64 numpy arrays.
Spectral measures use a 1024-point Hann STFT with hop 256, independent of any representation's own
analysis, so every representation is judged by the same yardstick.
"""

from __future__ import annotations

import numpy as np
import torch

from .spectral import STFT

_EPS = 1e-10


def snr_db(reference, estimate) -> np.ndarray:
    """Waveform signal-to-noise ratio in dB (meaningful only where phase is kept)."""
    ref, est = _pair(reference, estimate)
    noise = ((ref - est) ** 2).sum(dim=1)
    signal = (ref**2).sum(dim=1)
    return (10 * torch.log10((signal + _EPS) / (noise + _EPS))).numpy()


def spectral_convergence(reference, estimate) -> np.ndarray:
    """``‖|S_ref| − |S_est|‖_F / ‖S_ref‖_F`` (0 is perfect; phase-blind)."""
    ref_mag, est_mag = _magnitudes(reference, estimate)
    num = torch.linalg.vector_norm(ref_mag - est_mag, dim=(1, 2))
    den = torch.linalg.vector_norm(ref_mag, dim=(1, 2))
    return (num / (den + _EPS)).numpy()


def log_spectral_distance(reference, estimate) -> np.ndarray:
    """Log-spectral distance in dB: RMS over bins of the power ratio in dB, averaged over frames.

    Powers are floored at -100 dB re full scale so silent bins do not dominate.
    """
    ref_mag, est_mag = _magnitudes(reference, estimate)
    floor = 1e-10
    diff = 10 * torch.log10((ref_mag**2).clamp_min(floor)) - 10 * torch.log10(
        (est_mag**2).clamp_min(floor)
    )
    return diff.pow(2).mean(dim=1).sqrt().mean(dim=1).numpy()


def _pair(reference, estimate) -> tuple[torch.Tensor, torch.Tensor]:
    ref = torch.as_tensor(np.asarray(reference), dtype=torch.float64)
    est = torch.as_tensor(np.asarray(estimate), dtype=torch.float64)
    if ref.ndim == 1:
        ref, est = ref[None], est[None]
    if ref.shape != est.shape:
        raise ValueError(f"shapes differ: {list(ref.shape)} vs {list(est.shape)}")
    return ref, est


def _magnitudes(reference, estimate) -> tuple[torch.Tensor, torch.Tensor]:
    ref, est = _pair(reference, estimate)
    stft = STFT(n_fft=1024, hop=256, length=ref.shape[1], dtype=torch.float64)
    return stft.forward(ref).abs(), stft.forward(est).abs()
