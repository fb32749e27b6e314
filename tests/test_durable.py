"""Nothing half-written: durable atomic writes, the temporary files of a killed writer cleaned, a
full disk told in one line with the previous state kept, the run's export as one unit, and a run
resumable from its first checkpoint of any kind."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gesturegan
from gesturegan import atomic, cli
from gesturegan.atomic import TEMP_MARK, DiskFull, atomic_path, clean_temps, write_text
from gesturegan.errors import UserError
from gesturegan.generation import load
from gesturegan.runs import BEST, LATEST, Run
from gesturegan.training import loop, train

from .conftest import tiny_overrides, write_tiny_sounds

SRC = Path(gesturegan.__file__).parents[1]
OLD_RUN = Path(__file__).parent / "data" / "run-v1"


def digests(root: Path) -> dict[str, str]:
    """Every file under ``root``, relative, with the sha256 of its bytes."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def temps(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"*{TEMP_MARK}*")]


def fill_the_disk(monkeypatch, suffixes: tuple[str, ...] = ()) -> None:
    """Every atomic write (of a name ending in ``suffixes``, when given) fails as on a full disk."""
    real = atomic.commit

    def full(tmp: Path, path: Path) -> None:
        if not suffixes or path.name.endswith(suffixes):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(tmp, path)

    monkeypatch.setattr(atomic, "commit", full)


# ------------------------------------------------------------------------------ durable writes
def test_a_write_syncs_the_file_before_its_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", Path(os.readlink(f"/proc/self/fd/{fd}")).name))
        real_fsync(fd)

    def replace(a, b):
        events.append(("replace", Path(b).name))
        real_replace(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_text(tmp_path / "a.json", "{}")
    assert [e[0] for e in events] == ["fsync", "replace", "fsync"]
    assert TEMP_MARK in events[0][1]  # the file's bytes, under its temporary name
    assert events[1:] == [("replace", "a.json"), ("fsync", tmp_path.name)]  # then its folder


def test_the_temp_of_a_killed_writer_is_cleaned_and_a_live_ones_kept(tmp_path):
    code = (
        "import sys, time\nfrom gesturegan.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as t:\n"
        "    t.write_bytes(b'x' * 1000); print(t, flush=True); time.sleep(60)\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "sub" / "a.bin")],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(SRC)},
    )  # fmt: skip
    try:
        killed = Path(writer.stdout.readline().strip())
        assert killed.is_file() and clean_temps(tmp_path) == []  # its writer still runs
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    (tmp_path / ".notes.tmp").write_text("a name the tool never writes")
    (tmp_path / "b.txt.gesturegan-tmp-1-x").write_text("not hidden: not one of ours either")
    with atomic_path(tmp_path / "mine.txt") as own:
        own.write_text("being written")
        assert clean_temps(tmp_path) == [killed]  # ours is alive; only the killed one goes
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".notes.tmp", "b.txt.gesturegan-tmp-1-x", "mine.txt", "sub",
    ]  # fmt: skip


# ------------------------------------------------------------------------------ full disk
def test_a_full_disk_is_one_line_and_keeps_the_previous_file(tmp_path, monkeypatch, capsys):
    target = tmp_path / "a.txt"
    write_text(target, "kept")
    fill_the_disk(monkeypatch)
    with pytest.raises(DiskFull, match=r"a\.txt: disk full; nothing was written there"):
        write_text(target, "new")
    assert target.read_text() == "kept" and temps(tmp_path) == []
    quota = OSError(errno.EDQUOT, "quota")
    assert "disk quota exceeded" in str(atomic.disk_full(target, quota))
    assert atomic.disk_full(target, OSError(errno.EACCES, "denied")) is None
    assert atomic.disk_full(target, UserError("ours")) is None


def test_a_writer_in_c_that_loses_the_errno_on_a_full_disk_is_still_told_as_one(
    tmp_path, monkeypatch
):
    class NoSpace:  # what os.statvfs says of a full file system
        f_bavail, f_frsize = 0, 4096

    with pytest.raises(RuntimeError, match="writer failed"), atomic_path(tmp_path / "a.pt") as t:
        t.write_bytes(b"x")
        raise RuntimeError("writer failed")  # with space left: a bug, kept as it is
    monkeypatch.setattr(os, "statvfs", lambda _: NoSpace)
    with pytest.raises(DiskFull, match="disk full"), atomic_path(tmp_path / "a.pt") as t:
        t.write_bytes(b"x")
        raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_every_verb_on_a_full_disk_exits_2_with_one_line_and_nothing_half_written(
    tiny_run, tiny_dataset, tmp_path, monkeypatch, capsys
):
    src = write_tiny_sounds(tmp_path / "src", per_class=2)
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before_src, before_run = digests(src), digests(run)
    verbs = {
        "prepare": ["prepare", str(src), str(tmp_path / "data"), "--labels-from-folders"],
        "label": ["label", str(src), "--csv", str(tmp_path / "labels.csv")],
        "sort": ["sort", str(src), str(tmp_path / "sorted"), "--copy"],
        "generate": ["generate", str(run), "--out", str(tmp_path / "gen"), "--n", "1"],
        # Any output in [-1, 1] passes: the disk is tested here, not a barely trained model's
        # decoder (test_export).
        "export": ["export", str(run), "--tolerance", "2"],
        "train": ["train", "--out", str(run), "--resume", "--steps", "13"],
    }
    fill_the_disk(monkeypatch)
    for verb, argv in verbs.items():
        assert cli.main(argv) == 2, verb
        err = capsys.readouterr().err
        said = [line for line in err.splitlines() if line.startswith("gesturegan ")]
        assert "Traceback" not in err and len(said) == 1, (verb, err)  # a progress bar may stay
        assert said[0].startswith(f"gesturegan {verb}: error: ") and "disk full" in said[0]
    assert digests(src) == before_src and digests(run) == before_run
    assert temps(tmp_path) == []
    assert not (tmp_path / "data").exists() and not (tmp_path / "data.partial").exists()
    assert not (tmp_path / "labels.csv").exists()
    assert not list((tmp_path / "gen").rglob("*.wav")) if (tmp_path / "gen").exists() else True


@pytest.mark.slow
def test_a_full_disk_at_a_checkpoint_keeps_the_previous_one(tiny_run, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    kept = digests(run / "checkpoints")
    fill_the_disk(monkeypatch, suffixes=(".pt",))
    with pytest.raises(DiskFull, match=r"latest\.pt: disk full"):
        train(run, resume=True, overrides={"steps": 14}, show_progress=False)
    assert digests(run / "checkpoints") == kept and temps(run) == []
    assert not Run(run).live()


# ------------------------------------------------------------------------------ the export bundle
def test_the_export_is_one_file_that_says_its_step(tiny_run):
    run = Run(tiny_run)
    g, meta = run.read_generator()
    assert meta["step"] == 12 and g and run.read_discriminator(12)
    assert not (tiny_run / "generator.json").exists()
    assert not (tiny_run / "discriminator.safetensors").exists()


def test_a_kill_while_replacing_an_old_layout_export_leaves_one_whole_export(tmp_path):
    old = tmp_path / "old"
    shutil.copytree(OLD_RUN, old)
    run = Run(old)
    g, meta = run.read_generator()
    d = run.read_discriminator(meta["step"])
    new = {k: v + 1 for k, v in g.items()}
    real_unlink = Path.unlink

    def killed(self, missing_ok=False):  # the process dies right after the bundle's rename
        raise SystemExit("killed")

    Path.unlink = killed
    try:
        with pytest.raises(SystemExit):
            run.write_export(new, {**meta, "step": meta["step"] + 5}, d)
    finally:
        Path.unlink = real_unlink
    assert (old / "generator.json").exists()  # the previous layout's files, now stale ...
    g2, meta2 = run.read_generator()  # ... are not read: the bundle speaks alone
    assert meta2["step"] == meta["step"] + 5
    assert all(torch.equal(g2[k], new[k]) for k in g)
    assert load(old).meta["step"] == meta["step"] + 5
    assert run.read_discriminator(meta2["step"]).keys() == d.keys()


def test_a_full_disk_while_exporting_keeps_the_previous_export(tmp_path, monkeypatch):
    old = tmp_path / "old"
    shutil.copytree(OLD_RUN, old)
    before = digests(old)
    run = Run(old)
    g, meta = run.read_generator()
    fill_the_disk(monkeypatch)
    with pytest.raises(DiskFull):
        run.write_export(g, {**meta, "step": 99})
    assert digests(old) == before and temps(old) == []
    assert load(old).meta["step"] == meta["step"]


# ------------------------------------------------------------------------------ resuming
@pytest.mark.slow
def test_a_run_resumes_from_its_furthest_checkpoint_of_any_kind(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "checkpoints" / "latest.pt").unlink()
    steps = {w: Run(run).load_checkpoint(w)["state"]["step"] for w in Run(run).checkpoints()}
    assert LATEST not in steps and len(steps) >= 2
    point = Run(run).resume_point()
    assert steps[point] == max(steps.values())
    with pytest.raises(UserError, match="already holds a training run"):
        train(run, data="unused", overrides=tiny_overrides(2), show_progress=False)
    result = train(run, resume=True, overrides={"steps": 14}, show_progress=False)
    assert result.step == 14 and not result.interrupted
    (run / "checkpoints" / "latest.pt").unlink()
    for which in Run(run).checkpoints():
        if which != BEST:
            (run / "checkpoints" / f"stage-{which}.pt").unlink()
    if Run(run).checkpoints():  # best.pt alone is enough
        assert Run(run).resume_point() == BEST


def test_the_first_latest_checkpoint_comes_within_the_first_minute(tiny_dataset, tmp_path, monkeypatch):
    assert loop.FIRST_CHECKPOINT_S <= 60
    saved = []
    real = Run.save_checkpoint

    def record(self, ckpt, which=LATEST):
        saved.append((which, ckpt["state"]["step"]))
        real(self, ckpt, which)

    monkeypatch.setattr(loop, "FIRST_CHECKPOINT_S", 0.0)  # the first minute, compressed
    monkeypatch.setattr(Run, "save_checkpoint", record)
    opts = tiny_overrides(3, checkpoint_every_steps=1000, checkpoint_every_minutes=1e6)
    train(tmp_path / "run", data=str(tiny_dataset), overrides=opts, show_progress=False)
    latest = [step for which, step in saved if which == LATEST]
    assert latest[0] == 1 and latest[1:] == [3]  # then only every checkpoint_every_minutes
