"""The ``OUT.partial`` folder of one ``prepare`` run: locked while in use, resumable after a kill."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..atomic import clean_temps, write_text
from ..errors import UserError

# What ``OUT.partial`` may hold: the state of a run, and a finished dataset whose install failed.
PARTIAL_FILES = (
    "audio.npy", "manifest.csv", "errors.partial.csv", "resume.json", ".lock", "errors.csv",
    "dataset.json",
)  # fmt: skip

try:
    import fcntl
except ImportError:  # Windows: no lock; two prepares into one OUT at once are then not detected
    fcntl = None


class PartialFolder:
    """The ``OUT.partial`` folder of one run: locked while in use, resumable after a kill.

    ``resume.json`` says how far the files in it are complete: ``tasks_done`` inputs decoded, giving
    ``n_clips`` rows of ``audio.npy``, the first ``manifest_bytes`` of ``manifest.csv`` and
    ``errors_bytes`` of ``errors.partial.csv``; what lies beyond was written after the checkpoint
    and is cut off and done again. A run keeps the folder when it stops on anything but a
    ``UserError`` (Ctrl+C, a kill, a crash), so the next run can resume it.
    """

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path, self.fingerprint = path, fingerprint
        self.resume: dict = {}  # the checkpoint resumed from; empty when starting afresh
        self._lock_fd: int | None = None

    def __enter__(self) -> PartialFolder:
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"{self.path} exists and is not a folder; remove it")
        self.path.mkdir(parents=True, exist_ok=True)
        had_lock = (self.path / ".lock").exists()
        self._lock()
        try:
            clean_temps(self.path, recursive=False)  # of a killed atomic write
            state = self._read_state()
            if state is None or state.get("fingerprint") != self.fingerprint:
                self._clear()
            else:
                self.resume = state
        except BaseException:
            self._unlock()
            if not had_lock:  # a folder that is not ours keeps nothing of this run
                (self.path / ".lock").unlink(missing_ok=True)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._unlock()

    def _lock(self) -> None:
        if fcntl is None:
            return
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise UserError(
                f"another prepare is writing {self.path}; wait for it or stop it first"
            ) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _read_state(self) -> dict | None:
        try:
            state = json.loads((self.path / "resume.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def _clear(self) -> None:
        """Empty the folder for a fresh start; refuse one holding files that are not ours."""
        names = {p.name for p in self.path.iterdir()}
        stray = [n for n in names if n not in PARTIAL_FILES]
        if stray:
            raise UserError(
                f"{self.path} holds files prepare did not write ({', '.join(sorted(stray)[:3])}); "
                "remove it"
            )
        for name in names - {".lock"}:
            (self.path / name).unlink()

    def checkpoint(self, **state: object) -> None:
        """Record that the state files are complete up to ``state`` (call after flushing them)."""
        write_text(
            self.path / "resume.json", json.dumps({"fingerprint": self.fingerprint, **state}) + "\n"
        )

    def finish(self) -> None:
        """Drop the resume state, leaving only the dataset files."""
        for name in ("resume.json", "errors.partial.csv", ".lock"):
            (self.path / name).unlink(missing_ok=True)
        self._unlock()

    def discard(self) -> None:
        """Remove the folder: the run ended in a way that resuming would only repeat."""
        self._unlock()
        shutil.rmtree(self.path, ignore_errors=True)
