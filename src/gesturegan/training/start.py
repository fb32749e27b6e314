"""Starting a training run, or resuming one: options, folder checks, ranks, then the loop."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from .. import presets
from ..config import load_yaml, merge
from ..dataset import Dataset
from ..device import describe
from ..errors import UserError
from ..runs import Run
from . import batching
from . import distributed as dist
from .config import TrainConfig, make_config, resume_config
from .exports import TrainResult
from .loop import Trainer


def train(
    run_dir: str | Path,
    data: str | None = None,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
    resume: bool = False,
    show_progress: bool = True,
    allow_new_data: bool = False,
) -> TrainResult:
    """Train a model into the run folder ``run_dir`` (``runs``), or continue one with ``resume``.

    On resume the saved config is the base and training goes on from ``Run.resume_point``
    (``latest.pt``, else the furthest of ``best.pt`` and the stage checkpoints); ``overrides`` may
    change the budget (``steps`` or ``minutes``) to train longer, and the data must be the run's
    own (its content hash, recorded in the checkpoint) unless ``allow_new_data``. A fresh run
    refuses a folder that already holds a checkpoint of any kind. Every refusal comes before
    anything is written; temporary files of a killed writer are removed first.
    Under ``torchrun`` it trains data-parallel across the ranks (see ``distributed``).

    The device (``device`` option, ``auto`` by default) is resolved here and the one used is
    saved in ``config.yaml``; a resumed run takes ``auto`` again unless a device is given, so a
    run trained on a GPU continues on a machine without one.
    """
    run = Run(run_dir)
    point = run.resume_point()
    if resume:
        if point is None:
            raise UserError(f"{run.path}: nothing to resume (no checkpoint in it)")
        changes = merge(load_yaml(config_path) if config_path else {}, overrides or {})
        changes.setdefault("device", "auto")  # the saved device records where it ran
        if data:  # the dataset moved: its content must still be the run's (_check_same_data)
            changes["data"] = str(data)
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
    world = dist.init_from_env(cfg.device)
    cfg = dataclasses.replace(cfg, device=str(world.device))
    ckpt = run.load_checkpoint(point) if resume else None
    if ckpt and not allow_new_data:
        _check_same_data(ckpt, cfg.data)
    if cfg.preset:
        ds = Dataset.open(cfg.data)
        presets.check_dataset(cfg.preset, ds.sr, ds.length, cfg.data)
    # The data, representation and models are checked (and --batch auto's sizes chosen) before
    # the run folder is made: a refused start leaves nothing behind.
    trainer = Trainer(cfg, run, world, ckpt.get("kinds") if ckpt else None)
    if world.is_main and show_progress:
        print(f"device: {describe(world.device)}, precision {cfg.precision}", file=sys.stderr)
    if cfg.batch == "auto" and not ckpt:  # a resume keeps the sizes its config.yaml saved
        cfg = trainer.cfg = _auto_batch(trainer, world, show_progress)
    run.path.mkdir(parents=True, exist_ok=True)
    if world.is_main:
        run.clean_temps()  # of a writer killed in an earlier run
        run.write_config(cfg)
    if ckpt:
        trainer.restore(ckpt)
        trainer.metrics = run.metrics_rows(up_to_step=trainer.counters.step)
    dist.barrier(world)  # every rank has checked the folder before rank 0 writes into it
    try:
        return trainer.fit(show_progress)
    finally:
        dist.shutdown(world)


def _auto_batch(trainer: Trainer, world: dist.World, show_progress: bool) -> TrainConfig:
    """The trainer's config with ``batch_size`` chosen by ``--batch auto``, one per stage."""
    n_cond = trainer.cond.loader_ids().get("n_cond", len(trainer.label_names))
    trial = batching.Trial(
        trainer.nets, trainer.cfg, trainer.rep.shape, len(trainer.stages), n_cond, trainer.cond,
        trainer.device,
    )  # fmt: skip
    sizes, how = batching.choose(trial, trainer.stages, len(trainer.dataset.train_ids), world)
    if world.is_main and show_progress:
        per_stage = ", ".join(f"{n} {b}" for n, b in zip(trainer.stages, sizes, strict=True))
        print(f"{how}: {per_stage}", file=sys.stderr)
    return dataclasses.replace(trainer.cfg, batch_size=sizes)


def _check_same_data(ckpt: dict[str, Any], data: str) -> None:
    """Refuse to resume on data other than the checkpoint's (runs saved before the hash pass)."""
    saved = ckpt.get("data_hash")
    if saved and Dataset.open(data).content_hash() != saved:
        raise UserError(
            f"{data} is not the dataset this run was trained on (its content differs); "
            "resume with the run's own data, or pass --allow-new-data to go on with this one"
        )
