"""What the loop verifies about a run: a step's figures read on the host and checked for NaN/Inf
(on every rank at the same steps), and, after a distributed run, that every rank holds rank 0's
weights."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import UserError
from ..runs import LATEST, Run
from . import distributed as dist
from .distributed import World
from .state import Nets
from .step import STAT_KEYS


class TrainingDiverged(UserError):
    """A loss, score or gradient went NaN/Inf; the last good checkpoint is kept untouched."""


def on_host(stats: dict[str, Any]) -> dict[str, float]:
    """A step's figures as Python floats: its tensors read in one transfer."""
    keys = [k for k, v in stats.items() if isinstance(v, torch.Tensor)]
    values = torch.stack([stats[k].float() for k in keys]).tolist() if keys else []
    return {**stats, **dict(zip(keys, values, strict=True))}


def check_finite(stats: dict[str, float], step: int, run: Run, world: World) -> None:
    """Stop with a clear message when training diverged (on any rank), before anything bad is
    saved. Every rank checks at the same steps."""
    bad = [k for k in STAT_KEYS if k != "penalty" and not math.isfinite(stats[k])]
    if not dist.any_rank(bool(bad), world):
        return
    kept = (
        f"the last good checkpoint ({run.checkpoint_path(LATEST)}) is kept; resume from "
        "it with a lower lr (--resume --lr ...) or another loss (--loss)"
        if run.has_checkpoint(LATEST)
        else "no checkpoint had been written yet"
    )
    raise TrainingDiverged(
        f"training diverged at step {step} ({', '.join(f'{k}={stats[k]}' for k in bad)}); {kept}"
    )


def check_replicas(nets: Nets, run: Run, world: World) -> None:
    """Distributed runs: verify every rank ended with rank 0's weights; record it in the run."""
    if not world.distributed:
        return
    diff = max(dist.max_replica_difference(m, world) for m in (nets.G, nets.D, nets.G_ema))
    if world.is_main:
        run.write_distributed({"world_size": world.size, "replica_max_abs_diff": diff})
    if diff > 1e-4:
        raise RuntimeError(f"replicas diverged: max |w_rank − w_0| = {diff:.3g}")
