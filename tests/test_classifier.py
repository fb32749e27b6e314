"""The CNN classifier: split by source, metrics on known answers, augmentation, the model's level
invariance, the classifier folder and its inference API, eval / label / sort with a model, and
generalisation to held-out clips of the built-in corpus."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
import yaml

from gesturegan.classifier import (
    AugmentConfig,
    Classifier,
    ClassifierConfig,
    evaluate,
    train,
)
from gesturegan.classifier import metrics as cm
from gesturegan.classifier.augment import augment
from gesturegan.classifier.model import GestureCNN
from gesturegan.classifier.split import split_by_source
from gesturegan.classifier.train import epoch_order
from gesturegan.cli import main
from gesturegan.config import from_dict
from gesturegan.dataset import Dataset
from gesturegan.errors import UserError

from .conftest import TINY_CLASSIFIER

SR = 22050
LENGTH = 16384


# --- Split ---------------------------------------------------------------------------------------


def test_split_keeps_groups_together_and_stratifies_by_class():
    rng = np.random.default_rng(0)
    labels, groups = [], []
    for c, n_groups in enumerate((20, 40, 2)):
        for g in range(n_groups):
            for _ in range(rng.integers(1, 4)):  # 1-3 clips per source file
                labels.append(c)
                groups.append(f"class{c}-file{g}")
    labels = np.array(labels)
    split = split_by_source(labels, groups, 0.15, 0.15, seed=1)
    by_group: dict[str, set] = {}
    for g, s in zip(groups, split, strict=True):
        by_group.setdefault(g, set()).add(s)
    assert all(len(s) == 1 for s in by_group.values())
    per_class = {
        c: {s: len({g for g, l, x in zip(groups, labels, split, strict=True) if l == c and x == s})
            for s in ("train", "val", "test")}
        for c in range(3)
    }  # fmt: skip
    assert per_class[0] == {"train": 14, "val": 3, "test": 3}
    assert per_class[1] == {"train": 28, "val": 6, "test": 6}
    assert per_class[2] == {"train": 2, "val": 0, "test": 0}  # too few files to hold any out
    assert (split_by_source(labels, groups, 0.15, 0.15, seed=1) == split).all()
    assert not (split_by_source(labels, groups, 0.15, 0.15, seed=2) == split).all()


# --- Metrics -------------------------------------------------------------------------------------


def test_metrics_on_a_known_case():
    m = cm.summary(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]), ["a", "b", "c", "d"])
    assert m["n"] == 5 and m["accuracy"] == pytest.approx(0.6)
    assert m["per_class_recall"] == {"a": 0.5, "b": 1.0, "c": 0.0, "d": None}
    # F1: a 0.5, b 0.8, c 0; d has no examples and is not averaged.
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert m["confusion"] == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]


# --- Augmentation --------------------------------------------------------------------------------


def _click_train(b: int = 4) -> torch.Tensor:
    x = torch.zeros(b, LENGTH)
    x[:, 2000] = 0.5
    return x


def test_augmentation_is_seeded_bounded_and_changes_the_clip():
    x = _click_train() + 0.01 * torch.randn(4, LENGTH, generator=torch.Generator().manual_seed(0))
    cfg = AugmentConfig()
    a = augment(x, SR, cfg, torch.Generator().manual_seed(3))
    b = augment(x, SR, cfg, torch.Generator().manual_seed(3))
    c = augment(x, SR, cfg, torch.Generator().manual_seed(4))
    assert a.shape == x.shape and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.abs().max() <= 1.0
    assert not torch.allclose(a, x, atol=1e-3)


def test_augmentation_switched_off_is_the_identity():
    x = torch.randn(3, LENGTH) * 0.1
    off = AugmentConfig(gain_db=0, shift_s=(0.0, 0.0), noise_p=0, eq_p=0)
    torch.testing.assert_close(augment(x, SR, off, torch.Generator()), x, atol=1e-5, rtol=0)


def test_time_shift_moves_the_click_within_its_range():
    cfg = AugmentConfig(gain_db=0, shift_s=(-0.01, 0.05), noise_p=0, eq_p=0)
    y = augment(_click_train(64), SR, cfg, torch.Generator().manual_seed(0))
    moved = (y.abs().argmax(dim=1) - 2000).numpy() / SR
    assert moved.min() >= -0.01 - 1e-4 and moved.max() <= 0.05 + 1e-4
    assert moved.std() > 0.005


# --- Epoch order ---------------------------------------------------------------------------------


def test_a_plain_epoch_sees_every_training_clip_once():
    labels = np.array([0] * 90 + [1] * 9 + [2])
    ids = np.arange(100) + 1000
    order = epoch_order(labels, ids, False, torch.Generator().manual_seed(0))
    assert sorted(order) == list(ids) and not np.array_equal(order, ids)


def test_a_balanced_epoch_draws_every_class_equally_often():
    labels = np.array([0] * 900 + [1] * 90 + [2] * 10)
    ids = np.arange(1000) + 5000
    order = epoch_order(labels, ids, True, torch.Generator().manual_seed(0))
    assert len(order) == len(ids) and np.isin(order, ids).all()
    share = np.bincount(labels[order - 5000], minlength=3) / len(order)
    np.testing.assert_allclose(share, 1 / 3, atol=0.05)
    assert len(np.unique(order[labels[order - 5000] == 2])) == 10  # every rare clip is drawn
    again = epoch_order(labels, ids, True, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(order, again)  # seeded


def test_a_classifier_trains_with_balanced_draws_and_records_them(tiny_dataset, tmp_path):
    cfg = from_dict(ClassifierConfig, {**TINY_CLASSIFIER, "max_epochs": 1, "min_epochs": 0,
                                       "balanced_sampling": True})
    summary = train(tiny_dataset, tmp_path / "clf", cfg)
    assert summary.epochs == 1 and "test" in summary.metrics
    assert yaml.safe_load((tmp_path / "clf" / "config.yaml").read_text())["balanced_sampling"]


# --- Model ---------------------------------------------------------------------------------------


def test_model_gives_logits_and_embedding_and_ignores_level():
    torch.manual_seed(0)
    model = GestureCNN(5, channels=(4, 8, 8), embed_dim=12).eval()
    image = torch.rand(3, 1, 128, 128) * 2 - 1
    logits, emb = model(image)
    assert logits.shape == (3, 5) and emb.shape == (3, 12)
    assert (emb >= 0).all()  # after a ReLU
    louder, _ = model(image + 0.3)
    torch.testing.assert_close(louder, logits)
    # Any image size works (e.g. 256x256 for 65536-sample clips).
    assert model(torch.rand(2, 1, 256, 256))[0].shape == (2, 5)


def test_pooling_averages_rows_and_columns_before_the_convolutions():
    model = GestureCNN(3, channels=(4,), freq_pool=4, time_pool=2)
    pool = model.features[0]
    assert isinstance(pool, torch.nn.AvgPool2d) and pool.kernel_size == (4, 2)
    image = torch.arange(16.0).repeat(8, 1)[None, None]  # [1, 1, 8, 16]: column t holds t
    torch.testing.assert_close(pool(image)[0, 0, 0], torch.arange(8.0) * 2 + 0.5)
    # 256 x 256 (a 65536-sample clip) reaches the convolutions as 64 x 128, like 128 x 128 with
    # the default freq_pool 2.
    assert pool(torch.zeros(1, 1, 256, 256)).shape[-2:] == (64, 128)
    assert not isinstance(GestureCNN(3, freq_pool=1).features[0], torch.nn.AvgPool2d)


def test_config_rejects_bad_values_in_one_line():
    with pytest.raises(UserError, match="dropout"):
        from_dict(ClassifierConfig, {"dropout": 1.5})
    with pytest.raises(UserError, match="unknown option"):
        from_dict(ClassifierConfig, {"epochs": 3})
    with pytest.raises(UserError, match="shift_s"):
        from_dict(ClassifierConfig, {"augment": {"shift_s": [0.1, -0.1]}})


# --- The classifier folder and its API -----------------------------------------------------------


def test_train_writes_a_complete_classifier_folder(tiny_classifier, tiny_dataset):
    for name in (
        "config.yaml", "classifier.safetensors", "classifier.json", "split.csv", "history.csv",
        "metrics.json", "confusion.png",
    ):  # fmt: skip
        assert (tiny_classifier / name).is_file(), name
    assert not list(tiny_classifier.glob(".*"))  # no temporary files left behind
    cfg = yaml.safe_load((tiny_classifier / "config.yaml").read_text())
    assert from_dict(ClassifierConfig, cfg).channels == (4, 8)
    report = json.loads((tiny_classifier / "metrics.json").read_text())
    assert {"train", "val", "test", "gap_points", "best_epoch"} <= set(report)
    assert report["test"]["n"] == 2  # one source file per class held out for testing
    assert math.isclose(
        report["gap_points"], 100 * (report["train"]["accuracy"] - report["test"]["accuracy"])
    )
    with pytest.raises(UserError, match="already holds a classifier"):
        train(tiny_dataset, tiny_classifier, from_dict(ClassifierConfig, TINY_CLASSIFIER))


def test_classifier_api_embeds_and_classifies(tiny_classifier, tiny_dataset):
    clf = Classifier.load(tiny_classifier)
    ds = Dataset.open(tiny_dataset)
    assert clf.label_names == ds.label_names and (clf.sr, clf.length) == (SR, LENGTH)
    waves, _ = ds.batch(np.arange(5))
    emb, probs = clf.outputs(waves)
    assert emb.shape == (5, clf.embed_dim) == (5, 16) and emb.dtype == np.float32
    assert probs.shape == (5, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(clf.embed(waves), emb)
    assert clf.predict(waves[0]) == [clf.label_names[int(probs[0].argmax())]]
    # The same weights give the same numbers after a reload.
    np.testing.assert_array_equal(Classifier.load(tiny_classifier).embed(waves), emb)
    with pytest.raises(UserError, match="16384 samples"):
        clf.embed(np.zeros((2, 1000), dtype=np.float32))


def test_a_classifier_saved_before_time_pool_and_kind_loads_as_it_was_trained(
    tiny_classifier, tiny_dataset, tmp_path
):
    old = tmp_path / "old"
    shutil.copytree(tiny_classifier, old)
    meta = json.loads((old / "classifier.json").read_text())
    assert meta["model"].pop("time_pool") == 1
    assert meta["model"].pop("kind") == "cnn"  # nor named its kind of model
    (old / "classifier.json").write_text(json.dumps(meta))
    waves, _ = Dataset.open(tiny_dataset).batch(np.arange(3))
    np.testing.assert_array_equal(
        Classifier.load(old).embed(waves), Classifier.load(tiny_classifier).embed(waves)
    )


def test_loading_something_else_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no trained classifier"):
        Classifier.load(tmp_path)


def test_eval_measures_only_held_out_clips(tiny_classifier, tiny_dataset, tmp_path, capsys):
    r = evaluate(tiny_classifier, tiny_dataset, out=tmp_path / "eval")
    assert r.n_held_out == 2 and r.n_seen == 10 and r.n_unknown_label == 0
    assert (tmp_path / "eval" / "confusion.png").is_file()
    assert main(["classifier", "eval", str(tiny_classifier), str(tiny_dataset), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    data = json.loads(out)
    assert data["n_held_out"] == 2 and {"accuracy", "macro_f1", "per_class_recall"} <= set(data)


def test_label_and_sort_with_a_model(tiny_classifier, tmp_path, capsys):
    from gesturegan.classifier import Classifier
    from gesturegan.dataset.clip import fit_file
    from gesturegan.labeling import label_files
    from gesturegan.sorting import sort_files

    from .conftest import write_tiny_sounds

    src = write_tiny_sounds(tmp_path / "new", per_class=2, seed=5)
    report = label_files(src, tiny_classifier)
    assert len(report.decisions) == 4
    clf = Classifier.load(tiny_classifier)
    for d in report.decisions:  # the classifier's own verdict on the file's clip, and its odds
        clip = fit_file(str(d.path), clf.sr, clf.length, clf.align).wave
        probs = clf.probabilities(clip[None])[0]
        best = int(np.argmax(probs))
        assert d.method == "classifier" and d.category == clf.label_names[best]
        assert d.confidence == pytest.approx(float(probs[best]), abs=1e-6)
        top = f"classifier: {clf.label_names[best]} {probs[best]:.2f}, "
        assert d.explanation.startswith(top) and "envelope rules say" in d.explanation
    s = sort_files(src, tmp_path / "sorted", model=tiny_classifier)
    assert sum(s.counts.values()) == 4
    assert main(["label", str(src), "--model", str(tiny_classifier)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 4


def test_classifier_train_cli_needs_labels(tmp_path, tiny_dataset, capsys):
    from gesturegan.dataset import prepare

    from .conftest import write_tiny_sounds

    src = write_tiny_sounds(tmp_path / "src", per_class=2)
    prepare(src, tmp_path / "unlabelled", workers=1)
    assert (
        main(["classifier", "train", str(tmp_path / "unlabelled"), "--out", str(tmp_path / "c")])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "needs labels" in err


# --- Generalisation ------------------------------------------------------------------------------


@pytest.mark.slow
def test_classifier_generalises_to_held_out_corpus_clips(tmp_path):
    """The default network on a smaller corpus than the documented measurement (40 clips per class
    instead of 64, at most 40 epochs): held-out accuracy and the train-test gap."""
    from gesturegan.corpus import write_corpus
    from gesturegan.dataset import prepare

    corpus = write_corpus(tmp_path / "corpus", per_class=40, seed=3)
    prepare(corpus.out, tmp_path / "data", labels_csv=corpus.labels_csv, workers=1)
    threads = torch.get_num_threads()
    # One thread: these small convolutions gain little from a second one, and lose much when the
    # cores are shared with other work; one thread also makes the run exactly repeatable.
    torch.set_num_threads(1)
    try:
        s = train(tmp_path / "data", tmp_path / "clf", ClassifierConfig(max_epochs=40, seed=0))
    finally:
        torch.set_num_threads(threads)
    test = s.metrics["test"]
    assert test["n"] == 24  # six source files per class never seen in training
    assert test["accuracy"] >= 0.90, test
    assert test["macro_f1"] >= 0.90, test
    assert s.gap_points <= 10, s.gap_points


def test_min_confidence_sends_the_doubtful_files_to_unsure(tiny_classifier, tmp_path, capsys):
    import csv
    import hashlib

    from gesturegan.labeling import label_files
    from gesturegan.sorting import sort_files

    from .conftest import write_tiny_sounds

    src = write_tiny_sounds(tmp_path / "new", per_class=3, seed=5)
    before = {p: hashlib.sha1(p.read_bytes()).hexdigest() for p in src.rglob("*.wav")}
    sure = label_files(src, tiny_classifier)
    p = float(np.median([d.confidence for d in sure.decisions]))
    doubtful = {d.file for d in sure.decisions if d.confidence < p}
    assert 0 < len(doubtful) < len(sure.decisions)
    report = label_files(src, tiny_classifier, min_confidence=p)
    assert {d.file for d in report.decisions if d.unsure} == doubtful
    for d, plain in zip(report.decisions, sure.decisions, strict=True):
        assert d.category == plain.category and set(d.scores) == {"hit", "tone"}
        assert d.place == ("unsure" if d.unsure else d.category)
        assert ("unsure (best" in d.explanation) == d.unsure
    assert report.counts()["unsure"] == len(doubtful)

    s = sort_files(src, tmp_path / "sorted", model=tiny_classifier, min_confidence=p)
    unsure = {q.name for q in (tmp_path / "sorted" / "unsure").iterdir()}
    assert unsure == {f.split("/")[-1] for f in doubtful} and s.counts["unsure"] == len(doubtful)
    with open(tmp_path / "sorted" / "sort.csv", newline="") as f:
        rows = {row["file"]: row for row in csv.DictReader(f)}
    for f in doubtful:
        assert rows[f]["placed"].startswith("unsure/") and "hit " in rows[f]["scores"]
    # Without the minimum the doubtful files move to their best guess; the sources never change.
    s = sort_files(src, tmp_path / "sorted", model=tiny_classifier)
    assert s.removed == len(doubtful) and not (tmp_path / "sorted" / "unsure").exists()
    assert before == {q: hashlib.sha1(q.read_bytes()).hexdigest() for q in src.rglob("*.wav")}

    assert main(["label", str(src), "--model", str(tiny_classifier), "--min-confidence", str(p)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert sum(line.split("\t")[1] == "unsure" for line in lines) == len(doubtful)


@pytest.mark.parametrize("p", ["1.5", "-0.1"])
def test_min_confidence_outside_0_1_is_a_one_line_error(tiny_classifier, tmp_path, capsys, p):
    from .conftest import write_tiny_sounds

    src = write_tiny_sounds(tmp_path / "new", per_class=1)
    for verb in (["label", str(src)], ["sort", str(src), str(tmp_path / "out")]):
        assert main([*verb, "--model", str(tiny_classifier), "--min-confidence", p]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "probability in [0, 1]" in err
    assert not (tmp_path / "out").exists()
    assert main(["sort", str(src), str(tmp_path / "out"), "--min-confidence", "0.5"]) == 2
    assert "needs --model" in capsys.readouterr().err
