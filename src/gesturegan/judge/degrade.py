"""Controlled degradations of a clip, each with a severity in [0, 1] (0 leaves the clip as it is).

They check the judge: its distances must grow with severity. Pure functions of
``wave: [T] float32`` at ``sr`` Hz; the result has the same length.

- ``lowpass``: 8th-order Butterworth low-pass, cutoff from Nyquist down 7 octaves at severity 1;
- ``noise``: white noise at an SNR from 40 dB down to -10 dB (re the clip's RMS);
- ``clip``: hard clipping at a threshold down to 18 dB below the peak, gained back to the peak
  (beyond about 18 dB the weight-free features saturate: docs/evaluation.md);
- ``reverse_envelope``: the clip's level envelope (``gestures.envelope``) time-reversed over the
  first ``severity`` of the clip (the carrier kept): a decay becomes a swell;
- ``pitch``: shifted up by up to 12 semitones (resampled, then cut or padded to length).
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from .. import audio, gestures

CLIP_MAX_DB = 18.0
"""``clip`` at severity 1 clips this far below the peak."""

GAIN_LIMIT_DB = 60.0
"""``reverse_envelope`` never changes a sample's level by more than this (no boosting of silence)."""


def lowpass(wave: np.ndarray, sr: int, severity: float) -> np.ndarray:
    """Low-pass at ``nyquist · 2^(-7 · severity)`` (severity 1: 86 Hz at 22.05 kHz)."""
    if severity <= 0:
        return _f32(wave)
    cutoff = 0.5 * sr * 2.0 ** (-7.0 * severity)
    sos = scipy.signal.butter(8, min(cutoff, 0.49 * sr), fs=sr, output="sos")
    return _f32(scipy.signal.sosfiltfilt(sos, np.asarray(wave, np.float64)))


def noise(wave: np.ndarray, sr: int, severity: float, seed: int = 0) -> np.ndarray:
    """Add white noise at ``40 - 50 · severity`` dB SNR (seeded, so repeatable)."""
    if severity <= 0:
        return _f32(wave)
    x = np.asarray(wave, np.float64)
    rms = max(float(np.sqrt(np.mean(x**2))), 1e-6)
    snr_db = 40.0 - 50.0 * severity
    n = np.random.default_rng(seed).standard_normal(len(x)) * rms * 10 ** (-snr_db / 20)
    return _f32(np.clip(x + n, -1.0, 1.0))


def clip(wave: np.ndarray, sr: int, severity: float) -> np.ndarray:
    """Hard-clip at ``peak · 10^(-CLIP_MAX_DB · severity / 20)``, then gain back to the original peak."""
    x = np.asarray(wave, np.float64)
    peak = float(np.abs(x).max())
    if severity <= 0 or peak == 0:
        return _f32(wave)
    threshold = peak * 10 ** (-CLIP_MAX_DB * severity / 20)
    return _f32(np.clip(x, -threshold, threshold) * (peak / threshold))


def reverse_envelope(wave: np.ndarray, sr: int, severity: float) -> np.ndarray:
    """Time-reverse the level envelope (dB) over the first ``severity`` of the clip.

    The carrier is kept; only the level changes. Severity 1 reverses the whole envelope (a decay
    becomes a swell); 0.25 reverses the first quarter (the attack becomes a swell up to a quarter
    in, then the level drops back to where it was).
    """
    x = np.asarray(wave, np.float64)
    n = int(round(severity * len(x)))
    if n < 2:
        return _f32(wave)
    env_db = gestures.envelope(x, sr)
    env_at = np.interp(np.arange(len(x)), np.linspace(0, len(x) - 1, len(env_db)), env_db)
    gain_db = np.zeros(len(x))
    gain_db[:n] = np.clip(env_at[:n][::-1] - env_at[:n], -GAIN_LIMIT_DB, GAIN_LIMIT_DB)
    return _f32(x * 10 ** (gain_db / 20))


def pitch(wave: np.ndarray, sr: int, severity: float) -> np.ndarray:
    """Shift up by ``12 · severity`` semitones (and shorten, like a faster tape), padded to length."""
    if severity <= 0:
        return _f32(wave)
    ratio = 2.0 ** severity
    y = audio.resample(np.asarray(wave, np.float32), int(round(sr * ratio)), sr)
    return _f32(np.pad(y, (0, max(0, len(wave) - len(y))))[: len(wave)])


DEGRADATIONS = {
    "lowpass": lowpass,
    "noise": noise,
    "clip": clip,
    "reverse_envelope": reverse_envelope,
    "pitch": pitch,
}
"""Every degradation by name: ``fn(wave [T], sr, severity) -> [T] float32``."""


def _f32(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)
