"""Bad input refused or listed, never a traceback: the folder walk lists what it cannot take (link
loops, unreadable folders, FIFOs, names that are not UTF-8) in errors.csv; options and configs out of
range are one line, exit 2, before any file is written; mismatched shards and datasets refused."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gesturegan.cli import main
from gesturegan.dataset import scan as scan_module

SR = 16000


def _tone(path: Path, f: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(SR) / SR
    sf.write(path, (0.5 * np.sin(2 * np.pi * f * t) * np.exp(-4 * t)).astype(np.float32), SR)
    return path


def tree(folder: Path) -> dict[bytes, str]:
    """Every entry under ``folder`` (names as bytes): content hash of regular files, target of
    links, type and mode of the rest. FIFOs are never opened."""
    out = {}
    for root, dirs, files in os.walk(os.fsencode(folder)):
        for name in sorted(dirs + files):
            path = os.path.join(root, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, os.fsencode(folder))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = f"link {os.readlink(path)!r}"
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    out[rel] = f"{hashlib.sha1(f.read()).hexdigest()} {st.st_mtime_ns}"
            else:
                out[rel] = f"mode {st.st_mode:o}"
    return out


@pytest.fixture
def hostile(tmp_path, monkeypatch) -> tuple[Path, dict[str, str]]:
    """A folder of two good sounds among what the walk cannot take, and the reason each must get."""
    src = tmp_path / "src"
    _tone(src / "a" / "one.wav")
    _tone(src / "b" / "two.wav", 660.0)
    os.rename(_tone(src / "a" / "tmp.wav"), os.fsencode(src / "a") + b"/caf\xe9.wav")
    os.mkfifo(src / "a" / "pipe.wav")
    os.symlink("self.wav", src / "self.wav")  # a link to itself
    os.symlink("ping", src / "pong")  # two links to each other
    os.symlink("pong", src / "ping")
    os.symlink("..", src / "b" / "up")  # a link back up the tree: visited once, not listed
    _tone(src / "locked" / "hidden_inside.wav")
    os.chmod(src / "locked", 0)
    if os.geteuid() == 0:  # root reads any folder: refuse this one as the kernel would
        real_scandir = os.scandir

        def scandir(path):
            if os.fsdecode(path).endswith("locked"):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real_scandir(path)

        monkeypatch.setattr(scan_module.os, "scandir", scandir)
    yield src, {
        "a/caf\\xe9.wav": "name is not UTF-8 (bytes 61 2f 63 61 66 e9 2e 77 61 76)",
        "a/pipe.wav": "not a regular file (a FIFO, socket or device)",
        "locked/": "folder not readable (Permission denied)",
        "ping": "symbolic link loop",
        "pong": "symbolic link loop",
        "self.wav": "symbolic link loop",
    }
    os.chmod(src / "locked", 0o755)


def _errors_csv(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "file,reason"
    return dict(line.rsplit(",", 1) if '"' not in line else _row(line) for line in lines[1:])


def _row(line: str) -> tuple[str, str]:
    import csv

    (row,) = csv.reader([line])
    return row[0], row[1]


def test_scan_lists_what_it_cannot_take(hostile):
    src, reasons = hostile
    found = scan_module.scan(src)
    assert found.audio == ["a/one.wav", "b/two.wav"]
    assert dict(found.skipped) == reasons


def test_scan_refuses_an_unreadable_source_in_one_line(tmp_path, monkeypatch):
    def scandir(path):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))

    monkeypatch.setattr(scan_module.os, "scandir", scandir)
    with pytest.raises(scan_module.UserError, match="cannot read the folder"):
        scan_module.scan(tmp_path)


def test_prepare_lists_the_walks_problems_in_errors_csv(hostile, tmp_path, capsys):
    src, reasons = hostile
    before = tree(src)
    out = tmp_path / "data"
    assert main(["prepare", str(src), str(out), "--labels-from-folders", "--workers", "1"]) == 0
    assert _errors_csv(out / "errors.csv") == reasons
    manifest = (out / "manifest.csv").read_text(encoding="utf-8")
    assert "a/one.wav" in manifest and "b/two.wav" in manifest and "caf" not in manifest
    assert tree(src) == before
    assert "Traceback" not in capsys.readouterr().err


def test_label_and_sort_list_the_walks_problems(hostile, tmp_path, capsys):
    src, reasons = hostile
    before = tree(src)
    assert main(["label", str(src)]) == 0
    err = capsys.readouterr().err
    for name, reason in reasons.items():
        assert f"{name}: skipped ({reason})" in err
    out = tmp_path / "sorted"
    assert main(["sort", str(src), str(out)]) == 0
    assert _errors_csv(out / "errors.csv") == reasons
    sort_csv = (out / "sort.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in sort_csv[1:]] == ["a/one.wav", "b/two.wav"]
    assert tree(src) == before
