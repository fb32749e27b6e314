"""Quality metrics of generated clips, as pure functions of embeddings and class probabilities.

Inputs are plain arrays: embeddings ``[N, D]`` (the project's classifier's penultimate layer, or any
other), class probabilities ``[N, K]`` (rows sum to 1), label lists. Each function documents which
direction is better; ``evaluate`` prints every figure beside real-vs-real and real-vs-noise
references from the same run, which is what makes them readable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm


def inception_score(probs: np.ndarray, eps: float = 1e-12) -> float:
    """``exp(E_x KL(p(y|x) ‖ p(y)))`` of class probabilities ``[N, K]``.

    Between 1 (every clip the same uncertain mix) and K (every clip confidently one class, all
    classes equally often); higher is better.
    """
    p = np.asarray(probs, np.float64)
    marginal = p.mean(axis=0, keepdims=True)
    kl = (p * (np.log(p + eps) - np.log(marginal + eps))).sum(axis=1)
    return float(np.exp(kl.mean()))


def ndb_k(
    real: np.ndarray, fake: np.ndarray, k: int = 50, alpha: float = 0.05, seed: int = 0
) -> float:
    """Number of statistically different bins over K (Richardson & Weiss 2018; GANSynth's NDB/K).

    The real embeddings are clustered into ``k`` bins (k-means); each bin's share of real clips is
    compared with its share of generated clips by a two-proportion z-test at level ``alpha``.
    Returns the fraction of bins that differ: 0 is best (real-vs-real ≈ alpha), 1 worst.
    """
    from sklearn.cluster import KMeans

    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    k = min(k, len(real))
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(real)
    n_r, n_f = len(real), len(fake)
    p_r = np.bincount(km.labels_, minlength=k) / n_r
    p_f = np.bincount(km.predict(fake), minlength=k) / n_f
    pooled = (p_r * n_r + p_f * n_f) / (n_r + n_f)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_r + 1 / n_f))
    z = np.divide(np.abs(p_r - p_f), se, out=np.zeros(k), where=se > 0)
    return float((z > norm.ppf(1 - alpha / 2)).mean())


@dataclass
class Memorization:
    """Nearest-training-clip distances of generated clips against those of held-out real clips."""

    generated_median: float  # median distance of a generated clip to its nearest training clip
    heldout_median: float  # the same for held-out real clips (what "new" looks like)
    ratio: float  # generated / held-out: ≈ 1 healthy, ≪ 1 the model copies its training set
    copies: float  # share of generated clips closer than COPY_SHARE × the held-out median

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


COPY_SHARE = 0.05


def memorization(
    train: np.ndarray,
    heldout: np.ndarray,
    generated: np.ndarray,
    seen: np.ndarray | None = None,
) -> Memorization:
    """Compare nearest-neighbour distances into ``train [N, D]`` (Euclidean, embeddings).

    ``heldout`` clips must not be in ``train``. Copies are looked for among ``seen`` (every clip the
    model was trained on, which may include the held-out ones; default ``train``).
    """
    gen_d = _nearest(generated, train)
    held_median = float(np.median(_nearest(heldout, train)))
    gen_median = float(np.median(gen_d))
    seen_d = gen_d if seen is None else _nearest(generated, seen)
    return Memorization(
        generated_median=gen_median,
        heldout_median=held_median,
        ratio=gen_median / max(held_median, 1e-12),
        copies=float((seen_d < COPY_SHARE * held_median).mean()),
    )


def _nearest(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Distance from each row of ``x`` to its nearest row of ``ref``."""
    x, ref = np.asarray(x, np.float64), np.asarray(ref, np.float64)
    d2 = (x**2).sum(1)[:, None] + (ref**2).sum(1)[None] - 2 * x @ ref.T
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0))


def class_consistency(heard: list[str], asked: list[str]) -> float:
    """Share of clips whose heard category (labeler or classifier) equals the one asked for."""
    if len(heard) != len(asked):
        raise ValueError(f"{len(heard)} verdicts for {len(asked)} clips")
    return float(np.mean([h == a for h, a in zip(heard, asked, strict=True)])) if asked else 0.0
