"""A classifier judged on a library it never saw: the library-aware split, the leave-one-library-out
table, and the augmentations for library shift (speed, band limit, room)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
import yaml

from gesturegan.classifier import AugmentConfig, ClassifierConfig
from gesturegan.classifier.augment import add_room, augment, band_limit_gain, change_speed
from gesturegan.classifier.lolo import dataset_libraries, leave_one_library_out
from gesturegan.classifier.split import (
    clip_libraries,
    read_groups,
    split_by_library,
    split_holding_out,
)
from gesturegan.cli import main
from gesturegan.config import from_dict
from gesturegan.errors import UserError

from .conftest import TINY_CLASSIFIER, write_tiny_sounds

SR = 22050
LENGTH = 16384


# --- Split ---------------------------------------------------------------------------------------


def test_holding_out_a_library_shares_no_library_and_no_file_with_training():
    rng = np.random.default_rng(0)
    labels, keys, libs = [], [], []
    for lib in ("a", "b", "c"):
        for c in range(2):
            for g in range(6):
                for _ in range(rng.integers(1, 3)):
                    labels.append(c)
                    keys.append(f"{lib}-{c}-{g}")
                    libs.append(lib)
    # The same file contents in library a and in library c (a sound shipped by both).
    labels.append(0)
    keys.append("a-0-0")
    libs.append("c")
    split = split_holding_out(np.array(labels), keys, libs, "a", 0.2, seed=0)
    assert set(split) == {"train", "val", "test", "unused"}
    assert all((s == "test") == (lib == "a") for s, lib in zip(split[:-1], libs, strict=False))
    assert split[-1] == "unused"  # shares its contents with a held-out file
    learnt = {k for k, s in zip(keys, split, strict=True) if s in ("train", "val")}
    tested = {k for k, s in zip(keys, split, strict=True) if s == "test"}
    assert not learnt & tested
    assert {lib for lib, s in zip(libs, split, strict=True) if s in ("train", "val")} == {"b", "c"}
    # Validation comes from the training libraries, whole source files at a time.
    for k in {k for k, s in zip(keys, split, strict=True) if s == "val"}:
        assert {s for kk, s in zip(keys, split, strict=True) if kk == k} == {"val"}
    with pytest.raises(UserError, match="no clip is in library 'd'"):
        split_holding_out(np.array(labels), keys, libs, "d", 0.2, seed=0)
    with pytest.raises(UserError, match="only library"):
        split_holding_out(np.zeros(3), ["x", "y", "z"], ["a"] * 3, "a", 0.2, seed=0)


def test_train_only_libraries_are_trained_on_and_never_measured():
    labels, keys, libs = [], [], []
    for lib in ("a", "b", "corpus"):
        for c in range(2):
            for g in range(6):
                labels.append(c)
                keys.append(f"{lib}-{c}-{g}")
                libs.append(lib)
    labels.append(0)  # the corpus ships a file of library a
    keys.append("a-0-0")
    libs.append("corpus")
    labels, corpus = np.array(labels), np.array([lib == "corpus" for lib in libs])
    rest = np.flatnonzero(~corpus)
    for holdout in (None, "a"):
        split = split_by_library(labels, keys, libs, holdout, ("corpus",), (0.2, 0.2), seed=0)
        assert set(split[corpus][:-1]) == {"train"}
        measured = {k for k, s in zip(keys, split, strict=True) if s in ("val", "test")}
        assert split[-1] == ("unused" if "a-0-0" in measured else "train")
        assert {"val", "test"} <= set(split[~corpus])
        # The other libraries are split as without the corpus, clip for clip.
        alone = split_by_library(labels[rest], [keys[i] for i in rest], [libs[i] for i in rest],
                                 holdout, (), (0.2, 0.2), seed=0)  # fmt: skip
        assert list(split[rest]) == list(alone)
    assert split[-1] == "unused"  # library a is the test: its file in the corpus is not learnt
    assert {lib for s, lib in zip(split, libs, strict=True) if s == "test"} == {"a"}
    with pytest.raises(UserError, match="no clip is in train-only library 'extra'"):
        split_by_library(labels, keys, libs, None, ("extra",), (0.2, 0.2), seed=0)
    with pytest.raises(UserError, match="'corpus' cannot be both held out and train-only"):
        split_by_library(labels, keys, libs, "corpus", ("corpus",), (0.2, 0.2), seed=0)


def test_libraries_come_from_the_first_folder_or_a_groups_csv(tmp_path):
    sources = ["lmms/drums/kick.wav", "freedesktop/bell.oga", "top.wav"]
    assert clip_libraries(sources, tmp_path) == ["lmms", "freedesktop", ""]
    (tmp_path / "groups.csv").write_text(
        "file,label,library\nlmms/drums/kick.wav,trigger,kit-1\nfreedesktop/bell.oga,trigger,\n"
    )
    groups = read_groups(tmp_path / "groups.csv", tmp_path)
    assert clip_libraries(sources, tmp_path, groups) == ["kit-1", "", ""]
    (tmp_path / "bad.csv").write_text("file,label\nx.wav,a\n")
    with pytest.raises(UserError, match="columns file,library"):
        read_groups(tmp_path / "bad.csv", tmp_path)


# --- Leave one library out -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_libraries(tmp_path_factory):
    """A labelled dataset of two libraries (folders ``one`` and ``two``), three files per class
    each, the libraries' hits and tones drawn differently."""
    from gesturegan.dataset import prepare

    root = tmp_path_factory.mktemp("libs")
    rows = ["file,label"]
    for lib, seed in (("one", 1), ("two", 2)):
        write_tiny_sounds(root / "src" / lib, per_class=3, seed=seed)
        rows += [f"{p.relative_to(root / 'src').as_posix()},{p.parent.name}"
                 for p in sorted((root / "src" / lib).rglob("*.wav"))]  # fmt: skip
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    prepare(root / "src", root / "data", labels_csv=root / "labels.csv", workers=1)
    return root / "data"


def test_lolo_trains_one_fold_per_library_and_writes_the_table(two_libraries, tmp_path):
    assert dataset_libraries(two_libraries) == {"one": 6, "two": 6}
    cfg = from_dict(ClassifierConfig, {**TINY_CLASSIFIER, "max_epochs": 1})
    r = leave_one_library_out(two_libraries, tmp_path / "lolo", cfg)
    assert [row["library"] for row in r.rows] == ["one", "two"]
    for row in r.rows:
        assert row["n"] == 6 and 0 <= row["macro_f1"] <= 1 and row["val_n"] == 2
        assert np.array(row["confusion"]).sum() == 6
        with open(tmp_path / "lolo" / row["library"] / "split.csv", newline="") as f:
            split = list(csv.DictReader(f))
        for clip in split:
            held_out = clip["source"].startswith(row["library"] + "/")
            assert (clip["split"] == "test") == held_out
    assert r.pooled["n"] == 12
    assert r.pooled["accuracy"] == pytest.approx(
        sum(row["accuracy"] * row["n"] for row in r.rows) / 12
    )
    table = json.loads((tmp_path / "lolo" / "lolo.json").read_text())
    assert table["labels"] == ["hit", "tone"] and len(table["rows"]) == 2
    md = (tmp_path / "lolo" / "lolo.md").read_text()
    assert "| one | 6 |" in md and "Confusion, held-out two" in md
    with pytest.raises(UserError, match="already holds a classifier"):
        leave_one_library_out(two_libraries, tmp_path / "lolo", cfg)


def test_lolo_needs_two_libraries_and_known_names(two_libraries, tmp_path):
    from gesturegan.dataset import Dataset

    sources = [row["source"] for row in Dataset.open(two_libraries).manifest]
    (tmp_path / "one.csv").write_text("file,library\n" + "".join(f"{s},all\n" for s in sources))
    cfg = ClassifierConfig(groups=str(tmp_path / "one.csv"))
    with pytest.raises(UserError, match="1 library \\(all\\); leaving one out needs at least two"):
        leave_one_library_out(two_libraries, tmp_path / "x", cfg)
    with pytest.raises(UserError, match="no library 'three'"):
        leave_one_library_out(two_libraries, tmp_path / "y", libraries=["three"])


def test_classifier_train_holds_out_a_library_from_the_cli(two_libraries, tmp_path, capsys):
    out = tmp_path / "clf"
    args = ["classifier", "train", str(two_libraries), "--out", str(out), "--epochs", "1"]
    assert main([*args, "--holdout-library", "two"]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["holdout_library"] == "two" and report["test"]["n"] == 6
    capsys.readouterr()
    assert main([*args, "--holdout-library", "nope", "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no clip is in library 'nope'" in err


def test_classifier_train_only_trains_on_a_library_from_the_cli(two_libraries, tmp_path):
    out = tmp_path / "clf"
    args = ["classifier", "train", str(two_libraries), "--out", str(out), "--epochs", "1"]
    assert main([*args, "--train-only", "two"]) == 0
    with open(out / "split.csv", newline="") as f:
        split = [(row["source"].split("/")[0], row["split"]) for row in csv.DictReader(f)]
    assert {s for lib, s in split if lib == "two"} == {"train"}
    assert {s for lib, s in split if lib == "one"} == {"train", "val", "test"}
    assert yaml.safe_load((out / "config.yaml").read_text())["train_only"] == ["two"]


# --- Augmentation for library shift --------------------------------------------------------------


def _click(b: int = 4, at: int = 2000) -> torch.Tensor:
    x = torch.zeros(b, LENGTH)
    x[:, at] = 0.5
    return x


def test_speed_moves_a_click_by_its_factor():
    y = change_speed(_click(2), torch.tensor([2.0, 0.5]))
    assert y[0].abs().argmax() == 1000 and y[1].abs().argmax() == 4000
    torch.testing.assert_close(change_speed(_click(1), torch.tensor([1.0])), _click(1))


def test_band_limit_removes_what_lies_above_its_cut_off():
    freqs = torch.tensor([100.0, 3000.0, 4000.0, 8000.0])
    gain = band_limit_gain(freqs, torch.tensor([4000.0, float("inf")]))
    assert gain[0].tolist()[:2] == [1.0, 1.0] and gain[0, 2] == 0.0 and gain[0, 3] == 0.0
    assert gain[1].tolist() == [1.0] * 4


def test_a_room_adds_a_tail_as_long_as_its_reverberation_time():
    gen = torch.Generator().manual_seed(0)
    x = _click(3)
    y = add_room(x, SR, torch.tensor([0.0, 0.1, 0.5]), torch.full((3,), 0.3), gen)
    torch.testing.assert_close(y[0], x[0])  # rt60 0: no room

    def tail_s(w: torch.Tensor) -> float:  # last time within 40 dB of the peak
        loud = np.flatnonzero(w.abs().numpy() > w.abs().max().item() * 0.01)
        return (loud[-1] - 2000) / SR

    assert 0.03 < tail_s(y[1]) < tail_s(y[2]) < 0.5
    energy = y.pow(2).sum(dim=1)
    torch.testing.assert_close(energy[1:], x.pow(2).sum(dim=1)[1:], rtol=0.1, atol=0)


def test_library_shift_augmentation_is_seeded_and_bounded():
    cfg = AugmentConfig(reverb_p=1.0, band_p=1.0, speed_p=1.0)
    x = _click() + 0.01 * torch.randn(4, LENGTH, generator=torch.Generator().manual_seed(0))
    a = augment(x, SR, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(a, augment(x, SR, cfg, torch.Generator().manual_seed(1)))
    assert a.shape == x.shape and a.abs().max() <= 1.0
    assert not torch.allclose(a, augment(x, SR, AugmentConfig(), torch.Generator().manual_seed(1)))
    with pytest.raises(UserError, match="reverb_wet"):
        from_dict(AugmentConfig, {"reverb_wet": [0.2, 1.5]})
    with pytest.raises(UserError, match=r"band_p: must be in \[0, 1\]"):
        from_dict(AugmentConfig, {"band_p": 2})


def test_classifier_lolo_cli_prints_the_table(two_libraries, tmp_path, capsys):
    out = tmp_path / "lolo"
    args = ["classifier", "lolo", str(two_libraries), "--out", str(out), "--library", "one"]
    assert main([*args, "--epochs", "1"]) == 0
    captured = capsys.readouterr()
    assert "training without one" in captured.err
    assert "one: accuracy" in captured.out and "all (pooled)" in captured.out
    assert (out / "lolo.md").is_file() and not (out / "two").exists()


def test_lolo_never_holds_out_a_train_only_library(two_libraries, tmp_path, capsys):
    from gesturegan.dataset import Dataset

    sources = [row["source"] for row in Dataset.open(two_libraries).manifest]
    extra = "two/hit/hit_0.wav"
    groups = tmp_path / "groups.csv"
    groups.write_text("file,library\n" + "".join(
        f"{s},{'extra' if s == extra else s.split('/')[0]}\n" for s in sources))  # fmt: skip
    out = tmp_path / "lolo"
    args = ["classifier", "lolo", str(two_libraries), "--out", str(out), "--groups", str(groups),
            "--epochs", "1", "--train-only", "extra"]  # fmt: skip
    assert main(args) == 0
    assert "training without extra" not in capsys.readouterr().err
    table = json.loads((out / "lolo.json").read_text())
    assert [row["library"] for row in table["rows"]] == ["one", "two"]
    assert table["config"]["train_only"] == ["extra"]
    for lib in ("one", "two"):
        with open(out / lib / "split.csv", newline="") as f:
            split = {row["source"]: row["split"] for row in csv.DictReader(f)}
        assert split[extra] == "train"
    assert main([*args[:-2], "--overwrite", "--library", "extra", "--train-only", "extra"]) == 2
    assert "'extra' is train-only" in capsys.readouterr().err
