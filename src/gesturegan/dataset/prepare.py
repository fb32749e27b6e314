"""``prepare``: a folder of sounds → a dataset directory, atomically, in parallel, in bounded memory.

Layout of the dataset directory (``FORMAT_VERSION`` 1):

- ``dataset.json``: ``format_version, sr, length, labels`` (sorted; a label's index is its class id),
  ``counts`` (clips per label), ``n_clips, n_errors, n_ignored, source`` (absolute source folder),
  ``align, created`` (UTC, ISO 8601), ``gesturegan_version``.
- ``manifest.csv``: one row per clip, row ``id`` = row of ``audio.npy`` (``MANIFEST_COLUMNS``).
- ``audio.npy``: ``[n_clips, length] float32``, memory-mappable.
- ``errors.csv``: ``file,reason`` for every audio file that was skipped.

Everything is written into ``OUT.partial-<pid>`` beside ``OUT`` and renamed into place at the end, so
``OUT`` is either absent, the previous dataset, or the complete new one.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .. import __version__
from ..atomic import write_text
from ..audio import AUDIO_EXTENSIONS
from ..errors import UserError
from .clip import ALIGN_MODES, Clip, SkipFile, fit_file
from .scan import folder_label, read_labels_csv, scan

FORMAT_VERSION = 1
MANIFEST_COLUMNS = (
    "id", "source", "label", "orig_sr", "orig_channels", "orig_duration_s", "offset", "peak", "rms",
    "source_sha1",
)  # fmt: skip
NO_LABEL = "no label"


@dataclass
class PrepareSummary:
    """What ``prepare`` made: where, how many clips (per label), how many files skipped, how long."""

    out: Path
    n_clips: int
    n_errors: int
    counts: dict[str, int] = field(default_factory=dict)  # clips per label, in class-id order
    n_ignored: int = 0  # files without an audio extension
    seconds: float = 0.0


@dataclass(frozen=True)
class _Task:
    path: str  # absolute
    rel: str  # relative to the source folder, POSIX style
    label: str  # "" when unlabelled
    sr: int
    length: int
    align: str


@dataclass(frozen=True)
class _Result:
    task: _Task
    clip: Clip | None
    reason: str  # why the file was skipped ("" when ``clip`` is set)
    sha1: str


def prepare(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    sr: int = 22050,
    length: int = 16384,
    labels_csv: str | os.PathLike | None = None,
    labels_from_folders: bool = False,
    align: str = "start",
    workers: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PrepareSummary:
    """Turn a folder of audio files into a dataset directory (see module docstring).

    Each audio file under ``src`` is decoded, downmixed to mono, resampled to ``sr`` (soxr) and fit
    to ``length`` samples (see ``clip.fit_file`` for ``align``). Files that cannot be used are
    listed in ``errors.csv`` with a reason; they never stop the run. ``src`` is only read.

    Parameters
    ----------
    src : folder of sounds, walked recursively (see ``scan``).
    out : dataset folder to create; must be outside ``src``.
    sr : target rate in Hz.
    length : samples per clip at ``sr``.
    labels_csv : CSV with columns ``file,label`` (paths relative to the CSV's folder; a multi-label
        cell ``"a,b"`` gives ``a``). Files it does not label are skipped as ``no label``.
    labels_from_folders : label = first folder under ``src``; top-level files are skipped.
    align : ``"start"``, ``"onset"`` or ``"peak"``.
    workers : decoding processes; ``None`` = available cores, ``1`` = no subprocesses.
    overwrite : replace an existing dataset at ``out``.
    progress : called as ``progress(files_done, files_total)`` after each file.

    Returns
    -------
    PrepareSummary

    Raises
    ------
    UserError : bad options or paths, no audio under ``src``, or no file usable.

    Examples
    --------
    >>> s = prepare("sounds/", "data/", labels_from_folders=True, align="onset")  # doctest: +SKIP
    >>> s.n_clips, s.counts  # doctest: +SKIP
    (240, {'continuous_repetition': 60, 'continuous_variation': 60, 'trigger': 60, ...})
    """
    t0 = time.perf_counter()
    src, out = Path(src).absolute(), Path(out).absolute()
    workers = _check_options(src, out, sr, length, labels_csv, labels_from_folders, align, workers)
    _check_out(out, overwrite)
    found = scan(src)
    if not found.audio and not found.broken_links:
        kinds = ", ".join(e.lstrip(".") for e in AUDIO_EXTENSIONS)
        raise UserError(f"no audio files ({kinds}) found under {src}")

    labels = _labels(src, found.audio, labels_csv, labels_from_folders)
    errors = [(rel, "broken symbolic link") for rel in found.broken_links]
    if labels is not None:
        errors += [(rel, NO_LABEL) for rel in found.audio if rel not in labels]
    tasks = [
        _Task(str(src / rel), rel, labels[rel] if labels is not None else "", sr, length, align)
        for rel in found.audio
        if labels is None or rel in labels
    ]
    if not tasks:
        hint = " (paths in a labels CSV are relative to the CSV's folder)" if labels_csv else ""
        raise UserError(f"none of the {len(found.audio)} audio files under {src} has a label{hint}")

    partial = out.with_name(f"{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        counts = _write_dataset(partial, tasks, errors, workers, progress, len(found.audio))
        n_clips = sum(counts.values())
        info = {
            "format_version": FORMAT_VERSION,
            "sr": sr,
            "length": length,
            "labels": sorted(c for c in counts if c),
            "counts": {k: counts[k] for k in sorted(counts) if k},
            "n_clips": n_clips,
            "n_errors": len(errors),
            "n_ignored": found.n_ignored,
            "source": str(src),
            "align": align,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "gesturegan_version": __version__,
        }
        write_text(partial / "dataset.json", json.dumps(info, indent=2) + "\n")
        _install(partial, out, overwrite)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return PrepareSummary(
        out, n_clips, len(errors), info["counts"], found.n_ignored, time.perf_counter() - t0
    )


def _check_options(src, out, sr, length, labels_csv, labels_from_folders, align, workers) -> int:
    """Validate what the user asked for; return the worker count to use."""
    if not src.is_dir():
        raise UserError(f"source {src} is not a folder")
    if sr < 1 or length < 1:
        raise UserError(f"sr and length must be positive (got sr={sr} Hz, length={length})")
    if align not in ALIGN_MODES:
        raise UserError(f"align must be one of {', '.join(ALIGN_MODES)}, got {align!r}")
    if labels_csv is not None and labels_from_folders:
        raise UserError("give either a labels CSV or labels from folders, not both")
    real_src, real_out = src.resolve(), out.resolve()
    if real_out == real_src or real_src in real_out.parents:
        raise UserError(f"the dataset folder {out} must be outside the source {src}")
    if real_out in real_src.parents:
        raise UserError(f"the source {src} must not be inside the dataset folder {out}")
    if workers is None:
        cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        return len(cores) if cores else os.cpu_count() or 1
    if workers < 1:
        raise UserError(f"workers must be at least 1, got {workers}")
    return workers


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` we may not replace: a dataset without ``overwrite``, or anything else."""
    if not out.exists():
        return
    if (out / "dataset.json").is_file():
        if not overwrite:
            raise UserError(
                f"{out} already holds a dataset; pass overwrite (--overwrite) to replace it"
            )
    elif not out.is_dir() or any(out.iterdir()):
        raise UserError(f"{out} exists and is not a gesturegan dataset; choose another folder")


def _labels(
    src: Path, rels: list[str], labels_csv, labels_from_folders: bool
) -> dict[str, str] | None:
    """``{relative path: label}`` for the files that have one; ``None`` when labels are not asked."""
    if labels_from_folders:
        by_folder = {rel: folder_label(rel) for rel in rels}
        return {rel: label for rel, label in by_folder.items() if label}
    if labels_csv is None:
        return None
    by_path = read_labels_csv(Path(labels_csv).absolute())
    by_rel = {rel: by_path.get((src / rel).resolve()) for rel in rels}
    return {rel: label for rel, label in by_rel.items() if label}


def _write_dataset(
    folder: Path,
    tasks: list[_Task],
    errors: list[tuple[str, str]],
    workers: int,
    progress: Callable[[int, int], None] | None,
    n_files: int,
) -> Counter:
    """Decode ``tasks`` into ``folder`` (audio.npy, manifest.csv, errors.csv); clips per label.

    Rows are written as results arrive, so memory does not grow with the number of clips; skipped
    files are appended to ``errors`` (which then goes to errors.csv, sorted by file).
    """
    length = tasks[0].length
    npy = folder / "audio.npy"
    waves = np.lib.format.open_memmap(npy, mode="w+", dtype=np.float32, shape=(len(tasks), length))
    counts: Counter = Counter()
    done = n_files - len(tasks)
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        manifest = csv.writer(f)
        manifest.writerow(MANIFEST_COLUMNS)
        for r in _decode_all(tasks, workers):
            if r.clip is None:
                errors.append((r.task.rel, r.reason))
            else:
                n, c = sum(counts.values()), r.clip
                waves[n] = c.wave
                manifest.writerow([
                    n, r.task.rel, r.task.label, c.orig_sr, c.orig_channels,
                    f"{c.orig_duration_s:.6f}", c.offset, f"{c.peak:.6g}", f"{c.rms:.6g}", r.sha1,
                ])  # fmt: skip
                counts[r.task.label] += 1
            done += 1
            if progress is not None:
                progress(done, n_files)
    waves.flush()
    del waves
    n_clips = sum(counts.values())
    if n_clips == 0:
        reason, n = Counter(reason for _, reason in errors).most_common(1)[0]
        raise UserError(f"no usable audio: all {n_files} files were skipped ({n} × {reason})")
    _shrink_npy(npy, n_clips)
    with open(folder / "errors.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "reason"), *sorted(errors)])
    return counts


def _decode_all(tasks: list[_Task], workers: int) -> Iterator[_Result]:
    """Yield one result per task, in task order; with ``workers > 1`` from a process pool.

    At most ``window`` tasks are in flight, so results waiting behind a slow file cannot pile up.
    """
    workers = min(workers, len(tasks))
    if workers == 1:
        yield from map(_decode, tasks)
        return
    chunksize = max(1, min(16, len(tasks) // (workers * 8)))
    window, stop = threading.Semaphore(4 * workers * chunksize), threading.Event()

    def feed() -> Iterator[_Task]:  # runs in the pool's task-feeding thread
        for task in tasks:
            while not window.acquire(timeout=0.1):
                if stop.is_set():
                    return
            yield task

    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    with mp.get_context(method).Pool(workers) as pool:
        try:
            for result in pool.imap(_decode, feed(), chunksize):
                window.release()
                yield result
        finally:
            stop.set()


def _decode(task: _Task) -> _Result:
    """Worker: fit one file (or say why not) and hash it."""
    try:
        clip, reason = fit_file(task.path, task.sr, task.length, task.align), ""
    except SkipFile as exc:
        clip, reason = None, str(exc)
    sha1 = ""
    if clip is not None:
        with open(task.path, "rb") as f:
            sha1 = hashlib.file_digest(f, "sha1").hexdigest()
    return _Result(task, clip, reason, sha1)


def _shrink_npy(path: Path, n_rows: int) -> None:
    """Cut an ``[N, T]`` .npy written by ``open_memmap`` down to its first ``n_rows`` rows in place.

    numpy pads the header so the first dimension can change without moving the data.
    """
    with open(path, "r+b") as f:
        np.lib.format.read_magic(f)
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        data_start = f.tell()
        if shape[0] == n_rows:
            return
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran,
                  "shape": (n_rows, *shape[1:])}  # fmt: skip
        f.seek(0)
        np.lib.format.write_array_header_1_0(f, header)
        assert f.tell() == data_start, "npy header changed size"
        f.truncate(data_start + n_rows * int(np.prod(shape[1:])) * dtype.itemsize)


def _install(partial: Path, out: Path, overwrite: bool) -> None:
    """Rename the finished ``partial`` folder to ``out``, replacing what ``_check_out`` allows."""
    _check_out(out, overwrite)  # again: something may have appeared there while we worked
    if not out.exists():
        os.replace(partial, out)
        return
    old = out.with_name(f"{out.name}.old-{os.getpid()}")
    os.replace(out, old)
    try:
        os.replace(partial, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old)
