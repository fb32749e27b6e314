"""Quality metrics move the right way on sets whose relation is known."""

from __future__ import annotations

import numpy as np
import pytest

from gesturegan.evaluation import metrics
from gesturegan.judge.distances import frechet


def _clusters(n_per: int, classes: list[int], seed: int, dim: int = 8) -> tuple[np.ndarray, list]:
    """Embeddings of ``classes`` as well-separated Gaussian blobs, and their labels."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 6, (6, dim))
    emb = np.concatenate([centres[c] + rng.normal(0, 1, (n_per, dim)) for c in classes])
    return emb, [c for c in classes for _ in range(n_per)]


def test_frechet_is_zero_for_identical_sets_and_large_for_noise():
    real, _ = _clusters(100, [0, 1, 2, 3], seed=0)
    other, _ = _clusters(100, [0, 1, 2, 3], seed=1)
    noise = np.random.default_rng(2).normal(0, 1, real.shape) * 20
    assert frechet(real, real) < 1e-6
    fd_same = frechet(real, other)
    assert fd_same < 0.1 * frechet(real, noise)
    missing, _ = _clusters(133, [0, 1, 2], seed=1)
    assert frechet(real, missing) > fd_same


def test_inception_score_drops_when_a_class_is_missing_or_outputs_are_unsure():
    confident = np.eye(4)[np.arange(400) % 4]
    assert metrics.inception_score(confident) == pytest.approx(4.0, rel=1e-6)
    three = np.eye(4)[np.arange(399) % 3]
    assert metrics.inception_score(three) == pytest.approx(3.0, rel=1e-6)
    unsure = np.full((400, 4), 0.25)
    assert metrics.inception_score(unsure) == pytest.approx(1.0)


def test_ndb_k_near_alpha_for_real_and_higher_with_a_class_removed():
    real, _ = _clusters(200, [0, 1, 2, 3], seed=0)
    same, _ = _clusters(200, [0, 1, 2, 3], seed=1)
    missing, _ = _clusters(266, [0, 1, 2], seed=1)
    ndb_same = metrics.ndb_k(real, same, k=20)
    ndb_missing = metrics.ndb_k(real, missing, k=20)
    assert ndb_same <= 0.2 and ndb_missing > ndb_same + 0.2


def test_memorization_flags_exact_copies_of_training_clips():
    train, _ = _clusters(100, [0, 1, 2, 3], seed=0)
    heldout, _ = _clusters(50, [0, 1, 2, 3], seed=1)
    new, _ = _clusters(50, [0, 1, 2, 3], seed=2)
    fresh = metrics.memorization(train, heldout, new)
    assert fresh.copies == 0.0 and fresh.ratio == pytest.approx(1.0, abs=0.25)
    copied = metrics.memorization(train, heldout, train[:40])
    assert copied.copies == 1.0 and copied.ratio < 0.01
    # copies of clips the model saw outside the reference half are found among ``seen``
    seen = np.concatenate([train, heldout])
    assert metrics.memorization(train, heldout, heldout[:20]).copies == 0.0
    assert metrics.memorization(train, heldout, heldout[:20], seen=seen).copies == 1.0


def test_class_consistency():
    assert metrics.class_consistency(["a", "b", "b"], ["a", "b", "a"]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        metrics.class_consistency(["a"], ["a", "b"])
