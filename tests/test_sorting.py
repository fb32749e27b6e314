"""``label`` and ``sort``: every file decided or listed, reasons given, SRC byte-identical, OUT
re-runnable, name clashes resolved, other people's files left alone."""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gesturegan import gestures
from gesturegan.cli import main
from gesturegan.corpus import clip_rng, synthesize
from gesturegan.errors import UserError
from gesturegan.labeling import CSV_COLUMNS, label_files
from gesturegan.sorting import SORT_CSV, sort_files

SR = 22050


def _wav(path: Path, wave: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, sr, subtype="PCM_16")
    return path


@pytest.fixture
def library(tmp_path) -> Path:
    """A small messy library: one clip per category in nested folders, a name used twice, a
    stereo 44.1 kHz file, an unreadable file, a non-audio file and a hidden file."""
    src = tmp_path / "library"
    for k, cat in enumerate(gestures.CATEGORIES):
        _wav(src / f"set{k % 2}" / f"{cat}.wav", synthesize(cat, clip_rng(11, cat, 0)))
    hit = synthesize("trigger", clip_rng(11, "trigger", 1))
    _wav(src / "a" / "hit.wav", hit)
    _wav(src / "b" / "hit.wav", 0.5 * hit)  # same name, same category, another file
    drone = synthesize("continuous_repetition", clip_rng(11, "continuous_repetition", 1))
    stereo = np.stack([drone, drone], axis=1)
    up = np.interp(np.arange(len(drone) * 2) / 2.0, np.arange(len(drone)), drone)
    _wav(src / "Drone 44k.wav", np.stack([up, up], axis=1) * 0.9, sr=44100)
    _wav(src / "stereo.wav", stereo)
    (src / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot audio")
    (src / "notes.txt").write_text("not a sound")
    _wav(src / ".hidden.wav", drone)
    return src


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every entry under ``folder``: bytes and mtime of files, link targets of links."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root) / name
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                out[rel] = (os.readlink(p).encode(), 0)
            elif p.is_file():
                out[rel] = (hashlib.sha1(p.read_bytes()).digest(), p.stat().st_mtime_ns)
            else:
                out[rel] = (b"dir", 0)
    return out


def _sort_csv(out: Path) -> list[dict]:
    with open(out / SORT_CSV, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- label ---------------------------------------------------------------------------------------


def test_label_files_decides_every_readable_file_and_lists_the_rest(library):
    report = label_files(library)
    files = [d.file for d in report.decisions]
    assert files == sorted(files)
    assert len(files) == 8 and ".hidden.wav" not in files and "notes.txt" not in files
    assert [f for f, _ in report.errors] == ["broken.wav"]
    by_file = {d.file: d for d in report.decisions}
    for k, cat in enumerate(gestures.CATEGORIES):
        d = by_file[f"set{k % 2}/{cat}.wav"]
        assert d.category == cat, d.explanation
        assert d.method == "rules" and d.confidence is None and d.rules_category == cat
        assert d.explanation.startswith(f"{cat}: ")
    assert by_file["Drone 44k.wav"].category == "continuous_repetition"


def test_label_files_takes_a_single_file(library):
    report = label_files(library / "set0" / "trigger.wav")
    assert [d.file for d in report.decisions] == ["trigger.wav"]
    assert report.decisions[0].category == "trigger"


def test_label_of_a_missing_path_or_empty_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such file or folder"):
        label_files(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no audio files"):
        label_files(tmp_path / "empty")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(UserError, match="not an audio file"):
        label_files(tmp_path / "x.txt")


def test_label_workers_give_the_same_decisions(library):
    # Enough files to use the pool.
    for i in range(16):
        _wav(library / "more" / f"m{i}.wav", synthesize("trigger", clip_rng(12, "trigger", i)))
    one = label_files(library, workers=1)
    two = label_files(library, workers=2)
    assert [(d.file, d.category) for d in one.decisions] == [
        (d.file, d.category) for d in two.decisions
    ]
    assert one.errors == two.errors


def test_label_cli_prints_one_line_per_file_and_writes_the_csv(library, tmp_path, capsys):
    out_csv = tmp_path / "labels.csv"
    assert main(["label", str(library), "--csv", str(out_csv), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 8
    file, category, why = lines[0].split("\t")
    assert category in gestures.CATEGORIES and why.startswith(category)
    assert "broken.wav: skipped" in captured.err
    with open(out_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    assert list(rows[0])[: len(CSV_COLUMNS)] == list(CSV_COLUMNS)
    assert {"attack_s", "decay_20_s", "periodicity", "flux_body"} <= set(rows[0])


def test_label_cli_error_is_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "gesturegan.cli", "label", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such file or folder" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- sort ----------------------------------------------------------------------------------------


def test_sort_links_files_by_category_and_leaves_src_byte_identical(library, tmp_path):
    before = _snapshot(library)
    out = tmp_path / "sorted"
    s = sort_files(library, out)
    assert _snapshot(library) == before
    assert s.created == 8 and s.unchanged == 0 and s.removed == 0
    assert [f for f, _ in s.errors] == ["broken.wav"]
    rows = _sort_csv(out)
    assert len(rows) == 8
    for row in rows:
        placed = out / row["placed"]
        assert placed.is_symlink()
        assert Path(os.readlink(placed)) == (library / row["file"]).absolute()
        assert row["placed"].split("/")[0] == row["category"]
    assert (out / "errors.csv").read_text().splitlines()[1].startswith("broken.wav,")


def test_sort_names_clashing_files_after_their_folders(library, tmp_path):
    out = tmp_path / "sorted"
    sort_files(library, out)
    placed = {row["file"]: row["placed"] for row in _sort_csv(out)}
    assert placed["a/hit.wav"] == "trigger/a__hit.wav"
    assert placed["b/hit.wav"] == "trigger/b__hit.wav"
    assert placed["set0/trigger.wav"] == "trigger/trigger.wav"


def test_sort_is_idempotent(library, tmp_path):
    out = tmp_path / "sorted"
    sort_files(library, out)
    first = _snapshot(out)
    again = sort_files(library, out)
    assert again.created == 0 and again.unchanged == 8 and again.removed == 0
    assert _snapshot(out) == first


def test_sort_copy_copies_and_is_idempotent(library, tmp_path):
    before = _snapshot(library)
    out = tmp_path / "copies"
    sort_files(library, out, copy=True)
    rows = _sort_csv(out)
    for row in rows:
        placed = out / row["placed"]
        assert placed.is_file() and not placed.is_symlink()
        assert placed.read_bytes() == (library / row["file"]).read_bytes()
        assert row["source_sha1"] == hashlib.sha1(placed.read_bytes()).hexdigest()
    first = _snapshot(out)
    again = sort_files(library, out, copy=True)
    assert again.created == 0 and again.unchanged == len(rows)
    assert _snapshot(out) == first
    # Switching to links replaces this command's own copies.
    links = sort_files(library, out)
    assert links.created == len(rows)
    assert all((out / r["placed"]).is_symlink() for r in _sort_csv(out))
    assert _snapshot(library) == before


def test_sort_rerun_follows_changes_and_never_touches_foreign_files(library, tmp_path):
    out = tmp_path / "sorted"
    sort_files(library, out)
    # Someone puts their own file where a link would go, and a file leaves the library.
    foreign = out / "trigger" / "mine.wav"
    foreign.write_bytes(b"my own notes")
    (out / "trigger" / "a__hit.wav").unlink()
    (out / "trigger" / "a__hit.wav").write_bytes(b"replaced by the user")
    (library / "b" / "hit.wav").unlink()
    _wav(library / "mine.wav", synthesize("trigger", clip_rng(13, "trigger", 0)))
    s = sort_files(library, out)
    placed = {row["file"]: row["placed"] for row in _sort_csv(out)}
    # The clash is gone, so a/hit.wav is named hit.wav; b's old link is removed.
    assert placed["a/hit.wav"] == "trigger/hit.wav"
    assert not os.path.lexists(out / "trigger" / "b__hit.wav")
    # The user's files are untouched; the new file takes the next free name.
    assert foreign.read_bytes() == b"my own notes"
    assert (out / "trigger" / "a__hit.wav").read_bytes() == b"replaced by the user"
    assert placed["mine.wav"] == "trigger/mine-2.wav"
    assert s.removed == 1


def test_sort_into_a_folder_inside_src_skips_its_own_output(library):
    before = {k: v for k, v in _snapshot(library).items()}
    out = library / "sorted"
    first = sort_files(library, out)
    second = sort_files(library, out)
    assert sum(first.counts.values()) == sum(second.counts.values()) == 8
    assert second.created == 0
    after = {k: v for k, v in _snapshot(library).items() if not k.startswith("sorted")}
    assert after == before


def test_sort_refuses_src_as_out(library):
    with pytest.raises(UserError, match="must not be the source folder"):
        sort_files(library, library)


def test_sort_cli(library, tmp_path, capsys):
    out = tmp_path / "sorted"
    assert main(["sort", str(library), str(out), "--workers", "1"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("sorted 8 files into") and "8 written" in line
    assert (out / SORT_CSV).is_file()
