"""The labeler: a short, ordered list of threshold rules on the envelope features that names the
gesture category of a clip (``label``) or a whole file (``label_file``).

Every threshold is a field of ``Thresholds``; ``THRESHOLDS`` holds the shipped values, chosen by
``fit.py`` on the hand-labelled real libraries (docs/real-audio-reference.csv, all libraries;
docs/gestures.md gives the leave-one-library-out figures of the same fit).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .analysis import GRID_MIN_ONSETS, SILENCE_DB
from .features import features, features_file

CATEGORIES = ("trigger", "trigger_continuous", "continuous_variation", "continuous_repetition")


@dataclass(frozen=True)
class Thresholds:
    """The decision thresholds of ``rule``, in the order the rules are tried (times in s, levels
    in dB). ``fit.py`` chooses them; the defaults are the shipped values."""

    trigger_max_span_s: float = 0.15
    """Rule 1, trigger: within 20 dB of its peak for at most this long in all (released at once)."""
    short_sound_s: float = 0.35
    """Rule 1, trigger: ... or the whole signal lasts at most this long, or the sound (within
    40 dB of its peak) lasts at most this long and the signal ends ``short_end_db`` down."""
    short_end_db: float = -40.0
    """Rule 1: the end level (re peak) below which a short sound counts as released, not cut off."""
    regular_min_onsets: float = 5
    """Rule 2, pulses: at least this many onsets ..."""
    regular_max_cv: float = 0.1
    """... whose intervals vary by at most this coefficient of variation (std / mean)."""
    grid_max_error: float = 0.08
    """Rule 2, rhythm: at least ``GRID_MIN_ONSETS`` onsets whose intervals are whole multiples of
    one beat to within this mean error (beats): a drum loop or riff."""
    roll_min_onsets: float = 6
    """Rule 2, roll: at least this many onsets (``1e9``: off) ..."""
    roll_min_active: float = 0.9
    """... in a sound active (within ``ACTIVE_DB`` of its peak) for at least this share of its
    length (``sound_active_fraction``: silence around it in the clip does not count) ..."""
    roll_min_corr: float = -0.5
    """... whose level does not die away (``trend_corr`` at least this): a roll or a loop of
    uneven hits, whose intervals fit neither a regular pulse nor a beat grid."""
    periodic_min: float = 0.7
    """Rule 2, modulation: the detrended envelope repeats with at least this autocorrelation ..."""
    periodic_min_mod_db: float = 4.0
    """... at least this deep (std of the detrended envelope, dB) ..."""
    periodic_min_cycles: float = 3.0
    """... and its period fits at least this many times in the clip (two bumps are not a loop)."""
    shimmer_max_period_s: float = 0.1
    """Rule 2 does not apply to a sound that rings (rule 3) modulated faster than this period:
    beating partials or vibrato on a decaying note are a shimmer, not a loop."""
    fast_attack_s: float = 0.05
    """Rule 3, rings: the peak is reached within this time of the start (struck, plucked) ..."""
    ring_max_attack_share: float = 0.0
    """... or within this share of the sound's length (``span_40_s``): a few quick notes that
    then ring on (a chime) ..."""
    decay_max_corr: float = -0.6
    """... the level then keeps falling: correlation of level with time at most this ..."""
    decay_min_drop_db: float = 10.0
    """... and the last quarter of the sound is at least this many dB below the peak."""
    steady_max_attack_s: float = 0.15
    """Rule 4, steady: the level is reached within this time (a swell is not held) ..."""
    steady_max_db: float = 5.0
    """... and after the attack it varies by at most this (std, dB) ..."""
    steady_flat_min_fraction: float = 0.5
    """... while at least this share of the sound is within ``STEADY_BAND_DB`` of its median; ..."""
    steady_min_fraction: float = 0.75
    """... or, whatever the attack and release, at least this share is (a held chord, a pad)."""


THRESHOLDS = Thresholds()
"""The shipped thresholds (fit on every library of the reference; see docs/gestures.md)."""

RULE_CATEGORY = {
    "silent": "continuous_repetition",
    "short": "trigger",
    "pulses": "continuous_repetition",
    "rhythm": "continuous_repetition",
    "roll": "continuous_repetition",
    "modulation": "continuous_repetition",
    "rings": "trigger_continuous",
    "steady": "continuous_repetition",
    "swell": "continuous_variation",
}
"""The rules of ``label`` in the order they are tried, by name, and the category each gives."""


def label(
    wave: np.ndarray, sr: int, th: Thresholds = THRESHOLDS
) -> tuple[str, dict[str, float]]:
    """Gesture category of a clip by a short list of envelope rules, and the features used.

    The rules are applied in order; the first that holds decides (``rule`` names it):

    0. ``silent`` (peak below ``SILENCE_DB``): ``continuous_repetition`` (a steady level of nothing).
    1. ``short`` → ``trigger``: within 20 dB of its peak for at most ``trigger_max_span_s``; or
       the whole signal lasts at most ``short_sound_s``; or the sound (``span_40_s``) lasts at
       most ``short_sound_s`` and the signal ends ``short_end_db`` down: released at once.
    2. ``pulses`` / ``rhythm`` / ``roll`` / ``modulation`` → ``continuous_repetition``: regular
       onsets, onsets on a beat grid, many onsets in a sound that neither pauses nor decays, or a
       periodic envelope (not a fast shimmer on a ringing sound).
    3. ``rings`` → ``trigger_continuous``: a fast attack, then a level that keeps falling and
       ends well below the peak: a strike that rings on.
    4. ``steady`` → ``continuous_repetition``: a held level (drones, held notes, pads, textures).
    5. ``swell`` → ``continuous_variation``: everything else (swells, sweeps, speech).

    Parameters
    ----------
    wave : np.ndarray
        ``[T]`` mono samples in [-1, 1], at any rate and length.
    sr : int
        Sample rate in Hz.
    th : Thresholds
        The thresholds (default: the shipped ones).

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
    return decide(f, th), f


def label_file(
    path: str | os.PathLike, th: Thresholds = THRESHOLDS
) -> tuple[str, dict[str, float]]:
    """``label`` of a whole audio file of any length (see ``features_file``)."""
    f = features_file(path)
    return decide(f, th), f


def decide(feats: dict[str, float], th: Thresholds = THRESHOLDS) -> str:
    """The category the rules of ``label`` give to features computed by ``features``."""
    return RULE_CATEGORY[rule(feats, th)]


def rule(feats: dict[str, float], th: Thresholds = THRESHOLDS) -> str:
    """Which rule of ``label`` decides for features computed by ``features``: a key of
    ``RULE_CATEGORY``. It names the kind of gesture within a category: a loop of pulses and a
    held drone are both ``continuous_repetition``."""
    f = feats
    if f["peak_db"] <= SILENCE_DB:
        return "silent"
    if is_short(f, th):
        return "short"
    if is_regular(f, th):
        return "pulses"
    if is_rhythmic(f, th):
        return "rhythm"
    if is_roll(f, th):
        return "roll"
    if is_periodic(f, th) and not (rings(f, th) and f["period_s"] < th.shimmer_max_period_s):
        return "modulation"
    if rings(f, th):
        return "rings"
    if is_steady(f, th):
        return "steady"
    return "swell"


def is_short(f: dict[str, float], th: Thresholds) -> bool:
    """Rule 1: a sound released at once."""
    if f["span_20_s"] <= th.trigger_max_span_s or f["duration_s"] <= th.short_sound_s:
        return True
    # Over within short_sound_s and silent at the end: released, not cut off by the clip's end.
    return f["span_40_s"] <= th.short_sound_s and f["end_level_db"] <= th.short_end_db


def rings(f: dict[str, float], th: Thresholds) -> bool:
    """Rule 3: a fast attack, then a level that keeps falling and ends well below the peak."""
    quick = f["attack_s"] <= max(th.fast_attack_s, th.ring_max_attack_share * f["span_40_s"])
    return (
        quick
        and f["decay_corr"] <= th.decay_max_corr
        and f["late_level_db"] <= -th.decay_min_drop_db
    )


def is_steady(f: dict[str, float], th: Thresholds) -> bool:
    """Rule 4: a held level."""
    held = f["steady_fraction"] >= th.steady_min_fraction
    flat = f["attack_s"] <= th.steady_max_attack_s and f["variation_db"] <= th.steady_max_db
    # A few clicks in silence have a flat top but are not a held level: half the sound at least.
    return held or (flat and f["steady_fraction"] >= th.steady_flat_min_fraction)


def is_regular(f: dict[str, float], th: Thresholds) -> bool:
    """Rule 2, pulses: enough onsets at nearly equal intervals."""
    return f["onset_count"] >= th.regular_min_onsets and f["onset_cv"] <= th.regular_max_cv


def is_rhythmic(f: dict[str, float], th: Thresholds) -> bool:
    """Rule 2, rhythm: enough onsets on a common beat grid."""
    return f["onset_count"] >= GRID_MIN_ONSETS and f["onset_grid_error"] <= th.grid_max_error


def is_roll(f: dict[str, float], th: Thresholds) -> bool:
    """Rule 2, roll: many onsets, uneven or not, in a sound that stays active and does not decay."""
    return (
        f["onset_count"] >= th.roll_min_onsets
        and f["sound_active_fraction"] >= th.roll_min_active
        and f["trend_corr"] >= th.roll_min_corr
    )


def is_periodic(f: dict[str, float], th: Thresholds) -> bool:
    """Rule 2, modulation: a deep, periodic envelope whose period fits several times."""
    return (
        f["periodicity"] >= th.periodic_min
        and f["modulation_db"] >= th.periodic_min_mod_db
        and f["period_s"] * th.periodic_min_cycles <= f["duration_s"]
    )
