"""Feeding the GAN: a deterministic sample stream over a memory-mapped dataset, encoded in the background.

The stream position (samples consumed) is all the state the loader has, so a checkpoint that stores it
resumes on exactly the next batch. Epoch e visits the training clips (``Dataset.train_ids``: never
the clips ``prepare --holdout`` kept for evaluation) in the order of a permutation seeded by
(seed, e); batch k of size B holds stream positions [p, p + B).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

from ..dataset import Dataset
from ..models.layers import upsample2
from ..representations import Representation


class BatchLoader:
    """Yield ``(images [B, C, H, W], cond [B, n_classes] or None)`` from a dataset, one batch ahead.

    With ``cond_ids`` (``[N]`` ids below ``n_cond``, e.g. kinds of gesture) ``cond`` is their
    one-hot ``[B, n_cond]`` instead of the classes'. With ``pin`` (training on a CUDA GPU) the
    batches are made in page-locked memory, so ``to(device, non_blocking=True)`` overlaps the copy
    with the step before it.
    """

    def __init__(
        self,
        dataset: Dataset,
        rep: Representation,
        seed: int,
        position: int = 0,
        rank: int = 0,
        world_size: int = 1,
        cond_ids: np.ndarray | None = None,
        n_cond: int = 0,
        pin: bool = False,
    ):
        self.dataset, self.rep, self.seed, self.position = dataset, rep, seed, position
        self.pin = pin
        self.rank, self.world_size = rank, world_size
        self.cond_ids = cond_ids
        self.n_classes = n_cond if cond_ids is not None else len(dataset.label_names)
        self._epoch_cache: tuple[int, np.ndarray] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: tuple[tuple[int, int], Future] | None = None

    def indices(self, position: int, batch_size: int) -> np.ndarray:
        """Clip indices at stream positions [position, position + batch_size) (training clips only)."""
        ids = self.dataset.train_ids
        n = len(ids)
        out = np.empty(batch_size, dtype=np.int64)
        for j, p in enumerate(range(position, position + batch_size)):
            out[j] = ids[self._permutation(p // n)[p % n]]
        return out

    def next(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's ``batch_size`` clips of the next global batch (``batch_size · world_size``
        stream positions; rank r takes the r-th slice)."""
        key = (self.position + self.rank * batch_size, batch_size)
        if self._pending is not None and self._pending[0] == key:
            batch = self._pending[1].result()
        else:
            batch = self._load(*key)
        self.position += batch_size * self.world_size
        nxt = (self.position + self.rank * batch_size, batch_size)
        self._pending = (nxt, self._pool.submit(self._load, *nxt))
        return batch

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _permutation(self, epoch: int) -> np.ndarray:
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._epoch_cache = (epoch, rng.permutation(len(self.dataset.train_ids)))
        return self._epoch_cache[1]

    def _load(self, position: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self.indices(position, batch_size)
        order = np.argsort(idx)  # read the memmap in file order, then restore batch order
        waves, labels = self.dataset.batch(idx[order])
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        waves = waves[inverse]
        labels = labels[inverse] if self.cond_ids is None else self.cond_ids[idx]
        with torch.no_grad():
            images = self.rep.encode(torch.from_numpy(np.ascontiguousarray(waves)))
        cond = one_hot(torch.from_numpy(labels), self.n_classes) if self.n_classes else None
        if self.pin:
            images = images.pin_memory()
            cond = cond.pin_memory() if cond is not None else None
        return images, cond


def one_hot(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``labels [B] int → [B, n_classes] float32``."""
    return F.one_hot(labels.long(), n_classes).float()


def images_at_stage(
    images: torch.Tensor, stage: int, n_stages: int, alpha: float, smooth: bool = False
) -> torch.Tensor:
    """Real images as the discriminator sees them at ``stage``: area-downsampled to its resolution.

    During a fade-in (``alpha < 1``) they are blended with the previous stage's resolution, upsampled
    (``smooth``: bilinearly, ``PGANConfig.smooth_upsampling``) exactly as the generator's output
    is, so real and fake go through the same transition.
    """
    factor = 2 ** (n_stages - 1 - stage)
    x = F.avg_pool2d(images, factor) if factor > 1 else images
    if stage > 0 and alpha < 1.0:
        x = torch.lerp(upsample2(F.avg_pool2d(x, 2), smooth), x, alpha)
    return x


def fixed_latents(
    seed: int, per_class: int, n_classes: int, z_dim: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The same latents every time: ``z [N, z_dim]``, label ids ``[N]`` (−1 for unlabelled data)
    and one-hot conditioning ``[N, n_classes]`` (``None`` unlabelled), ``per_class`` of each
    class in class order."""
    n = per_class * max(1, n_classes)
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))
    if not n_classes:
        return z, torch.full((n,), -1), None
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    return z, labels, one_hot(labels, n_classes)
