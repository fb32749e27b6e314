"""Train / validation / test split, stratified by class and grouped by source file.

Used by ``prepare --holdout`` (the held-out clips are its ``test`` share) and by the classifier.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")


def split_by_source(
    label_ids: np.ndarray,
    groups: list[str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> np.ndarray:
    """Assign every clip to ``train``, ``val`` or ``test``.

    Clips that share a group (the same source file, or identical file contents) always land in the
    same split, so no sound is both learnt and tested. Groups are split per class (a group's class
    is its most common label), so every class keeps its share in each split: of a class with ``n``
    groups, ``round(n * test_fraction)`` go to test and ``round(n * val_fraction)`` to validation,
    at least one each once the class has three groups, and the rest to training.

    Parameters
    ----------
    label_ids : np.ndarray
        ``[N]`` class id per clip.
    groups : list[str]
        ``[N]`` group key per clip.
    val_fraction, test_fraction : float
        Shares of each class's groups.
    seed : int
        Seeds the shuffle of the groups.

    Returns
    -------
    np.ndarray
        ``[N]`` strings, one of ``SPLITS``.
    """
    members: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    by_class: dict[int, list[str]] = defaultdict(list)
    for g in sorted(members):
        label = Counter(int(label_ids[i]) for i in members[g]).most_common(1)[0][0]
        by_class[label].append(g)
    rng = np.random.default_rng(seed)
    out = np.full(len(label_ids), "train", dtype=object)
    for label in sorted(by_class):
        gs = by_class[label]
        order = rng.permutation(len(gs))
        n = len(gs)
        n_test = round(n * test_fraction)
        n_val = round(n * val_fraction)
        if n >= 3:
            n_test = max(n_test, 1) if test_fraction > 0 else 0
            n_val = max(n_val, 1) if val_fraction > 0 else 0
        n_test = min(n_test, n - 1)
        n_val = min(n_val, n - 1 - n_test)
        for rank, j in enumerate(order):
            split = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
            for i in members[gs[j]]:
                out[i] = split
    return out.astype(str)


def holdout_ids(
    labels: list[str], keys: list[str], fraction: float, seed: int
) -> np.ndarray:
    """``[K]`` sorted row ids of the clips to hold out of training: ``fraction`` of the source files.

    The ``test`` share of ``split_by_source`` (no validation share) over ``labels`` (the class of
    each clip; one ``""`` class for an unlabelled dataset) grouped by ``keys`` (content hash, else
    source path): whole source files, about ``fraction`` of each class's, at least one of a class
    with three or more.
    """
    names = {name: i for i, name in enumerate(sorted(set(labels)))}
    label_ids = np.array([names[name] for name in labels], dtype=np.int64)
    return np.flatnonzero(split_by_source(label_ids, keys, 0.0, fraction, seed) == "test")


def holdout_record(manifest_csv: Path, fraction: float, seed: int) -> dict:
    """``dataset.json``'s ``holdout``: which rows of the written manifest are kept out of training."""
    with open(manifest_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    keys = [row["source_hash"] or row["source"] for row in rows]
    ids = holdout_ids([row["label"] for row in rows], keys, fraction, seed) if fraction else []
    return {"fraction": fraction, "seed": seed, "by": "source file", "n_clips": len(ids),
            "ids": [int(i) for i in ids]}  # fmt: skip
