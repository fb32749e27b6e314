"""Starting a training run, or resuming one: options, folder checks, ranks, then the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import load_yaml, merge
from ..errors import UserError
from ..runs import Run
from . import distributed as dist
from .config import make_config, resume_config
from .exports import TrainResult
from .loop import Trainer


def train(
    run_dir: str | Path,
    data: str | None = None,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
    resume: bool = False,
    show_progress: bool = True,
) -> TrainResult:
    """Train a model into the run folder ``run_dir`` (``runs``), or continue one with ``resume``.

    On resume the saved config is the base and training goes on from ``Run.resume_point``
    (``latest.pt``, else the furthest of ``best.pt`` and the stage checkpoints); ``overrides`` may
    change the budget (``steps`` or ``minutes``) to train longer. A fresh run refuses a folder that
    already holds a checkpoint of any kind. Temporary files of a killed writer are removed first.
    Under ``torchrun`` it trains data-parallel across the ranks (see ``distributed``).
    """
    run = Run(run_dir)
    point = run.resume_point()
    if resume:
        if point is None:
            raise UserError(f"{run.path}: nothing to resume (no checkpoint in it)")
        changes = merge(load_yaml(config_path) if config_path else {}, overrides or {})
        saved = load_yaml(run.config_path)
        cfg = resume_config(saved, changes, where=str(run.config_path))
    else:
        if point is not None:
            raise UserError(
                f"{run.path} already holds a training run; pass --resume to continue it "
                "or choose another --out folder"
            )
        if not data:
            raise UserError("train needs --data DATASET (made by `gesturegan prepare`)")
        cfg = make_config(data, config_path, overrides)
    world = dist.init_from_env()
    run.path.mkdir(parents=True, exist_ok=True)
    if world.is_main:
        run.clean_temps()  # of a writer killed in an earlier run
    ckpt = run.load_checkpoint(point) if resume else None
    trainer = Trainer(cfg, run, world, ckpt.get("kinds") if ckpt else None)
    if world.is_main:
        run.write_config(cfg)
    if ckpt:
        trainer.restore(ckpt)
        trainer.metrics = run.metrics_rows(up_to_step=trainer.counters.step)
    dist.barrier(world)  # every rank has checked the folder before rank 0 writes into it
    try:
        return trainer.fit(show_progress)
    finally:
        dist.shutdown(world)
