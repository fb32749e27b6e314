"""``explain``: one sentence that names the features which decided a clip's category."""

from __future__ import annotations

from ..errors import UserError
from .analysis import SILENCE_DB, STEADY_BAND_DB
from .rules import (
    CATEGORIES,
    THRESHOLDS,
    Thresholds,
    is_periodic,
    is_regular,
    is_rhythmic,
    is_roll,
)


def explain(category: str, feats: dict[str, float], th: Thresholds = THRESHOLDS) -> str:
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
        if f["span_20_s"] > th.trigger_max_span_s and f["span_40_s"] <= th.short_sound_s:
            return (
                f"trigger: the whole sound lasts only {f['span_40_s']:.2f} s within 40 dB of its "
                f"peak (≤ {th.short_sound_s} s), a short event released at once."
            )
        return (
            f"trigger: within 20 dB of its peak for only {f['span_20_s']:.2f} s "
            f"(≤ {th.trigger_max_span_s} s), decays 20 dB in {f['decay_20_s']:.2f} s."
        )
    if category == "continuous_repetition":
        if is_regular(f, th):
            return (
                f"continuous_repetition: {f['onset_count']:.0f} onsets with regular intervals "
                f"(CV {f['onset_cv']:.2f} ≤ {th.regular_max_cv})."
            )
        if is_rhythmic(f, th):
            return (
                f"continuous_repetition: {f['onset_count']:.0f} onsets on a grid of "
                f"{f['tatum_s']:.3f} s beats (mean error {f['onset_grid_error']:.2f} beat "
                f"≤ {th.grid_max_error}): a rhythm."
            )
        if is_roll(f, th):
            return (
                f"continuous_repetition: {f['onset_count']:.0f} onsets "
                f"(≥ {th.roll_min_onsets:.0f}), uneven but never pausing (active "
                f"{f['sound_active_fraction']:.0%} ≥ {th.roll_min_active:.0%}) nor dying away (level-time "
                f"correlation {f['trend_corr']:.2f} ≥ {th.roll_min_corr}): a roll."
            )
        if is_periodic(f, th):
            return (
                f"continuous_repetition: envelope repeats every {f['period_s']:.3f} s "
                f"(periodicity {f['periodicity']:.2f}, depth {f['modulation_db']:.1f} dB)."
            )
        if f["attack_s"] <= th.steady_max_attack_s and f["variation_db"] <= th.steady_max_db:
            return (
                f"continuous_repetition: steady level, varies by {f['variation_db']:.1f} dB "
                f"(≤ {th.steady_max_db} dB) after a {f['attack_s']:.2f} s attack."
            )
        return (
            f"continuous_repetition: steady level, {f['steady_fraction']:.0%} of the sound within "
            f"{STEADY_BAND_DB:.0f} dB of its median (≥ {th.steady_min_fraction:.0%})."
        )
    if category == "trigger_continuous":
        shimmer = f", with a {f['period_s'] * 1000:.0f} ms shimmer" if is_periodic(f, th) else ""
        return (
            f"trigger_continuous: peak after {f['attack_s']:.2f} s, then a long decay "
            f"(20 dB in {f['decay_20_s']:.2f} s, correlation {f['decay_corr']:.2f}, "
            f"end {f['late_level_db']:.0f} dB){shimmer}."
        )
    return (
        f"continuous_variation: level varies by {f['variation_db']:.1f} dB without a regular "
        f"pulse (attack {f['attack_s']:.2f} s, peak at {f['peak_pos']:.0%} of the clip)."
    )


