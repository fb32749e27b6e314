"""``evaluate`` and ``study``: docs/contract.md's keys, references that bracket the figures,
determinism, scores over training, and a study that compares runs, resumes and refuses a different
plan."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import torch

from gesturegan.cli import main
from gesturegan.errors import UserError
from gesturegan.evaluation import borders
from gesturegan.evaluation.run import METRICS, SETS, Judge, evaluate
from gesturegan.evaluation.stage_age import last_stage_age
from gesturegan.evaluation.study import StudyConfig, extends, report_study, run_study
from gesturegan.evaluation.study_table import age as age_cell
from gesturegan.runs import Run

from .conftest import TINY_MODEL


def test_evaluate_reports_every_metric_beside_its_references(
    tiny_run, tiny_dataset, tiny_classifier
):
    ev = evaluate(tiny_run, tiny_dataset, n=8, classifier=tiny_classifier)
    d = json.loads((tiny_run / "eval" / "evaluation.json").read_text())
    assert set(METRICS) <= set(d) and {"per_category", "n_per_class", "over_time"} <= set(d)
    for metric in METRICS:
        assert set(d[metric]) == set(SETS)
    assert ev.n_per_class == 3  # 6 clips per class: 3 reference, 3 held out
    # hit/tone are not gesture categories: only the classifier judges them
    assert d["class_consistency"]["generated"]["labeler"] is None
    assert d["frechet"]["real_vs_real"] < d["frechet"]["real_vs_noise"]
    assert d["memorization"]["real_vs_real"]["ratio"] == pytest.approx(1.0)
    assert set(d["per_category"]) == {"hit", "tone"}
    report = (tiny_run / "eval" / "report.md").read_text()
    assert "| frechet |" in report and "real vs noise" in report
    # the independent judge grades first, overall and per class
    assert set(d["independent"]["figures"]) == {"all", "hit", "tone"}
    assert "training clips" in d["judged_against"]  # the tiny dataset keeps no clip out
    assert report.index("independent judge") < report.index("| frechet |")


def test_evaluate_is_deterministic(tiny_run, tiny_dataset, tiny_classifier):
    a = evaluate(tiny_run, tiny_dataset, n=3, classifier=tiny_classifier, write_report=False)
    b = evaluate(tiny_run, tiny_dataset, n=3, classifier=tiny_classifier, write_report=False)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())


def test_over_time_scores_every_saved_stage_in_step_order(tiny_run, tiny_dataset, tiny_classifier):
    ev = evaluate(tiny_run, tiny_dataset, n=3, classifier=tiny_classifier, over_time=True)
    steps = [row["step"] for row in ev.over_time]
    assert len(steps) >= 2 and steps == sorted(steps)
    assert ev.over_time[-1]["frechet"] == pytest.approx(ev.figures["frechet"]["generated"])
    assert (tiny_run / "eval" / "over-time.png").stat().st_size > 0


def test_copies_of_training_clips_are_flagged(tiny_dataset, tiny_classifier):
    judge = Judge(tiny_dataset, tiny_classifier, ("hit", "tone"), n=3)
    waves = np.asarray(judge.ds.waves, dtype=np.float32)
    ids = judge.ds.label_ids
    copies = np.concatenate(
        [waves[ids == judge.ds.label_names.index(c)][:3] for c in judge.categories]
    )
    assert judge.score(copies)["memorization"]["copies"] == 1.0
    assert judge.references["real_vs_real"]["memorization"]["copies"] == 0.0


def test_real_vs_real_keeps_classes_in_blocks_when_dataset_rows_interleave(tiny_classifier, tmp_path):
    """Rows sorted by file name alternate between the classes here; the held-out set must still
    be scored class by class (it once was scored in row order, pairing clips with wrong classes).
    The tiny sounds are fast-decaying hits and steady tones: the labeler's trigger and
    continuous_repetition."""
    from gesturegan.dataset import prepare

    from .conftest import write_tiny_sounds

    src = write_tiny_sounds(tmp_path / "src")
    category = {"hit": "trigger", "tone": "continuous_repetition"}
    flat = tmp_path / "flat"
    flat.mkdir()
    rows = ["file,label"]
    for path in sorted(src.glob("*/*.wav")):
        name = f"{path.stem.split('_')[1]}_{path.parent.name}.wav"  # 0_hit, 0_tone, 1_hit, ...
        path.rename(flat / name)
        rows.append(f"{name},{category[path.parent.name]}")
    (flat / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    data = tmp_path / "data"
    prepare(flat, data, labels_csv=flat / "labels.csv", workers=1)
    judge = Judge(data, tiny_classifier, tuple(category.values()), n=3)
    assert judge.references["real_vs_real"]["class_consistency"]["labeler"] == 1.0


def test_evaluate_cli_prints_one_json_object(tiny_run, tiny_dataset, tiny_classifier, capsys):
    code = main(
        ["evaluate", str(tiny_run), "--data", str(tiny_dataset), "--n", "3"]
        + ["--classifier", str(tiny_classifier), "--json"]
    )
    assert code == 0
    assert set(METRICS) <= set(json.loads(capsys.readouterr().out))


def test_evaluate_refuses_data_of_another_shape_in_one_line(tiny_run, tmp_path, capsys):
    from gesturegan.dataset import prepare

    from .conftest import write_tiny_sounds

    prepare(write_tiny_sounds(tmp_path / "src"), tmp_path / "d", sr=16000, labels_from_folders=True)
    assert main(["evaluate", str(tiny_run), "--data", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "16000 Hz" in err


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A labelled 'library' dataset with a third of its files held out, and a category-check folder
    holding a classifier for it under its name (as `classifier lolo` writes)."""
    from gesturegan.classifier import ClassifierConfig
    from gesturegan.classifier import train as train_classifier
    from gesturegan.config import from_dict
    from gesturegan.dataset import prepare

    from .conftest import TINY_CLASSIFIER, write_tiny_sounds

    root = tmp_path_factory.mktemp("library")
    src = write_tiny_sounds(root / "src", per_class=8, names=("trigger", "continuous_variation"))
    prepare(src, root / "lib", labels_from_folders=True, holdout=0.5, workers=1)
    train_classifier(root / "lib", root / "lolo" / "lib", from_dict(ClassifierConfig, TINY_CLASSIFIER))
    return root


def _tiny_study(library, **extra) -> StudyConfig:
    fields = dict(
        data=(str(library / "lib"),),
        reprs=("logmel_gl", "wave_image"),
        models=("pgan",),
        steps=3,
        minutes=None,
        n=4,
        category_check=str(library / "lolo"),
        train_options={"batch_size": [4], "pgan": dict(TINY_MODEL), "snapshot_per_class": 1},
    )
    return StudyConfig(**{**fields, **extra})


def test_study_judges_every_run_on_held_out_clips_and_resumes(library, tmp_path):
    cfg = _tiny_study(library)
    rows = run_study(tmp_path / "s", cfg, say=lambda _: None)
    assert [(r["repr"], r["model"], r["steps"]) for r in rows] == [
        ("logmel_gl", "pgan", 3),
        ("wave_image", "pgan", 3),
    ]
    for r in rows:
        assert r["fd_ratio"] == pytest.approx(r["fd"] / r["fd_rr"])
        assert 0 < r["floor_fd_ratio"] < r["fd_ratio"]  # 3 steps of training: far above the floor
        assert r["fd_rr_lo"] <= r["fd_rr"] <= r["fd_rr_hi"]
        assert 0 <= r["category_check"] <= 1 and 0 <= r["labeler"] <= 1
        assert 0 <= r["category_check_real"] <= 1 and 0 <= r["labeler_real"] <= 1
        assert set(r["per_class"]) == {"continuous_variation", "trigger"}
        assert r["frame"] > 0 and 0 <= r["end_rise"] <= 1 and 0 <= r["end_rise_real"] <= 1
        logged = Run(tmp_path / "s" / "runs" / r["name"]).metrics_rows()
        assert logged and {k: r[k] for k in last_stage_age(logged)} == last_stage_age(logged)
    silent, waves = rows  # logmel_gl's floor is silence; wave_image's -1 is a sample value
    assert 0 <= silent["silent_share"] <= 1 and 0 < silent["silent_share_real"] < 1
    assert waves["silent_share"] is None and waves["silent_share_real"] is None
    table = (tmp_path / "s" / "study.csv").read_text().splitlines()
    assert len(table) == 1 + 2 and table[0].startswith("name,data,repr")
    md = (tmp_path / "s" / "study.md").read_text()
    assert "### trigger" in md and "| lib | logmel_gl | pgan | off | 1 |" in md
    assert (tmp_path / "s" / "study.png").stat().st_size > 0
    pictures = tmp_path / "s" / "runs" / rows[0]["name"] / "pictures"
    names = {"grid.png", "envelopes.png", "morph.png", "morph.wav", "trigger.wav",
             "trigger-real.wav", "continuous_variation.wav", "continuous_variation-real.wav"}  # fmt: skip
    assert {p.name for p in pictures.iterdir()} == names
    info = sf.info(pictures / "trigger.wav")
    assert info.samplerate == 22050 and info.frames == 4 * (16384 + 22050 // 4)
    weights = tmp_path / "s" / "runs" / rows[0]["name"] / "generator.safetensors"
    before = weights.stat().st_mtime_ns
    again = run_study(tmp_path / "s", cfg, say=lambda _: None)
    assert weights.stat().st_mtime_ns == before  # finished runs are not trained again
    assert [r["fd"] for r in again] == [r["fd"] for r in rows]
    shutil.rmtree(pictures)
    row_file = pictures.parent / "study.json"
    assert report_study(tmp_path / "s") == rows
    assert {p.name for p in pictures.iterdir()} == names  # drawn again for a run without them
    assert weights.stat().st_mtime_ns == before
    stale = json.loads(row_file.read_text())
    stale["judge"]["floor_db"], stale["fd"] = None, 0.0  # as judged under another judge
    for key in ("floor_fd_ratio", "frame", "silent_share", "silent_share_real", "end_rise",
                "end_rise_real", "last_stage_steps", "last_stage_faded", "last_stage_rate"):
        del stale[key]  # and before the floor, the image diagnostics and the age existed
    row_file.write_text(json.dumps(stale))
    again = report_study(tmp_path / "s")  # judged again, as the study judges now

    def timeless(row):  # the generation speed is measured again, the rest is deterministic
        return {k: v for k, v in row.items() if k != "gen_rtf"}

    assert [timeless(r) for r in again] == [timeless(r) for r in rows]
    assert json.loads(row_file.read_text())["judge"]["floor_db"] == -96.0
    assert weights.stat().st_mtime_ns == before
    with pytest.raises(UserError, match="different study"):
        run_study(tmp_path / "s", _tiny_study(library, seeds=(1,)))


def _logged(*rows):
    return [dict(zip(("step", "time_s", "stage", "alpha"), map(str, r), strict=True)) for r in rows]


def test_the_last_stages_age_is_read_from_the_training_log():
    rows = _logged(
        (10, 1.0, "8x4", 1.0), (20, 2.0, "8x4", 1.0),  # the stage before
        (30, 6.0, "16x8", 0.2), (40, 10.0, "16x8", 0.9), (50, 14.0, "16x8", 1.0),
        (60, 18.0, "16x8", 1.0), (70, 22.0, "16x8", 1.0),
    )  # fmt: skip
    age = last_stage_age(rows)
    # From the previous stage's last row: 50 steps in 20 s, 20 of them after the fade-in.
    assert age == {"last_stage_steps": 50, "last_stage_faded": 20, "last_stage_rate": 2.5}
    # A run still in its first stage, or never faded in, or with nothing logged.
    assert last_stage_age(rows[:2])["last_stage_steps"] == 10
    assert last_stage_age(rows[:4])["last_stage_faded"] == 0
    assert set(last_stage_age([]).values()) == {None}
    assert age_cell(age) == "50 (20), 2.5" and age_cell({"last_stage_steps": None}) == ""


def test_a_study_goes_on_with_more_seeds_or_libraries_and_nothing_else_changed():
    before = StudyConfig(data=("lmms", "hydrogen"), seeds=(0,), train_options={"preset": "sketch"})
    assert extends(before, before)
    assert extends(before, replace(before, seeds=(0, 1, 2), device="cuda"))
    assert extends(before, replace(before, data=("lmms", "hydrogen", "desktop")))
    more = replace(before, reprs=("stft_pghi", "logmel_gl"), augment=("off", "ada"))
    assert extends(before, more)
    assert not extends(before, replace(before, seeds=(1, 2)))  # seed 0's run is not in it
    assert not extends(before, replace(before, data=("lmms",)))
    assert not extends(before, replace(before, minutes=60.0))
    assert not extends(before, replace(before, n=32))
    assert not extends(before, replace(before, train_options={"preset": "studio"}))

def test_border_figures_see_a_bright_last_column_and_a_rise_at_the_end():
    """``frame`` is 0 for images like the real ones and grows with a border that stands out;
    ``end_rise`` is the dB by which a clip's last window outgrows the ones before it."""
    torch.manual_seed(0)
    real = torch.rand(8, 1, 32, 16) * 2 - 1
    framed = real.clone()
    framed[..., -1] += 0.5  # the last time column half a unit brighter
    assert borders.frame(real, real) == 0
    assert borders.frame(framed, real) == pytest.approx(0.5 / 4, rel=1e-5)  # one border of four
    assert borders.border_excess(framed)["last_column"] == pytest.approx(
        borders.border_excess(real)["last_column"] + 0.5, abs=1e-5
    )
    sr, t = 22050, np.arange(16384) / 22050
    fading = np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.1)
    thump = fading.copy()
    thump[-256:] += 0.1 * np.sin(2 * np.pi * 60 * t[-256:])
    rise = borders.end_rise(np.stack([fading, thump]), sr)
    assert rise[0] < 0 < borders.RISE_DB < rise[1]


def test_silent_share_counts_the_pixels_at_silence_and_not_a_haze_above_it():
    """A real one-shot's tail sits at -1 (silence); a haze 17 dB above it (-0.69 in a 110 dB
    range) is not the floor, and a linear output below -1 is."""
    real = torch.full((4, 1, 16, 8), -1.0)
    real[..., :2] = 0.3  # the hit: two columns of eight
    hazy, under = real.clone(), real.clone()
    hazy[..., 2:] = -0.69
    under[..., 2:] = -1.2
    assert borders.silent_share(real) == borders.silent_share(under) == pytest.approx(0.75)
    assert borders.silent_share(hazy) == 0.0
    real[:, :, :, 2] = -1.0 + 2 * borders.SILENCE_TOL  # 1.1 dB above the floor: not silence
    assert borders.silent_share(real) == pytest.approx(0.625)


def test_study_refuses_data_it_cannot_judge_before_training(library, tiny_dataset, tmp_path):
    with pytest.raises(UserError, match="--holdout"):
        run_study(tmp_path / "a", _tiny_study(library, data=(str(tiny_dataset),)))
    with pytest.raises(UserError, match="no classifier for library 'lib'"):
        run_study(tmp_path / "b", _tiny_study(library, category_check=str(tmp_path)))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_study_judges_on_eval_data_that_no_run_trained_on(library, tiny_dataset, tmp_path):
    from gesturegan.dataset import prepare

    from .conftest import write_tiny_sounds

    src = write_tiny_sounds(tmp_path / "src", seed=1, names=("trigger", "continuous_variation"))
    prepare(src, tmp_path / "other", labels_from_folders=True, workers=1)  # nothing held out
    cfg = _tiny_study(library, eval_data=str(tmp_path / "other"), reprs=("logmel_gl",),
                      category_check=None)  # fmt: skip
    (row,) = run_study(tmp_path / "s", cfg, say=lambda _: None)
    assert row["data"] == "lib" and row["judged_on"] == "other" and row["held_out"] == 12
    with pytest.raises(UserError, match="no clips of hit, tone"):
        run_study(tmp_path / "t", replace(cfg, data=(str(tiny_dataset),)))
    assert not (tmp_path / "t").exists()
