"""The fault test: kill ``train``, ``export`` and ``prepare`` with SIGKILL at random moments, many
times, and check after every kill what must survive.

Each verb runs in a child forked from this process after gesturegan and torch are imported (so a
kill lands in the verb's work, not in Python's start-up) and is killed at a moment drawn uniformly
from 0 to 1.2 x the verb's duration measured on an unkilled run (some runs finish: a kill after
the end is no kill and is not counted). After each kill:

- ``prepare SRC OUT --overwrite``: OUT is a whole dataset (the previous one or the new one; in
  the instant between ``_install``'s two renames it is ``OUT.old-<pid>``, put back at the next
  start).
- ``train --resume``: every checkpoint loads, the run is resumable (``Run.resume_point``) from a
  step no earlier than before the kill, the export bundle loads with D of its own step, and the
  next session resumes from it (the next kill's run).
- ``export``: the graph loads and carries its description; a sidecar, when there, is that
  description (never an older graph's).

At the end each verb runs once more unkilled; then no temporary file (``atomic.TEMP_MARK``), no
``.partial`` and no ``.old-`` folder may be left, and the sources (the sound folder and the
dataset ``train`` reads) have the checksums they had at the start.

Usage::

    python benchmarks/fault_test.py                  # 20 kills per verb (a few minutes)
    python benchmarks/fault_test.py --kills 1 --session-steps 2   # the short form (tests/test_faults.py)

Prints one JSON line: per verb the kills survived and the checks failed, and ``data_lost``; exits
1 when a check failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from gesturegan import cli
from gesturegan.atomic import TEMP_MARK

SR, LENGTH = 22050, 16384
TINY = {
    "batch_size": [4],
    "pgan": {"channel_base": 512, "channel_max": 16, "z_dim": 32, "embed_dim": 8},
    "checkpoint_every_steps": 2,  # many checkpoint writes: many chances to kill one midway
    "log_every_steps": 1,
    "snapshot_per_class": 1,
    "repr": "stft_ifreq",  # an exact decoder: the export's check needs no loose tolerance
}


def write_sounds(folder: Path, per_class: int = 4, seed: int = 0) -> Path:
    """Hits and tones as WAVs in folder/<class>/."""
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH) / SR
    for i in range(per_class):
        f = rng.uniform(200, 2000)
        waves = {"hit": np.sin(2 * np.pi * f * t) * np.exp(-t / 0.03), "tone": 0.5 * np.sin(2 * np.pi * f * t)}
        for name, wave in waves.items():
            (folder / name).mkdir(parents=True, exist_ok=True)
            sf.write(folder / name / f"{name}_{i}.wav", (0.8 * wave).astype(np.float32), SR)
    return folder


def digest(root: Path) -> str:
    """One sha256 over every file's relative name and bytes."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def run_child(argv: list[str], kill_after_s: float | None) -> tuple[bool, float]:
    """Run ``gesturegan argv`` in a forked child; SIGKILL it after ``kill_after_s`` if it still
    runs. Returns (killed, seconds it ran); an unkilled child must exit 0."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        rc = 1
        try:
            rc = cli.main(argv)
        finally:
            os._exit(rc)
    deadline = None if kill_after_s is None else start + kill_after_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                raise RuntimeError(f"gesturegan {' '.join(argv)} exited {code}")
            return False, time.monotonic() - start
        if deadline is not None and time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return True, time.monotonic() - start
        time.sleep(0.005)


def checked(fn) -> str | None:
    """Run a check in a forked child (torch's thread pools never start in this process, which
    keeps forking safe); its failure as text, ``None`` when it held."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        msg = b""
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - every failure is reported
            msg = f"{type(exc).__name__}: {exc}".encode()[:2000]
        os.write(w, msg)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        msg = f.read()
    os.waitpid(pid, 0)
    return msg.decode() or None


# ------------------------------------------------------------------------------ the checks
def check_dataset(out: Path, n_clips: int) -> None:
    from gesturegan.dataset import Dataset

    where = out
    if not out.exists():  # killed between _install's two renames: the previous one waits aside
        olds = sorted(out.parent.glob(f"{out.name}.old-*"))
        assert olds, f"{out} is gone and nothing holds it"
        where = olds[0]
    assert len(Dataset.open(where)) == n_clips, "a dataset of another size"


def check_run(run_dir: Path, floor_step: int, result: Path) -> None:
    from gesturegan.runs import Run

    run = Run(run_dir)
    point = run.resume_point()
    assert point is not None, "nothing to resume"
    steps = {w: int(run.load_checkpoint(w)["state"]["step"]) for w in run.checkpoints()}
    assert steps[point] >= floor_step, f"resume point {point} at {steps[point]} < {floor_step}"
    g, meta = run.read_generator()
    assert g and run.read_discriminator(int(meta["step"])), "no D of the generator's step"
    run.metrics_rows()
    result.write_text(str(steps[point]))


def check_graph(out: Path) -> None:
    import torch

    from gesturegan.exporting import described

    assert out.is_file(), "the graph is gone"
    torch.jit.load(str(out))
    info = described(out)
    sidecar = out.with_name(out.name + ".json")
    if sidecar.exists():
        assert json.loads(sidecar.read_text(encoding="utf-8")) == info, "sidecar of another graph"


def leftovers(root: Path) -> list[str]:
    """Temporary files and half-installed folders anywhere under ``root``."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if TEMP_MARK in p.name or p.name.endswith(".partial") or ".old-" in p.name
    )


# ------------------------------------------------------------------------------ the phases
def phase(
    name: str, argv, check, kills: int, rng: random.Random, report: dict, duration: float = 0.0
) -> None:
    """Kill ``argv()`` ``kills`` times and check after each; ``duration``: its unkilled run's
    seconds (0: measure one first)."""
    if not duration:
        _, duration = run_child(argv(), None)
    got = report[name] = {"kills": 0, "finished": 0, "failed": [], "seconds": round(duration, 2)}
    tries = 0
    while got["kills"] < kills and tries < 4 * kills:
        tries += 1
        killed, _ = run_child(argv(), rng.uniform(0.0, 1.2 * duration))
        got["kills" if killed else "finished"] += 1
        failure = checked(check)
        if failure:
            got["failed"].append(failure)
    _, _ = run_child(argv(), None)  # the next start, unkilled
    failure = checked(check)
    if failure:
        got["failed"].append(f"after the last start: {failure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Kill train, export and prepare; check.")
    parser.add_argument("--kills", type=int, default=20, help="kills per verb")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--session-steps", type=int, default=4, help="steps per train session")
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(args.work or tempfile.mkdtemp(prefix="fault-test-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        src = write_sounds(work / "src")
        data, out, run, graph = work / "data", work / "prepared", work / "run", work / "g.pt"
        config = work / "tiny.yaml"
        config.write_text(json.dumps(TINY), encoding="utf-8")  # JSON is YAML
        run_child(["prepare", str(src), str(data), "--labels-from-folders"], None)
        first = ["train", "--data", str(data), "--out", str(run), "--config", str(config)]
        _, train_s = run_child([*first, "--steps", str(args.session_steps)], None)
        before = {"src": digest(src), "data": digest(data)}
        n_clips = 8
        report: dict = {}

        phase(
            "prepare",
            lambda: ["prepare", str(src), str(out), "--labels-from-folders", "--overwrite"],
            lambda: check_dataset(out, n_clips), args.kills, rng, report,
        )  # fmt: skip
        floor = {"step": 0}
        reached = work / "reached.txt"  # the resume point's step after the last check
        reached.write_text(str(args.session_steps))

        def train_argv() -> list[str]:
            floor["step"] = int(reached.read_text()) if reached.exists() else 0
            steps = floor["step"] + args.session_steps
            return ["train", "--out", str(run), "--resume", "--steps", str(steps)]

        phase(
            "train", train_argv, lambda: check_run(run, floor["step"], reached), args.kills, rng,
            report, train_s,
        )  # fmt: skip
        phase(
            "export", lambda: ["export", str(run), "--out", str(graph)],
            lambda: check_graph(graph), args.kills, rng, report,
        )  # fmt: skip
        left = leftovers(work)
        changed = [k for k, v in before.items() if digest(work / k) != v]
        failed = sum(len(r["failed"]) for r in report.values()) + len(left) + len(changed)
        summary = {
            "fault_test": report,
            "kills_survived": sum(r["kills"] for r in report.values()) if not failed else None,
            "leftovers": left,
            "sources_changed": changed,
            "data_lost": "none" if not failed else "see failures",
            "seconds": round(time.monotonic() - started, 1),
            "seed": args.seed,
        }
        print(json.dumps(summary), flush=True)
        return 1 if failed else 0
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
