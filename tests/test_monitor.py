"""The live probe's distance is taken within each class; the labeler hears gesture classes."""

import numpy as np
import pytest
import torch

from gesturegan import gestures
from gesturegan.judge.distances import frechet as frechet_distance
from gesturegan.training import monitor


def _images(levels: np.ndarray, rows: int = 8) -> torch.Tensor:
    """``levels [N, W]`` → ``[N, 2, rows, W]``: every row of channel 0 carries the level."""
    return torch.from_numpy(levels)[:, None, None, :].expand(-1, 2, rows, -1).contiguous()


def test_class_mean_fd_sees_swapped_classes_that_the_pooled_distance_misses():
    t = np.arange(128)
    rng = np.random.default_rng(1)
    loops = np.stack([np.sin(2 * np.pi * t / rng.uniform(8, 16)) for _ in range(32)])
    noise = rng.normal(0, 2, (32, 128))
    real = monitor.embed(_images(np.concatenate([loops, noise])))
    swapped = monitor.embed(_images(np.concatenate([noise, loops])))
    labels, pooled = np.repeat([0, 1], 32), np.full(64, -1)
    fd = monitor.class_mean_fd
    assert fd(real, pooled, swapped, pooled, frechet_distance) == pytest.approx(0.0, abs=1e-6)
    assert fd(real, labels, swapped, labels, frechet_distance) > 1.0
    assert fd(real, labels, real, labels, frechet_distance) == pytest.approx(0.0, abs=1e-6)


def test_class_mean_fd_needs_a_shared_class():
    emb = np.zeros((4, 3))
    with pytest.raises(ValueError, match="share no class"):
        monitor.class_mean_fd(emb, np.zeros(4, int), emb, np.ones(4, int), frechet_distance)


def test_hears_only_gesture_categories():
    assert monitor.hears(["trigger", "continuous_repetition"])
    assert not monitor.hears(["trigger"]) and not monitor.hears(["hit", "tone"])
    assert not monitor.hears(["trigger", "tone"])


def test_heard_is_the_share_of_each_class_the_labeler_files_under_it():
    sr, t = 22050, np.arange(16384) / 22050
    hit = np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.02)  # a trigger
    drone = 0.5 * np.sin(2 * np.pi * 220 * t)  # held: continuous_repetition
    waves = np.stack([hit, hit, hit, drone, drone, hit])
    ids = np.array([0, 0, 0, 1, 1, 1])
    got = monitor.heard(
        waves, sr, ids, ["trigger", "continuous_repetition", "continuous_variation"], gestures.label
    )
    assert got == pytest.approx({"trigger": 1.0, "continuous_repetition": 2 / 3})
