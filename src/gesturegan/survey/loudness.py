"""Loudness after ITU-R BS.1770-4 (K-weighted, gated), and levelling clips to one loudness.

Survey stimuli are levelled so that neither real nor generated clips stand out by level: every clip
of a set gets the same integrated loudness, the highest one at which no clip's sample peak goes
above a ceiling (so none is clipped), and at most ``TARGET_LUFS``.

The K-weighting filters (a +4 dB high shelf near 1.7 kHz, then a high pass near 38 Hz) are the
standard's, recomputed for any sample rate from their analogue prototypes (as libebur128 does);
at 48 kHz the coefficients match the table of BS.1770 (tests/test_survey_video.py checks it).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

TARGET_LUFS = -23.0  # EBU R 128 programme loudness
PEAK_CEILING_DB = -1.0  # no levelled sample above this (dBFS)
_BLOCK_S, _OVERLAP = 0.4, 0.75
_ABSOLUTE_GATE, _RELATIVE_GATE = -70.0, -10.0


def k_weighting(sr: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two K-weighting biquads at ``sr`` Hz as ``[(b, a), (b, a)]`` (libebur128's design)."""
    # Stage 1: high shelf, +4 dB above ~1.68 kHz (the head's acoustic effect).
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sr)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = np.array([vh + vb * k / q + k * k, 2.0 * (k * k - vh), vh - vb * k / q + k * k]) / a0
    shelf_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    # Stage 2: the RLB high pass (~38 Hz).
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sr)
    a0 = 1.0 + k / q + k * k
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    return [(shelf_b, shelf_a), (hp_b, hp_a)]


def integrated_lufs(wave: np.ndarray, sr: int) -> float:
    """Integrated loudness of ``wave`` (``[T]`` or ``[T, C]`` float in [-1, 1]) in LUFS.

    400 ms blocks overlapping by 75 % (one block of the whole clip when it is shorter), an absolute
    gate at -70 LUFS and a relative gate 10 LU below the absolutely gated loudness. Channels count
    with weight 1 (BS.1770's left, right and centre). Silence is ``-inf``.
    """
    x = np.asarray(wave, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    for b, a in k_weighting(sr):
        x = signal.lfilter(b, a, x, axis=0)
    block = int(round(_BLOCK_S * sr))
    if len(x) <= block:
        powers = np.array([np.mean(x**2, axis=0).sum()])
    else:
        step = int(round(block * (1 - _OVERLAP)))
        starts = np.arange(0, len(x) - block + 1, step)
        sq = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x**2, axis=0)])
        powers = ((sq[starts + block] - sq[starts]) / block).sum(axis=1)
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10.0 * np.log10(powers)
    kept = powers[loud > _ABSOLUTE_GATE]
    if kept.size == 0:
        return -math.inf
    relative = -0.691 + 10.0 * math.log10(kept.mean()) + _RELATIVE_GATE
    kept = powers[(loud > _ABSOLUTE_GATE) & (loud > relative)]
    return -0.691 + 10.0 * math.log10(kept.mean())


def peak_db(wave: np.ndarray) -> float:
    """Sample peak of ``wave`` in dBFS (``-inf`` for silence)."""
    peak = float(np.abs(wave).max()) if np.size(wave) else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def common_level(
    waves: list[np.ndarray], sr: int, target_lufs: float = TARGET_LUFS,
    ceiling_db: float = PEAK_CEILING_DB,
) -> float:  # fmt: skip
    """The loudness (LUFS) every clip of ``waves`` can share: ``target_lufs``, or lower where some
    clip's peak would otherwise pass ``ceiling_db``. Silent clips do not count."""
    level = target_lufs
    for w in waves:
        loud = integrated_lufs(w, sr)
        if math.isfinite(loud):
            level = min(level, loud + ceiling_db - peak_db(w))
    return level


def level(wave: np.ndarray, sr: int, lufs: float) -> tuple[np.ndarray, float]:
    """``wave`` scaled to integrated loudness ``lufs``, and the gain applied in dB.

    A silent clip (no block above the absolute gate) is returned unchanged with gain 0 dB.
    """
    loud = integrated_lufs(wave, sr)
    if not math.isfinite(loud):
        return np.asarray(wave, dtype=np.float32), 0.0
    gain_db = lufs - loud
    return (np.asarray(wave) * 10.0 ** (gain_db / 20.0)).astype(np.float32), gain_db
