"""The live probe's distance is taken within each class."""

import numpy as np
import pytest
import torch

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
    assert monitor.class_mean_fd(real, pooled, swapped, pooled) == pytest.approx(0.0, abs=1e-6)
    assert monitor.class_mean_fd(real, labels, swapped, labels) > 1.0
    assert monitor.class_mean_fd(real, labels, real, labels) == pytest.approx(0.0, abs=1e-6)


def test_class_mean_fd_needs_a_shared_class():
    emb = np.zeros((4, 3))
    with pytest.raises(ValueError, match="share no class"):
        monitor.class_mean_fd(emb, np.zeros(4, int), emb, np.ones(4, int))
