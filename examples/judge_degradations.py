"""The judge on real libraries: two halves of each library (by file), the second half degraded.

Reproduces the tables of docs/evaluation.md ("The independent judge on real libraries")::

    PYTHONPATH=src python examples/judge_degradations.py /work/data/real/sounds OUT \
        freedesktop icons oxygen hydrogen lmms   # --sfx adds the aisfx embedding

For each library: up to ``MAX_FILES`` files drawn by a seeded permutation, split into halves A and
B; ``compare(A, B)`` and ``compare(A, degraded B)`` for every degradation of ``judge.degrade`` at
``SEVERITIES``. Writes ``OUT/<library>.json`` (the medians and intervals) and the first
``SAVE_CLIPS`` degraded clips of each setting as WAV under ``OUT/<library>/<degradation>_<s>/``
(to listen to and to look at). A's embedding is taken once and serves every comparison.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from gesturegan import audio
from gesturegan.atomic import write_text
from gesturegan.judge import clips, degrade
from gesturegan.judge.compare import ALL, Embedder, compare_embedded, noise_like
from gesturegan.judge.config import JudgeConfig

MAX_FILES = 80
SEVERITIES = (0.25, 0.5, 1.0)
SAVE_CLIPS = 6
CONFIG = JudgeConfig(max_s=3.0, rounds=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder holding one folder per library")
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("libraries", nargs="+")
    parser.add_argument("--sfx", action="store_true", help="add the aisfx embedding")
    args = parser.parse_args()
    cfg = replace(CONFIG, spaces=(*CONFIG.spaces, "sfx")) if args.sfx else CONFIG
    embedder = Embedder(cfg)
    for lib in args.libraries:
        t0 = time.perf_counter()
        row = measure(args.root / lib, args.out / lib, embedder)
        row["seconds"] = time.perf_counter() - t0
        write_text(args.out / f"{lib}.json", json.dumps(row))
        print(lib, "done in", round(row["seconds"]), "s", flush=True)


def measure(folder: Path, out: Path, embedder: Embedder) -> dict:
    """``{"clean": figs, "<degradation>_<s>": figs, "real_vs_real": figs, "real_vs_noise": figs}``
    with ``figs[space][metric] = {median, lo, hi}``."""
    cfg = embedder.cfg
    every = clips.load(folder, cfg.sr, cfg.max_s)
    idx = np.random.default_rng(0).permutation(len(every))[:MAX_FILES]
    half = len(idx) // 2
    a, b = every.subset(idx[:half]), every.subset(idx[half:])
    a.labels, b.labels = [""] * len(a), [""] * len(b)  # overall figures only
    emb_a, emb_n = embedder(a), embedder(noise_like(a, cfg.seed))

    def figures(other: clips.ClipSet, which: str = "a_vs_b") -> dict:
        f = compare_embedded(a, emb_a, emb_n, other, embedder(other), cfg).figures[ALL]
        return {space: {m: f[space][m][which] for m in f[space]} for space in f}

    clean = compare_embedded(a, emb_a, emb_n, b, embedder(b), cfg).figures[ALL]
    row = {"n_a": len(a), "n_b": len(b), "skipped": len(every.skipped)}
    for which in ("a_vs_b", "real_vs_real", "real_vs_noise"):
        key = "clean" if which == "a_vs_b" else which
        row[key] = {space: {m: clean[space][m][which] for m in clean[space]} for space in clean}
    for name, fn in degrade.DEGRADATIONS.items():
        for s in SEVERITIES:
            waves = [fn(w, cfg.sr, s) for w in b.waves]
            for i, w in enumerate(waves[:SAVE_CLIPS]):
                audio.write(out / f"{name}_{s}" / f"{i:03d}.wav", w, cfg.sr)
            names = [f"{n}|{name}_{s}" for n in b.names]
            row[f"{name}_{s}"] = figures(clips.ClipSet(waves, cfg.sr, list(b.labels), names))
            kad = {sp: round(row[f"{name}_{s}"][sp]["kad"]["median"], 2) for sp in row["clean"]}
            print(folder.name, name, s, kad, flush=True)
    return row


if __name__ == "__main__":
    main()
