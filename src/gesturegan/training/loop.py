"""The training loop: builds the parts of a run and calls them in order — step, schedule, probes,
snapshots, checkpoints, exports — into a run folder (``runs.Run``). It knows when, not how.

On an accelerator the step's figures stay on the device: the loop reads them (and checks them for
NaN) at logging intervals and before anything is saved, so the host never waits for the device
between. On the CPU, where reading costs nothing, it reads them after every step.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ..allocator import keep_freed_memory
from ..dataset import Dataset
from ..device import prepare, resolve
from ..representations import get as get_representation
from ..runs import BEST, LATEST, Run
from . import distributed as dist
from . import kinds, schedule, snapshots
from .augment import Augmentation
from .checks import TrainingDiverged, check_finite, check_replicas, on_host
from .config import TrainConfig
from .data import BatchLoader, fixed_latents
from .distributed import World
from .exports import Facts, TrainResult, export, generator_meta
from .judges import live_judges
from .precision import Precision
from .probes import Probes
from .progress import MetricsLog, ProgressBars, StopRequest
from .state import Counters, build_nets, load_rng_state, load_weights, rng_state, weights
from .step import train_step

FIRST_CHECKPOINT_S = 30.0
"""The first ``latest.pt`` of a run (or of a resumed session) comes after this many seconds at
most, so a run killed early has something to resume from; later ones every
``checkpoint_every_minutes``."""


class Trainer:
    """The parts of one training run — nets, counters, conditioning, augmentation, probes — and
    the order they run in (``fit``)."""

    def __init__(
        self,
        cfg: TrainConfig,
        run_dir: Path | Run,
        world: World | None = None,
        kinds_table: list[dict] | None = None,
    ):
        """``kinds_table``: a resumed run's kinds of gesture (found from the data when ``None``);
        ``world``: the ranks and this one's device (single-process on ``cfg.device`` when
        ``None``)."""
        self.cfg = cfg
        self.run = run_dir if isinstance(run_dir, Run) else Run(run_dir)
        self.world = world or World(device=resolve(cfg.device))
        keep_freed_memory()
        self.device = self.world.device
        prepare(self.device)
        self.precision = Precision(cfg.precision, self.device)
        self.dataset = ds = Dataset.open(cfg.data)
        self.rep = get_representation(cfg.repr, sr=ds.sr, length=ds.length, **cfg.repr_options)
        self.label_names = list(ds.label_names)
        n_classes = len(self.label_names)
        torch.manual_seed(cfg.seed)
        wants_kinds = getattr(getattr(cfg, cfg.model), "kinds", False) and n_classes
        found = kinds.find(ds, kinds_table) if wants_kinds else None
        self.cond = kinds.Conditioning(found, n_classes)
        self.nets = build_nets(cfg, self.rep.shape, n_classes, self.cond.table, self.world)
        self.stages = self.nets.G.stages
        self.facts = Facts(
            self.label_names, self.rep.shape, ds.sr, ds.length, self.stages, self.cond.table,
            ds.content_hash(),
        )  # fmt: skip
        # Each rank draws its own latents; rank 0's stream is the single-process one.
        self.noise = torch.Generator(self.device).manual_seed(cfg.seed + 1 + 7919 * self.world.rank)
        self.counters = Counters()
        z_dim, names = self.nets.G.cfg.z_dim, self.label_names
        self.probes = Probes(live_judges(names), ds, self.rep, names, z_dim, cfg.seed)
        self.aug = Augmentation(cfg.augment, cfg.augment_p, cfg.ada_target, cfg.ada_speed_kimg)
        self.metrics: list[dict[str, Any]] = []  # logged rows (a resumed run's earlier ones too)
        z, _, c = fixed_latents(cfg.seed + 2, cfg.snapshot_per_class, n_classes, z_dim)
        self.snap_z, self.snap_c = z.to(self.device), (c.to(self.device) if c is not None else None)
        self.penalty: torch.Tensor | float = math.nan  # the latest penalty, read when settled
        self.pending: dict[str, Any] | None = None  # the latest step's figures, not yet read
        self.last_stats: dict[str, float] = {}  # the figures read last (``settle``)

    # ---------------------------------------------------------------- schedule
    def alpha(self) -> float:
        return schedule.alpha(self.cfg, self.counters, len(self.stages))

    def at_last_stage(self) -> bool:  # grown to the full resolution
        return self.counters.stage == len(self.stages) - 1

    # ---------------------------------------------------------------- one step
    def step(self, loader: BatchLoader) -> dict[str, Any]:
        """One D and one G update on the loader's next batch; the step's figures (tensors on the
        device until ``settle`` reads them) and the latest probe's."""
        c = self.counters
        images, cond = loader.next(self.cfg.batch_for_stage(c.stage))
        batch = (
            images.to(self.device, non_blocking=True),
            cond.to(self.device, non_blocking=True) if cond is not None else None,
        )
        stats = train_step(
            self.nets, self.cfg, batch, c, len(self.stages), self.alpha(), self.cond, self.aug,
            self.noise, self.world, self.precision,
        )  # fmt: skip
        if stats["penalty"] is None:  # logged as the latest value: every row has one
            stats["penalty"] = self.penalty
        self.penalty = stats["penalty"]
        return {**stats, **self.probes.stats()}

    def settle(self) -> dict[str, float]:
        """Read the latest step's figures (waiting for the device), stop if they went NaN/Inf,
        and keep the penalty in the counters; the figures read last when there is nothing new."""
        if self.pending is not None:
            stats, self.pending = on_host(self.pending), None
            check_finite(stats, self.counters.step, self.run, self.world)
            self.counters.last_penalty = stats["penalty"]
            self.last_stats = stats
        return self.last_stats

    # ---------------------------------------------------------------- persistence
    def checkpoint(self) -> dict[str, Any]:
        """The training state as a plain dict (``state``); the step's figures are read first."""
        self.settle()
        return {
            **self.facts.checkpoint_part(self.cfg),
            **weights(self.nets),
            "state": dict(vars(self.counters)),
            "ada": self.aug.state_dict(),
            "rng": rng_state(self.noise, self.world),
            **({"scalers": self.precision.state_dict()} if self.precision.state_dict() else {}),
        }

    def restore(self, ckpt: dict[str, Any]) -> None:  # the inverse of ``checkpoint``
        load_weights(self.nets, ckpt, self.cfg)
        self.counters = Counters(**ckpt["state"])
        self.penalty = self.counters.last_penalty
        if "ada" in ckpt:
            self.aug.load_state_dict(ckpt["ada"])
        self.precision.load_state_dict(ckpt.get("scalers", {}))
        # Another kind of device draws another latent stream; it continues from a seed of its own.
        reseed = self.cfg.seed + 1 + 7919 * self.world.rank + 104729 * self.counters.step
        if load_rng_state(self.noise, ckpt["rng"], self.world, reseed) and self.world.is_main:
            print(
                f"resuming on {self.device.type} a run saved on {ckpt['rng']['noise_device']}: "
                "its latent stream continues from a fresh seed",
                file=sys.stderr,
                flush=True,
            )

    def save_checkpoint(self, which: str = LATEST) -> None:
        """Every rank takes part (RNG states are gathered); rank 0 writes."""
        ckpt = self.checkpoint()
        if self.world.is_main:
            self.run.save_checkpoint(ckpt, which)

    def export(self) -> None:
        meta = generator_meta(self.cfg, self.facts, self.counters, self.alpha())
        export(self.run, self.nets, meta, self.world.is_main, self.counters)

    @torch.no_grad()
    def snapshot(self) -> None:
        """Grid PNG of fixed latents per class + one decoded WAV per class at the current stage."""
        if not self.world.is_main:
            return
        c = self.counters
        out = self.nets.G_ema.render(self.snap_z, self.snap_c, c.stage, self.alpha())
        snapshots.snapshot(
            self.run, out, self.rep, self.dataset.sr, self.dataset.length, c.step,
            self.stages[c.stage], self.label_names,
        )  # fmt: skip

    # ---------------------------------------------------------------- observation
    @torch.no_grad()
    def probe(self, stats: dict[str, float]) -> None:
        """Measure the live quality (``probes``); the stage's best is kept as ``BEST`` and, at the
        last stage, exported; new warnings are printed and logged. Every rank computes it (the EMA
        generators are equal), so all agree on the best."""
        c = self.counters
        self.probes.measure(self.nets.G_ema, c.stage, self.alpha(), hear=self.at_last_stage())
        if self.probes.is_best(c, self.cfg.pick):
            self.probes.keep_as_best(c)
            if self.at_last_stage():  # the exported generator is the last stage's best
                self.export()
            self.save_checkpoint(BEST)
        new = self.probes.new_warnings(stats.get("ada_rt", math.nan), self.cfg.augment)
        if new and self.world.is_main:
            for m in new:
                print(f"warning (step {c.step}): {m}", file=sys.stderr, flush=True)
            self.run.write_warnings(self.probes.warned)

    def end_stage(self) -> None:
        """Snapshot and keep the finished stage, then grow the networks by one stage."""
        self.snapshot()
        self.save_checkpoint(self.stages[self.counters.stage])
        schedule.grow(self.counters)

    # ---------------------------------------------------------------- main loop
    def fit(self, show_progress: bool = True) -> TrainResult:
        cfg, c, world, n = self.cfg, self.counters, self.world, len(self.stages)
        loader = BatchLoader(
            self.dataset, self.rep, cfg.seed, c.data_position, world.rank, world.size,
            **self.cond.loader_ids(), pin=self.device.type == "cuda",
        )  # fmt: skip
        log = MetricsLog(self.run, self.probes.heard_columns(), self.metrics, world.is_main)
        last_ckpt_t = last_snap_t = last_probe_t = dist.broadcast_float(time.monotonic(), world)
        probed_step = -1  # the step of the latest probe: the end of training probes only a newer one
        interrupted = mid_step = False
        every_s = cfg.checkpoint_every_minutes * 60
        ckpt_wait_s = min(every_s, FIRST_CHECKPOINT_S)  # the same on every rank
        bars = ProgressBars(cfg, self.stages, show_progress and world.is_main)
        stop = StopRequest()
        try:
            stop.install()
            if c.step == 0:
                self.snapshot()
            while not schedule.done(cfg, c):
                if dist.any_rank(stop.signal is not None, world):
                    interrupted = True
                    break
                t0 = time.perf_counter()
                mid_step = True
                self.pending = self.step(loader)
                mid_step = False
                # Rank 0's clock drives time-based schedules, so all ranks grow together.
                dt = dist.broadcast_float(time.perf_counter() - t0, world)
                schedule.advance(cfg, c, n, dt, loader.position)
                logged = c.step % cfg.log_every_steps == 0 or c.step == 1
                if logged or self.device.type == "cpu":
                    self.settle()
                stats = self.last_stats
                if world.is_main and logged:
                    log.add(c, self.stages[c.stage], cfg.batch_for_stage(c.stage), stats, dt)
                bars.update(c, stats, dt)
                if world.is_main:
                    self.run.beat(c.step)
                now = dist.broadcast_float(time.monotonic(), world)
                if schedule.stage_progress(cfg, c, n) >= 1.0 and not self.at_last_stage():
                    self.end_stage()
                    last_snap_t = now
                if now - last_snap_t >= cfg.snapshot_every_minutes * 60:
                    self.snapshot()
                    last_snap_t = now
                if (
                    c.step % cfg.monitor_every_steps == 0
                    if cfg.monitor_every_steps
                    else now - last_probe_t >= cfg.monitor_every_minutes * 60
                ):
                    self.probe(stats)
                    last_probe_t, probed_step = now, c.step
                if (
                    c.step % cfg.checkpoint_every_steps == 0
                    or now - last_ckpt_t >= ckpt_wait_s
                ):
                    log.write()
                    self.save_checkpoint()
                    last_ckpt_t, ckpt_wait_s = now, every_s
        except KeyboardInterrupt:
            interrupted = True
            if mid_step:  # a second Ctrl+C inside a step: its state is half-updated, keep the last
                log.write()  # consistent checkpoint rather than write this one
                return TrainResult(
                    self.run.path, c.step, self.stages[c.stage], c.elapsed_s, True, saved=False
                )
        except TrainingDiverged:
            log.write()  # the log up to the bad step helps to see why; weights are not saved
            raise
        finally:
            if world.is_main:
                self.run.stop_beating()
            stop.uninstall()
            bars.close()
            loader.close()
            log.flush()
        log.write()
        self.save_checkpoint()
        if not interrupted:
            self.snapshot()
            if probed_step != c.step:
                self.probe({})
            self.save_checkpoint(self.stages[c.stage])
        if not (self.at_last_stage() and c.best_probe_fd < math.inf):
            self.export()
        if world.is_main:
            snapshots.save_gif(self.run.grids(), self.run.gif_path)
        check_replicas(self.nets, self.run, self.world)
        log.close()
        return TrainResult(
            self.run.path, c.step, self.stages[c.stage], c.elapsed_s, interrupted,
            generator_step=c.generator_step, generator_heard=c.best_heard,
            generator_probe_fd=c.best_probe_fd, pick=self.cfg.pick,
        )  # fmt: skip
