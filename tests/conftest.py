"""Shared fixtures: a tiny labelled dataset and a tiny trained run, each made once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 22050
LENGTH = 16384
# 4 channels at 128x128: with 1 or 2, pixel norm (x / |x| per pixel) turns the float differences
# between engines, batch sizes and thread counts into large ones.
TINY_MODEL = {"channel_base": 512, "channel_max": 16, "z_dim": 32, "embed_dim": 8}
# A classifier small enough to train in seconds on a dozen clips.
TINY_CLASSIFIER = {
    "channels": [4, 8],
    "freq_pool": 4,
    "embed_dim": 16,
    "max_epochs": 3,
    "batch_size": 8,
}


def write_tiny_sounds(
    folder: Path, per_class: int = 6, seed: int = 0, names: tuple[str, str] = ("hit", "tone")
) -> Path:
    """Two envelope classes as WAVs in folder/<class>/: fast-decaying hits and steady tones (the
    class folders named by ``names``)."""
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH) / SR
    for i in range(per_class):
        f = rng.uniform(200, 2000)
        hit = np.sin(2 * np.pi * f * t) * np.exp(-t / rng.uniform(0.01, 0.05))
        tone = np.sin(2 * np.pi * f * t) * 0.5 * (1 + 0.2 * rng.standard_normal(LENGTH) * 0.1)
        for name, wave in zip(names, (hit, tone), strict=True):
            (folder / name).mkdir(parents=True, exist_ok=True)
            sf.write(folder / name / f"{name}_{i}.wav", (0.8 * wave).astype(np.float32), SR)
    return folder


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    from gesturegan.dataset import prepare

    root = tmp_path_factory.mktemp("tiny")
    src = write_tiny_sounds(root / "src")
    prepare(src, root / "data", labels_from_folders=True, workers=1)
    return root / "data"


def tiny_overrides(steps: int, **extra) -> dict:
    """Training options for a model small enough to train in seconds."""
    return {
        "steps": steps,
        "batch_size": [4],
        "pgan": dict(TINY_MODEL),
        "seed": 0,
        "device": "cpu",  # the pinned figures are the CPU's, whatever the machine has
        "checkpoint_every_steps": 1000,
        "snapshot_per_class": 2,
        **extra,
    }


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset, tmp_path_factory) -> Path:
    from gesturegan.training import train

    run = tmp_path_factory.mktemp("run") / "run"
    train(run, data=str(tiny_dataset), overrides=tiny_overrides(12), show_progress=False)
    return run


@pytest.fixture(scope="session")
def tiny_classifier(tiny_dataset, tmp_path_factory) -> Path:
    from gesturegan.classifier import ClassifierConfig, train
    from gesturegan.config import from_dict

    out = tmp_path_factory.mktemp("clf") / "tiny"
    train(tiny_dataset, out, from_dict(ClassifierConfig, TINY_CLASSIFIER))
    return out
