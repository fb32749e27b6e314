"""Presets fill a clip's rate and length (prepare) and training options (train); anything given
explicitly wins, the run saves what was resolved, and data of another geometry is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from gesturegan.cli import main
from gesturegan.config import load_yaml, to_dict
from gesturegan.errors import UserError
from gesturegan.presets import PRESETS, WIDE_PGAN
from gesturegan.training.config import TrainConfig, make_config, resume_config


def test_the_presets_are_the_issues_geometries():
    got = {n: (p.sr, p.length, p.seconds) for n, p in PRESETS.items()}
    assert got == {
        "sketch": (22050, 16384, 0.743),
        "studio": (44100, 65536, 1.486),
        "long": (44100, 131072, 2.972),
    }


def test_sketch_is_the_defaults_and_studio_a_wider_model():
    assert make_config("d", overrides={"preset": "sketch"}) == TrainConfig(data="d", preset="sketch")
    studio = make_config("d", overrides={"preset": "studio"})
    assert studio.preset == "studio"
    assert (studio.pgan.channel_max, studio.pgan.channel_base) == (
        WIDE_PGAN["channel_max"], WIDE_PGAN["channel_base"],
    )  # fmt: skip
    assert studio.pgan.channel_max > TrainConfig().pgan.channel_max
    assert make_config("d", overrides={"preset": "long"}).pgan == studio.pgan


def test_flags_and_the_config_file_win_over_the_preset(tmp_path):
    flag = make_config("d", overrides={"preset": "studio", "pgan": {"channel_max": 96}})
    assert (flag.pgan.channel_max, flag.pgan.channel_base) == (96, WIDE_PGAN["channel_base"])
    path = tmp_path / "train.yaml"
    path.write_text("preset: studio\npgan: {channel_base: 4096}\nlr: 0.001\n")
    cfg = make_config("d", str(path))
    assert (cfg.pgan.channel_max, cfg.pgan.channel_base, cfg.lr) == (128, 4096, 0.001)
    # The command line's preset replaces the file's.
    assert make_config("d", str(path), {"preset": "sketch"}).pgan.channel_max == 64


def test_an_unknown_preset_lists_the_presets(tmp_path, capsys):
    with pytest.raises(UserError, match="unknown preset 'huge'; choose from sketch, studio, long"):
        make_config("d", overrides={"preset": "huge"})
    with pytest.raises(SystemExit) as exit_:
        main(["prepare", str(tmp_path), str(tmp_path / "o"), "--preset", "huge"])
    assert exit_.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_resume_keeps_the_preset():
    saved = to_dict(make_config("d", overrides={"preset": "studio", "steps": 10}))
    assert resume_config(saved, {"steps": 20}, "run").pgan.channel_max == 128
    with pytest.raises(UserError, match="preset: cannot change when resuming"):
        resume_config(saved, {"preset": "sketch"}, "run")


def _sounds(folder, sr=48000, n=3):
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            t = np.arange(sr // 4) / sr
            wave = 0.5 * np.sin(2 * np.pi * (300 + 100 * i) * t) * np.exp(-t / 0.05)
            sf.write(folder / label / f"{i}.wav", wave.astype(np.float32), sr)
    return folder


@pytest.mark.parametrize(
    "flags, geometry",
    [
        ([], (22050, 16384)),
        (["--preset", "studio"], (44100, 65536)),
        (["--preset", "long"], (44100, 131072)),
        (["--preset", "studio", "--length", "32768"], (44100, 32768)),
        (["--sr", "48000"], (48000, 16384)),
    ],
)
def test_prepare_takes_its_rate_and_length_from_the_preset_unless_given(tmp_path, flags, geometry):
    src = _sounds(tmp_path / "src")
    assert main(["prepare", str(src), str(tmp_path / "d"), "--labels-from-folders", *flags]) == 0
    meta = json.loads((tmp_path / "d" / "dataset.json").read_text())
    assert (meta["sr"], meta["length"]) == geometry


def test_a_given_rate_is_checked_never_replaced_by_the_presets(tmp_path, capsys):
    src = _sounds(tmp_path / "src")
    assert main(["prepare", str(src), str(tmp_path / "d"), "--preset", "studio", "--sr", "0"]) == 2
    assert "sr must be 1 to 768000 Hz, got 0" in capsys.readouterr().err


def test_train_with_a_preset_refuses_data_of_another_geometry(tiny_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_dataset), "--out", str(run), "--preset", "studio"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err  # one line
    assert "the studio preset trains on 65536-sample clips at 44100 Hz" in err
    assert "holds 16384 at 22050 Hz" in err and "prepare SRC OUT --preset studio" in err
    assert not run.exists()


def test_a_run_saves_its_preset_and_the_options_it_filled(tiny_dataset, tmp_path):
    from gesturegan.training import train

    from .conftest import tiny_overrides

    run = tmp_path / "run"
    overrides = tiny_overrides(1, preset="sketch")
    overrides["pgan"].pop("channel_max")  # left to the preset (sketch: the default, 64)
    train(run, data=str(tiny_dataset), overrides=overrides, show_progress=False)
    saved = load_yaml(run / "config.yaml")
    assert saved["preset"] == "sketch" and saved["pgan"]["channel_max"] == 64
    assert saved["pgan"]["channel_base"] == overrides["pgan"]["channel_base"]  # given, so kept


@pytest.mark.slow
def test_the_studio_preset_end_to_end_with_a_tiny_model(tmp_path):
    """prepare --preset studio, train --preset studio (its model narrowed by flags, which win),
    generate: 1.49 s clips at 44.1 kHz written as such."""
    from gesturegan.generation import generate

    from .conftest import TINY_MODEL, write_tiny_sounds

    src, data, run = write_tiny_sounds(tmp_path / "src", per_class=2), tmp_path / "d", tmp_path / "r"
    assert main(["prepare", str(src), str(data), "--labels-from-folders", "--preset", "studio"]) == 0
    model = [f"--pgan.{k.replace('_', '-')}={v}" for k, v in TINY_MODEL.items()]
    args = ["train", "--data", str(data), "--out", str(run), "--preset", "studio", "--steps", "7"]
    assert main([*args, *model, "--batch-size", "2", "--device", "cpu"]) == 0
    saved = load_yaml(run / "config.yaml")
    assert saved["preset"] == "studio" and saved["pgan"]["channel_max"] == TINY_MODEL["channel_max"]
    (row,) = generate(run, tmp_path / "gen", n=1, category="hit", seed=0)
    info = sf.info(row.path)
    assert (info.samplerate, info.frames) == (44100, 65536)


def test_reprs_lists_shapes_at_a_presets_geometry(capsys):
    assert main(["reprs", "--preset", "studio", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert (listed["sr"], listed["length"]) == (44100, 65536)
    shapes = {r["name"]: r["shape"] for r in listed["representations"]}
    assert (shapes["waveform"], shapes["logmel_gl"]) == ([1, 65536], [1, 256, 256])
