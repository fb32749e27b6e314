"""A 44.1 kHz dataset end to end: every path that writes or reads audio keeps the dataset's rate
and length (WAVs read back with soundfile), and no path resamples it unasked."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf

from gesturegan.cli import main
from gesturegan.dataset import Dataset, prepare
from gesturegan.generation import generate, load, morph

from .conftest import TINY_CLASSIFIER, tiny_overrides, write_tiny_sounds

SR, LENGTH = 44100, 16384


@pytest.fixture(scope="module")
def data44(tmp_path_factory):
    root = tmp_path_factory.mktemp("data44")
    src = write_tiny_sounds(root / "src")
    prepare(src, root / "data", sr=SR, length=LENGTH, labels_from_folders=True, workers=1)
    return root / "data"


@pytest.fixture(scope="module")
def run44(data44, tmp_path_factory):
    from gesturegan.training import train

    run = tmp_path_factory.mktemp("run44") / "run"
    train(run, data=str(data44), overrides=tiny_overrides(12), show_progress=False)
    return run


def _read(path):
    wave, sr = sf.read(path, dtype="float32", always_2d=True)
    return wave, sr


@pytest.mark.slow
def test_generate_and_morph_write_wavs_at_the_datasets_rate_and_length(run44, tmp_path):
    assert (load(run44).sr, load(run44).length) == (SR, LENGTH)
    rows = generate(run44, tmp_path / "gen", n=2, category="hit", seed=0)
    for row in rows:
        wave, sr = _read(row.path)
        assert (sr, wave.shape) == (SR, (LENGTH, 1))
        assert np.abs(wave).max() > 0
    morph(run44, "hit", "tone", tmp_path / "morph", steps=3, seed=0)
    steps = sorted((tmp_path / "morph").glob("*_0?.wav"))
    assert len(steps) == 3
    assert all(_read(p)[1] == SR and _read(p)[0].shape[0] == LENGTH for p in steps)
    glide = next(p for p in (tmp_path / "morph").glob("*.wav") if p not in steps)
    assert _read(glide)[1] == SR


@pytest.mark.slow
def test_a_48k_run_writes_48k_wavs(tmp_path):
    from gesturegan.training import train

    src = write_tiny_sounds(tmp_path / "src", per_class=2)
    prepare(src, tmp_path / "data", sr=48000, length=LENGTH, labels_from_folders=True, workers=1)
    train(tmp_path / "run", data=str(tmp_path / "data"), overrides=tiny_overrides(6),
          show_progress=False)  # fmt: skip
    (row,) = generate(tmp_path / "run", tmp_path / "gen", n=1, category="tone", seed=0)
    info = sf.info(row.path)
    assert (info.samplerate, info.frames) == (48000, LENGTH)


@pytest.mark.slow
def test_a_score_mixes_at_the_models_rate_unless_it_names_one(run44, tmp_path):
    from gesturegan.composition import compose

    score = tmp_path / "score.yaml"
    score.write_text("events:\n  - {at: 0.5, gesture: hit, seed: 1}\n")
    mix = compose(score, tmp_path / "mix.wav", run_override=run44)
    wave, sr = _read(tmp_path / "mix.wav")
    assert (mix.sr, sr) == (SR, SR)
    assert wave.shape == (round(0.5 * SR) + LENGTH, 2)
    score.write_text("sr: 48000\nevents:\n  - {at: 0.5, gesture: hit, seed: 1}\n")
    mix = compose(score, tmp_path / "mix48.wav", run_override=run44)
    assert mix.sr == 48000 and mix.duration_s == pytest.approx(0.5 + LENGTH / SR, abs=1e-3)


@pytest.mark.slow
def test_export_describes_the_rate_and_makes_clips_of_the_length(run44, tmp_path):
    import torch

    from gesturegan.exporting import export

    done = export(run44, "torchscript", out=tmp_path / "g.pt", tolerance=0.1)
    sidecar = json.loads((tmp_path / "g.pt.json").read_text())
    assert (done.sr, done.length, sidecar["sr"], sidecar["length"]) == (SR, LENGTH, SR, LENGTH)
    graph = torch.jit.load(str(tmp_path / "g.pt"))
    z, c = torch.zeros(1, done.z_dim), torch.tensor([[1.0, 0.0]])
    assert tuple(graph(z, c).shape) == (1, LENGTH)


@pytest.mark.slow
def test_the_studio_plays_generated_clips_at_the_models_rate(run44, data44, tmp_path):
    from fastapi.testclient import TestClient

    from gesturegan.studio import create_app

    app = create_app(run44.parent, data44, tmp_path / "state")
    client = TestClient(
        app, base_url="http://127.0.0.1:7860", headers={"x-studio-token": app.state.token}
    )
    r = client.get(f"/api/runs/{run44.name}/sample.wav?category=hit&seed=3")
    assert r.status_code == 200, r.text
    wave, sr = sf.read(io.BytesIO(r.content), dtype="float32")
    assert (sr, len(wave)) == (SR, LENGTH)


@pytest.mark.slow
def test_classifier_label_and_sort_at_44k(data44, tmp_path):
    from gesturegan.classifier import Classifier, ClassifierConfig, evaluate, train
    from gesturegan.config import from_dict
    from gesturegan.labeling import label_files
    from gesturegan.sorting import sort_files

    model = tmp_path / "clf"
    train(data44, model, from_dict(ClassifierConfig, TINY_CLASSIFIER))
    clf = Classifier.load(model)
    assert (clf.sr, clf.length) == (SR, LENGTH)
    assert evaluate(model, data44).n_held_out > 0
    # Files at their own rates: the rules read each at its rate, the classifier its clip at 44.1 kHz.
    src = tmp_path / "files"
    src.mkdir()
    for sr in (22050, 44100, 48000):
        t = np.arange(sr // 2) / sr
        wave = 0.8 * np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.03)
        sf.write(src / f"hit{sr}.wav", wave.astype(np.float32), sr)
    rules = label_files(src)
    assert {d.rules_category for d in rules.decisions} == {"trigger"}
    by_model = label_files(src, model=model)
    assert len(by_model.decisions) == 3 and all(d.method == "classifier" for d in by_model.decisions)
    summary = sort_files(src, tmp_path / "sorted", model=model)
    assert sum(summary.counts.values()) == 3 and not summary.errors


@pytest.mark.slow
def test_classifier_eval_refuses_data_at_another_rate(data44, tiny_classifier, capsys):
    assert main(["classifier", "eval", str(tiny_classifier), str(data44)]) == 2
    err = capsys.readouterr().err
    assert "16384-sample clips at 44100 Hz" in err and "22050" in err


@pytest.mark.slow
def test_the_judge_compares_44k_sets(run44, data44, tmp_path, capsys):
    from gesturegan.judge.compare import compare_paths
    from gesturegan.judge.config import JudgeConfig

    generate(run44, tmp_path / "gen" / "hit", n=4, category="hit", seed=0)
    generate(run44, tmp_path / "gen" / "tone", n=4, category="tone", seed=0)
    cfg = JudgeConfig(rounds=2, net_seeds=(0,))
    result = compare_paths(str(data44), str(tmp_path / "gen"), cfg)
    assert (result.n_a, result.n_b) == (len(Dataset.open(data44)), 8)
    assert result.config["sr"] == 22050  # its one analysis rate, whatever the sets' rates
    position = result.position["all"]["features"]["frechet"]
    assert np.isfinite(position)
    # Asked for, it analyses at 44.1 kHz and judges the top octave too.
    args = ["compare", str(data44), str(tmp_path / "gen"), "--sr", "44100", "--rounds", "2"]
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["sr"] == 44100
    assert main([*args[:3], "--sr", "100"]) == 2
    assert "analysis rate must be 8000 to 192000 Hz, got 100" in capsys.readouterr().err
