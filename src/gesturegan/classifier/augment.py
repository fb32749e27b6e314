"""Training-time augmentation: of clips ``[B, T]`` (gain, time shift, speed, random EQ, band limit,
room reverb, mixed-in noise) and of their images ``[B, C, H, W]`` (a masked frequency band).

The clip changes are those by which one sample library differs from another (level, where the file
starts, the rate it was recorded at, microphone and mixing colour, the room, the noise floor), so a
classifier trained on some libraries is less surprised by the next.

Everything is batched torch arithmetic driven by one ``torch.Generator``, so a seed repeats a run.
"""

from __future__ import annotations

import torch

from .config import AugmentConfig


def augment(wave: torch.Tensor, sr: int, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """A randomly changed copy of ``wave [B, T]`` (float32, about [-1, 1]) at ``sr`` Hz.

    In order: a time shift (zero-filled), a change of speed (``speed_p``), a random EQ (a tilt
    across the octaves and one bell) and a band limit (``band_p``) in the frequency domain, a room
    (``reverb_p``), coloured noise at a random level below the clip's peak, and a gain. The result
    is clipped to [-1, 1]. A change whose probability is 0 draws nothing from ``gen``.
    """
    b, t = wave.shape
    x = _shift(wave, sr, cfg.shift_s, gen)
    if cfg.speed_p > 0:
        x = change_speed(x, _draw(b, cfg.speed_p, cfg.speed, 1.0, gen))
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
    if cfg.band_p > 0:
        cutoff = _draw(b, cfg.band_p, cfg.band_hz, float("inf"), gen)
        spec = spec * band_limit_gain(freqs, cutoff)
    x = torch.fft.irfft(spec, n=t, dim=1)
    if cfg.reverb_p > 0:
        rt60 = _draw(b, cfg.reverb_p, cfg.reverb_rt60_s, 0.0, gen)
        wet = _uniform(b, *cfg.reverb_wet, gen)
        x = add_room(x, sr, rt60, wet, gen)
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


def change_speed(wave: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Play each clip of ``wave [B, T]`` ``factor [B]`` times as fast (linear interpolation).

    Pitch and every duration change together, as when a file is played at the wrong rate; a clip
    that gets shorter is zero-filled at the end, a longer one is cut at ``T`` samples.
    """
    b, t = wave.shape
    pos = torch.arange(t, dtype=torch.float32)[None, :] * factor[:, None]  # (B, T) source positions
    valid = pos <= t - 1
    lo = pos.floor().long().clamp(max=t - 2)
    frac = pos - lo
    x0, x1 = torch.gather(wave, 1, lo), torch.gather(wave, 1, lo + 1)
    return torch.where(valid, x0 + frac * (x1 - x0), torch.zeros(()))


def band_limit_gain(freqs_hz: torch.Tensor, cutoff_hz: torch.Tensor) -> torch.Tensor:
    """``[B, K]`` gains that keep ``freqs_hz [K]`` below ``cutoff_hz [B]`` and remove those above.

    The edge falls over a sixth of an octave below the cut-off (a resampler's anti-alias filter);
    an infinite cut-off keeps everything.
    """
    edge = cutoff_hz[:, None] * 2.0 ** (-1.0 / 6.0)
    ramp = (cutoff_hz[:, None] - freqs_hz[None, :]) / (cutoff_hz[:, None] - edge).clamp_min(1e-6)
    return ramp.clamp(0.0, 1.0).nan_to_num(1.0)


def add_room(
    wave: torch.Tensor, sr: int, rt60_s: torch.Tensor, wet: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    """``wave [B, T]`` in a synthetic room: convolved with Gaussian noise decaying 60 dB in
    ``rt60_s [B]`` seconds, mixed so that the reverberant part is ``wet [B]`` of the energy.

    A clip with ``rt60_s`` 0 is returned unchanged. The convolution is done in the frequency domain
    over ``2T`` samples, so the room's tail never wraps round to the start; what rings beyond ``T``
    is cut.
    """
    b, t = wave.shape
    time_s = torch.arange(t, dtype=torch.float32)[None, :] / sr
    decay = torch.exp(-6.9078 * time_s / rt60_s.clamp_min(1e-6)[:, None])  # 60 dB at rt60
    ir = torch.randn(b, t, generator=gen) * decay
    ir = ir / ir.pow(2).sum(dim=1, keepdim=True).sqrt().clamp_min(1e-12)  # unit energy
    n = 2 * t
    wet_sig = torch.fft.irfft(torch.fft.rfft(wave, n=n) * torch.fft.rfft(ir, n=n), n=n)[:, :t]
    dry_rms = wave.pow(2).mean(dim=1).sqrt()
    wet_rms = wet_sig.pow(2).mean(dim=1).sqrt().clamp_min(1e-12)
    on = (rt60_s > 0).float()
    w = (wet * on)[:, None]
    return (1.0 - w).sqrt() * wave + w.sqrt() * wet_sig * (dry_rms / wet_rms)[:, None]


def _draw(
    n: int, p: float, lo_hi: tuple[float, float], off: float, gen: torch.Generator
) -> torch.Tensor:
    """``[n]`` values uniform in ``lo_hi`` with probability ``p``, else ``off``."""
    value = _uniform(n, *lo_hi, gen)
    on = torch.rand(n, generator=gen) < p
    return torch.where(on, value, torch.full((n,), off))


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
