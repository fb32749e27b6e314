"""``prepare --holdout``: whole source files kept out of training, recorded in dataset.json, never
read by the GAN's loader nor learnt by the classifier, and read by the evaluation side."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from gesturegan.cli import main
from gesturegan.dataset import Dataset, prepare
from gesturegan.errors import UserError
from gesturegan.judge.config import JudgeConfig

from .conftest import TINY_CLASSIFIER, write_tiny_sounds


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    """Tiny sounds (6 per class) plus a copy of one hit under another name, 1/3 held out."""
    root = tmp_path_factory.mktemp("holdout")
    src = write_tiny_sounds(root / "src")
    shutil.copy(src / "hit" / "hit_0.wav", src / "hit" / "hit_copy.wav")
    prepare(src, root / "data", labels_from_folders=True, workers=1, holdout=0.34, seed=3)
    return root


def test_holdout_keeps_whole_source_files_out_and_records_them(held_out, tmp_path):
    info = json.loads((held_out / "data" / "dataset.json").read_text())
    ds = Dataset.open(held_out / "data")
    hold = info["holdout"]
    assert (hold["fraction"], hold["seed"], hold["by"]) == (0.34, 3, "source file")
    assert hold["ids"] == ds.holdout_ids.tolist() and hold["n_clips"] == len(ds.holdout_ids)
    assert sorted([*ds.holdout_ids, *ds.train_ids]) == list(range(len(ds)))
    hashes = [row["source_hash"] for row in ds.manifest]
    # Two source files per class (the two identical hits count as one source).
    for label in ("hit", "tone"):
        assert len({hashes[i] for i in ds.holdout_ids if ds.manifest[i]["label"] == label}) == 2
    for i in ds.holdout_ids:
        assert all(j in ds.holdout_ids for j in range(len(ds)) if hashes[j] == hashes[i])
    # The same seed gives the same files, another seed others.
    again = tmp_path / "again"
    prepare(held_out / "src", again, labels_from_folders=True, workers=1, holdout=0.34, seed=3)
    assert Dataset.open(again).holdout_ids.tolist() == hold["ids"]
    prepare(held_out / "src", again, labels_from_folders=True, workers=1, holdout=0.34, seed=4,
            overwrite=True)  # fmt: skip
    assert Dataset.open(again).holdout_ids.tolist() != hold["ids"]


def test_the_training_loader_never_reads_a_held_out_clip(held_out):
    from gesturegan.representations import get
    from gesturegan.training.data import BatchLoader

    ds = Dataset.open(held_out / "data")
    loader = BatchLoader(ds, get("logmel_gl", sr=ds.sr, length=ds.length), seed=0)
    try:
        seen = loader.indices(0, 5 * len(ds))
    finally:
        loader.close()
    assert set(seen.tolist()) == set(ds.train_ids.tolist())
    assert not set(seen.tolist()) & set(ds.holdout_ids.tolist())


def test_the_gan_probe_and_kinds_never_look_at_held_out_clips(held_out, monkeypatch):
    from gesturegan.representations import get
    from gesturegan.training import kinds
    from gesturegan.training.probes import Probes

    ds = Dataset.open(held_out / "data")
    held = set(ds.holdout_ids.tolist())
    asked = []
    batch = ds.batch
    monkeypatch.setattr(ds, "batch", lambda ids: asked.extend(ids.tolist()) or batch(ids))
    probes = Probes(None, ds, get("logmel_gl", sr=ds.sr, length=ds.length), ds.label_names, 8, 0)
    probes._real_probe()  # noqa: SLF001
    assert asked and not set(asked) & held

    # Every held-out clip gets one rule, every training clip a rule of its own: counted, the
    # held-out rule would be each class's largest kind.
    calls = iter(range(len(ds)))
    monkeypatch.setattr(kinds.gestures, "features", lambda wave, sr: next(calls))
    monkeypatch.setattr(kinds.gestures, "rule", lambda i: "held" if i in held else f"kept{i}")
    table = kinds.find(ds).table
    assert table and all(k["rule"].startswith("kept") for k in table)


def test_the_classifier_neither_learns_nor_validates_on_held_out_clips(held_out):
    from gesturegan.classifier import ClassifierConfig, evaluate, train
    from gesturegan.config import from_dict

    out = held_out / "clf"
    train(held_out / "data", out, from_dict(ClassifierConfig, {**TINY_CLASSIFIER, "max_epochs": 1}))
    ds = Dataset.open(held_out / "data")
    with open(out / "split.csv", newline="") as f:
        split = {int(row["id"]): row["split"] for row in csv.DictReader(f)}
    assert {i for i, s in split.items() if s == "holdout"} == set(ds.holdout_ids.tolist())
    # The evaluation side measures the held-out clips (and the classifier's own test split).
    r = evaluate(out, held_out / "data")
    assert r.n_held_out >= len(ds.holdout_ids)


def test_holdout_options_are_checked_in_one_line(held_out, tmp_path, capsys):
    src = held_out / "src"
    with pytest.raises(UserError, match=r"holdout is a share of the source files in \[0, 1\)"):
        prepare(src, tmp_path / "a", holdout=1.0, workers=1)
    with pytest.raises(UserError, match="no --holdout with --shard"):
        prepare(src, tmp_path / "a", holdout=0.1, shard=(1, 2), workers=1)
    assert main(["prepare", str(src), str(tmp_path / "b"), "--holdout", "-0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "holdout" in err
    assert not (tmp_path / "b").exists()
    # Without --holdout nothing is held out.
    prepare(src, tmp_path / "c", workers=1)
    ds = Dataset.open(tmp_path / "c")
    assert len(ds.holdout_ids) == 0 and np.array_equal(ds.train_ids, np.arange(len(ds)))


def test_the_independent_judge_grades_against_the_held_out_clips(held_out):
    from gesturegan.evaluation.run import independent_judge

    ds = Dataset.open(held_out / "data")
    fake = np.random.default_rng(0).uniform(-0.5, 0.5, (2 * 4, ds.length)).astype(np.float32)
    comparison, against = independent_judge(ds, ["hit", "tone"], fake, 4, JudgeConfig(seed=0))
    assert comparison.n_a == len(ds.holdout_ids) and "held-out" in against
