"""A cheap, live "is it getting better" signal for a running training, and plain-word warnings.

Every ``monitor_every_minutes`` the EMA generator renders a fixed probe set of latents (the same
every time, ``PROBE_PER_CLASS`` per class) and the result is compared with a fixed set of real
clips (``REAL_PER_CLASS`` per class) in a small embedding that needs no decoding and no trained
network:

- embedding: channel 0 of the representation image (the level / magnitude channel), average-pooled
  to ``BANDS`` rows, then each row's mean and standard deviation over time → ``2 · BANDS`` numbers
  per clip (for 1-D models the clip's log-mel image is used). It sees spectral balance and how the
  level moves, which is what tells gestures apart;
- ``probe_fd``: Fréchet distance between the real and generated embeddings, within each class and
  averaged over the classes (intra-class FD, Miyato & Koyama 2018; pooled for unlabelled data), so
  a class that drifts toward another one counts even when the mixture still looks right (lower is
  better); the best value of the current growth stage keeps ``checkpoints/best.pt`` and, at the
  last stage, is the exported generator;
- ``diversity``: mean pairwise distance between generated embeddings over the same for real ones
  (1 ≈ as varied as the data; near 0: every latent gives the same sound);
- ``heard`` (at the last stage, when the classes are gesture categories): the share of another
  fixed set of generated clips (``HEAR_PER_CLASS`` per class), decoded to audio, that the envelope
  labeler (``gestures.label``) files under the class they were drawn for — per class, and its
  worst class. At the last stage it, not ``probe_fd``, picks ``best.pt`` and the exported
  generator: a gesture model is for drawing clips of a chosen kind, and its weakest kind drifts by
  tens of points within a few hundred steps (``docs/training.md``) while ``probe_fd`` hardly
  moves. Only probes taken once the stage has faded in are picked, ties go to the lower
  ``probe_fd``, and a collapsed probe (below) is never picked.

``warnings_for`` turns these and D's overfitting signal into sentences with what to try.

The distance and the labeler are given by the caller (the training loop passes
``judge.distances.frechet`` and ``gestures.label``), so this module judges with what
it is handed and imports no evaluation code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import gestures

BANDS = 16
PROBE_PER_CLASS = 32
REAL_PER_CLASS = 32  # real clips per class in the comparison set (unlabelled data: REAL_PROBES)
REAL_PROBES = 128
COLLAPSE_DIVERSITY = 0.25  # generated variety below this share of the real data's: mode collapse
DUPLICATE_SHARE = 0.5  # this share of generated pairs (nearly) identical: mode collapse
HEAR_PER_CLASS = 64  # ±5 points of sampling noise at 80 %; ~5 s per probe of 4 classes, 2 cores
OVERFIT_RT = 0.9  # D's sign on real images this consistent: it memorises the training set


def embed(images: torch.Tensor) -> np.ndarray:
    """``images [N, C, H, W]`` → embeddings ``[N, 2 · BANDS]`` (float64)."""
    x = images[:, :1].float()
    x = F.adaptive_avg_pool2d(x, (BANDS, x.shape[-1]))[:, 0]  # [N, BANDS, W]
    return torch.cat([x.mean(dim=-1), x.std(dim=-1)], dim=1).double().cpu().numpy()


def mean_pairwise_distance(e: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of rows of ``e [N, D]``."""
    d = np.sqrt(((e[:, None] - e[None]) ** 2).sum(-1))
    n = len(e)
    return float(d.sum() / max(n * (n - 1), 1))


@dataclass
class ProbeResult:
    """One measurement of the probe set."""

    probe_fd: float
    diversity: float
    duplicate_share: float  # share of generated pairs closer than 1% of the real mean distance


Distance = Callable[[np.ndarray, np.ndarray], float]  # Fréchet distance of two sets of rows


def class_mean_fd(
    real_emb: np.ndarray,
    real_labels: np.ndarray,
    fake_emb: np.ndarray,
    fake_labels: np.ndarray,
    distance: Distance,
) -> float:
    """``distance`` (Fréchet) between real and generated embeddings within each class (label ids
    ``[N]``, ``[M]``), averaged over the classes both sets hold; pooled when neither is labelled
    (every id −1)."""
    classes = np.intersect1d(real_labels, fake_labels)
    if len(classes) == 0:
        raise ValueError("the real and generated probe sets share no class")
    return float(
        np.mean(
            [
                distance(real_emb[real_labels == k], fake_emb[fake_labels == k])
                for k in classes
            ]
        )
    )


def measure(
    real_emb: np.ndarray,
    real_labels: np.ndarray,
    fake_emb: np.ndarray,
    fake_labels: np.ndarray,
    distance: Distance,
) -> ProbeResult:
    """Compare generated embeddings with real ones (label ids −1 for unlabelled data)."""
    real_spread = mean_pairwise_distance(real_emb)
    d = np.sqrt(((fake_emb[:, None] - fake_emb[None]) ** 2).sum(-1))
    n = len(fake_emb)
    close = (d < 0.01 * real_spread).sum() - n  # off-diagonal pairs only
    return ProbeResult(
        probe_fd=class_mean_fd(real_emb, real_labels, fake_emb, fake_labels, distance),
        diversity=mean_pairwise_distance(fake_emb) / max(real_spread, 1e-12),
        duplicate_share=float(close / max(n * (n - 1), 1)),
    )


def hears(label_names: list[str]) -> bool:
    """True when the classes are gesture categories (two or more), so the labeler can judge
    generated clips."""
    return len(label_names) >= 2 and set(label_names) <= set(gestures.CATEGORIES)


def heard(
    waves: np.ndarray,
    sr: int,
    label_ids: np.ndarray,
    label_names: list[str],
    label: Callable[[np.ndarray, int], tuple[str, dict]],
) -> dict[str, float]:
    """Share of the clips ``waves [N, T]`` drawn for each class (``label_ids [N]``) that the
    labeler ``label`` (``gestures.label``) files under that class, by class name (classes without
    clips are left out)."""
    verdicts = np.array([label(w, sr)[0] for w in waves])
    return {
        name: float(np.mean(verdicts[label_ids == k] == name))
        for k, name in enumerate(label_names)
        if np.any(label_ids == k)
    }


def collapsed(result: ProbeResult) -> bool:
    """The generator makes nearly the same sound for different latents."""
    return result.diversity < COLLAPSE_DIVERSITY or result.duplicate_share > DUPLICATE_SHARE


def warnings_for(result: ProbeResult | None, ada_rt: float, augment: str) -> list[str]:
    """Plain-word warnings, each with what to try; empty when all looks healthy."""
    out = []
    if result is not None and collapsed(result):
        out.append(
            f"mode collapse: the generator makes nearly the same sound for different latents "
            f"(variety {result.diversity:.2f} of the real data's). Try a lower lr, "
            "`augment: ada`, more clips per class, or resume from an earlier checkpoint."
        )
    if ada_rt == ada_rt and ada_rt > OVERFIT_RT:
        hint = (
            "it is on; give it more room (lower ada_target)"
            if augment == "ada"
            else ("turn on `augment: ada`")
        )
        out.append(
            f"the discriminator recognises nearly every training clip (r_t = {ada_rt:.2f}): it is "
            f"memorising a small data set, and the generator will stop improving. {hint}."
        )
    return out
