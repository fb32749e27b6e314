"""Choosing the labeler's thresholds on hand-labelled real libraries, leave-one-library-out.

The reference (docs/real-audio-reference.csv: ``file, library, label, ambiguous, why``) names the
category a person gave each file from its envelope and spectrogram. ``fit`` chooses every field of
``Thresholds`` by coordinate ascent over a fixed grid of candidates, on the files it is given;
``leave_one_library_out`` fits on all libraries but one and scores the one left out, for every
library, so each figure it reports comes from files that chose nothing. The ``TEST_LIBRARIES``
take no part in either: the thresholds fit on all the other libraries (the shipped ones) are
scored on them. Ambiguous files are never used, neither to choose nor to judge.

Run ``python -m gesturegan.gestures.fit SOUNDS_ROOT [--reference CSV] [--json]`` to print the
tables of docs/gestures.md and the shipped thresholds.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from .. import corpus
from ..errors import UserError
from .explain import explain
from .features import features, features_file
from .rules import CATEGORIES, THRESHOLDS, Thresholds, decide

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "real-audio-reference.csv"
"""The hand-labelled reference shipped with the repository (paths relative to a sounds root)."""

GRID: dict[str, tuple[float, ...]] = {
    "trigger_max_span_s": (0.08, 0.1, 0.12, 0.15, 0.18, 0.2, 0.25),
    "short_sound_s": (0.25, 0.3, 0.35, 0.4, 0.45, 0.5),
    "short_end_db": (-50.0, -40.0, -30.0, -20.0),
    "regular_min_onsets": (3, 4, 5, 6, 8),
    "regular_max_cv": (0.1, 0.2, 0.3, 0.4),
    "grid_max_error": (0.04, 0.06, 0.08, 0.1, 0.12, 0.15),
    "roll_min_onsets": (6, 8, 10, 12, 16, 1e9),
    "roll_min_active": (0.8, 0.85, 0.9, 0.95),
    "roll_min_corr": (-0.7, -0.5, -0.3, 0.0),
    "periodic_min": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    "periodic_min_mod_db": (1.0, 2.0, 3.0, 4.0, 6.0),
    "periodic_min_cycles": (2.0, 3.0, 4.0, 6.0),
    "shimmer_max_period_s": (0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 1e9),
    "fast_attack_s": (0.02, 0.05, 0.08, 0.12, 0.2, 0.3),
    "ring_max_attack_share": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3),
    "decay_max_corr": (-0.9, -0.8, -0.7, -0.6, -0.5, -0.4),
    "decay_min_drop_db": (5.0, 10.0, 15.0, 20.0, 30.0),
    "steady_max_attack_s": (0.05, 0.1, 0.15, 0.25, 0.4),
    "steady_max_db": (1.5, 2.0, 3.0, 4.0, 5.0),
    "steady_flat_min_fraction": (0.3, 0.4, 0.5, 0.6, 0.7),
    "steady_min_fraction": (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9),
}
"""Candidate values of each threshold (every field of ``Thresholds``)."""

GUARD_MIN_RECALL = 0.95
"""``fit`` takes no threshold that lets a class of the built-in corpus fall below this recall."""

GUARD_SEEDS = (1, 2)
"""Corpus seeds that guard the fit (the tests judge the labeler on seeds 0 and 7919)."""

TEST_LIBRARIES = ("sonicpi", "themes")
"""Libraries of the reference that choose nothing: labelled after the shipped thresholds were fit
on the others, they only judge those thresholds (docs/gestures.md, "Two libraries that chose
nothing")."""


START = Thresholds(
    trigger_max_span_s=0.15,
    short_sound_s=0.35,
    short_end_db=-40.0,
    regular_min_onsets=5,
    regular_max_cv=0.3,
    grid_max_error=0.08,
    roll_min_onsets=6,
    roll_min_active=0.9,
    roll_min_corr=-0.5,
    periodic_min=0.5,
    periodic_min_mod_db=2.0,
    periodic_min_cycles=3.0,
    shimmer_max_period_s=0.1,
    fast_attack_s=0.05,
    ring_max_attack_share=0.0,
    decay_max_corr=-0.6,
    decay_min_drop_db=10.0,
    steady_max_attack_s=0.15,
    steady_max_db=3.0,
    steady_flat_min_fraction=0.5,
    steady_min_fraction=0.75,
)
"""Where every fit starts: the thresholds of the rules before this fit (set by hand on the
built-in corpus and on lmms and freedesktop; ``ring_max_attack_share`` off; the ``roll`` rule on,
at the values it was designed with). A fit moves a threshold away from here only for a gain on the
files it is given."""


@dataclass(frozen=True)
class Example:
    """One clear file of the reference with its features: ``library``, hand ``label``."""

    file: str
    library: str
    label: str
    feats: dict[str, float]


@dataclass
class Score:
    """Agreement of the rules with the hand labels on a set of examples."""

    n: int
    accuracy: float
    recall: dict[str, float]  # per class with at least one example
    support: dict[str, int]
    confusion: list[list[int]]  # rows: hand label, columns: rules, in CATEGORIES order


def read_reference(path: str | os.PathLike = REFERENCE) -> list[dict[str, str]]:
    """The rows of a reference CSV (``file, library, label, ambiguous``; ``why`` optional).

    Raises ``UserError`` when a column is missing or a label is not one of ``CATEGORIES``.
    """
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the reference ({exc.strerror})") from exc
    need = {"file", "library", "label", "ambiguous"}
    if rows and not need <= rows[0].keys():
        raise UserError(f"{path}: needs the columns {', '.join(sorted(need))}")
    for r in rows:
        if r["label"] not in CATEGORIES:
            raise UserError(f"{path}: {r['file']}: unknown label {r['label']!r}")
    return rows


def examples(rows: Sequence[dict[str, str]], root: str | os.PathLike) -> list[Example]:
    """The clear (non-ambiguous) rows with the features of their files under ``root``."""
    out = []
    for r in rows:
        if r["ambiguous"].strip().lower() != "no":
            continue
        feats = features_file(Path(root) / r["file"])
        out.append(Example(r["file"], r["library"], r["label"], feats))
    return out


def corpus_examples(seeds: Sequence[int] = GUARD_SEEDS, per_class: int = 50) -> list[Example]:
    """Clips of the built-in corpus (default rate and length) as examples of library ``corpus``:
    what the generator is trained on, so the labeler must keep naming them right."""
    out = []
    for seed in seeds:
        for cat in CATEGORIES:
            for i in range(per_class):
                x = corpus.synthesize(cat, corpus.clip_rng(seed, cat, i))
                out.append(Example(f"corpus/{seed}/{cat}/{i}", "corpus", cat, features(x, 22050)))
    return out


def score(exs: Sequence[Example], th: Thresholds = THRESHOLDS) -> Score:
    """Accuracy, per-class recall and confusion of the rules with thresholds ``th`` on ``exs``."""
    idx = {c: i for i, c in enumerate(CATEGORIES)}
    conf = np.zeros((len(CATEGORIES), len(CATEGORIES)), dtype=int)
    for e in exs:
        conf[idx[e.label], idx[decide(e.feats, th)]] += 1
    support = {c: int(conf[i].sum()) for c, i in idx.items() if conf[i].sum()}
    recall = {c: float(conf[idx[c], idx[c]] / n) for c, n in support.items()}
    n = int(conf.sum())
    acc = float(np.trace(conf) / n) if n else 0.0
    return Score(n, acc, recall, support, conf.tolist())


def objective(s: Score) -> float:
    """What ``fit`` maximises: accuracy plus the mean recall of the classes present, so a rare
    class counts as much as a common one without the common one being given up. (Weighting each
    library the same instead was tried: 1 point worse held out.)"""
    return s.accuracy + (float(np.mean(list(s.recall.values()))) if s.recall else 0.0)


def fit(
    exs: Sequence[Example],
    start: Thresholds = START,
    guard: Sequence[Example] = (),
    sweeps: int = 4,
) -> Thresholds:
    """Thresholds that maximise ``objective`` on ``exs``, by coordinate ascent over ``GRID``.

    Each sweep tries every candidate of every threshold with the others held, and keeps the best
    (the current value on ties, so a threshold moves only for a real gain); it stops when a sweep
    changes nothing. A candidate that lets any class's recall on ``guard`` (clips the labeler must
    keep getting right, e.g. ``corpus_examples``) fall below ``GUARD_MIN_RECALL`` is never taken.
    Deterministic.
    """

    def admissible(th: Thresholds) -> bool:
        return not guard or min(score(guard, th).recall.values()) >= GUARD_MIN_RECALL

    th = start
    best = objective(score(exs, th))
    for _ in range(sweeps):
        moved = False
        for f in fields(Thresholds):
            for value in GRID[f.name]:
                cand = replace(th, **{f.name: value})
                s = objective(score(exs, cand))
                if s > best + 1e-12 and admissible(cand):
                    th, best, moved = cand, s, True
        if not moved:
            break
    return th


@dataclass
class Fold:
    """One library left out: the thresholds chosen without it and their score on it."""

    library: str
    thresholds: Thresholds
    train: Score
    held_out: Score


def leave_one_library_out(
    exs: Sequence[Example], start: Thresholds = START, guard: Sequence[Example] = ()
) -> list[Fold]:
    """For every library: ``fit`` on the others (with ``guard``), ``score`` on it (sorted by
    library name)."""
    folds = []
    for lib in sorted({e.library for e in exs}):
        train = [e for e in exs if e.library != lib]
        test = [e for e in exs if e.library == lib]
        th = fit(train, start, guard)
        folds.append(Fold(lib, th, score(train, th), score(test, th)))
    return folds


def judged_by(exs: Sequence[Example], th: Thresholds, train: Score) -> list[Fold]:
    """Each library of ``exs`` scored with thresholds ``th`` (``train``: their score on the files
    they were fit on), as folds (sorted by library name)."""
    return [
        Fold(lib, th, train, score([e for e in exs if e.library == lib], th))
        for lib in sorted({e.library for e in exs})
    ]


def pooled(folds: Sequence[Fold]) -> Score:
    """The held-out scores of all folds as one: each file judged by the fold that left it out."""
    conf = np.sum([f.held_out.confusion for f in folds], axis=0)
    support = {c: int(conf[i].sum()) for i, c in enumerate(CATEGORIES) if conf[i].sum()}
    recall = {c: float(conf[i, i] / conf[i].sum()) for i, c in enumerate(CATEGORIES) if c in support}
    n = int(conf.sum())
    return Score(n, float(np.trace(conf) / n), recall, support, conf.tolist())


def table(folds: Sequence[Fold]) -> str:
    """The leave-one-library-out table as Markdown: per held-out library, then pooled per class."""
    short = {c: c.replace("continuous", "cont").replace("trigger_cont", "trig_cont") for c in CATEGORIES}
    lines = [
        "| held-out library | files | accuracy | " + " | ".join(short.values()) + " |",
        "|---|---|---|" + "---|" * len(CATEGORIES),
    ]

    def cell(s: Score, c: str) -> str:
        if c not in s.recall:
            return "–"
        hit = round(s.recall[c] * s.support[c])
        return f"{hit}/{s.support[c]}"

    for f in folds:
        s = f.held_out
        cells = " | ".join(cell(s, c) for c in CATEGORIES)
        lines.append(f"| {f.library} | {s.n} | {s.accuracy:.1%} | {cells} |")
    p = pooled(folds)
    cells = " | ".join(f"{p.recall[c]:.1%} ({cell(p, c)})" if c in p.recall else "–" for c in CATEGORIES)
    lines.append(f"| **all, held out** | {p.n} | **{p.accuracy:.1%}** | {cells} |")
    lines += ["", "Confusion, all held out (rows: hand label, columns: rules):", ""]
    lines.append("| | " + " | ".join(short.values()) + " |")
    lines.append("|---|" + "---|" * len(CATEGORIES))
    for c, row in zip(CATEGORIES, p.confusion, strict=True):
        lines.append(f"| {short[c]} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def held_out_errors(exs: Sequence[Example], folds: Sequence[Fold]) -> list[str]:
    """One line per held-out file the rules got wrong: library, file, hand label, the rules'
    label and ``explain``'s sentence with the thresholds of the fold that left it out."""
    lines = []
    for f in folds:
        for e in exs:
            if e.library == f.library and (got := decide(e.feats, f.thresholds)) != e.label:
                why = explain(got, e.feats, f.thresholds)
                lines.append(f"{e.library}\t{e.file}\t{e.label}\t{got}\t{why}")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    """Print the leave-one-library-out table over the libraries that choose, its held-out errors,
    the thresholds fit on all of them (the shipped ones) and their score on the ``TEST_LIBRARIES``,
    which chose nothing. A missing file or a bad reference is one line on stderr (exit 2)."""
    ap = argparse.ArgumentParser(prog="python -m gesturegan.gestures.fit", description=main.__doc__)
    ap.add_argument("root", help="folder that the reference's paths are relative to")
    ap.add_argument("--reference", default=str(REFERENCE), help="reference CSV")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = ap.parse_args(argv)
    try:
        if not Path(args.root).is_dir():
            raise UserError(f"{args.root}: not a folder (fetch the libraries first)")
        exs = examples(read_reference(args.reference), args.root)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    guard = corpus_examples()
    choosing = [e for e in exs if e.library not in TEST_LIBRARIES]
    folds = leave_one_library_out(choosing, START, guard)
    shipped = fit(choosing, START, guard)
    fitted = score(choosing, shipped)
    tests = judged_by([e for e in exs if e.library in TEST_LIBRARIES], shipped, fitted)
    if args.json:
        print(json.dumps({
            "folds": [{"library": f.library, "held_out": asdict(f.held_out),
                       "thresholds": asdict(f.thresholds)} for f in folds],
            "pooled": asdict(pooled(folds)),
            "all_libraries": {
                "thresholds": asdict(shipped), "score": asdict(fitted)
            },
            "test_libraries": {f.library: asdict(f.held_out) for f in tests},
            "start": asdict(score(choosing, START)),
            "corpus": asdict(score(guard, shipped)),
        }))
        return
    print(table(folds))
    print("\nHeld-out errors (library, file, hand label, rules, why):")
    print("\n".join(held_out_errors(exs, folds)))
    if tests:
        print("\nLibraries that chose nothing, with the thresholds fit on all the others:\n")
        print(table(tests))
        print("\nTheir errors (library, file, hand label, rules, why):")
        print("\n".join(held_out_errors(exs, tests)))
    start = score(choosing, START).accuracy
    print(f"\nStart thresholds on the {len(choosing)} clear files that choose: {start:.1%}")
    print(f"Fit on all of them: {fitted.accuracy:.1%} on the same files (not a held-out figure)")
    g = score(guard, shipped)
    print(f"Built-in corpus (seeds {GUARD_SEEDS}, the guard): {g.accuracy:.1%}")
    for f in fields(Thresholds):
        a, b = getattr(THRESHOLDS, f.name), getattr(shipped, f.name)
        print(f"  {f.name} = {b}" + ("" if a == b else f"  (shipped: {a})"))


if __name__ == "__main__":
    main()
