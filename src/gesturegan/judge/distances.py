"""Distances between two sets of embeddings ``real [N, D]`` and ``fake [M, D]``.

- ``frechet``: Fréchet distance of Gaussians fitted to each set (FAD's recipe in any space);
- ``kad``: the Kernel Audio Distance (Chung et al. 2025): the unbiased MMD² estimator with a
  Gaussian kernel whose bandwidth is the median pairwise distance, times 100 as ``kadtk`` prints
  it. ``kadtk`` takes the median of the set it evaluates; here it is the *reference* set's, so
  one comparison's real-vs-real, real-vs-noise and A-vs-B figures share one kernel;
- ``prdc``: precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al.
  2020) from k-nearest-neighbour balls, which tell fidelity (precision, density: do generated
  clips lie where real ones do?) from diversity (recall, coverage: is every kind of real clip
  reached?).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist, pdist

KAD_SCALE = 100.0
"""kadtk's ``SCALE_FACTOR``: the MMD² is printed times 100."""

METRICS = ("frechet", "kad", "precision", "recall", "density", "coverage")
LOWER_IS_BETTER = {"frechet": True, "kad": True, "precision": False, "recall": False,
                   "density": False, "coverage": False}  # fmt: skip


def frechet(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to ``real [N, D]`` and ``fake [M, D]``.

    ``|mu_r - mu_f|² + tr C_r + tr C_f - 2 tr sqrt(C_r C_f)``, exact and without a matrix square
    root: with ``C_r = A^T A`` and ``C_f = B^T B`` (centred rows over sqrt(n - 1)), the eigenvalues
    of ``C_r C_f`` are the squared singular values of ``A B^T [N, M]``, so the trace term is that
    matrix's nuclear norm: O(N M D) instead of O(D³), and no ridge when there are fewer clips
    than dimensions. 0 for identical sets; lower is better.
    """
    x, y = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    a = (x - x.mean(0)) / np.sqrt(max(len(x) - 1, 1))
    b = (y - y.mean(0)) / np.sqrt(max(len(y) - 1, 1))
    cross = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    value = ((x.mean(0) - y.mean(0)) ** 2).sum() + (a**2).sum() + (b**2).sum() - 2.0 * cross
    return max(float(value), 0.0)


def median_distance(x: np.ndarray) -> float:
    """Median Euclidean distance between distinct rows of ``x [N, D]`` (1.0 when all coincide)."""
    d = pdist(np.asarray(x, np.float64))
    med = float(np.median(d)) if len(d) else 0.0
    return med if med > 0 else 1.0


def kad(real: np.ndarray, fake: np.ndarray, bandwidth: float | None = None) -> float:
    """Unbiased MMD² × ``KAD_SCALE`` with ``k(a, b) = exp(-|a - b|² / (2 σ²))``.

    ``σ`` is ``bandwidth``, or the median pairwise distance of ``real``. Expectation 0 when both
    sets come from one distribution, so small negative values happen; needs two rows per set.
    """
    x, y = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError("kad needs at least two clips per set")
    gamma = 1.0 / (2.0 * (bandwidth or median_distance(x)) ** 2)
    k_xx = np.exp(-gamma * cdist(x, x, "sqeuclidean"))
    k_yy = np.exp(-gamma * cdist(y, y, "sqeuclidean"))
    k_xy = np.exp(-gamma * cdist(x, y, "sqeuclidean"))
    xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float((xx + yy - 2.0 * k_xy.mean()) * KAD_SCALE)


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` with ``k`` neighbours.

    ``k`` is cut to the smaller set's size minus one. Precision, recall and coverage are shares in
    [0, 1]; density is about 1 when ``fake`` is distributed like ``real`` and can exceed 1.
    """
    x, y = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    k = max(1, min(k, len(x) - 1, len(y) - 1))
    real_radius = _kth_neighbour(cdist(x, x), k)  # [N]
    fake_radius = _kth_neighbour(cdist(y, y), k)  # [M]
    d = cdist(x, y)  # [N, M]
    inside_real = d <= real_radius[:, None]
    return {
        "precision": float(inside_real.any(axis=0).mean()),
        "recall": float((d <= fake_radius[None, :]).any(axis=1).mean()),
        "density": float(inside_real.sum() / (k * len(y))),
        "coverage": float((d.min(axis=1) <= real_radius).mean()),
    }


def all_metrics(real: np.ndarray, fake: np.ndarray, bandwidth: float, k: int) -> dict[str, float]:
    """Every figure of ``METRICS`` for one pair of sets."""
    return {"frechet": frechet(real, fake), "kad": kad(real, fake, bandwidth), **prdc(real, fake, k)}


def _kth_neighbour(d: np.ndarray, k: int) -> np.ndarray:
    """Distance of each row to its k-th nearest other row (the diagonal, itself, is skipped)."""
    return np.partition(d, k, axis=1)[:, k]
