"""Explainable gesture analysis: the energy envelope of a clip, what a listener hears in it, and a
short rule list that names its gesture category.

Everything here works on the RMS energy envelope in dB (``envelope``), measured in short frames
(23.2 ms frames every 11.6 ms: 512/256 samples at 22050 Hz). ``features`` turns it into a dozen
numbers with units (attack and decay times in seconds, levels in dB re the peak, counts, ratios);
``label`` applies a transparent sequence of threshold rules (module constants, each documented) that
follows the definitions of the four categories in DESIGN.md; ``explain`` says in one sentence which
features decided.

>>> import numpy as np
>>> sr = 22050
>>> t = np.arange(16384) / sr
>>> hit = (np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.01)).astype(np.float32)
>>> label(hit, sr)[0]
'trigger'
"""

from __future__ import annotations

import numpy as np
import scipy.signal

from .errors import UserError

CATEGORIES = ("trigger", "trigger_continuous", "continuous_variation", "continuous_repetition")

# --- Analysis constants -------------------------------------------------------------------------

FRAME_S = 0.0232
"""Envelope frame length in seconds (512 samples at 22050 Hz): short enough to follow a drum hit."""

HOP_S = 0.0116
"""Envelope hop in seconds (256 samples at 22050 Hz): the time resolution of every time feature."""

FLOOR_DB = -120.0
"""Level given to digital silence, so that log-energy is always finite."""

SILENCE_DB = -80.0
"""Frames quieter than this (dBFS RMS) are silence whatever the clip's peak: no onsets, not active."""

RANGE_DB = 60.0
"""Dynamic range analysed below the peak; the envelope is clipped here (reverb floors, noise)."""

ACTIVE_DB = 30.0
"""A frame is *active* when it is within this many dB of the peak (and not silent)."""

ATTACK_DB = 3.0
"""The attack ends at the first frame within this many dB of the top level (see ``features``)."""

ONSET_RISE_DB = 6.0
"""An onset is a rise of at least this many dB within ``ONSET_WINDOW_S`` (a new push of energy)."""

ONSET_WINDOW_S = 0.035
"""Window in which an onset's rise is measured (three frames)."""

ONSET_MIN_GAP_S = 0.05
"""Onsets closer than this are one onset (the ear fuses them; flams and rolls faster than 20 Hz)."""

SUSTAIN_AFTER_S = 0.1
"""``sustain_ratio`` is the share of energy later than this after the sound starts."""

PERIOD_MIN_LAG_S = 0.04
"""Shortest repetition period considered by ``periodicity`` (25 Hz: faster is a timbre, not a
rhythm)."""

# --- Decision thresholds (used by ``label``, in the order they are applied) ---------------------

TRIGGER_MAX_SPAN_S = 0.15
"""Rule 1, trigger: the sound stays within 20 dB of its peak for at most this long in all, i.e. it
is released at once and nothing loud follows."""

REGULAR_MIN_ONSETS = 3
"""Rule 2, repetition by pulses: at least this many onsets ..."""

REGULAR_MAX_CV = 0.3
"""... whose inter-onset intervals vary by at most this coefficient of variation (std / mean)."""

PERIODIC_MIN = 0.5
"""Rule 2, repetition by modulation: the detrended envelope repeats with at least this normalised
autocorrelation ..."""

PERIODIC_MIN_MOD_DB = 2.0
"""... at least this deep (std of the detrended envelope, dB) ..."""

PERIODIC_MIN_CYCLES = 3.0
"""... and its period fits at least this many times in the clip (two bumps are not a loop)."""

FAST_ATTACK_S = 0.05
"""Rule 3, trigger_continuous: the peak is reached within this time of the start (struck/plucked),
..."""

DECAY_MAX_CORR = -0.6
"""... and after the peak the envelope keeps falling: correlation of level with time at most this
..."""

DECAY_MIN_DROP_DB = 10.0
"""... and the last quarter of the clip is at least this many dB below the peak."""

STEADY_MAX_ATTACK_S = 0.15
"""Rule 4, repetition by steadiness: the level is reached within this time (a swell is not held),
..."""

STEADY_MAX_DB = 3.0
"""... and after the attack it varies by at most this (std, dB): a held drone, a dense roll, a
continuous texture without a shape."""


def envelope(
    wave: np.ndarray, sr: int, frame_s: float = FRAME_S, hop_s: float = HOP_S
) -> np.ndarray:
    """RMS energy envelope in dB, in short centred frames.

    The DC offset (the clip mean) is removed first. Frame ``i`` is centred on sample
    ``i * hop`` (the signal is zero-padded by half a frame at both ends), so a clip of ``T`` samples
    has ``1 + T // hop`` frames and frame ``i`` sits at ``i * hop / sr`` seconds.

    Parameters
    ----------
    wave : np.ndarray
        ``[T]`` mono samples in [-1, 1].
    sr : int
        Sample rate in Hz.
    frame_s, hop_s : float
        Frame length and hop in seconds (rounded to whole samples, at least one).

    Returns
    -------
    np.ndarray
        ``[F]`` float64 RMS level per frame in dBFS (a full-scale sine is -3 dB), at least
        ``FLOOR_DB``.
    """
    x = _validated(wave, sr)
    frame, hop = _frame_hop(sr, frame_s, hop_s)
    n = 1 + len(x) // hop
    x = np.pad(x - x.mean(), (frame // 2, frame - frame // 2))
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::hop][:n]  # (F, frame) view
    power = np.einsum("ij,ij->i", frames, frames) / frame
    return 10.0 * np.log10(np.maximum(power, 10.0 ** (FLOOR_DB / 10.0)))


def features(wave: np.ndarray, sr: int) -> dict[str, float]:
    """Envelope features of a clip: what a listener hears in its energy over time.

    All levels are in dB relative to the peak frame unless said otherwise; all times in seconds;
    the whole clip is analysed. Digital silence gives finite values (no NaN).

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
        ``span_20_s``: time from the first to the last frame within 20 dB of the peak.
        ``sustain_ratio``: share of the energy later than ``SUSTAIN_AFTER_S`` after the start.
        ``late_level_db``: mean level of the last quarter of the clip (clipped at ``-RANGE_DB``).
        ``variation_db``: std of the level over active frames after the attack.
        ``decay_corr`` / ``decay_slope_db_s``: correlation of level with time, and its slope, over
        active frames from the peak on (-1 and negative for a clean decay).
        ``periodicity`` / ``period_s`` / ``modulation_db``: highest autocorrelation peak of the
        detrended active envelope at lags from ``PERIOD_MIN_LAG_S`` to half its length, the
        shortest lag that repeats about as well (the period), and the depth (std, dB) of the
        detrended envelope.
        ``onset_count`` / ``onset_rate_hz`` / ``onset_cv``: onsets (rises of ``ONSET_RISE_DB``), per
        second, and the coefficient of variation of their intervals (1.0 with fewer than three).
        ``active_fraction``: share of frames within ``ACTIVE_DB`` of the peak.
        ``flux``: mean positive spectral change per frame, relative to the loudest spectrum.
        ``centroid_hz``: energy-weighted spectral centroid.
    """
    x = _validated(wave, sr).astype(np.float64)
    env = envelope(x, sr)
    n = len(env)
    frame, hop = _frame_hop(sr, FRAME_S, HOP_S)
    dt = hop / sr
    t = np.arange(n) * dt
    duration = len(x) / sr

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

    within_20 = np.flatnonzero(rel >= -20.0)
    span_20 = (within_20[-1] - within_20[0] + 1) * dt if loud.any() else 0.0

    power = 10.0 ** (env / 10.0) * loud
    total = power.sum()
    sustain = power[t >= t[i0] + SUSTAIN_AFTER_S].sum() / total if total > 0 else 0.0

    after = slice(ia, last_active + 1)
    variation = float(rel[after][active[after]].std()) if active[after].sum() > 1 else 0.0
    decay_corr, decay_slope = _trend(t[ip : last_active + 1], rel[ip : last_active + 1])
    periodicity, period, modulation = _periodicity(
        np.maximum(rel[i0 : last_active + 1], -ACTIVE_DB), dt
    )
    onsets = _onsets(rel, loud, dt)
    ioi = np.diff(onsets) * dt
    onset_cv = float(ioi.std() / ioi.mean()) if len(ioi) >= 2 else 1.0
    flux, centroid = _spectral(x, sr, frame, hop)

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
        "sustain_ratio": float(sustain),
        "late_level_db": float(rel[-max(1, n // 4) :].mean()) if loud.any() else -RANGE_DB,
        "variation_db": variation,
        "decay_corr": decay_corr,
        "decay_slope_db_s": decay_slope,
        "periodicity": periodicity,
        "period_s": period,
        "modulation_db": modulation,
        "onset_count": float(len(onsets)),
        "onset_rate_hz": len(onsets) / duration,
        "onset_cv": onset_cv,
        "active_fraction": float(active.mean()),
        "flux": flux,
        "centroid_hz": centroid,
    }


def label(wave: np.ndarray, sr: int) -> tuple[str, dict[str, float]]:
    """Gesture category of a clip by a short list of envelope rules, and the features used.

    The rules are applied in order; the first that holds decides:

    0. Silent (peak below ``SILENCE_DB``): ``continuous_repetition`` (a steady level of nothing).
    1. ``trigger``: the sound stays within 20 dB of its peak for at most ``TRIGGER_MAX_SPAN_S``:
       a short event released at once.
    2. ``continuous_repetition`` (pulses): at least ``REGULAR_MIN_ONSETS`` onsets with intervals
       more regular than ``REGULAR_MAX_CV``, or a periodic envelope (``periodicity`` at least
       ``PERIODIC_MIN``, ``modulation_db`` at least ``PERIODIC_MIN_MOD_DB``, period fitting
       ``PERIODIC_MIN_CYCLES`` times in the clip): loops, tremolo.
    3. ``trigger_continuous``: the peak comes within ``FAST_ATTACK_S`` of the start, the level then
       keeps falling (``decay_corr`` at most ``DECAY_MAX_CORR``) and ends at least
       ``DECAY_MIN_DROP_DB`` below the peak: an initial strike that rings on.
    4. ``continuous_repetition`` (steady): the level is reached within ``STEADY_MAX_ATTACK_S`` and
       then varies by at most ``STEADY_MAX_DB``: drones, dense rolls, held textures.
    5. Otherwise ``continuous_variation``: a stream whose intensity changes (swells, sweeps).

    Parameters
    ----------
    wave : np.ndarray
        ``[T]`` mono samples in [-1, 1].
    sr : int
        Sample rate in Hz.

    Returns
    -------
    tuple[str, dict[str, float]]
        One of ``CATEGORIES``, and ``features(wave, sr)``.

    Raises
    ------
    UserError
        ``wave`` is not ``[T]``, is empty or holds NaN / infinite samples, or ``sr`` is not positive.
    """
    f = features(wave, sr)
    return _decide(f), f


def explain(category: str, feats: dict[str, float]) -> str:
    """One short sentence naming the features that decided ``category`` (as ``label`` chose it).

    Parameters
    ----------
    category : str
        One of ``CATEGORIES``.
    feats : dict[str, float]
        The features returned by ``features`` / ``label``.

    Returns
    -------
    str
        A human sentence, e.g. ``"trigger: within 20 dB of its peak for only 0.05 s (≤ 0.15 s)."``
    """
    if category not in CATEGORIES:
        raise UserError(f"unknown gesture category {category!r}; known: {', '.join(CATEGORIES)}")
    f = feats
    if f["peak_db"] <= SILENCE_DB:
        return f"{category}: silent clip (peak {f['peak_db']:.0f} dBFS), no gesture to measure."
    if category == "trigger":
        return (
            f"trigger: within 20 dB of its peak for only {f['span_20_s']:.2f} s "
            f"(≤ {TRIGGER_MAX_SPAN_S} s), decays 20 dB in {f['decay_20_s']:.2f} s."
        )
    if category == "continuous_repetition":
        if _regular(f):
            return (
                f"continuous_repetition: {f['onset_count']:.0f} onsets with regular intervals "
                f"(CV {f['onset_cv']:.2f} ≤ {REGULAR_MAX_CV})."
            )
        if _periodic(f):
            return (
                f"continuous_repetition: envelope repeats every {f['period_s']:.3f} s "
                f"(periodicity {f['periodicity']:.2f}, depth {f['modulation_db']:.1f} dB)."
            )
        return (
            f"continuous_repetition: steady level, varies by {f['variation_db']:.1f} dB "
            f"(≤ {STEADY_MAX_DB} dB) after a {f['attack_s']:.2f} s attack."
        )
    if category == "trigger_continuous":
        return (
            f"trigger_continuous: peak after {f['attack_s']:.2f} s, then a long decay "
            f"(20 dB in {f['decay_20_s']:.2f} s, correlation {f['decay_corr']:.2f}, "
            f"end {f['late_level_db']:.0f} dB)."
        )
    return (
        f"continuous_variation: level varies by {f['variation_db']:.1f} dB without a regular "
        f"pulse (attack {f['attack_s']:.2f} s, peak at {f['peak_pos']:.0%} of the clip)."
    )


# --- Internals ----------------------------------------------------------------------------------


def _decide(f: dict[str, float]) -> str:
    if f["peak_db"] <= SILENCE_DB:
        return "continuous_repetition"
    if f["span_20_s"] <= TRIGGER_MAX_SPAN_S:
        return "trigger"
    if _regular(f) or _periodic(f):
        return "continuous_repetition"
    if (
        f["attack_s"] <= FAST_ATTACK_S
        and f["decay_corr"] <= DECAY_MAX_CORR
        and f["late_level_db"] <= -DECAY_MIN_DROP_DB
    ):
        return "trigger_continuous"
    if f["attack_s"] <= STEADY_MAX_ATTACK_S and f["variation_db"] <= STEADY_MAX_DB:
        return "continuous_repetition"
    return "continuous_variation"


def _regular(f: dict[str, float]) -> bool:
    return f["onset_count"] >= REGULAR_MIN_ONSETS and f["onset_cv"] <= REGULAR_MAX_CV


def _periodic(f: dict[str, float]) -> bool:
    return (
        f["periodicity"] >= PERIODIC_MIN
        and f["modulation_db"] >= PERIODIC_MIN_MOD_DB
        and f["period_s"] * PERIODIC_MIN_CYCLES <= f["duration_s"]
    )


def _validated(wave: np.ndarray, sr: int) -> np.ndarray:
    x = np.asarray(wave)
    if x.ndim != 1:
        raise UserError(f"expected a mono clip of shape [T], got shape {tuple(x.shape)}")
    if x.size == 0:
        raise UserError("empty clip: nothing to analyse")
    if not sr or sr <= 0:
        raise UserError(f"sample rate must be a positive number of Hz, got {sr}")
    x = x.astype(np.float64, copy=False)
    if not np.isfinite(x).all():
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise UserError(f"clip contains {bad} NaN or infinite sample(s) of {x.size}: not audio")
    return x


def _frame_hop(sr: int, frame_s: float, hop_s: float) -> tuple[int, int]:
    return max(1, round(frame_s * sr)), max(1, round(hop_s * sr))


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


def _spectral(x: np.ndarray, sr: int, frame: int, hop: int) -> tuple[float, float]:
    """Mean positive spectral flux (relative to the loudest frame's spectral norm) and the
    energy-weighted spectral centroid in Hz, over Hann-windowed frames, a block at a time."""
    n = 1 + len(x) // hop
    xp = np.pad(x - x.mean(), (frame // 2, frame - frame // 2))
    frames = np.lib.stride_tricks.sliding_window_view(xp, frame)[::hop][:n]
    window = np.hanning(frame + 2)[1:-1]
    freqs = np.fft.rfftfreq(frame, 1.0 / sr)
    block = 4096
    flux_sum = energy = weighted = 0.0
    max_norm = 0.0
    prev = None
    for start in range(0, n, block):
        mag = np.abs(np.fft.rfft(frames[start : start + block] * window, axis=1))  # (B, K)
        with_prev = mag if prev is None else np.vstack([prev, mag])
        flux_sum += np.sqrt((np.maximum(np.diff(with_prev, axis=0), 0.0) ** 2).sum(axis=1)).sum()
        power = mag * mag
        energy += power.sum()
        weighted += (power * freqs).sum()
        max_norm = max(max_norm, float(np.sqrt(power.sum(axis=1)).max()))
        prev = mag[-1:]
    if max_norm < 1e-9:
        return 0.0, 0.0
    return float(flux_sum / n / max_norm), float(weighted / energy)
