"""``prepare`` and ``Dataset``: every input file accounted for, SRC untouched, exact resampling and
alignment, labels from folders and CSVs, memory-mapped reading, atomic output."""

from __future__ import annotations

import csv
import hashlib
import importlib
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import xxhash

from gesturegan import audio
from gesturegan.dataset import MANIFEST_COLUMNS, Dataset, prepare
from gesturegan.dataset import clip as clip_mod
from gesturegan.errors import UserError

# The package re-exports the function ``prepare``, which hides the module of the same name.
prepare_mod = importlib.import_module("gesturegan.dataset.prepare")

SR = 22050
LENGTH = 16384
UNICODE_NAME = "nested/Glöckchen – take 1.wav"


def tone(freq: float, seconds: float, sr: int, amp: float = 0.5, channels: int = 1) -> np.ndarray:
    """A sine, ``[T]`` or ``[T, channels]`` with the same tone in every channel."""
    x = amp * np.sin(2 * np.pi * freq * np.arange(int(round(seconds * sr))) / sr)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def write(root: Path, rel: str, data: np.ndarray, sr: int, **kwargs) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sr, **kwargs)
    return path


def make_mixed_source(root: Path) -> tuple[Path, dict[str, str]]:
    """A source folder with every kind of input ``prepare`` meets; returns it and, for each bad
    audio file, a word its errors.csv reason must contain."""
    src = root / "src"
    rng = np.random.default_rng(0)
    # Formats, rates and channel counts.
    write(src, "formats/pcm16_48k.wav", tone(1000, 1.0, 48000), 48000, subtype="PCM_16")
    write(src, "formats/pcm24_44k.wav", tone(440, 1.0, 44100), 44100, subtype="PCM_24")
    write(src, "formats/float32_96k.wav", tone(440, 1.0, 96000), 96000, subtype="FLOAT")
    write(src, "formats/float64_8k.wav", tone(440, 1.0, 8000), 8000, subtype="DOUBLE")
    write(src, "formats/tone.flac", tone(440, 1.0, 44100), 44100, format="FLAC")
    write(src, "formats/tone.aiff", tone(440, 1.0, 44100), 44100, format="AIFF", subtype="PCM_16")
    if "OGG" in sf.available_formats():
        write(src, "formats/tone.ogg", tone(440, 1.0, 44100), 44100, format="OGG", subtype="VORBIS")
    write(src, "channels/stereo.wav", tone(440, 1.0, 44100, channels=2), 44100)
    six = np.stack([tone(440, 1.0, 48000, amp=0.1 * (k + 1)) for k in range(6)], axis=1)
    write(src, "channels/six.wav", six, 48000, subtype="FLOAT")  # mean amplitude 0.35
    six96 = np.stack([tone(440, 1.0, 96000, amp=0.1 * (k + 1)) for k in range(6)], axis=1)
    write(src, "channels/six_96k_24bit.wav", six96, 96000, subtype="PCM_24")
    # Lengths: padded and truncated.
    write(src, "lengths/short.wav", tone(440, 0.2, SR), SR, subtype="FLOAT")
    write(src, "lengths/long.wav", 0.3 * rng.standard_normal(3 * 44100), 44100, subtype="FLOAT")
    write(src, "lengths/tiny.wav", tone(440, 0.05, 44100), 44100)  # 0.05 s: padded
    # Names and places.
    write(src, "nested/deeper/still/deep.wav", tone(220, 0.5, SR), SR)
    write(src, UNICODE_NAME, tone(660, 0.5, SR), SR)
    outside = write(root / "elsewhere", "linked.wav", tone(330, 0.5, SR), SR)
    (src / "links").mkdir()
    os.symlink(outside, src / "links/to_outside.wav")
    os.symlink(src / "nested/deeper/still/deep.wav", src / "links/to_inside.wav")
    # Bad audio files and the reason each must get.
    (src / "bad").mkdir()
    (src / "bad/empty.wav").write_bytes(b"")
    (src / "bad/text.wav").write_text("this is not a wave file\n")
    head = write(src, "bad/truncated.wav", tone(440, 1.0, SR), SR).read_bytes()
    (src / "bad/truncated.wav").write_bytes(head[:30])  # cut inside the header
    write(src, "bad/silent.wav", np.zeros(SR), SR)
    nan = tone(440, 1.0, SR).astype(np.float32)
    nan[1000:1010] = np.nan
    write(src, "bad/nan.wav", nan, SR, subtype="FLOAT")
    write(src, "bad/all_nan.wav", np.full(SR, np.nan, np.float32), SR, subtype="FLOAT")
    os.symlink(src / "bad/gone.wav", src / "bad/broken_link.wav")
    bad = {
        "bad/empty.wav": "not readable audio",
        "bad/text.wav": "not readable audio",
        "bad/truncated.wav": "not readable audio",
        "bad/silent.wav": "silent",
        "bad/nan.wav": "NaN",
        "bad/all_nan.wav": "NaN",
        "bad/broken_link.wav": "broken symbolic link",
    }
    # A file whose data stops half-way: readable up to where it stops, one place either way.
    whole = write(src, "bad/cut_data.wav", tone(440, 1.0, SR), SR).read_bytes()
    (src / "bad/cut_data.wav").write_bytes(whole[: len(whole) // 2])
    # Not audio, and hidden: ignored (counted) and skipped (not even counted).
    (src / "notes.txt").write_text("recorded on a rainy day\n")
    (src / "bad/readme.md").write_text("# bad files\n")
    write(src, ".hidden.wav", tone(440, 0.5, SR), SR)
    (src / ".cache").mkdir()
    write(src, ".cache/also_hidden.wav", tone(440, 0.5, SR), SR)
    return src, bad


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: content hash for files, target for links, mode and mtime."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            st = path.lstat()
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                state[rel] = f"link -> {os.readlink(path)}"
            elif path.is_file():
                state[rel] = (
                    f"{hashlib.sha1(path.read_bytes()).hexdigest()} {st.st_mode} {st.st_mtime_ns}"
                )
            else:
                state[rel] = f"dir {st.st_mode}"
    return state


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def spectrum_peak_hz(wave: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.argmax(spec) * sr / len(wave))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """The mixed source, its snapshot before ``prepare``, and the dataset made from it."""
    root = tmp_path_factory.mktemp("mixed")
    src, bad = make_mixed_source(root)
    before = snapshot(src)
    summary = prepare(src, root / "data", workers=1)
    return src, bad, before, summary, root / "data"


@pytest.fixture(scope="module")
def manifest(mixed) -> dict[str, dict[str, str]]:
    return {row["source"]: row for row in read_csv(mixed[4] / "manifest.csv")}


# --- Every file in exactly one place; SRC untouched ----------------------------------------------


def test_every_input_file_ends_in_exactly_one_place(mixed, manifest):
    src, bad, _, summary, data = mixed
    errors = read_csv(data / "errors.csv")
    listed = list(manifest) + [row["file"] for row in errors]
    assert len(listed) == len(set(listed))  # nothing twice

    audio_files, ignored = set(), 0
    for dirpath, dirnames, filenames in os.walk(src, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            rel = (Path(dirpath) / name).relative_to(src).as_posix()
            if audio.is_audio_file(name):
                audio_files.add(rel)
            else:
                ignored += 1
    assert set(listed) == audio_files  # hidden files are in neither list
    assert ".hidden.wav" not in listed and ".cache/also_hidden.wav" not in listed
    assert summary.n_ignored == ignored == 2  # notes.txt, bad/readme.md

    by_file = {row["file"]: row["reason"] for row in errors}
    for rel, word in bad.items():
        assert word in by_file[rel], (rel, by_file.get(rel))
        assert "bad/" not in by_file[rel]  # the file column names it; the reason says why
    assert "bad/cut_data.wav" in listed
    for must_work in (
        "formats/pcm16_48k.wav",
        UNICODE_NAME,
        "links/to_outside.wav",
        "links/to_inside.wav",
        "nested/deeper/still/deep.wav",
        "channels/six.wav",
        "channels/six_96k_24bit.wav",
        "lengths/tiny.wav",
    ):
        assert must_work in manifest, must_work
    assert summary.n_clips == len(manifest) and summary.n_errors == len(errors)


def test_source_folder_is_not_modified(mixed):
    src, _, before, _, _ = mixed
    assert snapshot(src) == before


def test_errors_csv_format(mixed):
    data = mixed[4]
    with open(data / "errors.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["file", "reason"]
    assert rows[1:] == sorted(rows[1:])
    assert all(len(r) == 2 and r[1] for r in rows[1:])


# --- dataset.json and manifest.csv ---------------------------------------------------------------


def test_dataset_json(mixed, manifest):
    src, _, _, summary, data = mixed
    info = json.loads((data / "dataset.json").read_text(encoding="utf-8"))
    assert info["format_version"] == 2
    assert (info["sr"], info["length"], info["align"]) == (SR, LENGTH, "start")
    assert info["labels"] == [] and info["counts"] == {}
    assert info["n_clips"] == len(manifest) == summary.n_clips
    assert info["n_errors"] == summary.n_errors and info["n_ignored"] == 2
    assert info["source"] == str(src.absolute())
    assert {"created", "gesturegan_version"} <= set(info)


def test_a_dataset_of_the_previous_format_is_refused_in_one_line(mixed, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(mixed[4], old)
    info = json.loads((old / "dataset.json").read_text(encoding="utf-8"))
    (old / "dataset.json").write_text(json.dumps({**info, "format_version": 1}), encoding="utf-8")
    with pytest.raises(UserError, match="has dataset format 1; .*reads format 2 .*prepare"):
        Dataset.open(old)


def test_manifest_rows(mixed, manifest):
    src, data = mixed[0], mixed[4]
    rows = read_csv(data / "manifest.csv")
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    assert [int(r["id"]) for r in rows] == list(range(len(rows)))
    assert [r["source"] for r in rows] == sorted(r["source"] for r in rows)
    for r in rows:
        digest = xxhash.xxh3_128((src / r["source"]).read_bytes()).hexdigest()
        assert r["source_hash"] == digest
        assert r["offset"] == "0" and r["label"] == ""
        assert 0 < float(r["rms"]) <= float(r["peak"])
    facts = {k: (int(manifest[k]["orig_sr"]), int(manifest[k]["orig_channels"]))
             for k in ("formats/pcm16_48k.wav", "formats/pcm24_44k.wav", "formats/float32_96k.wav",
                       "formats/float64_8k.wav", "channels/stereo.wav", "channels/six.wav")}  # fmt: skip
    assert facts == {
        "formats/pcm16_48k.wav": (48000, 1), "formats/pcm24_44k.wav": (44100, 1),
        "formats/float32_96k.wav": (96000, 1), "formats/float64_8k.wav": (8000, 1),
        "channels/stereo.wav": (44100, 2), "channels/six.wav": (48000, 6),
    }  # fmt: skip
    assert float(manifest["lengths/long.wav"]["orig_duration_s"]) == pytest.approx(3.0)
    assert float(manifest["lengths/short.wav"]["orig_duration_s"]) == pytest.approx(0.2)


# --- The audio itself ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(mixed, manifest) -> dict[str, np.ndarray]:
    ds = Dataset.open(mixed[4])
    return {row["source"]: np.array(ds.waves[int(row["id"])]) for row in manifest.values()}


def test_one_khz_at_48k_is_one_khz_at_22050(clips):
    x = clips["formats/pcm16_48k.wav"]
    assert x.shape == (LENGTH,) and x.dtype == np.float32
    assert abs(spectrum_peak_hz(x, SR) - 1000.0) <= SR / LENGTH  # within one bin
    assert np.abs(x).max() == pytest.approx(0.5, abs=0.01)  # the whole clip is tone (1 s > 0.74 s)


@pytest.mark.parametrize(
    ("rel", "peak_tol"),
    [("formats/pcm24_44k.wav", 0.01), ("formats/float32_96k.wav", 0.01),
     ("formats/float64_8k.wav", 0.01), ("formats/tone.flac", 0.01), ("formats/tone.aiff", 0.01),
     ("formats/tone.ogg", 0.06), ("channels/stereo.wav", 0.01)],
)  # fmt: skip
def test_every_format_and_rate_gives_the_tone(clips, rel, peak_tol):
    if rel not in clips:
        pytest.skip(f"{rel} not written (format not available in this libsndfile)")
    x = clips[rel]
    assert abs(spectrum_peak_hz(x, SR) - 440.0) <= SR / LENGTH
    assert np.abs(x).max() == pytest.approx(0.5, abs=peak_tol)


def test_channels_are_averaged(clips):
    # Six channels at 0.1 ... 0.6 of the same tone: the mean has amplitude 0.35.
    assert np.abs(clips["channels/six.wav"]).max() == pytest.approx(0.35, abs=0.005)
    x = clips["channels/six_96k_24bit.wav"]
    assert np.abs(x).max() == pytest.approx(0.35, abs=0.005)
    assert abs(spectrum_peak_hz(x, SR) - 440.0) <= SR / LENGTH


def test_a_file_of_50_ms_is_padded(clips, manifest):
    x = clips["lengths/tiny.wav"]
    n = round(0.05 * SR)
    assert np.abs(x[: n - 50]).max() == pytest.approx(0.5, abs=0.02)
    assert np.abs(x[n + 50 :]).max() < 1e-3  # only the resampler's ringing past the end
    assert float(manifest["lengths/tiny.wav"]["orig_duration_s"]) == pytest.approx(0.05)


def test_short_files_are_padded_with_zeros(clips):
    x = clips["lengths/short.wav"]
    n = int(0.2 * SR)
    np.testing.assert_allclose(x[:n], tone(440, 0.2, SR), atol=1e-6)
    assert not x[n:].any()


def test_long_files_are_cut_and_equal_the_resampled_file(mixed, clips):
    src = mixed[0]
    whole, _ = audio.load(src / "lengths/long.wav", sr=SR)
    assert len(whole) > LENGTH
    np.testing.assert_allclose(clips["lengths/long.wav"], whole[:LENGTH], atol=1e-6)


def test_unicode_and_linked_files_hold_their_sound(clips):
    for rel, freq in ((UNICODE_NAME, 660), ("links/to_outside.wav", 330)):
        x = clips[rel]
        assert abs(spectrum_peak_hz(x, SR) - freq) <= SR / LENGTH, rel
    np.testing.assert_array_equal(
        clips["links/to_inside.wav"], clips["nested/deeper/still/deep.wav"]
    )


# --- Alignment -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def late_source(tmp_path_factory) -> Path:
    """A 4 s file, silent for 2 s, then a decaying tone (44.1 kHz, so the clip is resampled); a
    file with a soft event at 1 s and a loud one at 3 s; and a tone that starts at 0.1 s."""
    src = tmp_path_factory.mktemp("align") / "src"
    sr = 44100
    x = np.zeros(4 * sr)
    t = np.arange(2 * sr) / sr
    x[2 * sr :] = 0.5 * np.sin(2 * np.pi * 300 * t) * np.exp(-t / 0.3)
    write(src, "late.wav", x, sr, subtype="FLOAT")
    y = np.zeros(4 * sr)
    y[1 * sr : 1 * sr + 4410] = 0.1 * np.sin(2 * np.pi * 500 * t[:4410])  # -14 dB re the loud one
    y[3 * sr : 3 * sr + 4410] = 0.5 * np.sin(2 * np.pi * 500 * t[:4410]) * np.exp(-t[:4410] / 0.02)
    write(src, "two_events.wav", y, sr, subtype="FLOAT")
    z = np.zeros(sr)
    z[sr // 10 :] = 0.5 * np.sin(2 * np.pi * 300 * t[: sr - sr // 10])
    write(src, "early.wav", z, sr, subtype="FLOAT")
    return src


def _offsets(data: Path) -> dict[str, float]:
    return {r["source"]: int(r["offset"]) / SR for r in read_csv(data / "manifest.csv")}


def test_align_onset_finds_a_gesture_that_starts_at_two_seconds(late_source, tmp_path):
    prepare(late_source, tmp_path / "data", align="onset", workers=1)
    offsets = _offsets(tmp_path / "data")
    expected = 2.0 - clip_mod.PRE_ROLL_S
    assert offsets["late.wav"] == pytest.approx(expected, abs=clip_mod.HOP_S + 1 / SR)
    assert offsets["two_events.wav"] == pytest.approx(1.0 - clip_mod.PRE_ROLL_S, abs=0.006)
    assert offsets["early.wav"] == pytest.approx(0.1 - clip_mod.PRE_ROLL_S, abs=0.006)
    # The clip is the resampled file from that offset on: near-silence, then the gesture.
    ds = Dataset.open(tmp_path / "data")
    i = next(int(r["id"]) for r in ds.manifest if r["source"] == "late.wav")
    whole, _ = audio.load(late_source / "late.wav", sr=SR)
    off = ds.manifest[i]["offset"]
    np.testing.assert_allclose(ds.waves[i], whole[off : off + LENGTH], atol=1e-6)
    lead = round((2.0 - off / SR) * SR)
    assert np.abs(ds.waves[i][: lead - 50]).max() < 1e-3
    assert np.abs(ds.waves[i][lead + 50 : lead + 500]).max() > 0.3


def test_align_peak_goes_to_the_loudest_event(late_source, tmp_path):
    prepare(late_source, tmp_path / "data", align="peak", workers=1)
    assert _offsets(tmp_path / "data")["two_events.wav"] == pytest.approx(
        3.0 - clip_mod.PRE_ROLL_S, abs=0.006
    )


def test_align_start_on_a_late_gesture_says_why_it_is_skipped(late_source, tmp_path):
    s = prepare(late_source, tmp_path / "data", align="start", workers=1)
    assert s.n_clips == 1  # only early.wav has sound in its first 0.74 s
    assert _offsets(tmp_path / "data") == {"early.wav": 0.0}
    reasons = {r["file"]: r["reason"] for r in read_csv(tmp_path / "data" / "errors.csv")}
    assert set(reasons) == {"late.wav", "two_events.wav"}
    assert "silent in the first 0.74 s" in reasons["late.wav"]
    assert "align onset or peak" in reasons["late.wav"]


# --- Labels --------------------------------------------------------------------------------------


@pytest.fixture
def labelled_source(tmp_path) -> Path:
    src = tmp_path / "src"
    write(src, "kick/a.wav", tone(100, 0.3, SR), SR)
    write(src, "kick/sub/b.wav", tone(120, 0.3, SR), SR)
    write(src, "drone/c.wav", tone(200, 0.3, SR), SR)
    write(src, "loose.wav", tone(300, 0.3, SR), SR)
    return src


def test_labels_from_folders(labelled_source, tmp_path):
    s = prepare(labelled_source, tmp_path / "data", labels_from_folders=True, workers=1)
    assert s.counts == {"drone": 1, "kick": 2}
    ds = Dataset.open(tmp_path / "data")
    assert ds.has_labels and ds.label_names == ["drone", "kick"]
    labels = {
        r["source"]: ds.label_names[i] for r, i in zip(ds.manifest, ds.label_ids, strict=True)
    }
    assert labels == {"drone/c.wav": "drone", "kick/a.wav": "kick", "kick/sub/b.wav": "kick"}
    errors = read_csv(tmp_path / "data" / "errors.csv")
    assert errors == [{"file": "loose.wav", "reason": "no label"}]  # top-level: no folder


def test_labels_from_a_csv_with_paths_relative_to_it(labelled_source, tmp_path):
    meta = tmp_path / "meta"
    meta.mkdir()
    (meta / "labels.csv").write_text(
        "fname,labels\n"  # FSDKaggle2019 header names
        '../src/kick/a.wav,"Bass_drum,Kick_drum"\n'  # multi-label: the first label is used
        "../src/drone/c.wav,Drone\n"
        "../src/loose.wav,\n"  # an empty cell labels nothing
        "../src/missing.wav,Ghost\n",  # a row for a file that is not there is harmless
        encoding="utf-8",
    )
    s = prepare(labelled_source, tmp_path / "data", labels_csv=meta / "labels.csv", workers=1)
    assert s.counts == {"Bass_drum": 1, "Drone": 1}
    rows = {r["source"]: r["label"] for r in read_csv(tmp_path / "data" / "manifest.csv")}
    assert rows == {"drone/c.wav": "Drone", "kick/a.wav": "Bass_drum"}
    errors = {r["file"]: r["reason"] for r in read_csv(tmp_path / "data" / "errors.csv")}
    assert errors == {"kick/sub/b.wav": "no label", "loose.wav": "no label"}
    info = json.loads((tmp_path / "data" / "dataset.json").read_text(encoding="utf-8"))
    assert info["labels"] == ["Bass_drum", "Drone"]


def test_the_csv_of_gesturegan_label_sorts_a_library(labelled_source, tmp_path):
    from gesturegan.labeling import label_files, write_csv

    report = label_files(labelled_source, workers=1)
    write_csv(report, tmp_path / "sorted.csv")  # columns file, category, method, …
    s = prepare(labelled_source, tmp_path / "data", labels_csv=tmp_path / "sorted.csv", workers=1)
    by_file = {d.file: d.category for d in report.decisions}
    rows = {r["source"]: r["label"] for r in read_csv(tmp_path / "data" / "manifest.csv")}
    assert rows == by_file and s.n_clips == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"labels_csv": "nowhere.csv"}, "does not exist"),
        ({"labels_csv": "x", "labels_from_folders": True}, "not both"),
        ({"align": "middle"}, "align must be one of"),
        ({"sr": 0}, "sr must be 1 to 768000 Hz, got 0"),
        ({"workers": 0}, "workers"),
    ],
)
def test_bad_options_are_user_errors(labelled_source, tmp_path, kwargs, match):
    with pytest.raises(UserError, match=match):
        prepare(labelled_source, tmp_path / "data", **kwargs)
    assert not (tmp_path / "data").exists()


def test_a_csv_without_the_columns_is_a_user_error(labelled_source, tmp_path):
    (tmp_path / "bad.csv").write_text("path_to_sound,category\nkick/a.wav,kick\n")
    with pytest.raises(UserError, match="needs a header row"):
        prepare(labelled_source, tmp_path / "data", labels_csv=tmp_path / "bad.csv")


def test_paths_and_folders_that_are_user_errors(labelled_source, tmp_path):
    with pytest.raises(UserError, match="not a folder"):
        prepare(tmp_path / "absent", tmp_path / "data")
    with pytest.raises(UserError, match="outside the source"):
        prepare(labelled_source, labelled_source / "data")
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "a.txt").write_text("x")
    with pytest.raises(UserError, match="no audio files"):
        prepare(tmp_path / "nothing", tmp_path / "data")
    (tmp_path / "all_bad").mkdir()
    (tmp_path / "all_bad" / "a.wav").write_text("x")
    with pytest.raises(UserError, match="no usable audio"):
        prepare(tmp_path / "all_bad", tmp_path / "data", workers=1)
    assert not (tmp_path / "data").exists()


# --- Reading -------------------------------------------------------------------------------------


def test_dataset_open_memory_maps_and_batches(mixed):
    ds = Dataset.open(mixed[4])
    assert isinstance(ds.waves, np.memmap) and ds.waves.mode == "r"
    assert ds.waves.shape == (len(ds), LENGTH) and ds.waves.dtype == np.float32
    assert (ds.sr, ds.length, ds.has_labels) == (SR, LENGTH, False)
    assert (ds.label_ids == -1).all()
    with pytest.raises(ValueError):
        ds.waves[0, 0] = 1.0  # read-only: the file is never written through
    x, y = ds.batch([3, 0, 5])
    assert x.shape == (3, LENGTH) and x.dtype == np.float32 and not isinstance(x, np.memmap)
    assert y.shape == (3,) and y.dtype == np.int64
    np.testing.assert_array_equal(x[1], ds.waves[0])
    wave, label = ds[2]
    assert wave.shape == (LENGTH,) and not isinstance(wave, np.memmap) and label == -1
    again = pickle.loads(pickle.dumps(ds))  # reopened by path, not copied
    assert isinstance(again.waves, np.memmap) and len(again) == len(ds)


def test_open_a_folder_that_is_not_a_dataset(tmp_path):
    with pytest.raises(UserError, match="not a gesturegan dataset"):
        Dataset.open(tmp_path)


def test_open_a_damaged_dataset(labelled_source, tmp_path):
    prepare(labelled_source, tmp_path / "data", workers=1)
    rows = (tmp_path / "data" / "manifest.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "data" / "manifest.csv").write_text("\n".join(rows[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="damaged"):
        Dataset.open(tmp_path / "data")


def test_open_a_dataset_whose_manifest_names_an_unknown_label(labelled_source, tmp_path):
    prepare(labelled_source, tmp_path / "data", labels_from_folders=True, workers=1)
    manifest = tmp_path / "data" / "manifest.csv"
    rows = list(csv.DictReader(manifest.open(encoding="utf-8")))
    rows[-1]["label"] = "snare"
    with manifest.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(
        UserError, match=f"damaged: manifest.csv gives {rows[-1]['source']} the label 'snare'"
    ):
        Dataset.open(tmp_path / "data")


# --- Atomic output -------------------------------------------------------------------------------


def _fail_on_call(n: int, monkeypatch, exc: BaseException) -> None:
    real = prepare_mod.fit_file
    calls = {"n": 0}

    def fit_file(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(prepare_mod, "fit_file", fit_file)


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial" in p.name or ".old-" in p.name)


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_failure_mid_way_leaves_no_dataset_and_a_rerun_completes(
    labelled_source, tmp_path, monkeypatch, exc
):
    _fail_on_call(3, monkeypatch, exc)
    with pytest.raises(type(exc)):
        prepare(labelled_source, tmp_path / "data", workers=1)
    assert not (tmp_path / "data").exists()
    assert _leftovers(tmp_path) == ["data.partial"]  # kept so that a rerun can resume
    monkeypatch.undo()
    assert prepare(labelled_source, tmp_path / "data", workers=1).n_clips == 4
    assert _leftovers(tmp_path) == []


def test_a_failure_mid_way_keeps_the_previous_dataset(labelled_source, tmp_path, monkeypatch):
    prepare(labelled_source, tmp_path / "data", workers=1)
    before = snapshot(tmp_path / "data")
    _fail_on_call(2, monkeypatch, RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        prepare(labelled_source, tmp_path / "data", workers=1, overwrite=True, sr=16000)
    assert snapshot(tmp_path / "data") == before
    assert _leftovers(tmp_path) == ["data.partial"]


def test_a_run_that_finds_no_usable_audio_leaves_nothing(tmp_path):
    write(tmp_path / "src", "silent.wav", np.zeros(SR), SR)
    with pytest.raises(UserError, match="no usable audio"):
        prepare(tmp_path / "src", tmp_path / "data", workers=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_existing_output_is_refused_without_overwrite_and_replaced_with_it(
    labelled_source, tmp_path
):
    prepare(labelled_source, tmp_path / "data", workers=1)
    before = snapshot(tmp_path / "data")
    with pytest.raises(UserError, match="already holds a dataset"):
        prepare(labelled_source, tmp_path / "data", workers=1)
    assert snapshot(tmp_path / "data") == before

    s = prepare(
        labelled_source, tmp_path / "data", workers=1, overwrite=True, sr=16000, length=4096
    )
    assert s.n_clips == 4
    ds = Dataset.open(tmp_path / "data")
    assert (ds.sr, ds.waves.shape) == (16000, (4, 4096))
    assert _leftovers(tmp_path) == []


def test_a_folder_that_is_not_a_dataset_is_never_replaced(labelled_source, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mine.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a gesturegan dataset"):
        prepare(labelled_source, tmp_path / "data", workers=1, overwrite=True)
    assert (tmp_path / "data" / "mine.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()  # an empty folder is fine to fill
    assert prepare(labelled_source, tmp_path / "empty", workers=1).n_clips == 4


# --- Parallel decoding ---------------------------------------------------------------------------


def test_two_workers_give_the_same_dataset(mixed, tmp_path):
    src, _, _, _, data = mixed
    done = []
    s = prepare(src, tmp_path / "data", workers=2, progress=lambda d, t: done.append((d, t)))
    assert (tmp_path / "data" / "manifest.csv").read_bytes() == (data / "manifest.csv").read_bytes()
    assert (tmp_path / "data" / "errors.csv").read_bytes() == (data / "errors.csv").read_bytes()
    np.testing.assert_array_equal(
        np.load(tmp_path / "data" / "audio.npy"), np.load(data / "audio.npy")
    )
    n_files = s.n_clips + s.n_errors - 1  # the broken link is listed before decoding starts
    assert done[-1] == (n_files, n_files)


# --- Options: too short, normalisation ----------------------------------------------------------


def test_min_duration_skips_short_files_with_a_reason(labelled_source, tmp_path):
    write(labelled_source, "kick/blip.wav", tone(100, 0.05, SR), SR)
    s = prepare(labelled_source, tmp_path / "data", min_duration_s=0.1, workers=1)
    errors = {r["file"]: r["reason"] for r in read_csv(tmp_path / "data" / "errors.csv")}
    assert errors == {"kick/blip.wav": "too short: 0.050 s, under the minimum of 0.1 s"}
    assert s.n_clips == 4
    assert json.loads((tmp_path / "data" / "dataset.json").read_text())["min_duration_s"] == 0.1


@pytest.mark.parametrize(
    ("normalize", "level_db", "measure", "want_db"),
    [("peak", None, "peak", -1.0), ("peak", -6.0, "peak", -6.0), ("rms", -20.0, "rms", -20.0)],
)
def test_normalize_scales_every_clip_to_the_level(tmp_path, normalize, level_db, measure, want_db):
    src = tmp_path / "src"
    write(src, "soft.wav", tone(440, 1.0, SR, amp=0.05), SR)
    write(src, "loud.wav", tone(440, 1.0, SR, amp=0.8), SR)
    prepare(src, tmp_path / "data", normalize=normalize, level_db=level_db, workers=1)
    waves = np.load(tmp_path / "data" / "audio.npy")
    got = np.abs(waves).max(axis=1) if measure == "peak" else np.sqrt((waves**2).mean(axis=1))
    np.testing.assert_allclose(20 * np.log10(got), want_db, atol=0.05)
    rows = read_csv(tmp_path / "data" / "manifest.csv")  # the source's own level is kept
    assert sorted(round(float(r["peak"]), 2) for r in rows) == [0.05, 0.8]


def test_rms_normalisation_never_clips(tmp_path):
    x = np.zeros(SR)
    x[100] = 0.5  # a click: reaching -3 dBFS RMS would need a peak far above 0 dBFS
    write(tmp_path / "src", "click.wav", x, SR, subtype="FLOAT")
    prepare(tmp_path / "src", tmp_path / "data", normalize="rms", level_db=-3.0, workers=1)
    assert np.abs(np.load(tmp_path / "data" / "audio.npy")).max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"normalize": "lufs"}, "normalize must be"), ({"normalize": "peak", "level_db": 3.0}, "dBFS"),
     ({"min_duration_s": -1.0}, "min_duration_s")],
)  # fmt: skip
def test_bad_level_options_are_user_errors(labelled_source, tmp_path, kwargs, match):
    with pytest.raises(UserError, match=match):
        prepare(labelled_source, tmp_path / "data", workers=1, **kwargs)


# --- Resume after a kill -------------------------------------------------------------------------

KILL_CHILD = """
import importlib, sys, time
m = importlib.import_module("gesturegan.dataset.prepare")
m.CHECKPOINT_S = 0.0  # a checkpoint after every file, so a kill lands between checkpoints often
real = m.fit_file
def slow(*args, **kwargs):
    time.sleep(0.02)
    return real(*args, **kwargs)
m.fit_file = slow
m.prepare(sys.argv[1], sys.argv[2], workers=int(sys.argv[3]), labels_from_folders=True)
"""


@pytest.fixture(scope="module")
def resumable_source(tmp_path_factory) -> tuple[Path, Path]:
    """60 short files at mixed rates, a few bad ones among them, and their uninterrupted dataset."""
    root = tmp_path_factory.mktemp("resume")
    src = root / "src"
    rng = np.random.default_rng(1)
    for i in range(60):
        sr = (22050, 44100, 48000)[i % 3]
        write(src, f"c{i % 2}/{i:03d}.wav", rng.uniform(0.1, 0.5) * tone(100 + 20 * i, 0.3, sr), sr)
    (src / "c0/015_text.wav").write_text("not audio")
    write(src, "c1/033_silent.wav", np.zeros(SR), SR)
    prepare(src, root / "whole", labels_from_folders=True, workers=1)
    return src, root / "whole"


def _same_dataset(a: Path, b: Path) -> None:
    for name in ("audio.npy", "manifest.csv", "errors.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    info_a, info_b = (json.loads((d / "dataset.json").read_text()) for d in (a, b))
    info_a.pop("created"), info_b.pop("created")
    assert info_a == info_b
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())


@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_prepare_resumes_to_the_same_dataset(
    resumable_source, tmp_path, monkeypatch, workers
):
    import signal
    import subprocess
    import sys
    import time

    src, whole = resumable_source
    out = tmp_path / "data"
    child = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(src), str(out), str(workers)])
    state = tmp_path / "data.partial" / "resume.json"
    deadline = time.monotonic() + 30
    done = 0
    while done < 20 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        try:
            done = json.loads(state.read_text())["tasks_done"]
        except (OSError, ValueError, KeyError):
            pass
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, "prepare finished before it could be killed"
    assert not out.exists() and state.exists()

    calls = []
    real = prepare_mod.fit_file
    monkeypatch.setattr(prepare_mod, "fit_file", lambda *a, **k: calls.append(1) or real(*a, **k))
    s = prepare(src, out, labels_from_folders=True, workers=workers)
    assert s.n_clips == 60 and s.n_errors == 2
    assert s.n_resumed >= 20  # the files decoded before the last checkpoint are not redone
    assert len(calls) == 62 - s.n_resumed
    _same_dataset(out, whole)
    assert not (tmp_path / "data.partial").exists()


def test_a_partial_dataset_from_other_options_is_started_over(resumable_source, tmp_path):
    src, whole = resumable_source
    partial = tmp_path / "data.partial"
    partial.mkdir()
    (partial / "resume.json").write_text('{"fingerprint": "from another run", "tasks_done": 30}')
    (partial / "manifest.csv").write_text("junk")
    prepare(src, tmp_path / "data", labels_from_folders=True, workers=1)
    _same_dataset(tmp_path / "data", whole)


def test_a_partial_folder_with_foreign_files_is_left_alone(resumable_source, tmp_path):
    partial = tmp_path / "data.partial"
    partial.mkdir()
    (partial / "thesis.tex").write_text("mine")
    with pytest.raises(UserError, match="did not write"):
        prepare(resumable_source[0], tmp_path / "data", labels_from_folders=True, workers=1)
    assert [p.name for p in partial.iterdir()] == ["thesis.tex"]


def test_two_prepares_into_one_folder_at_once_are_refused(resumable_source, tmp_path):
    fcntl = pytest.importorskip("fcntl")
    partial = tmp_path / "data.partial"
    partial.mkdir()
    with open(partial / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(UserError, match="another prepare"):
            prepare(resumable_source[0], tmp_path / "data", workers=1)


def test_the_cli_passes_the_level_options(labelled_source, tmp_path, capsys):
    from gesturegan.cli import main

    argv = ["prepare", str(labelled_source), str(tmp_path / "data"), "--workers", "1"]
    argv += ["--normalize", "peak", "--level-db", "-3", "--min-duration", "0.1"]
    assert main(argv) == 0
    info = json.loads((tmp_path / "data" / "dataset.json").read_text())
    assert (info["normalize"], info["level_db"], info["min_duration_s"]) == ("peak", -3.0, 0.1)
    peaks = np.abs(np.load(tmp_path / "data" / "audio.npy")).max(axis=1)
    np.testing.assert_allclose(20 * np.log10(peaks), -3.0, atol=0.05)
    assert "4 clips" in capsys.readouterr().out


# --- Shards and merge ----------------------------------------------------------------------------


def test_shards_merged_equal_one_prepare(resumable_source, tmp_path):
    from gesturegan.dataset import merge

    src, whole = resumable_source
    shards = [tmp_path / f"s{i}" for i in (1, 2, 3)]
    sizes = []
    for i, shard in enumerate(shards, start=1):
        s = prepare(src, shard, labels_from_folders=True, workers=1, shard=(i, 3))
        sizes.append(s.n_clips + s.n_errors)
    assert sorted(sizes) == [20, 21, 21]  # 62 files in three consecutive blocks
    m = merge(list(reversed(shards)), tmp_path / "merged")  # any order on the command line
    assert (m.n_clips, m.n_errors) == (60, 2)
    for name in ("audio.npy", "manifest.csv", "errors.csv"):
        assert (tmp_path / "merged" / name).read_bytes() == (whole / name).read_bytes(), name
    info = json.loads((tmp_path / "merged" / "dataset.json").read_text())
    want = json.loads((whole / "dataset.json").read_text())
    for key in ("labels", "counts", "n_clips", "n_errors", "sr", "length", "n_files_total"):
        assert info[key] == want[key], key
    assert info["shard"] is None and len(info["merged_from"]) == 3
    assert Dataset.open(tmp_path / "merged").waves.shape == (60, LENGTH)


def test_merge_refuses_incomplete_or_mismatched_shards(resumable_source, tmp_path):
    from gesturegan.dataset import merge

    src, whole = resumable_source
    prepare(src, tmp_path / "a", labels_from_folders=True, workers=1, shard=(1, 2))
    prepare(src, tmp_path / "b", labels_from_folders=True, workers=1, shard=(2, 2), sr=16000)
    with pytest.raises(UserError, match="shards 1/2 to 2/2"):
        merge([tmp_path / "a"], tmp_path / "m")
    with pytest.raises(UserError, match="sr="):
        merge([tmp_path / "a", tmp_path / "b"], tmp_path / "m")
    with pytest.raises(UserError, match="not a shard"):
        merge([whole], tmp_path / "m")
    assert not (tmp_path / "m").exists()
    with pytest.raises(UserError, match="shard must be"):
        prepare(src, tmp_path / "c", workers=1, shard=(3, 2))


def test_the_cli_prepares_shards_and_merges_them(resumable_source, tmp_path, capsys):
    from gesturegan.cli import main

    src, whole = resumable_source
    for i in (1, 2):
        argv = ["prepare", str(src), str(tmp_path / f"s{i}"), "--labels-from-folders"]
        assert main([*argv, "--workers", "1", "--shard", f"{i}/2"]) == 0
    assert (
        main(["merge", str(tmp_path / "s1"), str(tmp_path / "s2"), "--out", str(tmp_path / "m")])
        == 0
    )
    assert "60 clips" in capsys.readouterr().out.splitlines()[-1]
    assert (tmp_path / "m" / "audio.npy").read_bytes() == (whole / "audio.npy").read_bytes()
    with pytest.raises(SystemExit):
        main(["prepare", str(src), str(tmp_path / "x"), "--shard", "0/2"])


# --- Importers -----------------------------------------------------------------------------------


def test_fsdkaggle2019_folder_with_its_csv(tmp_path):
    """FSDKaggle2019's layout: ``train_curated.csv`` (``fname,labels``, bare file names, quoted
    multi-labels) beside the ``train_curated/`` folder that holds the files."""
    root = tmp_path / "fat2019"
    write(root, "train_curated/0006ae4e.wav", tone(100, 0.3, 44100), 44100, subtype="PCM_16")
    write(root, "train_curated/0019ef41.wav", tone(200, 0.3, 44100), 44100, subtype="PCM_16")
    write(root, "train_curated/001ec0ad.wav", tone(300, 0.3, 44100), 44100, subtype="PCM_16")
    (root / "train_curated.csv").write_text(
        'fname,labels\n0006ae4e.wav,Bark\n0019ef41.wav,Raindrop\n001ec0ad.wav,"Finger_snapping,Bark"\n'
        "ffffffff.wav,Bark\n"  # a row for a file that is not there: ignored
    )
    s = prepare(
        root / "train_curated", tmp_path / "data", labels_csv=root / "train_curated.csv", workers=1
    )
    assert s.counts == {"Bark": 1, "Finger_snapping": 1, "Raindrop": 1}
    labels = {r["source"]: r["label"] for r in read_csv(tmp_path / "data" / "manifest.csv")}
    assert labels["001ec0ad.wav"] == "Finger_snapping"  # a multi-label row gives its first label


def _prep_mels_image(y: np.ndarray) -> np.ndarray:
    """daisukelab's recipe (FAT2019 kernel): 44.1 kHz log-mel → ``mono_to_color`` → [128, T, 3] uint8."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=y, sr=44100, n_mels=128, hop_length=694, n_fft=2560, fmin=20, fmax=22050
    )
    x = librosa.power_to_db(mel).astype(np.float32)
    x = np.stack([x, x, x], axis=-1)
    x = (x - x.mean()) / (x.std() + 1e-6)
    return (255 * (x - x.min()) / (x.max() - x.min())).astype(np.uint8)


@pytest.mark.slow  # librosa's first melspectrogram and Griffin-Lim calls compile (numba): ~8 s
def test_prep_mels_pickle_becomes_a_daisukelab_mel_dataset(tmp_path):
    from gesturegan.dataset.prep_mels import import_prep_mels

    t = np.arange(int(2.5 * 44100)) / 44100
    freqs = (440.0, 1000.0, 3000.0)
    images = [_prep_mels_image((0.5 * np.sin(2 * np.pi * f * t) * np.exp(-t)).astype(np.float32))
              for f in freqs]  # fmt: skip
    images[2] = images[2][:, :100]  # narrower than 128 frames: padded
    with open(tmp_path / "mels_train_curated.pkl", "wb") as f:
        pickle.dump(images, f)
    (tmp_path / "train_curated.csv").write_text(
        'fname,labels\na.wav,Bark\nb.wav,"Raindrop,Bark"\nc.wav,Bark\n'
    )
    s = import_prep_mels(
        tmp_path / "mels_train_curated.pkl", tmp_path / "data",
        labels_csv=tmp_path / "train_curated.csv", crop="center",
    )  # fmt: skip
    assert (s.n_clips, s.counts) == (3, {"Bark": 2, "Raindrop": 1})
    mels = np.load(tmp_path / "data" / "mels.npy")
    assert mels.shape == (3, 3, 128, 128) and mels.dtype == np.uint8
    start = (images[0].shape[1] - 128) // 2  # centre crop of the 2.5 s image
    np.testing.assert_array_equal(mels[0, 1], images[0][:, start : start + 128, 1])
    assert not mels[2, :, :, 100:].any()  # padding at the floor level
    ds = Dataset.open(tmp_path / "data")
    assert ds.info["representation"] == "daisukelab_mel" and ds.waves.shape == (3, 65536)
    assert [r["source"] for r in ds.manifest] == ["a.wav", "b.wav", "c.wav"]
    for wave, f in zip(ds.waves, freqs, strict=True):  # the inverse keeps the pitch
        assert abs(spectrum_peak_hz(np.asarray(wave[:44100]), SR) - f) < 0.06 * f + 20


def test_prep_mels_refuses_pickles_that_are_not_image_lists(tmp_path):
    from gesturegan.dataset.prep_mels import import_prep_mels

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    for name, obj in (
        ("evil.pkl", [Evil()]),
        ("dict.pkl", {"a": 1}),
        ("rgb.pkl", [np.zeros((64, 9, 3))]),
    ):
        with open(tmp_path / name, "wb") as f:
            pickle.dump(obj, f)
        with pytest.raises(UserError, match="prep-mels|mel images|uint8"):
            import_prep_mels(tmp_path / name, tmp_path / "data")
    good = tmp_path / "good.pkl"
    with open(good, "wb") as f:
        pickle.dump([np.zeros((128, 130, 3), np.uint8)], f)
    (tmp_path / "two.csv").write_text("fname,labels\na.wav,x\nb.wav,y\n")
    with pytest.raises(UserError, match="2 rows but the pickle 1 images"):
        import_prep_mels(good, tmp_path / "data", labels_csv=tmp_path / "two.csv")
    assert not (tmp_path / "data").exists()


def test_the_cli_imports_a_prep_mels_pickle(tmp_path, capsys):
    from gesturegan.cli import main

    with open(tmp_path / "mels.pkl", "wb") as f:  # flat images: decoded as silence, no librosa
        pickle.dump([np.full((128, 140, 3), 7, np.uint8), np.zeros((128, 128, 3), np.uint8)], f)
    assert main(["import-prep-mels", str(tmp_path / "mels.pkl"), str(tmp_path / "data")]) == 0
    assert "2 images" in capsys.readouterr().out
    ds = Dataset.open(tmp_path / "data")
    assert ds.waves.shape == (2, 65536) and not np.asarray(ds.waves).any()
    assert np.load(tmp_path / "data" / "mels.npy").shape == (2, 3, 128, 128)
    assert [r["source"] for r in ds.manifest] == ["mels.pkl#0", "mels.pkl#1"]
