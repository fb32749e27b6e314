"""The run folder: one clear error for a folder that is not a run, liveness from a heartbeat, the
metrics and snapshots of a trained run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from gesturegan import runs
from gesturegan.errors import UserError
from gesturegan.runs import Run


def test_a_folder_that_is_not_a_run_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="no such run folder"):
        Run.open(tmp_path / "missing")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "config.yaml").write_text("model: pgan\n")
    with pytest.raises(UserError, match="not a training run"):
        Run.open(tmp_path / "notes")


def test_a_trained_run_lists_its_parts(tiny_run):
    run = Run.open(tiny_run)
    meta = run.generator_meta()
    first = meta["stages"][0]
    assert run.has_generator() and run.has_checkpoint(runs.LATEST) and run.has_checkpoint(first)
    assert run.drawable_stages(meta)[-1] == meta["stages"][meta["stage"]]
    weights, step = run.stage_generator(first)
    assert weights and 0 < step <= meta["step"]
    rows = run.metrics_rows()
    assert rows and run.metrics(since_step=int(rows[0]["step"]))[0]["step"] > int(rows[0]["step"])
    assert run.metrics()[0]["probe_fd"] is None  # nan before the first probe, as JSON has it
    snaps = run.snapshots()
    assert [s.stage for s in snaps][0] == first and all(s.grid.is_file() for s in snaps)
    assert all(len(s.audio) == 2 for s in snaps)  # one clip per class of the latest snapshot
    assert not run.live()  # training has ended: no heartbeat left


def test_heartbeat_says_live_until_training_stops(tmp_path, monkeypatch):
    run = Run(tmp_path)
    assert not run.live()
    run.beat(3)
    assert run.live()
    run.stop_beating()
    assert not run.live()
    run.beat(4)  # a stale beat: older than LIVE_WITHIN_S
    monkeypatch.setattr(runs, "LIVE_WITHIN_S", -1.0)
    assert not run.live()


def test_a_heartbeat_whose_process_ended_is_not_live(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    run = Run(tmp_path)
    run.beat(1)
    beat = tmp_path / "logs" / "heartbeat.json"
    facts = json.loads(beat.read_text())
    beat.write_text(json.dumps({**facts, "pid": int(dead.stdout)}))
    assert not run.live()
    beat.write_text(json.dumps({**facts, "pid": os.getpid()}))
    assert run.live()


def test_generation_reads_a_damaged_generator_as_a_clear_error(tiny_run, tmp_path):
    from gesturegan.generation import load

    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    (copy / "generator.safetensors").write_bytes(b"not weights")
    with pytest.raises(UserError, match="damaged generator file"):
        load(copy)


def test_a_run_is_live_while_it_trains_and_not_after(tiny_dataset, tmp_path, monkeypatch):
    from gesturegan.training import Trainer, train

    from .conftest import tiny_overrides

    seen = []
    original = Trainer.step

    def watched(self, loader):
        seen.append(Run(self.run.path).live())
        return original(self, loader)

    monkeypatch.setattr(Trainer, "step", watched)
    run = tmp_path / "run"
    train(run, data=str(tiny_dataset), overrides=tiny_overrides(4), show_progress=False)
    assert seen == [False, True, True, True]  # the first beat follows the first step
    assert not Run.open(run).live()
