"""``--batch auto``: a run's batch size per growth stage, chosen once when the run starts.

On a CUDA GPU each stage gets the largest power of two whose trial step — a full D and G update
with the run's loss, its R1 or gradient penalty included, on copies of the networks — keeps the
peak of allocated memory within ``batch_memory`` of the GPU's, capped by ``batch_max`` and by the
training clips per process (a batch never repeats a clip). Memory grows with the batch, so the
search starts at the configured size and doubles while it fits, or halves until it does
(``largest_fitting``). Under torchrun every rank probes its own GPU and all take the smallest
choice, so the per-rank batch is the same everywhere.

Elsewhere (CPU, MPS) ``auto`` keeps ``batch_size`` as given. Either way the sizes, one per stage,
replace ``batch_size`` in the config the run saves, so a resume trains on the same sizes and
never probes again. The learning rate is not scaled (docs/training.md, "Batch").
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import torch

from ..errors import UserError
from . import distributed as dist
from .augment import Augmentation
from .config import TrainConfig
from .data import one_hot
from .distributed import World
from .kinds import Conditioning
from .precision import Precision
from .state import Counters, Nets, optimizers
from .step import train_step

SMALLEST = 2  # batch_size's own lower bound


def largest_fitting(
    fits: Callable[[int], bool], start: int, smallest: int, largest: int
) -> int | None:
    """The largest power of two ``b`` in ``[smallest, largest]`` with ``fits(b)``, for a ``fits``
    that holds up to some size and fails beyond it (memory grows with the batch): from ``start``
    (rounded down to a power of two, within the bounds) doubling while the next fits, or halving
    until one does; ``None`` when not even ``smallest`` fits. ``smallest`` and ``largest`` are
    powers of two."""
    b = max(smallest, min(largest, floor_power_of_two(max(start, 1))))
    if fits(b):
        while b * 2 <= largest and fits(b * 2):
            b *= 2
        return b
    while b > smallest:
        b //= 2
        if fits(b):
            return b
    return None


def floor_power_of_two(n: int) -> int:
    """The largest power of two ``≤ n`` (``n ≥ 1``)."""
    return 1 << (n.bit_length() - 1)


def batch_cap(batch_max: int, n_clips: int, world_size: int) -> int:
    """The largest per-process batch ``auto`` may choose: a power of two within ``batch_max``
    and the training clips per process (at least ``SMALLEST``)."""
    return max(SMALLEST, floor_power_of_two(max(1, min(batch_max, n_clips // world_size))))


@dataclasses.dataclass
class Trial:
    """What a trial step needs: the run's networks (copied, never changed), its config, the
    images' full shape ``(C, H, W)``, the conditioning and the device."""

    nets: Nets
    cfg: TrainConfig
    shape: tuple[int, ...]
    n_stages: int
    n_cond: int
    cond: Conditioning
    device: torch.device

    def step(self, stage: int, batch: int) -> None:
        """One training step at ``stage`` with ``batch`` random images, on copies of the networks
        and optimisers (the run's own are untouched), R1 included (step 0 is an R1 step), every
        augmentation applied, mid-fade-in past the first stage. The RNG states are restored."""
        cfg = self.cfg
        G, D, G_ema = (copy.deepcopy(n) for n in (self.nets.G, self.nets.D, self.nets.G_ema))
        nets = Nets(G, D, G_ema, *optimizers(G, D, cfg))
        mode = "off" if cfg.augment == "off" else "fixed"
        augment = Augmentation(mode, 1.0, cfg.ada_target, cfg.ada_speed_kimg)
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            noise = torch.Generator(self.device).manual_seed(0)
            images = torch.randn(batch, *self.shape, device=self.device)
            labels = torch.arange(batch, device=self.device) % max(1, self.n_cond)
            cond = one_hot(labels, self.n_cond) if self.n_cond else None
            alpha = 0.5 if stage > 0 else 1.0
            train_step(
                nets, cfg, (images, cond), Counters(stage=stage), self.n_stages, alpha, self.cond,
                augment, noise, World(device=self.device), Precision(cfg.precision, self.device),
            )  # fmt: skip


def fits_in_memory(trial: Trial, stage: int, batch: int, budget_bytes: int) -> bool:
    """Whether a trial step at ``stage`` and ``batch`` runs on the CUDA device with its peak of
    allocated memory (the run's own tensors included) within ``budget_bytes``. The peak is the
    second step's: the first of a new shape also holds the workspaces cuDNN tries while it picks
    its kernels (``cudnn.benchmark``), which training does once."""
    device = trial.device
    try:
        trial.step(stage, batch)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        trial.step(stage, batch)
        torch.cuda.synchronize(device)
    except torch.cuda.OutOfMemoryError:
        return False
    finally:
        torch.cuda.empty_cache()
    return torch.cuda.max_memory_allocated(device) <= budget_bytes


def probe(
    trial: Trial, stages: tuple[str, ...], cap: int, fits: Callable[[Trial, int, int], bool]
) -> tuple[int, ...]:
    """Per stage, the largest power of two within ``cap`` that ``fits(trial, stage, batch)``
    (``largest_fitting``), starting from the configured size; a ``UserError`` when not even the
    smallest fits."""
    chosen = []
    for s, name in enumerate(stages):
        start = trial.cfg.batch_for_stage(s)
        b = largest_fitting(lambda n, s=s: fits(trial, s, n), start, SMALLEST, cap)
        if b is None:
            raise UserError(
                f"--batch auto: not even a batch of {SMALLEST} fits in {trial.cfg.batch_memory:.0%} "
                f"of the GPU's memory at stage {name}; raise --batch-memory or use a smaller model"
            )
        chosen.append(b)
    return tuple(chosen)


def choose(
    trial: Trial, stages: tuple[str, ...], n_clips: int, world: World
) -> tuple[tuple[int, ...], str]:
    """The batch sizes of a new run with ``batch: auto``, one per stage, and a line saying how
    they were chosen. Probed on a CUDA GPU (``fits_in_memory``, the smallest over the ranks);
    elsewhere the configured ones."""
    cfg, device = trial.cfg, trial.device
    if device.type != "cuda":
        sizes = tuple(cfg.batch_for_stage(s) for s in range(len(stages)))
        return sizes, f"batch auto on {device.type}: the configured sizes are kept"
    total = torch.cuda.get_device_properties(device).total_memory
    budget = int(cfg.batch_memory * total)
    cap = batch_cap(cfg.batch_max, n_clips, world.size)
    mine = probe(trial, stages, cap, lambda t, s, b: fits_in_memory(t, s, b, budget))
    every_rank = dist.gather_objects(mine, world)
    sizes = tuple(min(per_rank) for per_rank in zip(*every_rank, strict=True))
    return sizes, (
        f"batch auto on {device}: the largest power of two per stage within "
        f"{cfg.batch_memory:.0%} of {total / 2**30:.1f} GiB and {cap} clips per process"
    )
