"""Scores → stereo mixes, against a fake deterministic gesture source."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gesturegan.composition import (
    DEMO_SCORE_PATH,
    FADE_S,
    MAX_MIX_FRAMES,
    FileEvent,
    GestureEvent,
    GestureSource,
    MorphEvent,
    Score,
    compose,
    load_score,
    render,
)
from gesturegan.errors import UserError

REPO = Path(__file__).resolve().parents[1]
CATEGORIES = ("trigger", "trigger_continuous", "continuous_variation", "continuous_repetition")
STAGES = ("4x4", "8x8", "16x16", "32x32", "64x64", "128x128")
CEILING = 10 ** (-1 / 20)


class FakeSource:
    """Decaying sines: pitch from category and seed, brightness from stage; morphs glide pitch."""

    def __init__(self, sr: int = 8000, length: int = 2000):
        self.sr, self.length = sr, length
        self.categories = CATEGORIES
        self.stages = STAGES
        self.calls: list[tuple] = []

    def _tone(self, hz: float, amp: float = 0.5) -> np.ndarray:
        t = np.arange(self.length) / self.sr
        return (amp * np.sin(2 * np.pi * hz * t + 1.0) * np.exp(-t / 0.1)).astype(np.float32)

    def _hz(self, category: str, seed: int) -> float:
        return 200.0 + 100.0 * CATEGORIES.index(category) + 7.0 * seed

    def sample(self, category: str, seed: int, stage: str | None = None) -> np.ndarray:
        self.calls.append(("sample", category, seed, stage))
        return self._tone(self._hz(category, seed))

    def morph(self, start: str, end: str, steps: int, seed: int, stage: str | None = None):
        self.calls.append(("morph", start, end, steps, seed, stage))
        hz = np.linspace(self._hz(start, seed), self._hz(end, seed), steps)
        return np.stack([self._tone(f) for f in hz])


def test_the_real_generator_keeps_the_contract_the_fake_stands_in_for(tiny_run, tmp_path):
    """What every test here assumes of ``FakeSource`` holds for a trained run's generator, and a
    score renders through it: clips ``[length]`` float32 at ``sr``, morphs ``[steps, length]``."""
    from gesturegan.generation import load

    source: GestureSource = load(tiny_run)
    assert isinstance(source.sr, int) and isinstance(source.length, int)
    assert source.categories == ("hit", "tone") and len(source.stages) > 1
    clip = np.asarray(source.sample("hit", 3, None))
    assert clip.shape == (source.length,) and clip.dtype == np.float32
    assert np.asarray(source.sample("hit", 3, source.stages[0])).shape == (source.length,)
    morph = np.asarray(source.morph("hit", "tone", 3, 3, None))
    assert morph.shape == (3, source.length) and morph.dtype == np.float32
    score = write_score(tmp_path, "run: run\nevents:\n  - {at: 0.5, gesture: tone, seed: 1}\n")
    mix = compose(score, tmp_path / "mix.wav", run_override=tiny_run)
    assert mix.sr == source.sr and mix.stereo.shape == (round(0.5 * source.sr) + source.length, 2)


def gesture(at_s: float, **kw) -> GestureEvent:
    return GestureEvent(at_s=at_s, category=kw.pop("category", "trigger"), **kw)


def mix_of(*events, sr: int | None = None, source=None, score_dir: Path = REPO):
    return render(Score(run=None, sr=sr, events=list(events)), source or FakeSource(), score_dir)


def write_score(tmp_path: Path, text: str, name: str = "score.yaml") -> Path:
    (tmp_path / "run").mkdir(exist_ok=True)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------- placement
def test_length_is_last_event_end():
    mix = mix_of(gesture(0.0), gesture(1.0), gesture(0.5))
    assert mix.sr == 8000
    assert mix.stereo.shape == (8000 + 2000, 2)
    assert mix.stereo.dtype == np.float32
    assert mix.duration_s == pytest.approx(1.25)


def test_gesture_placed_at_its_sample():
    source = FakeSource()
    mix = mix_of(gesture(0.3, seed=4), source=source)
    start = round(0.3 * 8000)
    assert np.all(mix.stereo[:start] == 0)
    clip = source.sample("trigger", 4)
    fade = round(FADE_S * 8000)  # only the cut end of a generated clip fades
    body = slice(start, start + len(clip) - fade)
    expected = clip[: len(clip) - fade] * math.cos(math.pi / 4)
    np.testing.assert_allclose(mix.stereo[body, 0], expected, atol=1e-6)
    np.testing.assert_allclose(mix.stereo[body, 1], expected, atol=1e-6)
    assert mix.stereo[start, 0] == pytest.approx(clip[0] * math.cos(math.pi / 4), rel=1e-6)
    tail = mix.stereo[start + len(clip) - fade :, 0] / (clip[-fade:] * math.cos(math.pi / 4))
    assert np.all(np.diff(tail) < 0) and tail[-1] < 0.01  # the fade-out
    assert mix.events == [
        {
            "kind": "gesture",
            "at_s": 0.3,
            "start_sample": start,
            "duration_s": 0.25,
            "gain_db": 0.0,
            "pan": 0.0,
            "fade_in_s": 0.0,
            "fade_out_s": FADE_S,
            "detail": "trigger, seed 4",
        }
    ]


class ImpulseSource(FakeSource):
    """Every clip is one sample at ``level`` followed by silence."""

    level = 0.5

    def _tone(self, hz: float, amp: float = 0.5) -> np.ndarray:
        clip = np.zeros(self.length, np.float32)
        clip[0] = self.level
        return clip


def _pan_gains(pan: float) -> tuple[float, float]:
    theta = (pan + 1.0) * math.pi / 4.0
    return math.cos(theta), math.sin(theta)


@pytest.mark.parametrize("kind", ["gesture", "file"])
@pytest.mark.parametrize("pan", [0.0, -0.5, 0.7, 1.0])
@pytest.mark.parametrize("at_s", [5.5, 0.123457])
def test_an_impulse_peaks_at_its_sample_with_its_full_level(tmp_path, kind, pan, at_s):
    sr, level, gain_db = 8000, 0.5, -3.0
    if kind == "file":
        impulse = np.zeros(800, np.float32)
        impulse[0] = level
        sf.write(tmp_path / "click.wav", impulse, sr, subtype="FLOAT")
        event = FileEvent(at_s=at_s, gain_db=gain_db, pan=pan, path=Path("click.wav"))
    else:
        event = gesture(at_s, gain_db=gain_db, pan=pan)
    mix = mix_of(event, sr=sr, source=ImpulseSource(sr=sr), score_dir=tmp_path)
    at = round(at_s * sr)
    for channel, pan_gain in enumerate(_pan_gains(pan)):
        expected = level * 10 ** (gain_db / 20) * pan_gain
        column = np.abs(mix.stereo[:, channel])
        if expected < 1e-6:
            assert column.max() < 1e-6
            continue
        assert int(np.argmax(column)) == at
        assert column[at] == pytest.approx(expected, rel=1e-6)
        assert np.count_nonzero(column) == 1  # nothing smeared before or after
    assert mix.gain_db_applied == 0.0


def test_fades_only_where_the_score_asks(tmp_path):
    score = write_score(
        tmp_path,
        "sr: 8000\nevents:\n  - {at: 0.1, file: tone.wav, fade_in: 0.05}\n"
        "  - {at: 1.0, file: tone.wav, fade_out: 0.1}\n  - {at: 2.0, file: tone.wav}\n",
    )
    sf.write(tmp_path / "tone.wav", np.full(4000, 0.25, np.float32), 8000, subtype="FLOAT")
    mix = compose(score, tmp_path / "mix.wav", load_source=lambda run: None)
    left = mix.stereo[:, 0] / (0.25 * math.cos(math.pi / 4))
    faded_in = left[800 : 800 + 4000]
    assert faded_in[0] < 0.01 and np.all(np.diff(faded_in[:400]) > 0)
    np.testing.assert_allclose(faded_in[400:], 1.0, rtol=1e-6)  # the rest at full level
    faded_out = left[8000 : 8000 + 4000]
    np.testing.assert_allclose(faded_out[:3200], 1.0, rtol=1e-6)  # onset at full level
    assert faded_out[-1] < 0.01 and np.all(np.diff(faded_out[3200:]) < 0)
    np.testing.assert_allclose(left[16000:20000], 1.0, rtol=1e-6)  # a file: no fade at all
    sidecar = json.loads((tmp_path / "mix.wav.json").read_text())
    assert [(e["fade_in_s"], e["fade_out_s"]) for e in sidecar["events"]] == [
        (0.05, 0.0),
        (0.0, 0.1),
        (0.0, 0.0),
    ]


def test_constant_power_pan():
    energy = {}
    for pan in (-1.0, -0.5, 0.0, 0.5, 1.0):
        stereo = mix_of(gesture(0.0, pan=pan)).stereo.astype(np.float64)
        energy[pan] = (stereo[:, 0] ** 2).sum(), (stereo[:, 1] ** 2).sum()
    total = sum(energy[0.0])
    for left, right in energy.values():
        assert left + right == pytest.approx(total, rel=1e-6)  # same loudness wherever panned
    assert energy[-1.0][1] < 1e-12 * total and energy[1.0][0] < 1e-12 * total
    left, right = energy[0.0]
    assert left == pytest.approx(right, rel=1e-6)
    assert 10 * math.log10(left / energy[-1.0][0]) == pytest.approx(-3.01, abs=0.01)
    assert energy[-0.5][0] > energy[-0.5][1]


def test_gain_db_scales_amplitude():
    quiet = mix_of(gesture(0.0, gain_db=-6.0)).stereo
    loud = mix_of(gesture(0.0)).stereo
    np.testing.assert_allclose(quiet, loud * 10 ** (-6 / 20), atol=1e-6)


def test_overlapping_events_sum():
    a = gesture(0.0, category="trigger", pan=-0.3, gain_db=-12)
    b = gesture(0.1, category="continuous_variation", pan=0.6, gain_db=-12)
    both = mix_of(a, b)
    assert both.gain_db_applied == 0.0
    alone_a, alone_b = mix_of(a).stereo, mix_of(b).stereo
    expected = np.zeros_like(both.stereo)
    expected[: len(alone_a)] += alone_a
    expected[: len(alone_b)] += alone_b
    np.testing.assert_allclose(both.stereo, expected, atol=1e-6)


def test_loud_overlaps_are_scaled_down_not_clipped(tmp_path):
    events = [gesture(0.01 * i, gain_db=6.0) for i in range(20)]
    mix = mix_of(*events)
    assert mix.peak_before > 1.0
    assert mix.gain_db_applied < 0
    assert mix.gain_db_applied == pytest.approx(20 * math.log10(CEILING / mix.peak_before))
    assert np.abs(mix.stereo).max() == pytest.approx(CEILING, rel=1e-5)

    lines = "\n".join(
        f"  - {{at: {0.01 * i:.2f}, gesture: trigger, gain_db: 6}}" for i in range(20)
    )
    score = write_score(tmp_path, f"run: run\nevents:\n{lines}\n")
    mix = compose(score, tmp_path / "mix.wav", load_source=lambda run: FakeSource())
    wave, sr = sf.read(tmp_path / "mix.wav", dtype="float32")
    assert sr == 8000 and wave.shape[1] == 2
    assert np.abs(wave).max() <= CEILING + 1 / 32768
    sidecar = json.loads((tmp_path / "mix.wav.json").read_text())
    assert sidecar["gain_db_applied"] == pytest.approx(mix.gain_db_applied, abs=1e-3)
    assert sidecar["gain_db_applied"] < 0
    assert len(sidecar["events"]) == 20


def test_same_score_gives_same_bytes(tmp_path):
    score = write_score(
        tmp_path,
        "run: run\nevents:\n"
        "  - {at: 0, gesture: trigger, pan: -0.4, gain_db: 3}\n"
        "  - {at: 0.1, morph: {from: trigger, to: continuous_repetition, steps: 3, every: 0.1}}\n",
    )
    compose(score, tmp_path / "a.wav", load_source=lambda run: FakeSource())
    compose(score, tmp_path / "b.wav", load_source=lambda run: FakeSource())
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert (tmp_path / "a.wav.json").read_text() == (tmp_path / "b.wav.json").read_text().replace(
        "b.wav", "a.wav"
    )


def test_file_event_resampled_to_mix_rate(tmp_path):
    t = np.arange(44100) / 44100
    sf.write(tmp_path / "tone.wav", (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), 44100)
    score = write_score(tmp_path, "sr: 8000\nevents:\n  - {at: 0.5, file: tone.wav, pan: 1}\n")
    loaded = []
    mix = compose(score, tmp_path / "mix.wav", load_source=loaded.append)
    assert loaded == []  # a score of files alone never loads a model
    assert mix.sr == 8000
    assert mix.stereo.shape == (4000 + 8000, 2)
    left, right = mix.stereo[:, 0], mix.stereo[:, 1]
    assert np.abs(left).max() < 1e-7
    spectrum = np.abs(np.fft.rfft(right[4000:]))
    assert np.argmax(spectrum) * 8000 / len(right[4000:]) == pytest.approx(1000, abs=2)
    assert mix.events[0]["kind"] == "file" and mix.events[0]["duration_s"] == 1.0


def test_gestures_resampled_when_score_sets_another_rate():
    mix = mix_of(gesture(0.0), sr=16000)
    assert mix.sr == 16000 and mix.stereo.shape == (4000, 2)


def test_morph_places_steps_every_seconds():
    source = FakeSource()
    event = MorphEvent(at_s=0.2, start="trigger", end="continuous_repetition", steps=4, every_s=0.5)
    mix = mix_of(event, source=source)
    assert source.calls == [("morph", "trigger", "continuous_repetition", 4, 0, None)]
    onsets = [round((0.2 + 0.5 * k) * 8000) for k in range(4)]
    assert mix.stereo.shape[0] == onsets[-1] + 2000
    for k, onset in enumerate(onsets):
        assert np.all(mix.stereo[onset - 10 : onset] == 0), k  # silence before each step
        assert np.all(mix.stereo[onset : onset + 10] != 0), k
    assert mix.events[0]["duration_s"] == pytest.approx(1.5 + 0.25)
    assert mix.events[0]["kind"] == "morph"


def test_morph_default_every_is_one_clip():
    event = MorphEvent(at_s=0.0, start="trigger", end="trigger_continuous", steps=3)
    assert mix_of(event).stereo.shape[0] == 3 * 2000


def test_stage_and_seed_passed_to_source(tmp_path):
    score = write_score(
        tmp_path,
        "run: run\nevents:\n"
        "  - {at: 0, gesture: trigger, stage: 4x4}\n"
        "  - {at: 0, gesture: trigger_continuous, seed: 9}\n"
        "  - {at: 0, morph: {from: trigger, to: trigger_continuous, steps: 2}, stage: 8x8}\n",
    )
    source = FakeSource()
    compose(score, tmp_path / "mix.wav", load_source=lambda run: source)
    assert source.calls == [
        ("sample", "trigger", 0, "4x4"),  # default seed: the event's position from 0
        ("sample", "trigger_continuous", 9, None),
        ("morph", "trigger", "trigger_continuous", 2, 2, "8x8"),
    ]


def test_run_is_relative_to_score_and_can_be_overridden(tmp_path):
    (tmp_path / "scores").mkdir()
    (tmp_path / "other").mkdir()
    score = write_score(tmp_path / "scores", "run: ../run\nevents: [{at: 0, gesture: trigger}]")
    (tmp_path / "run").mkdir()
    assert load_score(score).run == tmp_path / "scores" / "../run"
    assert load_score(score, run_override=tmp_path / "other").run == tmp_path / "other"
    seen = []
    compose(score, tmp_path / "m.wav", lambda run: seen.append(run) or FakeSource(), tmp_path)
    assert seen == [tmp_path]


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("events: [{at: 0, gesture: trigger}\n", ["score.yaml", "line 2"]),
        ("run: run\n", ["score.yaml", "'events'"]),
        ("events: []\n", ["non-empty"]),
        ("tempo: 120\nevents: [{at: 0, file: x.wav}]\n", ["line 1", "'tempo'"]),
        (
            "events:\n  - {at: 0, gesture: trigger, pann: 1}\n",
            ["event 1 (line 2)", "'pann'", "'pan'"],
        ),
        (
            "events:\n  - {at: 0, gesture: trigger}\n  - {at: -1, gesture: trigger}\n",
            ["event 2 (line 3)", "at must be between 0 and 3600 seconds", "-1"],
        ),
        (
            "events:\n  - {at: 90000, gesture: trigger}\n",
            ["event 1 (line 2)", "at must be between 0 and 3600 seconds, got 90000"],
        ),
        (
            "events:\n  - at: 0\n    gesture: trigger\n    pan: 2\n",
            ["score.yaml: event 1 (line 4): pan must be between -1 and 1, got 2"],
        ),
        ("events:\n  - {gesture: trigger}\n", ["event 1 (line 2)", "missing 'at'"]),
        ("events:\n  - {at: zero, gesture: trigger}\n", ["event 1", "at must be a number"]),
        ("events:\n  - {at: 0, pan: 0}\n", ["event 1 (line 2)", "exactly one", "got none"]),
        (
            "events:\n  - {at: 0, gesture: trigger, file: a.wav}\n",
            ["event 1 (line 2)", "exactly one", "gesture and file"],
        ),
        ("events:\n  - [0, trigger]\n", ["event 1 (line 2)", "mapping"]),
        (
            "events:\n  - {at: 0, file: missing.wav}\n",
            ["event 1 (line 2)", "missing.wav", "not found"],
        ),
        (
            "run: nowhere\nevents: [{at: 0, gesture: trigger}]\n",
            ["score.yaml (line 1): no run folder at", "nowhere"],
        ),
        ("events: [{at: 0, gesture: trigger}]\n", ["need a model", "run:"]),
        (
            "events:\n  - {at: 0, gesture: trigger, seed: -2}\n",
            ["event 1 (line 2)", "seed must be a whole number"],
        ),
        (
            "run: run\nevents:\n  - at: 0\n    morph: {from: trigger, to: trigger, steps: 1}\n",
            ["event 1 (line 4)", "steps", "at least 2"],
        ),
        (
            "run: run\nevents:\n  - at: 0\n    morph:\n      from: trigger\n      too: trigger\n",
            ["event 1 (line 6)", "'too'", "'to'"],
        ),
        (
            "run: run\nevents:\n  - {at: 0, morph: {from: trigger, to: trigger, every: 0}}\n",
            ["event 1 (line 3)", "every must be positive"],
        ),
        (
            "run: run\nevents: [{at: 0, file: a.wav, stage: 4x4}]\n",
            ["'stage'", "a file event takes"],
        ),
        ("sr: -5\nevents: [{at: 0, file: a.wav}]\n", ["line 1", "sr must be a whole number"]),
        (
            "sr: 2000000000\nevents: [{at: 0, file: a.wav}]\n",
            ["line 1", "sr must be a whole number of Hz from 8000 to 192000, got 2000000000"],
        ),
        ("sr: 2e9\nevents: [{at: 0, file: a.wav}]\n", ["line 1", "sr", "got '2e9'"]),
        (
            "events:\n  - {at: 0, file: a.wav, gain_db: 7000}\n",
            ["event 1 (line 2)", "gain_db must be between -120 and 40 dB, got 7000"],
        ),
        (
            "events:\n  - {at: 0, file: a.wav, gain_db: .nan}\n",
            ["event 1 (line 2)", "gain_db must be a number"],
        ),
        (
            "run: run\nevents:\n  - {at: 0, gesture: trigger, seed: 100000000000000000000000}\n",
            ["event 1 (line 3)", "seed must be a whole number from 0 to 4294967295"],
        ),
        (
            "run: run\nevents:\n  - {at: 0, gesture: trigger, seed: 1e23}\n",
            ["event 1 (line 3)", "seed must be a whole number", "'1e23'"],
        ),
        (
            "run: run\nevents:\n  - {at: 0, morph: {from: a, to: b, seed: 4294967296}}\n",
            ["event 1 (line 3)", "seed must be a whole number from 0 to 4294967295"],
        ),
        (
            "events:\n  - {at: 0, file: a.wav, fade_in: -1}\n",
            ["event 1 (line 2)", "fade_in must be between 0 and 60 seconds, got -1"],
        ),
    ],
)
def test_malformed_score_errors_name_event_and_field(tmp_path, text, fragments):
    path = write_score(tmp_path, text)
    with pytest.raises(UserError) as info:
        load_score(path)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("event", "fragments"),
    [
        (
            "{at: 0, gesture: bang}",
            ["event 2 (line 4)", "unknown category 'bang'", "trigger, trigger_continuous"],
        ),
        (
            "{at: 0, morph: {from: trigger, to: whoosh}}",
            ["event 2 (line 4)", "unknown category 'whoosh'"],
        ),
        (
            "{at: 0, gesture: trigger, stage: 3x3}",
            ["event 2 (line 4)", "unknown stage '3x3'", "4x4, 8x8"],
        ),
    ],
)
def test_events_checked_against_the_model(tmp_path, event, fragments):
    score = write_score(
        tmp_path, f"run: run\nevents:\n  - {{at: 0, gesture: trigger}}\n  - {event}\n"
    )
    source = FakeSource()
    with pytest.raises(UserError) as info:
        compose(score, tmp_path / "mix.wav", load_source=lambda run: source)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert source.calls == []  # checked before anything is generated
    assert not (tmp_path / "mix.wav").exists()


def test_stage_refused_by_a_model_without_stages():
    source = FakeSource()
    source.stages = ()
    with pytest.raises(UserError, match="unknown stage '4x4'; available: none"):
        mix_of(gesture(0.0, stage="4x4"), source=source)


def test_first_and_last_name_the_stages_of_any_model():
    source = FakeSource()
    source.stages = ("4x16", "8x32", "16x64")  # a long clip's model has no 4x4 stage
    mix_of(gesture(0.0, stage="first"), gesture(0.1, stage="last"), source=source)
    assert [call[3] for call in source.calls] == ["4x16", None]
    with pytest.raises(UserError, match="available: first, last, 4x16, 8x32, 16x64"):
        mix_of(gesture(0.0, stage="4x4"), source=source)


def test_model_without_categories_refuses_gestures():
    source = FakeSource()
    source.categories = ()
    with pytest.raises(UserError, match="trained without categories"):
        mix_of(gesture(0.0), source=source)


def test_missing_override_run_folder(tmp_path):
    score = write_score(tmp_path, "events: [{at: 0, gesture: trigger}]\n")
    with pytest.raises(UserError, match="no run folder at .*elsewhere"):
        load_score(score, run_override=tmp_path / "elsewhere")


def test_bad_fields_are_one_line_exit_2_and_nothing_written(tmp_path, capsys):
    from gesturegan.cli import main

    for field in ("gain_db: 7000", "pan: 9"):
        score = write_score(tmp_path, f"events:\n  - {{at: 0, file: a.wav, {field}}}\n")
        assert main(["compose", str(score), "--out", str(tmp_path / "mix.wav")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and field.split(":")[0] in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "score.yaml"]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_file_with_a_non_finite_sample_is_refused(tmp_path, bad):
    wave = np.full(800, 0.1, np.float32)
    wave[17] = bad
    sf.write(tmp_path / "bad.wav", wave, 8000, subtype="FLOAT")
    score = write_score(tmp_path, "events:\n  - {at: 0, file: bad.wav}\n")
    with pytest.raises(UserError, match=r"event 1 \(line 2\): file bad.wav gave 1 non-finite"):
        compose(score, tmp_path / "mix.wav", load_source=lambda run: None)
    assert not (tmp_path / "mix.wav").exists() and not (tmp_path / "mix.wav.json").exists()


def test_a_model_giving_nan_is_refused():
    class NanSource(FakeSource):
        def _tone(self, hz: float, amp: float = 0.5) -> np.ndarray:
            return np.full(self.length, np.nan, np.float32)

    with pytest.raises(UserError, match="the model gave 2000 non-finite samples"):
        mix_of(gesture(0.0), source=NanSource())


def test_the_sidecar_is_strict_json(tmp_path):
    score = write_score(tmp_path, "run: run\nevents:\n  - {at: 0, gesture: trigger, gain_db: 30}\n")
    compose(score, tmp_path / "mix.wav", load_source=lambda run: FakeSource())

    def refuse(name):
        raise AssertionError(f"{name} in the sidecar")

    sidecar = json.loads((tmp_path / "mix.wav.json").read_text(), parse_constant=refuse)
    assert sidecar["gain_db_applied"] < -20


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("run: run\nevents:\n  - {at: 3600, gesture: trigger}\n", "would last 3600 s"),
        (
            "run: run\nevents:\n  - {at: 0, morph: {from: trigger, to: trigger, steps: 9000}}\n",
            "would last 2250 s",
        ),
        ("sr: 8000\nevents:\n  - {at: 2097, file: tone.wav}\n", "would last 2098 s"),
    ],
)
def test_the_mix_length_is_bounded_before_anything_is_rendered(tmp_path, text, fragment):
    sf.write(tmp_path / "tone.wav", np.full(8000, 0.1, np.float32), 8000)
    score = write_score(tmp_path, text)
    source = FakeSource()
    with pytest.raises(UserError) as info:
        compose(score, tmp_path / "mix.wav", load_source=lambda run: source)
    assert fragment in str(info.value) and f"at most {MAX_MIX_FRAMES} frames" in str(info.value)
    assert source.calls == [] and not (tmp_path / "mix.wav").exists()


@pytest.mark.parametrize("score_sr", [None, 16000, 44100])
def test_a_model_at_another_rate_is_resampled_never_sped_up(score_sr):
    class Sine(FakeSource):
        def _tone(self, hz: float, amp: float = 0.5) -> np.ndarray:
            return (amp * np.sin(2 * np.pi * 1000.0 * np.arange(self.length) / self.sr)).astype(
                np.float32
            )

    mix = mix_of(gesture(0.0), sr=score_sr, source=Sine(sr=8000, length=8000))
    sr = score_sr or 8000
    assert mix.sr == sr
    assert mix.duration_s == pytest.approx(1.0, abs=1e-3)  # the same length in seconds
    left = mix.stereo[:, 0]
    spectrum = np.abs(np.fft.rfft(left))
    assert np.argmax(spectrum) * sr / len(left) == pytest.approx(1000.0, abs=2)  # the same pitch


def test_without_sr_a_score_mixes_at_the_highest_rate_of_what_it_places(tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros(4410, np.float32) + 0.1, 44100)
    sf.write(tmp_path / "b.wav", np.zeros(2205, np.float32) + 0.1, 22050)
    files = [FileEvent(at_s=0.0, path=Path("a.wav")), FileEvent(at_s=0.0, path=Path("b.wav"))]
    assert render(Score(run=None, sr=None, events=files), None, tmp_path).sr == 44100  # files alone
    assert mix_of(gesture(0.0), *files, score_dir=tmp_path).sr == 44100  # a model at 8 kHz too
    assert mix_of(gesture(0.0), score_dir=tmp_path).sr == 8000  # the model's rate
    assert mix_of(*files, sr=16000, score_dir=tmp_path).sr == 16000  # as asked


def _click_then_tone(sr: int) -> np.ndarray:
    """A click on the first sample, then from 0.1 s half a second of a 1 kHz sine."""
    wave = np.zeros(int(0.7 * sr), np.float32)
    wave[0] = 0.5
    t = np.arange(sr // 2) / sr
    wave[sr // 10 : sr // 10 + sr // 2] = 0.25 * np.sin(2 * np.pi * 1000.0 * t)
    return wave


class ClickToneSource(FakeSource):
    def _tone(self, hz: float, amp: float = 0.5) -> np.ndarray:
        return _click_then_tone(self.sr)


@pytest.mark.parametrize("kind", ["file", "gesture"])
@pytest.mark.parametrize("score_sr", [44100, 48000])
def test_a_22k_clip_in_a_44k_score_keeps_its_onset_sample_and_its_pitch(tmp_path, kind, score_sr):
    at_s = 0.25
    if kind == "file":
        sf.write(tmp_path / "click.wav", _click_then_tone(22050), 22050, subtype="FLOAT")
        event = FileEvent(at_s=at_s, path=Path("click.wav"))
    else:
        event = gesture(at_s)
    source = ClickToneSource(sr=22050, length=len(_click_then_tone(22050)))
    mix = mix_of(event, sr=score_sr, source=source, score_dir=tmp_path)
    assert mix.sr == score_sr and mix.gain_db_applied == 0.0
    left = mix.stereo[:, 0]
    at = round(at_s * score_sr)
    assert int(np.argmax(np.abs(left))) == at  # the click, on its sample at the score's rate
    # Its level, less the little the resampler's anti-alias filter takes from a full-band click.
    assert left[at] == pytest.approx(0.5 * math.cos(math.pi / 4), rel=0.1)
    tone = left[at + score_sr // 10 + 100 : at + score_sr // 10 + score_sr // 2 - 100]
    spectrum = np.abs(np.fft.rfft(tone * np.hanning(len(tone))))
    assert np.argmax(spectrum) * score_sr / len(tone) == pytest.approx(1000.0, abs=2.5)
    n_in = len(_click_then_tone(22050))
    assert len(left) == at + round(n_in * score_sr / 22050)  # the same duration in seconds


def test_file_event_missing_at_render_time(tmp_path):
    with pytest.raises(UserError, match="gone.wav not found"):
        mix_of(FileEvent(at_s=0.0, path=Path("gone.wav")), score_dir=tmp_path)


# ---------------------------------------------------------------------------------- shipped scores
@pytest.mark.parametrize(
    ("path", "min_s", "max_s"),
    [(REPO / "examples" / "score.yaml", 20.0, 30.0), (DEMO_SCORE_PATH, 10.0, 14.0)],
)
def test_shipped_scores_render(tmp_path, path, min_s, max_s):
    score = load_score(path, run_override=tmp_path)
    kinds = [type(e) for e in score.events]
    assert kinds[0] is GestureEvent and score.events[0].stage == "first"  # the young model, any size
    assert MorphEvent in kinds
    gestures = [e for e in score.events if isinstance(e, GestureEvent) and e.stage is None]
    assert {e.category for e in gestures} == set(CATEGORIES)
    assert len({e.pan for e in gestures}) > 1
    mix = render(score, FakeSource(sr=22050, length=16384), path.parent)
    assert min_s <= mix.duration_s <= max_s
    assert np.abs(mix.stereo).max() <= CEILING + 1e-6


def test_example_score_points_at_demo_run():
    text = (REPO / "examples" / "score.yaml").read_text()
    assert "run: ../demo-out/run" in text
