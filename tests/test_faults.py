"""The fault test's short form (``benchmarks/fault_test.py``; the long form's figures are in
docs/runs.md, "What survives what"): train, export and prepare killed with SIGKILL at random
moments, and everything that must survive checked after each kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gesturegan

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_killed_verbs_leave_whole_files_a_resumable_run_and_no_temps(tmp_path):
    # A process of its own: the script forks children after importing torch, which is safe only
    # where torch has not started its thread pools (the test process has).
    paths = [str(Path(gesturegan.__file__).parents[1]), str(ROOT / "benchmarks")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fault_test.py"), "--kills", "1", "--seed", "3", "--session-steps", "2",
         "--work", str(tmp_path / "work")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["data_lost"] == "none" and summary["kills_survived"] >= 2
    assert summary["leftovers"] == [] and summary["sources_changed"] == []
