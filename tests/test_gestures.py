"""Envelope features and the rule-based labeler, pinned on analytic signals with known answers."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from gesturegan import gestures
from gesturegan.errors import UserError

SR = 22050
HOP = gestures.HOP_S  # nominal time resolution of every time feature (256 samples at 22050 Hz)
DT = round(HOP * SR) / SR  # the exact hop in seconds


def _t(seconds: float, sr: int = SR) -> np.ndarray:
    return np.arange(int(round(seconds * sr))) / sr


def sine(freq: float, seconds: float, amp: float = 0.8, sr: int = SR) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * _t(seconds, sr))


def decaying_sine(tau_s: float, seconds: float = 0.743, freq: float = 1000.0, sr: int = SR):
    """A sine whose amplitude is exp(-t / tau): it falls 20 dB every tau * ln(10) seconds."""
    t = _t(seconds, sr)
    return 0.8 * np.sin(2 * np.pi * freq * t) * np.exp(-t / tau_s)


def tremolo(rate_hz: float, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """A 440 Hz tone under a deep sinusoidal amplitude modulation at ``rate_hz``."""
    t = _t(seconds, sr)
    return sine(440, seconds, sr=sr) * (0.55 + 0.45 * np.sin(2 * np.pi * rate_hz * t))


def clicks(n: int, spacing_s: float, start_s: float = 0.1, seconds: float = 1.0) -> np.ndarray:
    """``n`` single-sample clicks every ``spacing_s`` seconds from ``start_s``."""
    x = np.zeros(int(seconds * SR))
    for k in range(n):
        x[int(round((start_s + k * spacing_s) * SR))] = 0.9
    return x


def swell(seconds: float = 0.743, seed: int = 0) -> np.ndarray:
    """Noise that rises from -30 dB to the top in the middle of the clip and falls to -20 dB."""
    t = _t(seconds)
    pos = t / t[-1]
    level_db = np.interp(pos, [0.0, 0.5, 1.0], [-30.0, 0.0, -20.0])
    noise = np.random.default_rng(seed).standard_normal(len(t)) / 4
    return 0.8 * noise * 10 ** (level_db / 20)


# One clear example per category, with the reason it belongs there.
PROTOTYPES = {
    "trigger": lambda: decaying_sine(0.01),  # 20 dB down in 23 ms
    "trigger_continuous": lambda: decaying_sine(0.145),  # T60 of 1 s: a long ring
    "continuous_variation": swell,  # a soft start, a swell and a fade
    "continuous_repetition": lambda: sine(220, 0.743),  # a drone
}


# --- Envelope ------------------------------------------------------------------------------------


def test_envelope_frames_and_level_of_a_full_scale_sine():
    env = gestures.envelope(sine(1000, 1.0, amp=1.0), SR)
    assert env.shape == (1 + SR // round(HOP * SR),)
    # A full-scale sine is -3 dBFS RMS; the first and last frames are half zero-padding.
    np.testing.assert_allclose(env[2:-2], -3.01, atol=0.1)
    assert gestures.envelope(np.zeros(1000), SR).min() == gestures.FLOOR_DB


# --- Features on analytic signals ----------------------------------------------------------------


@pytest.mark.parametrize("tau_s", [0.05, 0.1, 0.2])
def test_exponential_decay_times_and_slope_match_the_time_constant(tau_s):
    f = gestures.features(decaying_sine(tau_s, seconds=2.0), SR)
    t20 = tau_s * math.log(10)  # amplitude exp(-t/tau) is 20 dB down at tau ln 10
    assert f["decay_20_s"] == pytest.approx(t20, abs=1.5 * DT)
    assert f["decay_40_s"] == pytest.approx(2 * t20, abs=1.5 * DT)
    assert f["decay_slope_db_s"] == pytest.approx(-20 / t20, rel=0.02)
    assert f["decay_corr"] < -0.999
    assert f["attack_s"] <= DT
    assert f["peak_time_s"] <= DT


@pytest.mark.parametrize("ramp_s", [0.1, 0.3, 0.5])
def test_linear_attack_ramp_gives_the_analytic_attack_time(ramp_s):
    t = _t(1.0)
    x = sine(440, 1.0) * np.clip(t / ramp_s, 0.0, 1.0)
    f = gestures.features(x, SR)
    # The ramp reaches -30 dB (onset, first active frame) at 0.0316 ramp and -3 dB (end of the
    # attack) at 0.708 ramp; both are measured on the frame grid.
    onset = ramp_s * 10 ** (-gestures.ACTIVE_DB / 20)
    top = ramp_s * 10 ** (-gestures.ATTACK_DB / 20)
    assert f["onset_time_s"] == pytest.approx(onset, abs=1.5 * DT)
    assert f["attack_s"] == pytest.approx(top - onset, abs=1.5 * DT)


@pytest.mark.parametrize("rate_hz", [4.0, 6.0, 10.0])
def test_tremolo_is_periodic_with_its_rate(rate_hz):
    cat, f = gestures.label(tremolo(rate_hz), SR)
    assert f["period_s"] == pytest.approx(1 / rate_hz, abs=DT)
    assert f["periodicity"] > 0.9
    assert f["modulation_db"] >= gestures.THRESHOLDS.periodic_min_mod_db
    assert cat == "continuous_repetition"


@pytest.mark.parametrize(("n", "spacing_s"), [(3, 0.2), (5, 0.12), (8, 0.08)])
def test_regular_clicks_are_counted_as_onsets(n, spacing_s):
    cat, f = gestures.label(clicks(n, spacing_s), SR)
    assert f["onset_count"] == n
    assert f["onset_rate_hz"] == pytest.approx(n / 1.0)
    assert f["onset_cv"] < 0.1
    assert f["steady_fraction"] < 0.5  # clicks with silence between them are not a held level
    if n >= gestures.THRESHOLDS.regular_min_onsets:
        assert cat == "continuous_repetition"
        assert "onsets with regular intervals" in gestures.explain(cat, f)
    else:  # three syllables of speech can be that regular: too few to call a loop
        assert cat != "continuous_repetition"


def test_a_syncopated_rhythm_on_a_grid_is_a_repetition():
    # Eighth notes at 120 BPM (0.25 s) with a dotted pattern: intervals 0.375, 0.125, 0.25, ...
    starts = np.cumsum([0.05, 0.375, 0.125, 0.25, 0.25, 0.375, 0.125, 0.25])
    x = np.zeros(int(2.2 * SR))
    t = np.arange(int(0.1 * SR)) / SR
    hit = np.sin(2 * np.pi * 180 * t) * np.exp(-t / 0.02)
    for s0 in starts:
        i = int(round(s0 * SR))
        x[i : i + len(hit)] += hit
    cat, f = gestures.label(x, SR)
    assert f["onset_count"] == len(starts)
    assert f["onset_cv"] > gestures.THRESHOLDS.regular_max_cv  # not isochronous ...
    assert f["tatum_s"] == pytest.approx(0.125, abs=DT)  # ... but on an eighth-note grid
    assert f["onset_grid_error"] <= gestures.THRESHOLDS.grid_max_error
    assert cat == "continuous_repetition"
    assert "grid" in gestures.explain(cat, f)


def test_a_short_note_is_a_trigger_whatever_its_shape():
    # 0.25 s of a steady tone, then nothing: held too briefly to be a drone.
    x = np.concatenate([sine(110, 0.25), np.zeros(SR // 2)])
    cat, f = gestures.label(x, SR)
    assert f["span_20_s"] > gestures.THRESHOLDS.trigger_max_span_s
    assert f["span_40_s"] <= gestures.THRESHOLDS.short_sound_s
    assert cat == "trigger"
    assert "whole sound lasts only" in gestures.explain(cat, f)


def test_a_held_tone_with_vibrato_and_a_release_is_steady():
    # Four seconds held with a ±2 dB wobble, then a one-second release: the std over the body is
    # large, but most of the sound sits at one level.
    t = _t(5.0)
    level_db = 2.0 * np.sin(2 * np.pi * 5.5 * t) + np.where(t > 4.0, -40.0 * (t - 4.0), 0.0)
    x = sine(220, 5.0) * 10 ** (level_db / 20)
    cat, f = gestures.label(x, SR)
    assert f["steady_fraction"] >= gestures.THRESHOLDS.steady_min_fraction
    assert cat == "continuous_repetition"


def test_a_ring_with_fast_beating_is_still_a_ring():
    # Two partials 14 Hz apart beat (±4.4 dB) while the note decays: a shimmer, not a loop.
    t = _t(1.5)
    x = 0.5 * (np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 454 * t)) * np.exp(-t / 0.3)
    cat, f = gestures.label(x, SR)
    assert f["period_s"] == pytest.approx(1 / 14, abs=DT)
    assert f["periodicity"] >= gestures.THRESHOLDS.periodic_min
    # Shallower than the modulation rule asks (the real libraries' rides and bells beat as deep).
    assert f["modulation_db"] < gestures.THRESHOLDS.periodic_min_mod_db
    assert cat == "trigger_continuous" and gestures.rule(f) == "rings"


def uneven_roll(sr: int, seconds: float, fade_db: float = 0.0, seed: int = 0) -> np.ndarray:
    """Snare-like noise hits (each falling 20 dB in 115 ms, so the next comes before the last has
    fallen 30 dB) at uneven intervals of 60-150 ms, under a fade of ``fade_db`` over the clip: too
    uneven for a pulse (CV 0.2-0.3) or a beat grid."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = np.zeros(n)
    at = 0.0
    while at < seconds - 0.05:
        i = int(at * sr)
        hit = rng.standard_normal(min(n - i, int(0.3 * sr)))
        x[i : i + len(hit)] += 0.3 * hit * np.exp(-np.arange(len(hit)) / sr / 0.05)
        at += rng.uniform(0.06, 0.15)
    return x * 10 ** (fade_db * _t(seconds, sr)[:n] / seconds / 20)


@pytest.mark.parametrize(("sr", "seconds"), [(22050, 1.5), (44100, 1.5), (44100, 6.0)])
def test_an_uneven_drum_roll_is_a_repetition(sr, seconds):
    cat, f = gestures.label(uneven_roll(sr, seconds), sr)
    th = gestures.THRESHOLDS
    # Neither regular pulses nor a beat grid: the roll rule is what decides.
    assert f["onset_cv"] > th.regular_max_cv and f["onset_grid_error"] > th.grid_max_error
    assert f["onset_count"] >= th.roll_min_onsets
    assert cat == "continuous_repetition" and gestures.rule(f) == "roll"
    assert "a roll" in gestures.explain(cat, f)


def test_a_roll_is_a_roll_wherever_its_loudest_hit_falls():
    # Eight draws of the same roll: in some the loudest hit comes last, so the level falls from
    # the peak on (decay_corr near -1); over the whole sound it holds (trend_corr near 0).
    feats = [gestures.features(uneven_roll(SR, 1.5, seed=s), SR) for s in range(8)]
    assert min(f["decay_corr"] for f in feats) < -0.9
    assert [gestures.rule(f) for f in feats] == ["roll"] * 8


@pytest.mark.parametrize("sr", [22050, 44100])
def test_silence_after_a_sound_does_not_change_its_label(sr):
    # A roll, and a held note sagging 6 dB over 2 s, each alone and padded with silence to a 6 s
    # clip: the level at the end of the *sound* decides whether it rang out, not the clip's end.
    t = _t(2.0, sr)
    held = sine(110, 2.0, sr=sr) * 10 ** (-6.0 * t / 2.0 / 20)
    for x, name in ((uneven_roll(sr, 1.5), "roll"), (held, "steady")):
        padded = np.concatenate([x, np.zeros(int(6.0 * sr) - len(x))])
        alone, in_clip = gestures.features(x, sr), gestures.features(padded, sr)
        assert gestures.rule(alone) == gestures.rule(in_clip) == name
        assert in_clip["late_level_db"] == pytest.approx(alone["late_level_db"], abs=1.0)


def test_a_roll_that_dies_away_is_not_a_roll():
    # The same hits fading 40 dB over the clip: a stream whose level changes, not a held roll.
    f = gestures.features(uneven_roll(SR, 1.5, fade_db=-40.0), SR)
    assert gestures.rule(f) != "roll"


@pytest.mark.parametrize(("sr", "seconds"), [(22050, 0.743), (44100, 1.0), (44100, 6.0)])
def test_a_short_kick_is_a_trigger(sr, seconds):
    # A pitch-dropping sine (120 -> 50 Hz) 20 dB down within about 0.1 s: a kick drum, however
    # long the clip around it.
    t = _t(seconds, sr)
    freq = 50 + 70 * np.exp(-t / 0.03)
    x = 0.9 * np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.04)
    cat, f = gestures.label(x, sr)
    assert f["decay_20_s"] < 0.15
    assert cat == "trigger"


def test_clicks_closer_than_the_fusion_gap_are_one_onset():
    # Two clicks 20 ms apart (a flam) are heard as one event.
    f = gestures.features(clicks(2, 0.02), SR)
    assert f["onset_count"] == 1


def test_peak_time_of_a_click():
    f = gestures.features(clicks(1, 0.1, start_s=0.4), SR)
    assert f["peak_time_s"] == pytest.approx(0.4, abs=DT)
    assert f["peak_pos"] == pytest.approx(0.4, abs=DT)


def test_features_are_level_invariant():
    # Levels are relative to the peak: a quieter copy has the same features but for peak_db.
    x = swell()
    loud, quiet = gestures.features(x, SR), gestures.features(0.05 * x, SR)
    assert quiet["peak_db"] == pytest.approx(loud["peak_db"] + 20 * math.log10(0.05), abs=1e-6)
    for key in loud:
        if key != "peak_db":
            assert quiet[key] == pytest.approx(loud[key], rel=1e-6, abs=1e-9), key


# --- Categories ----------------------------------------------------------------------------------


@pytest.mark.parametrize("category", gestures.CATEGORIES)
def test_each_category_prototype_is_labelled_correctly(category):
    cat, f = gestures.label(PROTOTYPES[category]().astype(np.float32), SR)
    assert cat == category, gestures.explain(cat, f)


@pytest.mark.parametrize("category", gestures.CATEGORIES)
@pytest.mark.parametrize("sr", [16000, 44100])
def test_prototypes_keep_their_category_at_other_rates(category, sr):
    x = PROTOTYPES[category]()
    wave = np.interp(np.arange(int(len(x) * sr / SR)) / sr, np.arange(len(x)) / SR, x)
    assert gestures.label(wave, sr)[0] == category


def test_tremolo_and_steady_tone_explain_their_different_reasons():
    cat, f = gestures.label(tremolo(6.0), SR)
    assert cat == "continuous_repetition"
    assert f["period_s"] > 0 and f["periodicity"] > gestures.THRESHOLDS.periodic_min
    cat, f = gestures.label(sine(220, 0.743), SR)
    assert cat == "continuous_repetition"
    assert f["variation_db"] <= gestures.THRESHOLDS.steady_max_db
    assert "steady level" in gestures.explain(cat, f)


def test_slow_swell_is_not_steady():
    f = gestures.features(swell(), SR)
    assert f["attack_s"] > gestures.THRESHOLDS.steady_max_attack_s
    assert f["onset_count"] < gestures.THRESHOLDS.regular_min_onsets


# --- Robustness ----------------------------------------------------------------------------------


def _finite(f: dict[str, float]) -> bool:
    return all(math.isfinite(v) for v in f.values())


def test_digital_silence_is_finite_and_steady():
    cat, f = gestures.label(np.zeros(16384, dtype=np.float32), SR)
    assert _finite(f)
    assert f["peak_db"] == gestures.FLOOR_DB
    assert f["onset_count"] == 0 and f["active_fraction"] == 0
    assert cat == "continuous_repetition"
    assert "silent" in gestures.explain(cat, f)


def test_single_click_is_a_trigger():
    x = np.zeros(16384)
    x[3000] = 1.0
    cat, f = gestures.label(x, SR)
    assert cat == "trigger"
    assert f["onset_count"] == 1
    assert f["span_20_s"] <= gestures.THRESHOLDS.trigger_max_span_s


def test_dc_offset_is_ignored():
    x = decaying_sine(0.145)
    plain, shifted = gestures.label(x, SR), gestures.label(x + 0.3, SR)
    assert plain[0] == shifted[0] == "trigger_continuous"
    for key, value in plain[1].items():
        assert shifted[1][key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
    # Pure DC is silence, not a full-scale drone.
    assert gestures.features(np.full(4096, 0.5), SR)["peak_db"] == gestures.FLOOR_DB


@pytest.mark.parametrize("n", [1, 100, 1000])
def test_very_short_input_gives_finite_features(n):
    x = np.random.default_rng(n).standard_normal(n) * 0.1
    cat, f = gestures.label(x, SR)
    assert cat in gestures.CATEGORIES
    assert _finite(f)
    assert f["duration_s"] == pytest.approx(n / SR)


def test_very_long_input_is_analysed_whole():
    x = np.tile(tremolo(5.0, seconds=1.0), 60)  # one minute of 5 Hz tremolo
    cat, f = gestures.label(x.astype(np.float32), SR)
    assert f["duration_s"] == pytest.approx(60.0)
    assert _finite(f)
    assert cat == "continuous_repetition"
    assert f["period_s"] == pytest.approx(0.2, abs=DT)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_a_user_error(bad):
    x = sine(440, 0.5)
    x[100] = bad
    with pytest.raises(UserError, match="NaN or infinite"):
        gestures.label(x, SR)


@pytest.mark.parametrize(
    ("wave", "sr", "match"),
    [
        (np.zeros((100, 2)), SR, "mono"),
        (np.zeros(0), SR, "empty"),
        (np.zeros(100), 0, "sample rate"),
    ],
)
def test_bad_input_is_a_user_error(wave, sr, match):
    with pytest.raises(UserError, match=match):
        gestures.features(wave, sr)


# --- Explanations and docs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "words"),
    [
        ("trigger", ["within 20 dB", "decays 20 dB"]),
        ("trigger_continuous", ["peak after", "decay", "correlation"]),
        ("continuous_variation", ["varies", "attack"]),
        ("continuous_repetition", ["steady level", "varies by"]),
    ],
)
def test_explain_names_the_deciding_features(category, words):
    cat, f = gestures.label(PROTOTYPES[category](), SR)
    sentence = gestures.explain(cat, f)
    assert sentence.startswith(f"{category}: ") and sentence.endswith(".")
    assert "\n" not in sentence
    for word in words:
        assert word in sentence


def test_explain_rejects_an_unknown_category():
    f = gestures.features(sine(440, 0.5), SR)
    with pytest.raises(UserError, match="unknown gesture category"):
        gestures.explain("whoosh", f)


def test_module_docstring_example_runs():
    result = doctest.testmod(gestures, verbose=False)
    assert result.attempted > 0 and result.failed == 0


# --- Spectral flux over time ---------------------------------------------------------------------


def glide(f0: float, f1: float, seconds: float = 0.743) -> np.ndarray:
    """A sine gliding exponentially from ``f0`` to ``f1`` Hz at a constant level."""
    t = _t(seconds)
    freq = f0 * (f1 / f0) ** (t / t[-1])
    return 0.5 * np.sin(2 * np.pi * np.cumsum(freq) / SR)


def test_spectral_flux_has_one_value_per_envelope_frame():
    x = decaying_sine(0.1)
    flux = gestures.spectral_flux(x, SR)
    assert flux.shape == gestures.envelope(x, SR).shape
    assert flux[0] == 0.0 and (flux >= 0).all()
    assert not gestures.spectral_flux(np.zeros(4096), SR).any()


def test_spectral_flux_marks_the_onset_of_a_tone():
    x = np.concatenate([np.zeros(SR // 4), sine(440, 0.5)])
    flux = gestures.spectral_flux(x, SR)
    onset = int(np.argmax(flux))
    assert onset * DT == pytest.approx(0.25, abs=1.5 * DT)
    # Once the tone is on, its spectrum no longer changes (until the abrupt end splatters).
    assert flux[onset + 3 : -3].max() < 0.01 * flux[onset]


def test_a_glide_drifts_by_its_interval_and_a_drone_does_not():
    f = gestures.features(glide(200, 1600), SR)  # three octaves up
    # The 10th to 90th percentile of the centroid's path covers 80 % of the glide.
    assert f["centroid_drift_oct"] == pytest.approx(0.8 * 3, abs=0.25)
    assert gestures.features(sine(440, 0.743), SR)["centroid_drift_oct"] < 0.05


def test_flux_body_is_zero_for_a_ring_and_positive_for_changing_sounds():
    # An exponentially decaying sine keeps its spectrum: each frame is a scaled copy of the last.
    ring = gestures.features(decaying_sine(0.2), SR)["flux_body"]
    moving = gestures.features(glide(200, 3200), SR)["flux_body"]
    noise = gestures.features(swell(), SR)["flux_body"]
    assert ring < 0.02
    assert moving > 5 * ring and noise > 5 * ring


# --- Whole files ---------------------------------------------------------------------------------


def test_features_file_equals_features_of_the_loaded_file(tmp_path):
    import soundfile as sf

    x = np.concatenate([swell(1.0), decaying_sine(0.2, 2.0), tremolo(6.0, 3.0)]).astype(np.float32)
    stereo = np.stack([x, 0.5 * x], axis=1)
    path = tmp_path / "long.flac"
    sf.write(path, stereo, SR, subtype="PCM_24")
    loaded, sr = sf.read(path, dtype="float32")
    expected = gestures.features(loaded.mean(axis=1), sr)
    got = gestures.features_file(path)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    assert gestures.label_file(path)[0] == gestures.decide(expected)


def test_features_file_reads_a_long_file_in_bounded_memory(tmp_path):
    import tracemalloc

    import soundfile as sf

    minutes = 3
    x = np.tile(tremolo(5.0, seconds=1.0), 60 * minutes).astype(np.float32)
    path = tmp_path / "long.wav"
    sf.write(path, x, SR, subtype="PCM_16")
    tracemalloc.start()
    try:
        cat, f = gestures.label_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f["duration_s"] == pytest.approx(60.0 * minutes)
    assert cat == "continuous_repetition" and f["period_s"] == pytest.approx(0.2, abs=DT)
    # The file's samples alone would be 16 MB as float32; the analysis holds a block at a time.
    assert peak < 0.5 * x.nbytes


def test_features_file_of_a_broken_or_empty_file_is_a_user_error(tmp_path):
    import soundfile as sf

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(UserError, match="not readable audio"):
        gestures.features_file(bad)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(UserError, match="empty"):
        gestures.features_file(empty)


# --- Agreement with the built-in corpus on a fresh seed ------------------------------------------

FRESH_SEED = 7919  # never used while choosing thresholds (tuning used seeds 0-4)


def test_labeler_accuracy_on_a_fresh_corpus_is_at_least_95_percent():
    from gesturegan.corpus import clip_rng, synthesize

    per_class = 32
    right = {}
    for cat in gestures.CATEGORIES:
        verdicts = [
            gestures.label(synthesize(cat, clip_rng(FRESH_SEED, cat, i)), SR)[0]
            for i in range(per_class)
        ]
        right[cat] = sum(v == cat for v in verdicts)
    accuracy = sum(right.values()) / (per_class * len(gestures.CATEGORIES))
    assert accuracy >= 0.95, right
    assert min(right.values()) >= 0.85 * per_class, right
