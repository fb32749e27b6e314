"""``compare(a, b)``: set ``b`` against reference set ``a``, beside real-vs-real and real-vs-noise.

Every round splits ``a`` (overall, and per class present in both sets) by a seeded permutation into
a reference half and a held-out half, and draws from ``b`` as many clips as the held-out half keeps
(``m``, the same for all three sets, because the Fréchet distance and the kNN figures depend on set
size). Overall, when ``b`` has clips of every class of the held-out half, they are drawn class by
class in the held-out half's proportions: a generator asked for 64 clips of each class is judged
against a library that has, say, 88 hits and 2 loops, and drawn uniformly its set would differ
from the library by its mix of classes whatever the quality of each. Three sets are scored against
the reference half:

- ``a_vs_b``: ``m`` clips of ``b``;
- ``real_vs_real``: the ``m`` held-out clips of ``a`` (what a set drawn like ``a`` scores);
- ``real_vs_noise``: white noise of the held-out clips' lengths and loudness (what noise scores).

In each round every space is standardised by the reference half's mean and standard deviation and
the kernel bandwidth is the reference half's median distance, so the three sets share one scale.
A figure is reported as its median over rounds with the interval ``cfg.interval`` of the rounds;
random-net figures are first averaged over the networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from . import distances
from .clips import ClipSet
from .config import JudgeConfig
from .embed import Embedder

SETS = ("a_vs_b", "real_vs_real", "real_vs_noise")
MIN_REFERENCE = 4
"""Clips of ``a`` a group needs (two per half); groups with fewer are skipped and listed."""
MIN_OTHER = 2
"""Clips of ``b`` a group needs (the kernel distance's unbiased estimator needs two)."""
Z_MAX = 20.0
"""Standardised values are clipped to ±Z_MAX: a dimension (nearly) constant in the reference and
the noise set must not swamp every other when another set moves it."""
ALL = "all"
"""The group name of the figures over every clip."""


@dataclass
class Comparison:
    """The judge's figures: ``figures[group][space][metric][set] = {median, lo, hi}``.

    ``groups[group] = {"reference": clips per reference half, "n": clips per scored set}``;
    ``position[group][space][metric]``: where ``a_vs_b``'s median lies from real-vs-real (0) to
    real-vs-noise (1). ``skipped``: files and classes left out, with why.
    """

    figures: dict[str, dict]
    groups: dict[str, dict[str, int]]
    position: dict[str, dict]
    config: dict
    n_a: int
    n_b: int
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"n_a": self.n_a, "n_b": self.n_b, "groups": self.groups, "figures": self.figures,
                "position": self.position, "skipped": self.skipped, "config": self.config}  # fmt: skip


def noise_like(clips: ClipSet, seed: int) -> ClipSet:
    """White noise with each clip's length and RMS (seeded), labelled like the clips."""
    rng = np.random.default_rng(seed)
    waves = []
    for w in clips.waves:
        rms = float(np.sqrt(np.mean(np.square(w, dtype=np.float64))))
        waves.append((rng.standard_normal(len(w)) * rms).clip(-1, 1).astype(np.float32))
    return ClipSet(waves, clips.sr, list(clips.labels), [f"noise#{i}" for i in range(len(waves))])


def compare(a: ClipSet, b: ClipSet, cfg: JudgeConfig, embedder: Embedder | None = None) -> Comparison:
    """Score ``b`` against ``a`` overall and per class (see the module docstring).

    Parameters
    ----------
    a, b : clip sets at ``cfg.sr`` (``clips.load``); ``a`` is the reference (real) set.
    embedder : reuse one across calls to build the networks once.
    """
    embedder = embedder or Embedder(cfg)
    return compare_embedded(a, embedder(a), embedder(noise_like(a, cfg.seed)), b, embedder(b), cfg)


def compare_embedded(a: ClipSet, emb_a: dict, emb_n: dict, b: ClipSet, emb_b: dict,
                     cfg: JudgeConfig) -> Comparison:  # fmt: skip
    """``compare`` from embeddings already taken (``Embedder``): ``emb_a`` of ``a``, ``emb_n`` of
    ``noise_like(a, cfg.seed)``, ``emb_b`` of ``b`` (so one reference serves many sets)."""
    groups = {ALL: (np.arange(len(a)), np.arange(len(b)))}
    for c in sorted(set(a.classes) & set(b.classes)):
        groups[c] = (np.flatnonzero(np.array(a.labels) == c), np.flatnonzero(np.array(b.labels) == c))
    skipped = list(a.skipped) + list(b.skipped)
    skipped += [f"class {c}: only in {'A' if c in a.classes else 'B'}"
                for c in sorted(set(a.classes) ^ set(b.classes))]  # fmt: skip
    figures, sizes, position = {}, {}, {}
    for g, (idx_a, idx_b) in groups.items():
        if len(idx_a) < MIN_REFERENCE or len(idx_b) < MIN_OTHER:
            skipped.append(f"class {g}: {len(idx_a)} clip(s) in A, {len(idx_b)} in B "
                           f"(needs {MIN_REFERENCE} and {MIN_OTHER})")  # fmt: skip
            continue
        rng = np.random.default_rng([cfg.seed, len(figures)])
        rounds = [_round(emb_a, emb_b, emb_n, idx_a, idx_b, rng, cfg, a, b)
                  for _ in range(cfg.rounds)]  # fmt: skip
        figures[g] = _summary(rounds, cfg.interval)
        half = len(idx_a) // 2
        sizes[g] = {"reference": half, "n": min(len(idx_a) - half, len(idx_b))}
        position[g] = {
            space: {m: _position(f[m]) for m in ("frechet", "kad")} for space, f in figures[g].items()
        }
    return Comparison(figures, sizes, position, cfg.to_dict(), len(a), len(b), skipped)


def _round(
    emb_a, emb_b, emb_n, idx_a, idx_b, rng, cfg: JudgeConfig, a: ClipSet, b: ClipSet
) -> dict:
    """One split: ``{space: {metric: {set: value}}}`` (random-net figures averaged over nets).

    Clips of ``b`` named like a clip of the reference half (the same file) are not drawn, unless
    fewer than ``MIN_OTHER`` would be left: a clip is not scored against itself, so
    ``compare(a, a)`` reads like real-vs-real.
    """
    perm = rng.permutation(idx_a)
    half = len(perm) // 2
    ref, held = perm[:half], perm[half:]
    in_ref = {a.names[i] for i in ref}
    kept = np.array([i for i in idx_b if b.names[i] not in in_ref], dtype=np.int64)
    idx_b = kept if len(kept) >= MIN_OTHER else idx_b  # B is (nearly) A's reference half itself
    if cfg.mix == "matched":
        held, other = _matched(held, idx_b, np.array(a.labels), np.array(b.labels), rng)
    else:
        held, other = _uniform(held, idx_b, rng)
    out = {}
    for space, views in emb_a.items():
        per_view = []
        for v, view in enumerate(views):
            anchor = np.concatenate([view[ref], emb_n[space][v][held]])
            mu, sd = view[ref].mean(0), anchor.std(0)
            sd = np.where(sd > 1e-12, sd, 1.0)
            r = _standardised(view[ref], mu, sd)
            bw = distances.median_distance(_standardised(anchor, mu, sd))
            sets = {"a_vs_b": emb_b[space][v][other], "real_vs_real": view[held],
                    "real_vs_noise": emb_n[space][v][held]}  # fmt: skip
            per_view.append({s: distances.all_metrics(r, _standardised(x, mu, sd), bw, cfg.k)
                             for s, x in sets.items()})  # fmt: skip
        out[space] = {
            metric: {s: float(np.mean([pv[s][metric] for pv in per_view])) for s in SETS}
            for metric in distances.METRICS
        }
    return out


def _matched(
    held: np.ndarray, idx_b: np.ndarray, labels_a: np.ndarray, labels_b: np.ndarray, rng
) -> tuple[np.ndarray, np.ndarray]:
    """``(held, other)``: the held-out clips of A and as many clips of B (indices), drawn class by
    class in the held-out clips' proportions when B has every class among them, else uniformly
    (the first ``m`` held-out clips). When a class of B has fewer clips than its share asks, every
    class is cut in the same proportion (at least one clip each)."""
    classes, counts = np.unique(labels_a[held], return_counts=True)
    pools = [idx_b[labels_b[idx_b] == c] for c in classes]
    if any(len(p) == 0 for p in pools):
        return _uniform(held, idx_b, rng)
    scale = min(Fraction(1), *(Fraction(len(p), k) for p, k in zip(pools, counts, strict=True)))
    take = [max(1, math.floor(k * scale)) for k in counts]  # exact: never more than a pool holds
    kept, other = [], []
    for c, pool, t in zip(classes, pools, take, strict=True):
        kept.append(held[labels_a[held] == c][:t])
        other.append(rng.choice(pool, size=t, replace=False))
    return np.concatenate(kept), np.concatenate(other)


def _uniform(held: np.ndarray, idx_b: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """``(held, other)``: the first ``m`` held-out clips and ``m`` clips of B drawn uniformly."""
    m = min(len(held), len(idx_b))
    return held[:m], rng.choice(idx_b, size=m, replace=False)


def _standardised(x: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return np.clip((x - mu) / sd, -Z_MAX, Z_MAX)


def _summary(rounds: list[dict], interval: float) -> dict:
    tail = 100 * (1 - interval) / 2
    out = {}
    for space in rounds[0]:
        out[space] = {}
        for metric in rounds[0][space]:
            out[space][metric] = {}
            for s in SETS:
                v = np.array([r[space][metric][s] for r in rounds])
                lo, med, hi = np.percentile(v, [tail, 50, 100 - tail])
                out[space][metric][s] = {"median": float(med), "lo": float(lo), "hi": float(hi)}
    return out


def _position(fig: dict) -> float | None:
    """``(a_vs_b - real_vs_real) / (real_vs_noise - real_vs_real)`` of the medians."""
    rr, rn, ab = (fig[s]["median"] for s in ("real_vs_real", "real_vs_noise", "a_vs_b"))
    return float((ab - rr) / (rn - rr)) if rn != rr else None


def compare_paths(a: str, b: str, cfg: JudgeConfig) -> Comparison:
    """``compare`` of two folders of audio or prepared datasets (``clips.load``)."""
    from .clips import load

    return compare(load(a, cfg.sr, cfg.max_s), load(b, cfg.sr, cfg.max_s), cfg)


def compare_waves(real: np.ndarray, real_labels: list[str], fake: np.ndarray,
                  fake_labels: list[str], sr: int, cfg: JudgeConfig,
                  same_clips: bool = False) -> Comparison:  # fmt: skip
    """``compare`` of clips held in arrays (``[N, T]`` at ``sr`` Hz, resampled to ``cfg.sr``).

    ``same_clips``: ``fake[i]`` is ``real[i]`` changed (e.g. encoded and decoded), so the changed
    copies of the reference half are not drawn against it.
    """
    from .. import audio
    from .clips import from_arrays

    def clipset(waves, labels, name):
        waves = [audio.resample(np.asarray(w, np.float32), sr, cfg.sr) for w in waves]
        return from_arrays(waves, cfg.sr, labels, name)

    fake_name = "real" if same_clips else "fake"
    return compare(clipset(real, real_labels, "real"), clipset(fake, fake_labels, fake_name), cfg)
