"""The built-in procedural corpus: determinism, layout, clip sanity, labels that the envelope
labeler agrees with, and variety that keeps timbre from giving the category away."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gesturegan import audio, corpus, gestures
from gesturegan.corpus import clip_rng, synth, synthesize, variations, write_corpus
from gesturegan.dataset.scan import read_labels_csv
from gesturegan.errors import UserError

SR = 22050
LENGTH = 16384
PER_CLASS = 16  # enough to measure agreement and spread, small enough to write in ~1.5 s


@pytest.fixture(scope="module")
def corpus16(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "c16"
    write_corpus(out, per_class=PER_CLASS, seed=0)
    return out


@pytest.fixture(scope="module")
def clips16(corpus16) -> dict[str, list[np.ndarray]]:
    """The clips of ``corpus16`` read back from disk, per category, in index order."""
    return {
        cat: [sf.read(p, dtype="float32")[0] for p in sorted((corpus16 / cat).glob("*.wav"))]
        for cat in gestures.CATEGORIES
    }


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


# --- Determinism ---------------------------------------------------------------------------------


@pytest.mark.parametrize("category", gestures.CATEGORIES)
def test_synthesize_is_deterministic_by_seed(category):
    a = synthesize(category, np.random.default_rng(7))
    b = synthesize(category, np.random.default_rng(7))
    c = synthesize(category, np.random.default_rng(8))
    assert a.dtype == np.float32 and a.shape == (LENGTH,)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_same_seed_gives_identical_files_whatever_per_class(corpus16, tmp_path):
    small = write_corpus(tmp_path / "small", per_class=2, seed=0)
    files = _files(small.out)
    wavs = [name for name in files if name.endswith(".wav")]
    assert len(wavs) == 2 * len(gestures.CATEGORIES)
    for name in wavs:
        assert files[name] == (corpus16 / name).read_bytes(), name


def test_different_seed_gives_different_clips(corpus16, tmp_path):
    other = write_corpus(tmp_path / "other", per_class=2, seed=1)
    for cat in gestures.CATEGORIES:
        for i in range(2):
            name = f"{cat}/{cat}_{i:04d}.wav"
            assert (other.out / name).read_bytes() != (corpus16 / name).read_bytes(), name


def test_clips_of_a_corpus_differ_from_each_other(clips16):
    everything = [c.tobytes() for clips in clips16.values() for c in clips]
    assert len(set(everything)) == len(everything)


# --- Layout and labels.csv -----------------------------------------------------------------------


def test_counts_and_file_layout(corpus16):
    expected = {"labels.csv"} | {
        f"{cat}/{cat}_{i:04d}.wav" for cat in gestures.CATEGORIES for i in range(PER_CLASS)
    }
    assert set(_files(corpus16)) == expected  # nothing else: no temporary files left behind


def test_summary_and_progress(tmp_path):
    calls = []
    s = write_corpus(
        tmp_path / "c", per_class=1, seed=3, progress=lambda d, t: calls.append((d, t))
    )
    total = len(gestures.CATEGORIES)
    assert s.counts == dict.fromkeys(gestures.CATEGORIES, 1)
    assert s.labels_csv == tmp_path / "c" / "labels.csv"
    assert calls == [(i, total) for i in range(1, total + 1)]


def test_labels_csv_format(corpus16):
    text = (corpus16 / "labels.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == ["file", "label"]
    assert len(rows) == 1 + PER_CLASS * len(gestures.CATEGORIES)
    for file, label in rows[1:]:
        assert not Path(file).is_absolute() and "\\" not in file
        assert (corpus16 / file).is_file()  # relative to the CSV's own folder
        assert label in gestures.CATEGORIES and file.split("/")[0] == label
    # The dataset reader takes it as it is.
    by_path = read_labels_csv(corpus16 / "labels.csv")
    assert by_path[(corpus16 / "trigger" / "trigger_0000.wav").resolve()] == "trigger"
    assert len(by_path) == PER_CLASS * len(gestures.CATEGORIES)


# --- Every clip is a usable sound ----------------------------------------------------------------


def test_every_clip_is_finite_in_range_not_silent_and_of_the_right_length(corpus16, clips16):
    lo, hi = (10 ** (db / 20) for db in corpus.PEAK_DB_RANGE)
    for cat, clips in clips16.items():
        assert len(clips) == PER_CLASS
        for i, x in enumerate(clips):
            info = sf.info(corpus16 / cat / f"{cat}_{i:04d}.wav")
            assert (info.samplerate, info.channels, info.frames) == (SR, 1, LENGTH)
            assert info.subtype == "PCM_16"
            assert np.isfinite(x).all()
            peak = float(np.abs(x).max())
            assert lo - 1e-3 <= peak <= hi + 1e-3, (cat, i, peak)
            assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) > 1e-3, (cat, i)


def test_rate_and_length_are_configurable(tmp_path):
    s = write_corpus(tmp_path / "c", per_class=1, seed=0, sr=16000, length=4096)
    for cat in gestures.CATEGORIES:
        info = audio.info(s.out / cat / f"{cat}_0000.wav")
        assert (info.sr, info.frames) == (16000, 4096)


# --- Labels the envelope labeler agrees with -----------------------------------------------------


def test_rule_labeler_agrees_with_the_corpus_label():
    # 48 clips per class (the first 16 are corpus16's): with 16, one clip decides a tenth.
    for cat in gestures.CATEGORIES:
        verdicts = [gestures.label(synthesize(cat, clip_rng(0, cat, i)), SR)[0] for i in range(48)]
        agreement = np.mean([v == cat for v in verdicts])
        assert agreement >= 0.9, (cat, agreement, verdicts)


@pytest.mark.parametrize("recipe", [variations.vary_phrase, variations.vary_voice])
def test_phrases_and_voices_are_heard_as_variations_once_redrawn(recipe):
    # Drawn alone, some are heard otherwise (a phrase's note onsets as pulses); as the corpus
    # draws them, every one of 12 is a variation.
    heard = variations.heard_as("continuous_variation", recipe)
    for i in range(12):
        x = synth.normalize_peak(heard(np.random.default_rng(i), SR, LENGTH), -6.0)
        assert gestures.label(x.astype(np.float32), SR)[0] == "continuous_variation", i


def test_heard_as_draws_again_until_the_labeler_hears_the_category_and_stops_at_the_limit():
    t = np.arange(LENGTH) / SR
    hit = np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.01)
    held = np.sin(2 * np.pi * 440 * t)  # steady: continuous_repetition
    draws = []

    def hit_on_the_third(rng, sr, n):
        draws.append(1)
        return hit if len(draws) == 3 else held

    assert variations.heard_as("trigger", hit_on_the_third)(None, SR, LENGTH) is hit
    assert len(draws) == 3
    draws.clear()
    assert variations.heard_as("trigger", lambda rng, sr, n: draws.append(1) or held)(
        None, SR, LENGTH
    ) is held
    assert len(draws) == variations.REDRAWS


# --- Variety inside a class; timbre alone does not tell the classes apart ------------------------


@pytest.fixture(scope="module")
def centroids(clips16) -> dict[str, np.ndarray]:
    return {
        cat: np.array([gestures.features(x, SR)["centroid_hz"] for x in clips])
        for cat, clips in clips16.items()
    }


def test_each_class_spans_a_wide_range_of_brightness(centroids):
    for cat, c in centroids.items():
        assert np.log2(c.max() / c.min()) >= 4.0, (cat, c.min(), c.max())  # four octaves


def test_each_class_spans_a_range_of_levels(clips16):
    for cat, clips in clips16.items():
        peaks_db = [20 * np.log10(np.abs(x).max()) for x in clips]
        assert max(peaks_db) - min(peaks_db) >= 5.0, cat


def test_classes_are_not_separable_by_spectral_centroid(centroids):
    cats = list(centroids)
    # Every pair of classes overlaps in centroid range ...
    for a, b in itertools.combinations(cats, 2):
        assert max(centroids[a].min(), centroids[b].min()) < min(
            centroids[a].max(), centroids[b].max()
        ), (a, b)
    # ... and the nearest class-mean (log-)centroid is a poor guess of the class (chance: 0.25).
    logs = np.concatenate([np.log(centroids[c]) for c in cats])
    truth = np.repeat(np.arange(len(cats)), PER_CLASS)
    means = np.array([np.log(centroids[c]).mean() for c in cats])
    guess = np.argmin(np.abs(logs[:, None] - means[None, :]), axis=1)
    assert np.mean(guess == truth) <= 0.5


# --- Writing is atomic and re-runnable -----------------------------------------------------------


def test_rerun_into_the_same_folder_gives_the_same_files(tmp_path):
    first = _files(write_corpus(tmp_path / "c", per_class=2, seed=5).out)
    second = _files(write_corpus(tmp_path / "c", per_class=2, seed=5).out)
    assert first == second


def test_interrupted_write_leaves_no_partial_files_and_a_rerun_completes(tmp_path, monkeypatch):
    real_write = sf.write
    calls = {"n": 0}

    def failing_write(file, data, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # die half-way through the third file
            real_write(file, data[: len(data) // 2], *args, **kwargs)
            raise OSError("disk full")
        return real_write(file, data, *args, **kwargs)

    monkeypatch.setattr(audio.sf, "write", failing_write)
    out = tmp_path / "c"
    with pytest.raises(OSError, match="disk full"):
        write_corpus(out, per_class=2, seed=0)
    left = _files(out)
    # Two whole files; no temporary file, no half file, no labels.csv for a corpus not written.
    assert sorted(left) == ["trigger/trigger_0000.wav", "trigger/trigger_0001.wav"]
    for name in left:
        assert sf.info(out / name).frames == LENGTH

    monkeypatch.setattr(audio.sf, "write", real_write)
    write_corpus(out, per_class=2, seed=0)
    assert _files(out) == _files(write_corpus(tmp_path / "clean", per_class=2, seed=0).out)


# --- User errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"per_class": 0}, "per-class"), ({"seed": -1}, "seed"), ({"sr": 4000}, "sr >= 8000")],
)
def test_bad_options_are_user_errors(tmp_path, kwargs, match):
    with pytest.raises(UserError, match=match):
        write_corpus(tmp_path / "c", **{"per_class": 1, **kwargs})


def test_unknown_category_is_a_user_error():
    with pytest.raises(UserError, match="unknown gesture category"):
        synthesize("whoosh", np.random.default_rng(0))


def test_module_docstring_example_runs():
    import doctest

    result = doctest.testmod(corpus, verbose=False)
    assert result.attempted > 0 and result.failed == 0
