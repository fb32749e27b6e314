"""Training-time augmentation: of clips ``[B, T]`` (gain, time shift, mixed-in noise, random EQ) and
of their images ``[B, C, H, W]`` (a masked frequency band).

Everything is batched torch arithmetic driven by one ``torch.Generator``, so a seed repeats a run.
"""

from __future__ import annotations

import torch

from .config import AugmentConfig


def augment(wave: torch.Tensor, sr: int, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """A randomly changed copy of ``wave [B, T]`` (float32, about [-1, 1]) at ``sr`` Hz.

    In order: a time shift (zero-filled), a random EQ (a tilt across the octaves and one bell, in
    the frequency domain), coloured noise at a random level below the clip's peak, and a gain. The
    result is clipped to [-1, 1].
    """
    b, t = wave.shape
    x = _shift(wave, sr, cfg.shift_s, gen)
    spec = torch.fft.rfft(x, dim=1)  # (B, K)
    freqs = torch.fft.rfftfreq(t, 1.0 / sr)
    if cfg.eq_db > 0 and cfg.eq_p > 0:
        octave = torch.log2(freqs.clamp_min(20.0) / 1000.0)  # 0 at 1 kHz, about -5.6..+3.4
        tilt = _uniform(b, -cfg.eq_db, cfg.eq_db, gen) / 5.0  # dB per octave, ±eq_db over 5 oct.
        centre = _uniform(b, -3.0, 3.0, gen)
        width = _uniform(b, 0.3, 1.5, gen)
        bell = _uniform(b, -cfg.eq_db, cfg.eq_db, gen)
        curve_db = tilt[:, None] * octave + bell[:, None] * torch.exp(
            -0.5 * ((octave - centre[:, None]) / width[:, None]) ** 2
        )
        on = (torch.rand(b, generator=gen) < cfg.eq_p).float()[:, None]
        spec = spec * 10.0 ** (on * curve_db / 20.0)
    x = torch.fft.irfft(spec, n=t, dim=1)
    if cfg.noise_p > 0:
        noise = _coloured_noise(b, t, gen)
        snr = _uniform(b, *cfg.noise_snr_db, gen)
        peak = x.abs().amax(dim=1).clamp_min(1e-6)
        on = (torch.rand(b, generator=gen) < cfg.noise_p).float()
        x = x + (on * peak * 10.0 ** (-snr / 20.0))[:, None] * noise
    gain = 10.0 ** (_uniform(b, -cfg.gain_db, cfg.gain_db, gen) / 20.0)
    return (x * gain[:, None]).clamp(-1.0, 1.0)


def mask_frequencies(
    image: torch.Tensor, max_fraction: float, gen: torch.Generator
) -> torch.Tensor:
    """Blank one random band of rows (frequencies) of each image ``[B, C, H, W]``.

    The band covers up to ``max_fraction`` of the rows and is set to the image's minimum (the
    representation's floor): the class must not hang on one frequency region (SpecAugment's
    frequency masking; time is never masked, since an attack or a tail is what a gesture is).
    """
    b, _, h, _ = image.shape
    width = (torch.rand(b, generator=gen) * max_fraction * h).long()
    start = (torch.rand(b, generator=gen) * (h - width + 1)).long()
    rows = torch.arange(h)[None, :]
    band = (rows >= start[:, None]) & (rows < (start + width)[:, None])  # (B, H)
    floor = image.amin(dim=(1, 2, 3), keepdim=True)
    return torch.where(band[:, None, :, None], floor, image)


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def _shift(wave: torch.Tensor, sr: int, shift_s: tuple[float, float], gen) -> torch.Tensor:
    """Move each clip by a random whole number of samples in ``shift_s`` seconds, zero-filled."""
    b, t = wave.shape
    lo, hi = (round(s * sr) for s in shift_s)
    if lo == hi == 0:
        return wave
    shifts = torch.randint(lo, hi + 1, (b,), generator=gen)
    idx = torch.arange(t)[None, :] - shifts[:, None]  # source sample of each output sample
    valid = (idx >= 0) & (idx < t)
    return torch.where(valid, torch.gather(wave, 1, idx.clamp(0, t - 1)), torch.zeros(()))


def _coloured_noise(b: int, t: int, gen: torch.Generator) -> torch.Tensor:
    """``[b, t]`` unit-RMS Gaussian noise with a random spectral slope (blue to brown)."""
    spec = torch.fft.rfft(torch.randn(b, t, generator=gen), dim=1)
    k = torch.arange(spec.shape[1], dtype=torch.float32).clamp_min(1.0)
    exponent = _uniform(b, -1.0, 2.0, gen)  # power ∝ 1 / f**exponent
    spec = spec * k[None, :] ** (-exponent[:, None] / 2.0)
    x = torch.fft.irfft(spec, n=t, dim=1)
    return x / x.pow(2).mean(dim=1, keepdim=True).sqrt().clamp_min(1e-12)
