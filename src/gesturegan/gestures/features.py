"""Envelope features of a clip or a whole file: about thirty numbers with units (attack and decay
times in seconds, levels in dB re the peak, counts, ratios) that say what a listener hears in its
energy over time. ``rules.py`` names the gesture category from them.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.signal

from .. import audio
from ..errors import UserError
from .analysis import (
    ACTIVE_DB,
    ATTACK_DB,
    FILE_BLOCK,
    FRAME_S,
    GRID_MIN_ONSETS,
    GRID_MIN_TATUM_S,
    HOP_S,
    MIN_NORM,
    ONSET_MIN_GAP_S,
    ONSET_RISE_DB,
    ONSET_WINDOW_S,
    PERIOD_MIN_LAG_S,
    RANGE_DB,
    SILENCE_DB,
    STEADY_BAND_DB,
    SUSTAIN_AFTER_S,
    Frames,
    analyse,
    chunks,
    frame_hop,
    validated,
)

_END_FRAMES = 3  # ``end_level_db`` is the loudest of the last frames (35 ms at the default hop)


def features(wave: np.ndarray, sr: int) -> dict[str, float]:
    """Envelope features of a clip: what a listener hears in its energy over time.

    All levels are in dB relative to the peak frame unless said otherwise; all times in seconds;
    the whole clip is analysed, a block of frames at a time (memory does not grow with the frames
    analysed at once). Digital silence gives finite values (no NaN). ``features_file`` gives the
    same numbers for an audio file of any length without loading it whole.

    Parameters
    ----------
    wave : np.ndarray
        ``[T]`` mono samples in [-1, 1] (any float dtype; DC offset is removed).
    sr : int
        Sample rate in Hz.

    Returns
    -------
    dict[str, float]
        ``duration_s``: clip length. ``peak_db``: loudest frame, dBFS RMS.
        ``peak_time_s`` / ``peak_pos``: where the loudest frame is, in seconds and as a fraction of
        the clip. ``onset_time_s``: first active frame (within ``ACTIVE_DB`` of the peak).
        ``attack_s``: from ``onset_time_s`` to the first frame within ``ATTACK_DB`` of the top level
        (the 90th percentile of active frames: the peak, unless the peak is a lone spike).
        ``decay_20_s`` / ``decay_40_s``: from the peak to the first frame 20 / 40 dB below it
        (the time left to the end of the clip when it never gets there).
        ``span_20_s`` / ``span_40_s``: time from the first to the last frame within 20 / 40 dB of
        the peak (how long the sound lasts).
        ``steady_fraction``: share of the sound (first to last active frame) that is active and
        within ``STEADY_BAND_DB`` of its median active level.
        ``sustain_ratio``: share of the energy later than ``SUSTAIN_AFTER_S`` after the start.
        ``late_level_db``: mean level of the last quarter of the sound (first to last active
        frame; clipped at ``-RANGE_DB``): silence after the sound does not lower it.
        ``end_level_db``: the loudest of the last three frames: has the sound ended, or is it cut?
        ``variation_db``: std of the level over active frames after the attack.
        ``decay_corr`` / ``decay_slope_db_s``: correlation of level with time, and its slope, over
        active frames from the peak on (-1 and negative for a clean decay).
        ``trend_corr``: correlation of level with time over the whole sound (first to last active
        frame): near 0 for a sound that holds its level, wherever its loudest moment falls.
        ``periodicity`` / ``period_s`` / ``modulation_db``: highest autocorrelation peak of the
        detrended active envelope at lags from ``PERIOD_MIN_LAG_S`` to half its length, the
        shortest lag that repeats about as well (the period), and the depth (std, dB) of the
        detrended envelope.
        ``onset_count`` / ``onset_rate_hz`` / ``onset_cv``: onsets (rises of ``ONSET_RISE_DB``), per
        second, and the coefficient of variation of their intervals (1.0 with fewer than three).
        ``onset_grid_error`` / ``tatum_s``: how far the onset intervals are from whole multiples
        of one beat, in beats, and that beat (1.0 and 0.0 with fewer than ``GRID_MIN_ONSETS``).
        ``active_fraction``: share of frames within ``ACTIVE_DB`` of the peak.
        ``sound_active_fraction``: the same share within the sound (first to last active frame):
        its pauses, not the silence before or after it in the clip.
        ``flux``: mean positive spectral change per frame, relative to the loudest spectrum.
        ``flux_body``: mean positive spectral change per frame relative to the frame's own
        spectrum, over the active frames after the attack: how much the sound keeps changing
        colour while it lasts, at any level (0 for a steady or purely decaying tone).
        ``centroid_hz``: energy-weighted spectral centroid.
        ``centroid_drift_oct``: how far the spectral centroid travels over the active frames after
        the attack (10th to 90th percentile of its log2, in octaves): sweeps and glides move,
        drones and rings barely.
    """
    x = validated(wave, sr)
    return _summarise(analyse(lambda: chunks(x), float(x.mean()), len(x), sr), sr, len(x))


def features_file(path: str | os.PathLike) -> dict[str, float]:
    """``features`` of a whole audio file (mono mix, its own rate), read in blocks.

    The file is read twice, block by block (once for its mean and length, once for the analysis),
    so memory stays bounded whatever its duration: an hour of audio is analysed like a clip.

    Parameters
    ----------
    path : str | os.PathLike
        Any file ``soundfile`` reads (wav, flac, ogg, aiff, mp3).

    Returns
    -------
    dict[str, float]
        The same keys as ``features``.

    Raises
    ------
    UserError
        The file is not readable audio, is empty, or holds NaN / infinite samples.
    """
    sr = audio.info(path).sr
    total = n = 0
    for block in audio.blocks(path, FILE_BLOCK):
        if not np.isfinite(block).all():
            raise UserError(f"{path}: contains NaN or infinite samples: not audio")
        total += float(block.sum(dtype=np.float64))
        n += len(block)
    if n == 0:
        raise UserError(f"{path}: empty (0 frames): nothing to analyse")
    if sr <= 0:
        raise UserError(f"{path}: invalid sample rate {sr} Hz in the header")
    frames = analyse(lambda: audio.blocks(path, FILE_BLOCK), total / n, n, sr)
    return _summarise(frames, sr, n)



def _grid(ioi: np.ndarray) -> tuple[float, float]:
    """How well inter-onset intervals ``ioi`` (s) fit whole multiples of one beat: the smallest mean
    distance (in beats) of ``ioi / beat`` from whole numbers, and that beat (the tatum, s).

    Candidate beats are each interval divided by 1 to 4, no shorter than ``GRID_MIN_TATUM_S`` nor a
    quarter of the median interval, and no longer than the median interval. ``(1.0, 0.0)`` with
    fewer than ``GRID_MIN_ONSETS`` onsets.
    """
    if len(ioi) + 1 < GRID_MIN_ONSETS:
        return 1.0, 0.0
    med = float(np.median(ioi))
    beats = (ioi[:, None] / np.arange(1, 5)[None, :]).ravel()  # (4 n,)
    beats = np.unique(beats[(beats >= max(GRID_MIN_TATUM_S, med / 4)) & (beats <= med)])
    if len(beats) == 0:
        return 1.0, 0.0
    ratio = ioi[None, :] / beats[:, None]  # (candidates, n)
    err = np.abs(ratio - np.round(ratio)).mean(axis=1)
    best = int(np.argmin(err))
    return float(err[best]), float(beats[best])


def _span(rel: np.ndarray, loud: np.ndarray, floor_db: float) -> int:
    """Frames from the first to the last loud frame at least ``floor_db`` re the peak (0 if none)."""
    idx = np.flatnonzero(loud & (rel >= floor_db))
    return int(idx[-1] - idx[0] + 1) if len(idx) else 0


def _steady_fraction(level: np.ndarray, active: np.ndarray) -> float:
    """Share of the frames of a sound (``level`` in dB, from its first to its last active frame)
    that are active and within ``STEADY_BAND_DB`` of the median active level: gaps of silence
    between events count against steadiness."""
    if active.sum() < 2:
        return 0.0
    med = np.median(level[active])
    return float(np.mean(active & (np.abs(level - med) <= STEADY_BAND_DB)))


def _late_level(sound: np.ndarray) -> float:
    """Mean level (dB re peak) of the last quarter of a sound (its frames from the first to the
    last active one): how far it has fallen by its end, whatever silence follows it in the clip."""
    return float(sound[-max(1, len(sound) // 4) :].mean())


def _first(mask: np.ndarray, default: int) -> int:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if len(idx) else default


def _decay_time(rel: np.ndarray, ip: int, below_db: float, dt: float, duration: float) -> float:
    i = _first(rel[ip:] <= below_db, default=-1)
    return float(i * dt) if i >= 0 else float(max(duration - ip * dt, 0.0))


def _trend(t: np.ndarray, level: np.ndarray) -> tuple[float, float]:
    """Pearson correlation and least-squares slope (dB/s) of ``level`` against ``t``."""
    if len(t) < 3:
        return 0.0, 0.0
    tc, lc = t - t.mean(), level - level.mean()
    stt, sll = (tc * tc).sum(), (lc * lc).sum()
    if stt == 0 or sll == 0:
        return 0.0, 0.0
    stl = (tc * lc).sum()
    return float(stl / np.sqrt(stt * sll)), float(stl / stt)


def _periodicity(level: np.ndarray, dt: float) -> tuple[float, float, float]:
    """Highest local maximum of the unbiased, normalised autocorrelation of the linearly detrended
    ``level`` at lags ``PERIOD_MIN_LAG_S``..len/2, the shortest lag (s) with a maximum at least 0.9
    of it, and the residual std (dB)."""
    n = len(level)
    if n < 4:
        return 0.0, 0.0, 0.0
    t = np.arange(n)
    resid = level - np.polyval(np.polyfit(t, level, 1), t)
    var = float((resid * resid).mean())
    if var < 1e-12:
        return 0.0, 0.0, 0.0
    spec = np.fft.rfft(resid, 2 * n)
    acf = np.fft.irfft(spec * spec.conj(), 2 * n)[:n] / (n - t) / var  # unbiased, r[0] = 1
    lo, hi = max(1, int(np.ceil(PERIOD_MIN_LAG_S / dt))), n // 2
    if hi - lo < 2:
        return 0.0, 0.0, float(np.sqrt(var))
    peaks, _ = scipy.signal.find_peaks(acf[lo - 1 : hi + 1])
    if len(peaks) == 0:
        return 0.0, 0.0, float(np.sqrt(var))
    heights = acf[lo - 1 + peaks]
    # The period is the shortest lag that repeats almost as well as the best one (multiples of
    # the period correlate as well as the period itself).
    best = peaks[np.argmax(heights >= 0.9 * heights.max())] + lo - 1
    return float(np.clip(heights.max(), 0.0, 1.0)), float(best * dt), float(np.sqrt(var))


def _onsets(rel: np.ndarray, loud: np.ndarray, dt: float) -> np.ndarray:
    """Frame indices where the level rises by ``ONSET_RISE_DB`` within ``ONSET_WINDOW_S``, each a
    clear peak of that rise (prominence ``ONSET_RISE_DB / 2``)."""
    k = max(1, round(ONSET_WINDOW_S / dt))
    padded = np.concatenate([np.full(k, -RANGE_DB), rel])
    before = np.lib.stride_tricks.sliding_window_view(padded, k)[: len(rel)].min(axis=1)
    rise = rel - before
    distance = max(1, round(ONSET_MIN_GAP_S / dt))
    # Prominence keeps one onset per push: a slow crescendo rises steadily (a plateau of ``rise``),
    # which is one onset, not one every ``ONSET_MIN_GAP_S``.
    peaks, _ = scipy.signal.find_peaks(
        np.concatenate([[0.0], rise, [0.0]]), distance=distance, prominence=ONSET_RISE_DB / 2
    )
    peaks = peaks - 1
    keep = (rise[peaks] >= ONSET_RISE_DB) & loud[peaks] & (rel[peaks] >= -ACTIVE_DB)
    return peaks[keep]



def _summarise(a: Frames, sr: int, n_samples: int) -> dict[str, float]:
    """The feature dict of ``features`` from the per-frame measurements of the whole signal."""
    env = a.level_db
    n = len(env)
    _, hop = frame_hop(sr, FRAME_S, HOP_S)
    dt = hop / sr
    t = np.arange(n) * dt
    duration = n_samples / sr

    peak_db = float(env.max())
    ip = int(np.argmax(env))
    rel = np.maximum(env - peak_db, -RANGE_DB)
    loud = env > SILENCE_DB
    active = loud & (rel >= -ACTIVE_DB)
    i0 = _first(active, default=0)
    # The attack ends near the *typical* top level (90th percentile of active frames), not the
    # single loudest frame: a random spike in a steady noise must not stretch the attack.
    top = float(np.percentile(rel[active], 90)) if active.any() else 0.0
    ia = max(i0, _first(active & (rel >= top - ATTACK_DB), default=ip))
    last_active = n - 1 - _first(active[::-1], default=0)

    span_20, span_40 = (_span(rel, loud, -db) * dt for db in (20.0, 40.0))

    power = 10.0 ** (env / 10.0) * loud
    total = power.sum()
    sustain = power[t >= t[i0] + SUSTAIN_AFTER_S].sum() / total if total > 0 else 0.0

    after = slice(ia, last_active + 1)
    body = np.zeros(n, dtype=bool)
    body[after] = active[after]
    variation = float(rel[body].std()) if body.sum() > 1 else 0.0
    decay_corr, decay_slope = _trend(t[ip : last_active + 1], rel[ip : last_active + 1])
    # The same over the whole sound: unlike decay_corr it does not depend on where the loudest
    # frame falls (a steady roll whose loudest hit comes last has a decay_corr near -1).
    trend_corr, _ = _trend(t[i0 : last_active + 1], rel[i0 : last_active + 1])
    periodicity, period, modulation = _periodicity(
        np.maximum(rel[i0 : last_active + 1], -ACTIVE_DB), dt
    )
    onsets = _onsets(rel, loud, dt)
    ioi = np.diff(onsets) * dt
    onset_cv = float(ioi.std() / ioi.mean()) if len(ioi) >= 2 else 1.0
    grid_error, tatum = _grid(ioi)

    norm = np.sqrt(a.spec_energy)
    top_norm = float(norm.max())
    flux = float(a.flux.sum() / n / top_norm) if top_norm > MIN_NORM else 0.0
    # Frame-relative flux: the change since the previous frame against the larger of the two
    # spectra, so a decaying ring (each frame a scaled copy of the last) reads 0 at any level.
    ref = np.maximum(norm, np.concatenate([norm[:1], norm[:-1]]))
    body_spec = body & (ref > MIN_NORM)
    flux_body = float((a.flux[body_spec] / ref[body_spec]).mean()) if body_spec.any() else 0.0
    e_total = float(a.spec_energy.sum())
    centroid = float((a.centroid * a.spec_energy).sum() / e_total) if e_total > 0 else 0.0
    cents = a.centroid[body & (a.centroid > 0)]
    drift = float(np.diff(np.percentile(np.log2(cents), [10, 90]))[0]) if len(cents) > 1 else 0.0

    return {
        "duration_s": duration,
        "peak_db": peak_db,
        "peak_time_s": float(t[ip]),
        "peak_pos": float(min(t[ip] / duration, 1.0)),
        "onset_time_s": float(t[i0]),
        "attack_s": float(t[ia] - t[i0]),
        "decay_20_s": _decay_time(rel, ip, -20.0, dt, duration),
        "decay_40_s": _decay_time(rel, ip, -40.0, dt, duration),
        "span_20_s": float(span_20),
        "span_40_s": float(span_40),
        "steady_fraction": _steady_fraction(
            rel[i0 : last_active + 1], active[i0 : last_active + 1]
        ),
        "sustain_ratio": float(sustain),
        "late_level_db": _late_level(rel[i0 : last_active + 1]) if loud.any() else -RANGE_DB,
        "end_level_db": float(rel[-_END_FRAMES:].max()) if loud.any() else -RANGE_DB,
        "variation_db": variation,
        "decay_corr": decay_corr,
        "decay_slope_db_s": decay_slope,
        "trend_corr": trend_corr,
        "periodicity": periodicity,
        "period_s": period,
        "modulation_db": modulation,
        "onset_count": float(len(onsets)),
        "onset_rate_hz": len(onsets) / duration,
        "onset_cv": onset_cv,
        "onset_grid_error": grid_error,
        "tatum_s": tatum,
        "active_fraction": float(active.mean()),
        "sound_active_fraction": float(active[i0 : last_active + 1].mean()),
        "flux": flux,
        "flux_body": flux_body,
        "centroid_hz": centroid,
        "centroid_drift_oct": drift,
    }
