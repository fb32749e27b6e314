"""``prepare`` against the original project's loader on real-world-shaped files: speed and memory.

Reference: what the original project did, a Python loop of ``librosa.load(path, sr=22050)`` (soxr
'HQ' resampling, like ours) padded or truncated to 16384 samples into a list, then ``np.stack``.
Ours: ``gesturegan.dataset.prepare(src, out, labels_from_folders=True, workers=cores)``, which also
writes the whole dataset directory (``audio.npy``, ``manifest.csv`` with a hash of every source
file, ``errors.csv``, resume checkpoints); the reference only holds the array in RAM.

Input, as issue 4 specifies it (``common.write_pool``): N = 1000 distinct stereo WAV files
(``--quick``: 300), 2–5 s long, at 32 / 44.1 / 48 kHz, 16- and 24-bit. The big folder holds
20 000 files (``--quick``: 1200): the N files repeated as hard links, so the decoding work per
file is the same and the page cache holds them all.

Both sides run on the same ``--cores`` CPUs (default 2, issue 4's figure; fewer if the machine has
fewer), each measurement in its own child process so peak memory is not shared. Figures are those
of the child's whole process tree (``common.TreeMonitor``): the sum of each process's peak RSS, the
peak anonymous memory, CPU time per clip (independent of other load on the machine). Clips/s is
the best of ``repeat`` runs (2; ``--quick``: 1). The reference is not run on the big folder (it
would hold 1.3 GB and take minutes); its 20k time is extrapolated from its N rate.

Prints three lines: ``prepare_throughput`` (clips/s at N), ``prepare_20k`` (seconds for the big
folder, against the reference's extrapolated time; ``target_s`` 60) and ``prepare_peak_memory``
(MiB at N, with the big folder's figure beside it: ours must not grow with N).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from common import TreeMonitor, emit, fill_source, load_1m, peak_rss_mb, quick, timeit, write_pool

SR, LENGTH = 22050, 16384
TARGET_S = 60.0  # issue 4: 20 000 clips in under a minute


def main(cores: int) -> None:
    load = load_1m()
    n, n_big = (300, 1200) if quick() else (1000, 20_000)
    repeat = 1 if quick() else 2
    cpus = sorted(os.sched_getaffinity(0))[:cores]
    with tempfile.TemporaryDirectory(prefix="gesturegan-bench-prepare-") as tmp:
        tmp = Path(tmp)
        pool = write_pool(tmp / "pool", n)
        src_n = fill_source(tmp / "src_n", pool, n)
        src_big = fill_source(tmp / "src_big", pool, n_big)
        run = dict(work=tmp / "work", cpus=cpus)
        ref = _child("reference", src_n, repeat=repeat, **run)
        ours = _child("ours", src_n, repeat=repeat, workers=len(cpus), **run)
        ours_1 = _child("ours", src_n, repeat=1, workers=1, **run)
        ours_big = _child("ours", src_big, repeat=1, workers=len(cpus), **run)

    for r, size in ((ref, n), (ours, n), (ours_1, n), (ours_big, n_big)):
        if r["n_clips"] != size:
            raise SystemExit(f"bench_prepare: expected {size} clips, a run made {r['n_clips']}")
    emit(
        "prepare_throughput",
        ours["clips_per_s"],
        ref["clips_per_s"],
        "clips/s",
        better="higher",
        n_files=n,
        cores=len(cpus),
        ours_median=ours["clips_per_s_median"],
        reference_median=ref["clips_per_s_median"],
        ours_1_worker=ours_1["clips_per_s"],
        ratio_1_worker=ours_1["clips_per_s"] / ref["clips_per_s"],
        ours_cpu_ms_per_clip=ours["cpu_ms_per_clip"],
        ours_1_worker_cpu_ms_per_clip=ours_1["cpu_ms_per_clip"],
        reference_cpu_ms_per_clip=ref["cpu_ms_per_clip"],
        cpu_ratio=ref["cpu_ms_per_clip"] / ours["cpu_ms_per_clip"],
        load_1m_at_start=load,
    )
    emit(
        "prepare_20k",
        n_big / ours_big["clips_per_s"],
        n_big / ref["clips_per_s"],
        "s",
        better="lower",
        n_files=n_big,
        cores=len(cpus),
        target_s=TARGET_S,
        ours_clips_per_s=ours_big["clips_per_s"],
        ours_cpu_ms_per_clip=ours_big["cpu_ms_per_clip"],
        reference_extrapolated_from=n,
    )
    emit(
        "prepare_peak_memory",
        ours["peak_mb"],
        ref["peak_mb"],
        "MiB",
        better="lower",
        n_files=n,
        n_files_big=n_big,
        ours_big=ours_big["peak_mb"],
        ours_growth_big=ours_big["peak_mb"] / ours["peak_mb"],
        ours_anon=ours["peak_anon_mb"],
        ours_anon_big=ours_big["peak_anon_mb"],
        reference_anon=ref["peak_anon_mb"],
        ours_main_rss=ours["main_rss_mb"],
        ours_main_rss_big=ours_big["main_rss_mb"],
    )


def _child(
    kind: str, src: Path, work: Path, cpus: list[int], repeat: int, workers: int = 1
) -> dict:
    """Run one measurement in a fresh interpreter; its result dict (the child's last stdout line)."""
    cmd = [sys.executable, __file__, "--child", kind, "--src", str(src), "--work", str(work)]
    cmd += ["--repeat", str(repeat), "--workers", str(workers)]
    cmd += ["--cpus", ",".join(map(str, cpus))]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run_child(kind: str, src: Path, work: Path, repeat: int, workers: int, cpus: str) -> None:
    """Time ``repeat`` runs of ``kind`` on ``src`` and print the figures as one JSON line."""
    os.sched_setaffinity(0, [int(c) for c in cpus.split(",")])
    files = sorted(src.rglob("*.wav"))
    result: dict = {}
    if kind == "reference":
        import librosa

        librosa.load(files[0], sr=SR)  # first-call setup is not what we measure

        def run() -> None:
            result["n_clips"] = len(_reference(files))

        setup = None
    else:
        from gesturegan.dataset import prepare

        out = work / "dataset"

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
    parser.add_argument("--quick", action="store_true", help="300 / 1200 files, not 1000 / 20 000")
    parser.add_argument("--cores", type=int, default=2, help="CPUs both sides run on (default 2)")
    parser.add_argument("--child", choices=("reference", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--cpus", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _run_child(args.child, args.src, args.work, args.repeat, args.workers, args.cpus)
    else:
        main(args.cores)
