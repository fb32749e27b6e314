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
    assert f["modulation_db"] >= gestures.PERIODIC_MIN_MOD_DB
    assert cat == "continuous_repetition"


@pytest.mark.parametrize(("n", "spacing_s"), [(3, 0.2), (5, 0.12), (8, 0.08)])
def test_regular_clicks_are_counted_as_onsets(n, spacing_s):
    cat, f = gestures.label(clicks(n, spacing_s), SR)
    assert f["onset_count"] == n
    assert f["onset_rate_hz"] == pytest.approx(n / 1.0)
    assert f["onset_cv"] < 0.1
    assert cat == "continuous_repetition"
    assert "onsets" in gestures.explain(cat, f)


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
    assert f["period_s"] > 0 and f["periodicity"] > gestures.PERIODIC_MIN
    cat, f = gestures.label(sine(220, 0.743), SR)
    assert cat == "continuous_repetition"
    assert f["variation_db"] <= gestures.STEADY_MAX_DB
    assert "steady level" in gestures.explain(cat, f)


def test_slow_swell_is_not_steady():
    f = gestures.features(swell(), SR)
    assert f["attack_s"] > gestures.STEADY_MAX_ATTACK_S
    assert f["onset_count"] < gestures.REGULAR_MIN_ONSETS


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
    assert f["span_20_s"] <= gestures.TRIGGER_MAX_SPAN_S


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
