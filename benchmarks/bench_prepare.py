"""``prepare`` against the original project's loader: throughput and peak memory, at N and 4N files.

Reference: what the original project did, a Python loop of ``librosa.load(path, sr=22050)`` (soxr
'HQ' resampling, like ours) padded or truncated to 16384 samples into a list, then ``np.stack``.
Ours: ``gesturegan.dataset.prepare(src, out, labels_from_folders=True, workers=cores)``, which also
writes the whole dataset directory (memory-mapped ``audio.npy``, ``manifest.csv`` with a SHA-1 per
source file, ``errors.csv``); the reference only holds the array in RAM, so ours does more work.

The source folder mixes three kinds of 16-bit WAV in equal shares (see ``common.write_pool``):
22050 Hz mono 0.74 s clips from the built-in corpus, and 44.1 kHz and 48 kHz stereo variants of
0.5..2 s. N = 2000 files (``--quick``: 300), all distinct; the 4N folder repeats them (hard links).

Each measurement runs in its own child process (``--child``), so peak memory is not shared between
them. Figures are those of the child's whole process tree (``common.TreeMonitor``; ``prepare``
decodes in a pool of worker processes): the sum of each process's peak RSS, the peak anonymous
memory, and CPU time per clip, which unlike clips/s does not depend on other load on the machine.
Files were just written, so every run reads them from the page cache. Clips/s is the best of
``repeat`` runs (2; ``--quick``: 1) and includes starting the worker pool, as a user's call does.

Prints two lines: ``prepare_throughput`` (clips/s; ``projected_20k_s`` extrapolates the 4N run to
20 000 clips) and ``prepare_peak_memory`` (MiB, with the 4N figures beside the N ones: the
reference grows with N, ours must not; ``ours_main_rss*`` is the main process alone, whose RSS
includes the pages of the memory-mapped ``audio.npy`` it has written: file pages the kernel writes
back and may drop, so ``*_anon`` is the figure that shows what memory ``prepare`` holds).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from common import TreeMonitor, emit, fill_source, load_1m, peak_rss_mb, quick, timeit, write_pool

SR, LENGTH = 22050, 16384
TARGET_CLIPS, TARGET_S = 20_000, 60.0  # issue 4: "20k clips in under a minute"


def main() -> None:
    load = load_1m()
    n = 300 if quick() else 2000
    repeat = 1 if quick() else 2
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory(prefix="gesturegan-bench-prepare-") as tmp:
        tmp = Path(tmp)
        pool = write_pool(tmp / "pool", per_kind=math.ceil(n / 3))
        src_n = fill_source(tmp / "src_n", pool, n)
        src_4n = fill_source(tmp / "src_4n", pool, 4 * n)
        ref = _child("reference", src_n, tmp / "work", repeat=repeat)
        ours = _child("ours", src_n, tmp / "work", repeat=repeat, workers=cores)
        ours_1 = _child("ours", src_n, tmp / "work", repeat=1, workers=1)
        ref_4n = _child("reference", src_4n, tmp / "work", repeat=1)
        ours_4n = _child("ours", src_4n, tmp / "work", repeat=1, workers=cores)

    for r, size in ((ref, n), (ours, n), (ours_1, n), (ref_4n, 4 * n), (ours_4n, 4 * n)):
        if r["n_clips"] != size:
            raise SystemExit(f"bench_prepare: expected {size} clips, a run made {r['n_clips']}")
    emit(
        "prepare_throughput",
        ours["clips_per_s"],
        ref["clips_per_s"],
        "clips/s",
        better="higher",
        n_files=n,
        workers=cores,
        ours_median=ours["clips_per_s_median"],
        reference_median=ref["clips_per_s_median"],
        ours_1_worker=ours_1["clips_per_s"],
        ratio_1_worker=ours_1["clips_per_s"] / ref["clips_per_s"],
        ours_cpu_ms_per_clip=ours["cpu_ms_per_clip"],
        ours_1_worker_cpu_ms_per_clip=ours_1["cpu_ms_per_clip"],
        reference_cpu_ms_per_clip=ref["cpu_ms_per_clip"],
        ours_4n=ours_4n["clips_per_s"],
        reference_4n=ref_4n["clips_per_s"],
        projected_20k_s=TARGET_CLIPS / ours_4n["clips_per_s"],
        target_20k_s=TARGET_S,
        load_1m_at_start=load,
    )
    emit(
        "prepare_peak_memory",
        ours["peak_mb"],
        ref["peak_mb"],
        "MiB",
        better="lower",
        n_files=n,
        ours_4n=ours_4n["peak_mb"],
        reference_4n=ref_4n["peak_mb"],
        ours_growth_4n=ours_4n["peak_mb"] / ours["peak_mb"],
        reference_growth_4n=ref_4n["peak_mb"] / ref["peak_mb"],
        ours_anon=ours["peak_anon_mb"],
        ours_anon_4n=ours_4n["peak_anon_mb"],
        reference_anon=ref["peak_anon_mb"],
        reference_anon_4n=ref_4n["peak_anon_mb"],
        ours_main_rss=ours["main_rss_mb"],
        ours_main_rss_4n=ours_4n["main_rss_mb"],
    )


def _child(kind: str, src: Path, work: Path, repeat: int, workers: int = 1) -> dict:
    """Run one measurement in a fresh interpreter; its result dict (the child's last stdout line)."""
    cmd = [sys.executable, __file__, "--child", kind, "--src", str(src), "--work", str(work)]
    cmd += ["--repeat", str(repeat), "--workers", str(workers)]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run_child(kind: str, src: Path, work: Path, repeat: int, workers: int) -> None:
    """Time ``repeat`` runs of ``kind`` on ``src`` and print the figures as one JSON line."""
    files = sorted(src.rglob("*.wav"))
    if kind == "reference":
        import librosa

        librosa.load(files[0], sr=SR)  # first-call setup is not what we measure
        result = {}

        def run() -> None:
            result["n_clips"] = len(_reference(files))

        setup = None
    else:
        from gesturegan.dataset import prepare

        out = work / "dataset"
        result = {}

        def run() -> None:
            s = prepare(src, out, labels_from_folders=True, workers=workers)
            result["n_clips"] = s.n_clips

        def setup() -> None:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)

    with TreeMonitor() as tree:
        timing = timeit(run, repeat=repeat, setup=setup)
    shutil.rmtree(work, ignore_errors=True)
    line = {
        "n_clips": result["n_clips"],
        "clips_per_s": len(files) / timing.best,
        "clips_per_s_median": len(files) / timing.median,
        "cpu_ms_per_clip": 1e3 * tree.cpu_s / (repeat * len(files)),
        "peak_mb": tree.peak_mb,
        "peak_anon_mb": tree.peak_anon_mb,
        "main_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(line), flush=True)


def _reference(files: list[Path]) -> np.ndarray:
    """The original project's loader: ``[N, LENGTH] float32`` of every file, all in RAM."""
    import librosa

    clips = []
    for path in files:
        y, _ = librosa.load(path, sr=SR)
        y = y[:LENGTH] if len(y) >= LENGTH else np.pad(y, (0, LENGTH - len(y)))
        clips.append(y)
    return np.stack(clips)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 300 files instead of 2000")
    parser.add_argument("--child", choices=("reference", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _run_child(args.child, args.src, args.work, args.repeat, args.workers)
    else:
        main()
