"""The classifier's ``model: features``: a random forest on the labeler's envelope features, its
own traversal of the saved trees, the classifier folder it writes, and inference through the same
``Classifier`` API as the CNN's."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file
from sklearn.ensemble import RandomForestClassifier

from gesturegan.classifier import Classifier, ClassifierConfig, evaluate, train
from gesturegan.classifier.forest import Forest, clip_features, feature_names
from gesturegan.cli import main
from gesturegan.config import from_dict
from gesturegan.dataset import Dataset
from gesturegan.errors import UserError

FOREST = {"model": "features", "trees": 20}


@pytest.fixture(scope="module")
def forest_classifier(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("forest") / "forest"
    train(tiny_dataset, out, from_dict(ClassifierConfig, FOREST))
    return out


def test_the_saved_trees_give_scikit_learns_probabilities():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 5)) * np.array([1, 10, 0.1, 1e3, 1])
    y = (x[:, 0] + x[:, 1] / 10 > 0).astype(int) + 2 * (x[:, 3] > 500)  # classes 0, 1, 2, 3
    y[y == 1] = 4  # class 1 never seen: a column of zeros; class 4 of 5 seen
    names = tuple("abcde")
    forest = Forest.fit(x, y, 5, names, trees=25, min_leaf=2, seed=3)
    rf = RandomForestClassifier(
        25, min_samples_leaf=2, class_weight="balanced", random_state=3, n_jobs=1
    ).fit(x, y)
    test = rng.standard_normal((200, 5)) * np.array([1, 10, 0.1, 1e3, 1])
    probs = forest.probabilities(test)
    assert probs.shape == (200, 5) and (probs[:, 1] == 0).all()
    np.testing.assert_allclose(probs[:, rf.classes_], rf.predict_proba(test), atol=1e-12)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    # Thresholds sit between training values: a training clip's own values traverse alike.
    np.testing.assert_allclose(forest.probabilities(x)[:, rf.classes_], rf.predict_proba(x))
    # Saved and read back, the arrays give the same numbers.
    again = Forest.from_tensors(forest.tensors(), list(names), 5)
    np.testing.assert_array_equal(again.probabilities(test), probs)
    with pytest.raises(ValueError, match="do not fit"):
        Forest.from_tensors(forest.tensors(), list(names[:4]), 5)
    tensors = forest.tensors()
    del tensors["roots"]
    with pytest.raises(ValueError, match="lacks roots"):
        Forest.from_tensors(tensors, list(names), 5)


def test_clip_features_are_the_labelers_features_in_name_order():
    from gesturegan.gestures import features

    sr = 11025
    t = np.arange(8192) / sr
    waves = np.stack([np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.05), 0.3 * np.sin(9 * t)])
    names = feature_names(sr)
    assert list(names) == sorted(features(waves[0], sr)) and len(names) > 20
    x = clip_features(waves, sr, names)
    assert x.shape == (2, len(names))
    assert x[0, names.index("decay_20_s")] == features(waves[0], sr)["decay_20_s"]


def test_a_forest_classifier_folder_and_its_inference(forest_classifier, tiny_dataset):
    for name in ("config.yaml", "classifier.safetensors", "classifier.json", "split.csv",
                 "history.csv", "metrics.json", "confusion.png"):  # fmt: skip
        assert (forest_classifier / name).is_file(), name
    assert not list(forest_classifier.glob(".*"))
    cfg = yaml.safe_load((forest_classifier / "config.yaml").read_text())
    assert (cfg["model"], cfg["trees"]) == ("features", 20)
    meta = json.loads((forest_classifier / "classifier.json").read_text())
    assert meta["model"]["kind"] == "features" and "repr" not in meta
    report = json.loads((forest_classifier / "metrics.json").read_text())
    assert report["epochs"] == 1 and report["best_epoch"] == 1
    assert report["test"]["n"] == 2 and report["test"]["accuracy"] == 1.0  # hits against tones

    clf = Classifier.load(forest_classifier)
    assert isinstance(clf.model, Forest) and clf.embed_dim == len(meta["model"]["features"])
    ds = Dataset.open(tiny_dataset)
    waves, labels = ds.batch(np.arange(len(ds)))
    emb, probs = clf.outputs(waves)
    assert emb.shape == (len(ds), clf.embed_dim) and emb.dtype == probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert clf.predict(waves) == [ds.label_names[k] for k in labels]
    # The embedding is the standardised features: mean 0 and spread 1 over the training clips.
    split = np.loadtxt(forest_classifier / "split.csv", dtype=str, delimiter=",", skiprows=1)
    train_emb = emb[[int(i) for i, *_, s in split if s == "train"]]
    np.testing.assert_allclose(train_emb.mean(axis=0), 0.0, atol=1e-5)
    r = evaluate(forest_classifier, tiny_dataset)
    assert r.n_held_out == 2 and r.metrics["accuracy"] == 1.0


def test_a_forest_grows_the_same_from_the_same_seed(forest_classifier, tiny_dataset, tmp_path):
    train(tiny_dataset, tmp_path / "again", from_dict(ClassifierConfig, FOREST))
    a = load_file(str(forest_classifier / "classifier.safetensors"))
    b = load_file(str(tmp_path / "again" / "classifier.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    train(tiny_dataset, tmp_path / "other", from_dict(ClassifierConfig, {**FOREST, "seed": 1}))
    c = load_file(str(tmp_path / "other" / "classifier.safetensors"))
    assert not torch.equal(a["threshold"], c["threshold"])


def test_label_and_sort_with_a_forest(forest_classifier, tmp_path, capsys):
    from gesturegan.labeling import label_files
    from gesturegan.sorting import sort_files

    from .conftest import write_tiny_sounds

    src = write_tiny_sounds(tmp_path / "new", per_class=2, seed=5)
    report = label_files(src, forest_classifier)
    assert [d.category for d in report.decisions] == [d.path.parent.name for d in report.decisions]
    assert all(d.method == "classifier" for d in report.decisions)
    assert main(["label", str(src), "--model", str(forest_classifier)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 4
    sorted_ = sort_files(src, tmp_path / "sorted", model=forest_classifier, min_confidence=0.5)
    assert sorted_.counts == {"hit": 2, "tone": 2}
    hits = sorted(p.name for p in (tmp_path / "sorted" / "hit").iterdir())
    assert hits == ["hit_0.wav", "hit_1.wav"]


def test_a_damaged_forest_is_a_one_line_error(forest_classifier, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(forest_classifier, bad)
    meta = json.loads((bad / "classifier.json").read_text())
    meta["model"]["features"] = meta["model"]["features"][:3]
    (bad / "classifier.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="forest does not match classifier.json"):
        Classifier.load(bad)
    shutil.copy(forest_classifier / "classifier.json", bad / "classifier.json")
    tensors = load_file(str(bad / "classifier.safetensors"))
    del tensors["value"]
    save_file(tensors, str(bad / "classifier.safetensors"))
    with pytest.raises(UserError, match="lacks value"):
        Classifier.load(bad)
    meta = json.loads((forest_classifier / "classifier.json").read_text())
    meta["label_names"] = meta["label_names"] + ["swell"]
    (bad / "classifier.json").write_text(json.dumps(meta))
    shutil.copy(forest_classifier / "classifier.safetensors", bad / "classifier.safetensors")
    with pytest.raises(UserError, match="leaves score 2 classes, the label list has 3"):
        Classifier.load(bad)


def test_an_unknown_model_is_refused_in_one_line():
    with pytest.raises(UserError, match="classifier.model: must be one of cnn, features"):
        from_dict(ClassifierConfig, {"model": "svm"}, "classifier")


def test_the_example_config_grows_a_forest():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "classifier-features.yaml"
    cfg = from_dict(ClassifierConfig, yaml.safe_load(path.read_text()), str(path))
    assert (cfg.model, cfg.trees, cfg.min_leaf) == ("features", 500, 2)
