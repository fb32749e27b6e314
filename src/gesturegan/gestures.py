"""Explainable gesture analysis: the energy envelope of a clip, what a listener hears in it, and a
short rule list that names its gesture category.

Everything here works on the RMS energy envelope in dB (``envelope``), measured in short frames
(23.2 ms frames every 11.6 ms: 512/256 samples at 22050 Hz), plus the spectrum of the same frames.
``features`` turns them into about thirty numbers with units (attack and decay times in seconds,
levels in dB re the peak, counts, ratios); ``label`` applies a transparent sequence of threshold
rules (module constants, each documented) that follows the definitions of the four categories in
DESIGN.md; ``explain`` says in one sentence which features decided. ``features_file`` and
``label_file`` analyse a whole audio file of any length, a block at a time.

>>> import numpy as np
>>> sr = 22050
>>> t = np.arange(16384) / sr
>>> hit = (np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.01)).astype(np.float32)
>>> label(hit, sr)[0]
'trigger'
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.signal

from . import audio
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

STEADY_BAND_DB = 3.0
"""``steady_fraction`` counts the frames within this many dB of the sound's median level."""

SUSTAIN_AFTER_S = 0.1
"""``sustain_ratio`` is the share of energy later than this after the sound starts."""

PERIOD_MIN_LAG_S = 0.04
"""Shortest repetition period considered by ``periodicity`` (25 Hz: faster is a timbre, not a
rhythm)."""

FILE_BLOCK = 1 << 16
"""Samples read (or copied) at a time when analysing a long signal: memory stays bounded."""

_FRAME_BLOCK = 4096  # frames whose spectra are taken at once (~16 MB at 512-sample frames)
_MIN_NORM = 1e-9
_END_FRAMES = 3  # ``end_level_db`` is the loudest of the last frames (35 ms at the default hop)  # spectral norm below which a frame counts as silent for the spectral features

# --- Decision thresholds (used by ``label``, in the order they are applied) ---------------------

TRIGGER_MAX_SPAN_S = 0.15
"""Rule 1, trigger: the sound stays within 20 dB of its peak for at most this long in all, i.e. it
is released at once and nothing loud follows."""

SHORT_SOUND_S = 0.35
"""Rule 1, trigger: ... or the whole signal lasts at most this long, or the sound (within 40 dB of
its peak) lasts at most this long and the signal ends in silence (40 dB down): a short note, blip or
hit, released at once whatever its shape. (A drone cut off by the end of a short clip is not.)"""

REGULAR_MIN_ONSETS = 5
"""Rule 2, repetition by pulses: at least this many onsets ..."""

REGULAR_MAX_CV = 0.3
"""... whose inter-onset intervals vary by at most this coefficient of variation (std / mean)."""

GRID_MIN_ONSETS = 6
"""Rule 2, repetition by rhythm: at least this many onsets ..."""

GRID_MAX_ERROR = 0.08
"""... whose intervals are whole multiples of one beat to within this mean error (in beats): a
drum loop or riff, regular in its grid though not in every interval ..."""

GRID_MIN_TATUM_S = 0.08
"""... of at least this length (a finer grid would fit any intervals)."""

PERIODIC_MIN = 0.5
"""Rule 2, repetition by modulation: the detrended envelope repeats with at least this normalised
autocorrelation ..."""

PERIODIC_MIN_MOD_DB = 2.0
"""... at least this deep (std of the detrended envelope, dB) ..."""

PERIODIC_MIN_CYCLES = 3.0
"""... and its period fits at least this many times in the clip (two bumps are not a loop)."""

SHIMMER_MAX_PERIOD_S = 0.1
"""Rule 2 does not apply to a sound that rings (rule 3) when its modulation is faster than this
period (10 Hz): beating partials or vibrato on a decaying note are a shimmer, not a loop."""

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

STEADY_FLAT_MIN_FRACTION = 0.5
"""... while at least this share of the sound is within ``STEADY_BAND_DB`` of its median (events
separated by silence have a flat top but are not held); ..."""

STEADY_MIN_FRACTION = 0.75
"""... or, whatever the attack and release, the level stays within ``STEADY_BAND_DB`` of its
median for at least this share of the sound (a held organ chord, a pad, a bass note with vibrato)."""


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
        ``late_level_db``: mean level of the last quarter of the clip (clipped at ``-RANGE_DB``).
        ``end_level_db``: the loudest of the last three frames: has the sound ended, or is it cut?
        ``variation_db``: std of the level over active frames after the attack.
        ``decay_corr`` / ``decay_slope_db_s``: correlation of level with time, and its slope, over
        active frames from the peak on (-1 and negative for a clean decay).
        ``periodicity`` / ``period_s`` / ``modulation_db``: highest autocorrelation peak of the
        detrended active envelope at lags from ``PERIOD_MIN_LAG_S`` to half its length, the
        shortest lag that repeats about as well (the period), and the depth (std, dB) of the
        detrended envelope.
        ``onset_count`` / ``onset_rate_hz`` / ``onset_cv``: onsets (rises of ``ONSET_RISE_DB``), per
        second, and the coefficient of variation of their intervals (1.0 with fewer than three).
        ``onset_grid_error`` / ``tatum_s``: how far the onset intervals are from whole multiples
        of one beat, in beats, and that beat (1.0 and 0.0 with fewer than ``GRID_MIN_ONSETS``).
        ``active_fraction``: share of frames within ``ACTIVE_DB`` of the peak.
        ``flux``: mean positive spectral change per frame, relative to the loudest spectrum.
        ``flux_body``: mean positive spectral change per frame relative to the frame's own
        spectrum, over the active frames after the attack: how much the sound keeps changing
        colour while it lasts, at any level (0 for a steady or purely decaying tone).
        ``centroid_hz``: energy-weighted spectral centroid.
        ``centroid_drift_oct``: how far the spectral centroid travels over the active frames after
        the attack (10th to 90th percentile of its log2, in octaves): sweeps and glides move,
        drones and rings barely.
    """
    x = _validated(wave, sr)
    return _summarise(_analyse(lambda: _chunks(x), float(x.mean()), len(x), sr), sr, len(x))


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
    frames = _analyse(lambda: audio.blocks(path, FILE_BLOCK), total / n, n, sr)
    return _summarise(frames, sr, n)


def spectral_flux(wave: np.ndarray, sr: int) -> np.ndarray:
    """Spectral flux over time: positive spectral change per envelope frame.

    Frame ``i`` is the same frame as ``envelope(wave, sr)[i]`` (Hann window); its flux is the
    Euclidean norm of the rises of the magnitude spectrum since frame ``i - 1`` (0 for frame 0),
    divided by the spectral norm of the loudest frame of the clip, so a sound that switches from
    silence to its loudest spectrum at once reads 1.

    Parameters
    ----------
    wave : np.ndarray
        ``[T]`` mono samples in [-1, 1].
    sr : int
        Sample rate in Hz.

    Returns
    -------
    np.ndarray
        ``[F]`` float64, ``F = 1 + T // hop``; all zeros for digital silence.
    """
    x = _validated(wave, sr)
    a = _analyse(lambda: _chunks(x), float(x.mean()), len(x), sr)
    top = float(np.sqrt(a.spec_energy.max()))
    return a.flux / top if top > _MIN_NORM else np.zeros_like(a.flux)


def label(wave: np.ndarray, sr: int) -> tuple[str, dict[str, float]]:
    """Gesture category of a clip by a short list of envelope rules, and the features used.

    The rules are applied in order; the first that holds decides:

    0. Silent (peak below ``SILENCE_DB``): ``continuous_repetition`` (a steady level of nothing).
    1. ``trigger``: the sound stays within 20 dB of its peak for at most ``TRIGGER_MAX_SPAN_S``;
       or the whole signal lasts at most ``SHORT_SOUND_S``; or the sound (``span_40_s``) lasts at
       most ``SHORT_SOUND_S`` and the signal ends 40 dB down: a short event released at once.
    2. ``continuous_repetition`` (pulses): at least ``REGULAR_MIN_ONSETS`` onsets with intervals
       more regular than ``REGULAR_MAX_CV``; or at least ``GRID_MIN_ONSETS`` onsets on a common
       beat grid (``onset_grid_error`` at most ``GRID_MAX_ERROR``); or a periodic envelope
       (``periodicity`` at least ``PERIODIC_MIN``, ``modulation_db`` at least
       ``PERIODIC_MIN_MOD_DB``, period fitting ``PERIODIC_MIN_CYCLES`` times in the clip) — unless
       the sound rings (rule 3) and the period is shorter than ``SHIMMER_MAX_PERIOD_S`` (beating,
       vibrato): loops, riffs, rolls, tremolo.
    3. ``trigger_continuous``: the peak comes within ``FAST_ATTACK_S`` of the start, the level then
       keeps falling (``decay_corr`` at most ``DECAY_MAX_CORR``) and ends at least
       ``DECAY_MIN_DROP_DB`` below the peak: an initial strike that rings on.
    4. ``continuous_repetition`` (steady): the level is reached within ``STEADY_MAX_ATTACK_S`` and
       then varies by at most ``STEADY_MAX_DB`` (with ``steady_fraction`` at least
       ``STEADY_FLAT_MIN_FRACTION``), or ``steady_fraction`` is at least ``STEADY_MIN_FRACTION``
       whatever the attack and release: drones, held notes and pads, dense rolls, held textures.
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
    return decide(f), f


def label_file(path: str | os.PathLike) -> tuple[str, dict[str, float]]:
    """``label`` of a whole audio file of any length (see ``features_file``)."""
    f = features_file(path)
    return decide(f), f


def decide(feats: dict[str, float]) -> str:
    """The category the rules of ``label`` give to features computed by ``features``."""
    return RULE_CATEGORY[rule(feats)]


RULE_CATEGORY = {
    "silent": "continuous_repetition",
    "short": "trigger",
    "pulses": "continuous_repetition",
    "rhythm": "continuous_repetition",
    "modulation": "continuous_repetition",
    "rings": "trigger_continuous",
    "steady": "continuous_repetition",
    "swell": "continuous_variation",
}
"""The rules of ``label`` in the order they are tried, by name, and the category each gives."""


def rule(feats: dict[str, float]) -> str:
    """Which rule of ``label`` decides for features computed by ``features``: a key of
    ``RULE_CATEGORY`` (rule 0 ``silent``, 1 ``short``, 2 ``pulses`` / ``rhythm`` / ``modulation``,
    3 ``rings``, 4 ``steady``, 5 ``swell``). It names the kind of gesture within a category: a
    loop of pulses and a held drone are both ``continuous_repetition``."""
    f = feats
    if f["peak_db"] <= SILENCE_DB:
        return "silent"
    if _short(f):
        return "short"
    if _regular(f):
        return "pulses"
    if _rhythmic(f):
        return "rhythm"
    if _periodic(f) and not (_rings(f) and f["period_s"] < SHIMMER_MAX_PERIOD_S):
        return "modulation"
    if _rings(f):
        return "rings"
    if _steady(f):
        return "steady"
    return "swell"


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
        if f["span_20_s"] > TRIGGER_MAX_SPAN_S and f["span_40_s"] <= SHORT_SOUND_S:
            return (
                f"trigger: the whole sound lasts only {f['span_40_s']:.2f} s within 40 dB of its "
                f"peak (≤ {SHORT_SOUND_S} s), a short event released at once."
            )
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
        if _rhythmic(f):
            return (
                f"continuous_repetition: {f['onset_count']:.0f} onsets on a grid of "
                f"{f['tatum_s']:.3f} s beats (mean error {f['onset_grid_error']:.2f} beat "
                f"≤ {GRID_MAX_ERROR}): a rhythm."
            )
        if _periodic(f):
            return (
                f"continuous_repetition: envelope repeats every {f['period_s']:.3f} s "
                f"(periodicity {f['periodicity']:.2f}, depth {f['modulation_db']:.1f} dB)."
            )
        if f["attack_s"] <= STEADY_MAX_ATTACK_S and f["variation_db"] <= STEADY_MAX_DB:
            return (
                f"continuous_repetition: steady level, varies by {f['variation_db']:.1f} dB "
                f"(≤ {STEADY_MAX_DB} dB) after a {f['attack_s']:.2f} s attack."
            )
        return (
            f"continuous_repetition: steady level, {f['steady_fraction']:.0%} of the sound within "
            f"{STEADY_BAND_DB:.0f} dB of its median (≥ {STEADY_MIN_FRACTION:.0%})."
        )
    if category == "trigger_continuous":
        shimmer = f", with a {f['period_s'] * 1000:.0f} ms shimmer" if _periodic(f) else ""
        return (
            f"trigger_continuous: peak after {f['attack_s']:.2f} s, then a long decay "
            f"(20 dB in {f['decay_20_s']:.2f} s, correlation {f['decay_corr']:.2f}, "
            f"end {f['late_level_db']:.0f} dB){shimmer}."
        )
    return (
        f"continuous_variation: level varies by {f['variation_db']:.1f} dB without a regular "
        f"pulse (attack {f['attack_s']:.2f} s, peak at {f['peak_pos']:.0%} of the clip)."
    )


# --- Internals ----------------------------------------------------------------------------------


def _short(f: dict[str, float]) -> bool:
    if f["span_20_s"] <= TRIGGER_MAX_SPAN_S or f["duration_s"] <= SHORT_SOUND_S:
        return True
    # Over within SHORT_SOUND_S and silent at the end: released, not cut off by the clip's end.
    return f["span_40_s"] <= SHORT_SOUND_S and f["end_level_db"] <= -40.0


def _rings(f: dict[str, float]) -> bool:
    return (
        f["attack_s"] <= FAST_ATTACK_S
        and f["decay_corr"] <= DECAY_MAX_CORR
        and f["late_level_db"] <= -DECAY_MIN_DROP_DB
    )


def _steady(f: dict[str, float]) -> bool:
    held = f["steady_fraction"] >= STEADY_MIN_FRACTION
    flat = f["attack_s"] <= STEADY_MAX_ATTACK_S and f["variation_db"] <= STEADY_MAX_DB
    # A few clicks in silence have a flat top but are not a held level: half the sound at least.
    return held or (flat and f["steady_fraction"] >= STEADY_FLAT_MIN_FRACTION)


def _regular(f: dict[str, float]) -> bool:
    return f["onset_count"] >= REGULAR_MIN_ONSETS and f["onset_cv"] <= REGULAR_MAX_CV


def _rhythmic(f: dict[str, float]) -> bool:
    return f["onset_count"] >= GRID_MIN_ONSETS and f["onset_grid_error"] <= GRID_MAX_ERROR


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


@dataclass
class _Frames:
    """Per-frame measurements of a whole signal, on the envelope's frame grid: ``[F]`` each."""

    level_db: np.ndarray  # RMS level, dBFS (``envelope``)
    spec_energy: np.ndarray  # sum of squared Hann-windowed magnitudes
    centroid: np.ndarray  # power-weighted spectral centroid, Hz (0 for a silent frame)
    flux: np.ndarray  # norm of the positive magnitude change since the previous frame


def _chunks(x: np.ndarray) -> Iterator[np.ndarray]:
    """An in-memory signal as consecutive chunks, so the analysis copies a chunk at a time."""
    for start in range(0, len(x), FILE_BLOCK):
        yield x[start : start + FILE_BLOCK]


def _analyse(
    chunks: Callable[[], Iterable[np.ndarray]], mean: float, n_samples: int, sr: int
) -> _Frames:
    """Envelope and spectral measurements of the signal that ``chunks()`` yields, frame by frame.

    The signal (``n_samples`` long, DC ``mean`` removed) is seen as zero-padded by half a frame at
    both ends, exactly as in ``envelope``; frames are cut from a rolling buffer as the chunks
    arrive, and analysed ``_FRAME_BLOCK`` at a time, so only a chunk and a block of frames are in
    memory at once.
    """
    frame, hop = _frame_hop(sr, FRAME_S, HOP_S)
    n = 1 + n_samples // hop
    window = np.hanning(frame + 2)[1:-1]
    freqs = np.fft.rfftfreq(frame, 1.0 / sr)
    power, energy, centroid, flux = (np.empty(n) for _ in range(4))
    tail = itertools.repeat(None, 1)  # marks the right zero-padding
    buf = np.zeros(frame // 2)  # the buffer starts at frame ``k``'s first sample
    k = 0
    prev = None
    for chunk in itertools.chain(chunks(), tail):
        more = np.zeros(frame - frame // 2) if chunk is None else chunk.astype(np.float64) - mean
        buf = np.concatenate([buf, more])
        m = min(n - k, (len(buf) - frame) // hop + 1) if len(buf) >= frame else 0
        for b in range(0, m, _FRAME_BLOCK):
            c = min(_FRAME_BLOCK, m - b)
            frames = np.lib.stride_tricks.sliding_window_view(
                buf[b * hop : (b + c - 1) * hop + frame], frame
            )[::hop]  # (c, frame) view
            power[k + b : k + b + c] = np.einsum("ij,ij->i", frames, frames) / frame
            mag = np.abs(np.fft.rfft(frames * window, axis=1))  # (c, K)
            p = mag * mag
            e = p.sum(axis=1)
            energy[k + b : k + b + c] = e
            centroid[k + b : k + b + c] = np.where(e > 0, p @ freqs / np.maximum(e, 1e-300), 0.0)
            before = np.vstack([mag[:1] if prev is None else prev, mag[:-1]])
            flux[k + b : k + b + c] = np.sqrt((np.maximum(mag - before, 0.0) ** 2).sum(axis=1))
            prev = mag[-1:]
        k += m
        buf = buf[m * hop :]
    level = 10.0 * np.log10(np.maximum(power, 10.0 ** (FLOOR_DB / 10.0)))
    return _Frames(level, energy, centroid, flux)


def _summarise(a: _Frames, sr: int, n_samples: int) -> dict[str, float]:
    """The feature dict of ``features`` from the per-frame measurements of the whole signal."""
    env = a.level_db
    n = len(env)
    _, hop = _frame_hop(sr, FRAME_S, HOP_S)
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
    periodicity, period, modulation = _periodicity(
        np.maximum(rel[i0 : last_active + 1], -ACTIVE_DB), dt
    )
    onsets = _onsets(rel, loud, dt)
    ioi = np.diff(onsets) * dt
    onset_cv = float(ioi.std() / ioi.mean()) if len(ioi) >= 2 else 1.0
    grid_error, tatum = _grid(ioi)

    norm = np.sqrt(a.spec_energy)
    top_norm = float(norm.max())
    flux = float(a.flux.sum() / n / top_norm) if top_norm > _MIN_NORM else 0.0
    # Frame-relative flux: the change since the previous frame against the larger of the two
    # spectra, so a decaying ring (each frame a scaled copy of the last) reads 0 at any level.
    ref = np.maximum(norm, np.concatenate([norm[:1], norm[:-1]]))
    body_spec = body & (ref > _MIN_NORM)
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
        "late_level_db": float(rel[-max(1, n // 4) :].mean()) if loud.any() else -RANGE_DB,
        "end_level_db": float(rel[-_END_FRAMES:].max()) if loud.any() else -RANGE_DB,
        "variation_db": variation,
        "decay_corr": decay_corr,
        "decay_slope_db_s": decay_slope,
        "periodicity": periodicity,
        "period_s": period,
        "modulation_db": modulation,
        "onset_count": float(len(onsets)),
        "onset_rate_hz": len(onsets) / duration,
        "onset_cv": onset_cv,
        "onset_grid_error": grid_error,
        "tatum_s": tatum,
        "active_fraction": float(active.mean()),
        "flux": flux,
        "flux_body": flux_body,
        "centroid_hz": centroid,
        "centroid_drift_oct": drift,
    }
