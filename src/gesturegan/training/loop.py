"""The training loop: progressive growth on a schedule, checkpoints, logs and snapshots in a run
folder (``runs.Run`` owns its layout)."""

from __future__ import annotations

import copy
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import audio
from ..allocator import keep_freed_memory
from ..config import from_dict, load_yaml, merge, to_dict
from ..dataset import Dataset
from ..errors import UserError
from ..models import build, use_fast_layout
from ..representations import get as get_representation
from ..representations.logmel import LogMel
from ..runs import BEST, LATEST, Run
from . import distributed as dist
from . import kinds, monitor
from .augment import AdaController, augment
from .config import FIXED_ON_RESUME, PGAN_OPTIONS_BEFORE, TrainConfig
from .data import BatchLoader, images_at_stage, one_hot
from .distributed import World
from .losses import d_loss, g_loss, gradient_penalty, r1_penalty, wgan_d_loss, wgan_g_loss
from .snapshots import image_grid, save_gif, save_png

METRIC_COLUMNS = (
    "step",
    "time_s",
    "stage",
    "alpha",
    "kimg",
    "d_loss",
    "g_loss",
    "penalty",
    "d_real",
    "d_fake",
    "grad_d",
    "grad_g",
    "augment_p",
    "ada_rt",
    "probe_fd",
    "diversity",
    "heard",
    "sec_per_step",
    "img_per_s",
)


STAT_KEYS = ("d_loss", "g_loss", "penalty", "d_real", "d_fake", "grad_d", "grad_g", "alpha")
LOGGED_KEYS = (*STAT_KEYS, "augment_p", "ada_rt", "probe_fd", "diversity", "heard")


class TrainingDiverged(UserError):
    """A loss, score or gradient went NaN/Inf; the last good checkpoint is kept untouched."""


@dataclass
class TrainResult:
    """What a finished (or interrupted) training left behind."""

    run_dir: Path
    step: int
    stage: str
    elapsed_s: float
    interrupted: bool
    saved: bool = True  # False only when a forced stop mid-step kept the previous checkpoint
    generator_step: int = -1  # the step whose EMA G is RUN/generator.safetensors
    generator_heard: float = -1.0  # its worst category's labeler agreement (-1: not measured)


@dataclass
class _State:
    step: int = 0
    stage: int = 0
    stage_start_step: int = 0
    faded_in: bool = (
        False  # the current stage's new layers are fully in (stays so on a longer resume)
    )
    stage_elapsed_s: float = 0.0
    elapsed_s: float = 0.0
    nimg: int = 0
    data_position: int = 0
    best_probe_fd: float = math.inf  # live quality of the current stage's best (lower is better)
    best_heard: float = -1.0  # its worst class's labeler agreement (-1: not measured)
    best_elapsed_s: float = 0.0  # training time when the best was reached
    generator_step: int = -1  # step of the exported generator (-1: none exported yet)


def stage_end_step(steps: int, stage: int, n_stages: int) -> int:
    """The step at which ``stage`` (0 = 4x4) ends under a ``steps`` budget: equal shares."""
    return round(steps * (stage + 1) / n_stages)


def stage_budget_s(minutes: float, stage: int, n_stages: int) -> float:
    """Training seconds ``stage`` gets under a ``minutes`` budget: a share ∝ ``1 + stage``, since
    later stages cost more per step."""
    return minutes * 60.0 * (1 + stage) / (n_stages * (n_stages + 1) / 2)


@dataclass(frozen=True)
class TimeLeft:
    """Training seconds left (``None``: not known yet, before the first step of a steps budget)."""

    stage_s: float | None  # until the current stage ends
    run_s: float | None  # until the run ends
    run_at_least: bool = False  # run_s is a lower bound: larger, slower stages are still ahead


def time_left(
    cfg: TrainConfig,
    n_stages: int,
    stage: int,
    step: int,
    elapsed_s: float,
    stage_elapsed_s: float,
    sec_per_step: float | None,
) -> TimeLeft:
    """How long until the current stage and the run end, in seconds of training.

    A ``minutes`` budget fixes both by the schedule. A ``steps`` budget turns the steps left into
    seconds at ``sec_per_step`` (recent seconds per step): a fair estimate for the current stage,
    and a lower bound for the run while later stages — larger images, slower steps — are ahead.
    With both budgets the run ends at whichever comes first. Snapshots, probes and checkpoints
    are not counted, nor an ``until_plateau_minutes`` stop, which cannot be foreseen.
    """
    last = stage == n_stages - 1
    run = None if cfg.minutes is None else max(0.0, cfg.minutes * 60.0 - elapsed_s)
    at_least = False
    if cfg.steps is None:
        stage_s = run if last else stage_budget_s(cfg.minutes, stage, n_stages) - stage_elapsed_s
    elif sec_per_step is None:
        stage_s = None
    else:
        end = cfg.steps if last else stage_end_step(cfg.steps, stage, n_stages)
        stage_s = max(0, end - step) * sec_per_step
        by_steps = max(0, cfg.steps - step) * sec_per_step
        if run is None or by_steps < run:
            run, at_least = by_steps, not last
    if stage_s is not None:
        stage_s = max(0.0, stage_s if run is None else min(stage_s, run))
    return TimeLeft(stage_s, run, at_least)


def clock(seconds: float | None) -> str:
    """``3725 → "1:02:05"``, ``250 → "4:10"``, ``None → "?"``: durations for the progress line."""
    if seconds is None:
        return "?"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Trainer:
    """Owns the models, optimisers, schedule and run folder of one training run."""

    def __init__(
        self,
        cfg: TrainConfig,
        run_dir: Path | Run,
        world: World | None = None,
        kinds_table: list[dict] | None = None,
    ):
        """``kinds_table``: a resumed run's kinds of gesture (found from the data when ``None``)."""
        self.cfg = cfg
        self.run = run_dir if isinstance(run_dir, Run) else Run(run_dir)
        self.run_dir = self.run.path
        self.world = world or World()
        keep_freed_memory()
        self._last_penalty = float("nan")
        self.dataset = Dataset.open(cfg.data)
        self.rep = get_representation(
            cfg.repr, sr=self.dataset.sr, length=self.dataset.length, **cfg.repr_options
        )
        self.label_names = list(self.dataset.label_names)
        self.n_classes = len(self.label_names)
        torch.manual_seed(cfg.seed)
        model_cfg = getattr(cfg, cfg.model)
        self.kinds = (
            kinds.find(self.dataset, kinds_table)
            if getattr(model_cfg, "kinds", False) and self.n_classes
            else None
        )
        table = self.kinds.table if self.kinds else None
        if table:  # [n_kinds, n_classes]: row i one-hot at kind i's class
            self._kind_class = one_hot(torch.tensor([k["class"] for k in table]), self.n_classes)
        self.G, self.D = build(cfg.model, model_cfg, self.rep.shape, self.n_classes, table)
        use_fast_layout(self.G, self.D)
        dist.broadcast_module(self.G, self.world)
        dist.broadcast_module(self.D, self.world)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.stages = self.G.stages
        # fused: one kernel over all parameters (3x faster than the per-tensor loop on CPU).
        adam = {"lr": cfg.lr, "betas": tuple(cfg.betas), "fused": True}
        self.opt_g = torch.optim.Adam(self.G.parameters(), **adam)
        self.opt_d = torch.optim.Adam(self.D.parameters(), **adam)
        # Each rank draws its own latents; rank 0's stream is the single-process one.
        self.noise = torch.Generator().manual_seed(cfg.seed + 1 + 7919 * self.world.rank)
        self.state = _State()
        self._real_probe_set: tuple[np.ndarray, np.ndarray] | None = None  # (embeddings, labels)
        self._last_probe: monitor.ProbeResult | None = None
        self._last_heard: dict[str, float] = {}
        self._warned: list[str] = []
        self.hears = monitor.hears(self.label_names)
        self.probe_z, self.probe_labels, self.probe_c = self._fixed_latents(
            cfg.seed + 4, monitor.PROBE_PER_CLASS
        )
        self.hear_z, self.hear_labels, self.hear_c = self._fixed_latents(
            cfg.seed + 5, monitor.HEAR_PER_CLASS
        )
        self.ada = AdaController(cfg.augment_p, cfg.ada_target, 4, cfg.ada_speed_kimg)
        self.metrics: list[dict[str, Any]] = []
        self.snap_z, _, self.snap_c = self._fixed_latents(cfg.seed + 2, cfg.snapshot_per_class)

    def _fixed_latents(
        self, seed: int, per_class: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The same latents every time: ``z [N, z_dim]``, label ids ``[N]`` (−1 for unlabelled
        data) and one-hot conditioning ``[N, n_classes]`` (``None`` unlabelled), ``per_class`` of
        each class in class order."""
        n = per_class * max(1, self.n_classes)
        z = torch.randn(n, self.G.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
        if not self.n_classes:
            return z, torch.full((n,), -1), None
        labels = torch.arange(self.n_classes).repeat_interleave(per_class)
        return z, labels, one_hot(labels, self.n_classes)

    # ---------------------------------------------------------------- schedule
    def stage_progress(self) -> float:
        """Fraction of the current stage done, in [0, 1] (the last stage never ends by itself)."""
        s, n = self.state.stage, len(self.stages)
        if self.cfg.steps is not None:
            start = self.state.stage_start_step
            end = stage_end_step(self.cfg.steps, s, n)
            return 1.0 if end <= start else min(1.0, (self.state.step - start) / (end - start))
        return min(1.0, self.state.stage_elapsed_s / stage_budget_s(self.cfg.minutes, s, n))

    def at_last_stage(self) -> bool:
        """True once the networks have grown to the full resolution."""
        return self.state.stage == len(self.stages) - 1

    def alpha(self) -> float:
        """Fade-in of the newest layers: 0 → 1 over the first half of every stage but the first.

        Once 1 it stays 1 for the stage, also when a resume with a larger budget stretches the
        stage's schedule."""
        if self.state.stage == 0 or self.state.faded_in:
            return 1.0
        return min(1.0, 2.0 * self.stage_progress())

    def done(self) -> bool:
        """True once the step count or the time budget (whichever is set and comes first) is spent,
        or, with ``until_plateau_minutes``, when the live quality has not improved for that long."""
        cfg, s = self.cfg, self.state
        plateau = (
            cfg.until_plateau_minutes is not None
            and s.best_probe_fd < math.inf
            and s.elapsed_s - s.best_elapsed_s > cfg.until_plateau_minutes * 60.0
        )
        return (
            plateau
            or (cfg.steps is not None and s.step >= cfg.steps)
            or (cfg.minutes is not None and s.elapsed_s >= cfg.minutes * 60.0)
        )

    # ---------------------------------------------------------------- one step
    def step(self, loader: BatchLoader) -> dict[str, float]:
        cfg, s = self.cfg, self.state
        stage, alpha = s.stage, self.alpha()
        batch = cfg.batch_for_stage(stage)
        real_full, cond_real = loader.next(batch)
        c = self._classes(cond_real)
        real = images_at_stage(real_full, stage, len(self.stages), alpha)
        p_aug = self.ada.p if cfg.augment != "off" else 0.0
        z_dim = self.G.cfg.z_dim

        # Discriminator update. D sees augmented images; its level read-outs see them clean. R1
        # is taken at the clean real images, through the augmentation (as in StyleGAN2-ADA).
        self.D.requires_grad_(True)
        z = torch.randn(batch, z_dim, generator=self.noise)
        with torch.no_grad():
            fake_clean = self.G(z, c, stage, alpha)
            fake = augment(fake_clean, p_aug, self.noise)
        do_r1 = cfg.loss == "ns_r1" and cfg.r1_gamma > 0 and s.step % cfg.r1_every == 0
        real_clean = real.requires_grad_(do_r1)
        real = augment(real_clean, p_aug, self.noise)
        logits_real = self.D(real, cond_real, stage, alpha, real_clean)
        logits_fake = self.D(fake, self._cond_fake(z, c), stage, alpha, fake_clean)
        if cfg.loss == "wgan_gp":
            gp = gradient_penalty(
                lambda x: self.D(x, cond_real, stage, alpha), real, fake, self.noise
            )
            loss_d = wgan_d_loss(logits_real, logits_fake)
            penalty = cfg.gp_lambda * gp
        else:
            loss_d = d_loss(logits_real, logits_fake)
            gp = r1_penalty(logits_real, real_clean) if do_r1 else torch.zeros(())
            penalty = 0.5 * cfg.r1_gamma * cfg.r1_every * gp
        self.opt_d.zero_grad(set_to_none=True)
        (loss_d + penalty).backward()
        dist.average_gradients(self.D, self.world)
        grad_d = _grad_norm(self.D)
        self.opt_d.step()

        # Generator update.
        self.D.requires_grad_(False)
        z = torch.randn(batch, z_dim, generator=self.noise)
        fake_clean = self.G(z, c, stage, alpha)
        fake = augment(fake_clean, p_aug, self.noise)
        logits_gen = self.D(fake, self._cond_fake(z, c), stage, alpha, fake_clean)
        loss_g = wgan_g_loss(logits_gen) if cfg.loss == "wgan_gp" else g_loss(logits_gen)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        dist.average_gradients(self.G, self.world)
        grad_g = _grad_norm(self.G)
        self.opt_g.step()

        if cfg.augment == "ada":
            self.ada.update(logits_real)
        s.nimg += batch * self.world.size
        self._update_ema(batch * self.world.size)
        if cfg.loss == "wgan_gp" or do_r1:  # logged as the latest value: every row has one
            self._last_penalty = gp.item()
        return {
            "d_loss": loss_d.item(),
            "g_loss": loss_g.item(),
            "penalty": self._last_penalty,
            "grad_d": grad_d,
            "grad_g": grad_g,
            "d_real": logits_real.mean().item(),
            "d_fake": logits_fake.mean().item(),
            "alpha": alpha,
            "augment_p": p_aug,
            "ada_rt": self.ada.r_t,
            "probe_fd": self._last_probe.probe_fd if self._last_probe else math.nan,
            "diversity": self._last_probe.diversity if self._last_probe else math.nan,
            "heard": min(self._last_heard.values(), default=math.nan),
            **{f"heard_{k}": v for k, v in self._last_heard.items()},
        }

    def _classes(self, cond: torch.Tensor | None) -> torch.Tensor | None:
        """The class conditioning ``[B, n_classes]`` of a batch whose clips are labelled ``cond``:
        by class, or with kinds one-hot ``[B, n_kinds]`` by kind."""
        if self.kinds is None or cond is None:
            return cond
        return cond @ self._kind_class

    def _cond_fake(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor | None:
        """What D is told about clips generated from ``(z, c)``: the class, or the kind G picked."""
        return self.G.select(z, c) if self.kinds is not None else c

    @torch.no_grad()
    def _update_ema(self, batch: int) -> None:
        half_life = min(self.cfg.ema_kimg * 1000, self.state.nimg * self.cfg.ema_rampup)
        beta = 0.5 ** (batch / max(half_life, 1e-8))
        torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), 1.0 - beta)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)  # batch-norm statistics (DCGAN) follow G itself

    # ---------------------------------------------------------------- persistence
    def checkpoint(self) -> dict[str, Any]:
        return {
            "config": to_dict(self.cfg),
            "label_names": self.label_names,
            "shape": list(self.rep.shape),
            "sr": self.dataset.sr,
            "length": self.dataset.length,
            "stages": list(self.stages),
            "kinds": self.kinds.table if self.kinds else None,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_g.state_dict(),
            "opt_D": self.opt_d.state_dict(),
            "state": dict(vars(self.state)),
            "ada": self.ada.state_dict(),
            "rng": {
                "noise": self.noise.get_state(),
                "noise_per_rank": dist.gather_objects(self.noise.get_state(), self.world),
                "torch": torch.get_rng_state(),
            },
        }

    def restore(self, ckpt: dict[str, Any]) -> None:
        self.G.load_state_dict(ckpt["G"])
        self.D.load_state_dict(ckpt["D"])
        self.G_ema.load_state_dict(ckpt["G_ema"])
        for opt, key in ((self.opt_g, "opt_G"), (self.opt_d, "opt_D")):
            opt.load_state_dict(ckpt[key])
            for group in opt.param_groups:  # the config's lr/betas, not the saved ones: a resumed
                group.update(lr=self.cfg.lr, betas=tuple(self.cfg.betas))  # run may change them
        self.state = _State(**ckpt["state"])
        if "ada" in ckpt:
            self.ada.load_state_dict(ckpt["ada"])
        per_rank = ckpt["rng"].get("noise_per_rank", [])
        if len(per_rank) == self.world.size:
            self.noise.set_state(per_rank[self.world.rank])
        elif self.world.is_main:
            self.noise.set_state(ckpt["rng"]["noise"])
        # else: a run resumed on a different number of ranks; other ranks keep fresh noise streams
        torch.set_rng_state(ckpt["rng"]["torch"])

    def save_checkpoint(self, which: str = LATEST) -> None:
        """Every rank takes part (RNG states are gathered); rank 0 writes."""
        ckpt = self.checkpoint()
        if self.world.is_main:
            self.run.save_checkpoint(ckpt, which)

    def generator_meta(self) -> dict[str, Any]:
        """How to rebuild the inference generator: saved as generator.json beside its weights."""
        return {
            "model": self.cfg.model,
            "model_config": to_dict(getattr(self.cfg, self.cfg.model)),
            "repr": self.cfg.repr,
            "repr_options": self.cfg.repr_options,
            "sr": self.dataset.sr,
            "length": self.dataset.length,
            "shape": list(self.rep.shape),
            "label_names": self.label_names,
            "kinds": self.kinds.table if self.kinds else None,
            "stages": list(self.stages),
            "stage": self.state.stage,
            "alpha": self.alpha(),
            "step": self.state.step,
        }

    def export(self) -> None:
        """Write the EMA G as the run's inference generator; the state records its step."""
        self.state.generator_step = self.state.step
        if not self.world.is_main:
            return
        self.run.write_export(self.G_ema.state_dict(), self.generator_meta(), self.D.state_dict())

    # ---------------------------------------------------------------- observation
    def log(self, stats: dict[str, float], sec_per_step: float, writer) -> None:
        s = self.state
        row = {
            "step": s.step,
            "time_s": round(s.elapsed_s, 3),
            "stage": self.stages[s.stage],
            "kimg": round(s.nimg / 1000, 3),
            "sec_per_step": round(sec_per_step, 4),
            "img_per_s": round(self.cfg.batch_for_stage(s.stage) / sec_per_step, 2),
            **{k: round(v, 5) for k, v in stats.items()},
        }
        self.metrics.append(row)
        if writer is not None:
            for key in (*LOGGED_KEYS, *self._heard_columns()):
                if not math.isnan(stats.get(key, math.nan)):
                    writer.add_scalar(f"train/{key}", stats[key], s.step)
            writer.add_scalar("train/stage", s.stage, s.step)
            writer.add_scalar("train/img_per_s", row["img_per_s"], s.step)

    def write_metrics(self) -> None:
        if not self.world.is_main:
            return
        self.run.write_metrics(self.metrics, (*METRIC_COLUMNS, *self._heard_columns()))

    def _heard_columns(self) -> tuple[str, ...]:
        """metrics.csv's per-class labeler agreement columns (``heard_<class>``), when it hears."""
        return tuple(f"heard_{name}" for name in self.label_names) if self.hears else ()

    @torch.no_grad()
    def snapshot(self) -> None:
        """Grid PNG of fixed latents per class + one decoded WAV per class at the current stage."""
        if not self.world.is_main:
            return
        s, stage_name = self.state, self.stages[self.state.stage]
        out = self.G_ema.render(self.snap_z, self.snap_c, s.stage, self.alpha())
        pictures = self._pictures(out)
        rows = max(1, self.n_classes)
        save_png(image_grid(pictures, rows), self.run.grid_path(s.step, stage_name))
        per = self.cfg.snapshot_per_class
        waves = self.rep.decode(out[::per]).clamp(-1, 1).numpy()
        names = self.label_names or ["unconditional"]
        for wave, name in zip(waves, names, strict=False):
            audio.write(self.run.sample_audio_path(s.step, stage_name, name), wave, self.dataset.sr)

    def write_gif(self) -> None:
        if not self.world.is_main:
            return
        save_gif(self.run.grids(), self.run.gif_path)

    # ---------------------------------------------------------------- main loop
    def fit(self, show_progress: bool = True) -> TrainResult:
        cfg, s = self.cfg, self.state
        world = self.world
        found = self.kinds
        by_kind = {"cond_ids": found.of_clip, "n_cond": len(found.table)} if found else {}
        loader = BatchLoader(
            self.dataset,
            self.rep,
            cfg.seed,
            s.data_position,
            world.rank,
            world.size,
            **by_kind,
        )
        writer = _tensorboard(self.run.logs_dir) if world.is_main else None
        last_ckpt_t = last_snap_t = last_probe_t = dist.broadcast_float(time.monotonic(), world)
        interrupted = mid_step = False
        progress = _Progress(self, show_progress and world.is_main)
        stop = StopRequest()
        try:
            stop.install()
            if s.step == 0:
                self.snapshot()
            while not self.done():
                if dist.any_rank(stop.signal is not None, world):
                    interrupted = True
                    break
                t0 = time.perf_counter()
                mid_step = True
                stats = self.step(loader)
                mid_step = False
                self.check_finite(stats)
                # Rank 0's clock drives time-based schedules, so all ranks grow together.
                dt = dist.broadcast_float(time.perf_counter() - t0, world)
                s.step += 1
                s.elapsed_s += dt
                s.stage_elapsed_s += dt
                s.data_position = loader.position
                s.faded_in = self.alpha() >= 1.0
                if world.is_main and (s.step % cfg.log_every_steps == 0 or s.step == 1):
                    self.log(stats, dt, writer)
                progress.update(stats, dt)
                if world.is_main:
                    self.run.beat(s.step)
                now = dist.broadcast_float(time.monotonic(), world)
                if self.stage_progress() >= 1.0 and not self.at_last_stage():
                    self.end_stage()
                    last_snap_t = now
                if now - last_snap_t >= cfg.snapshot_every_minutes * 60:
                    self.snapshot()
                    last_snap_t = now
                if now - last_probe_t >= cfg.monitor_every_minutes * 60:
                    self.probe(stats)
                    last_probe_t = now
                if (
                    s.step % cfg.checkpoint_every_steps == 0
                    or now - last_ckpt_t >= cfg.checkpoint_every_minutes * 60
                ):
                    self.write_metrics()
                    self.save_checkpoint()
                    last_ckpt_t = now
        except KeyboardInterrupt:
            interrupted = True
            if mid_step:  # a second Ctrl+C inside a step: its state is half-updated, keep the last
                self.write_metrics()  # consistent checkpoint rather than write this one
                return TrainResult(
                    self.run_dir, s.step, self.stages[s.stage], s.elapsed_s, True, saved=False
                )
        except TrainingDiverged:
            self.write_metrics()  # the log up to the bad step helps to see why; weights are not saved
            raise
        finally:
            if world.is_main:
                self.run.stop_beating()
            stop.uninstall()
            progress.close()
            loader.close()
            if writer is not None:
                writer.flush()
        self.write_metrics()
        self.save_checkpoint()
        if not interrupted:
            self.snapshot()
            self.probe({})
            self.save_checkpoint(self.stages[s.stage])
        if not (self.at_last_stage() and s.best_probe_fd < math.inf):
            self.export()
        self.write_gif()
        self.check_replicas()
        if writer is not None:
            writer.close()
        return TrainResult(
            self.run_dir,
            s.step,
            self.stages[s.stage],
            s.elapsed_s,
            interrupted,
            generator_step=s.generator_step,
            generator_heard=s.best_heard,
        )

    def check_finite(self, stats: dict[str, float]) -> None:
        """Stop with a clear message when training diverged (on any rank), before anything bad is
        saved."""
        bad = [k for k in STAT_KEYS if k != "penalty" and not math.isfinite(stats[k])]
        if not dist.any_rank(bool(bad), self.world):
            return
        kept = (
            f"the last good checkpoint ({self.run.checkpoint_path(LATEST)}) is kept; resume from "
            "it with a lower lr (--resume --lr ...) or another loss (--loss)"
            if self.run.has_checkpoint(LATEST)
            else "no checkpoint had been written yet"
        )
        raise TrainingDiverged(
            f"training diverged at step {self.state.step + 1} "
            f"({', '.join(f'{k}={stats[k]}' for k in bad)}); {kept}"
        )

    @torch.no_grad()
    def probe(self, stats: dict[str, float]) -> None:
        """Measure the live quality signal (``monitor``); keep ``best.pt``; warn in plain words.

        Every rank computes it (the EMA generators are equal), so all agree on ``best.pt``.
        """
        if self._real_probe_set is None:
            images, labels = self._real_probe()
            self._real_probe_set = monitor.embed(self._pictures(images)), labels
        fake = self.G_ema.render(self.probe_z, self.probe_c, self.state.stage, self.alpha())
        fake_emb = monitor.embed(self._pictures(fake))
        result = monitor.measure(*self._real_probe_set, fake_emb, self.probe_labels.numpy())
        self._last_probe = result
        s = self.state
        heard = self._hear() if self.hears and self.at_last_stage() else {}
        self._last_heard = heard
        worst = min(heard.values(), default=-1.0)
        if heard:  # the last stage of a gesture model, once faded in: worst class heard, then FD
            better = (
                s.faded_in
                and not monitor.collapsed(result)
                and (worst, -result.probe_fd) > (s.best_heard, -s.best_probe_fd)
            )
        else:
            better = result.probe_fd < s.best_probe_fd
        if better:
            s.best_probe_fd, s.best_heard, s.best_elapsed_s = result.probe_fd, worst, s.elapsed_s
            if self.at_last_stage():  # the exported generator is the last stage's best
                self.export()
            self.save_checkpoint(BEST)
        messages = monitor.warnings_for(result, stats.get("ada_rt", math.nan), self.cfg.augment)
        new = [m for m in messages if m not in self._warned]
        if new and self.world.is_main:
            self._warned.extend(new)
            for m in new:
                print(f"warning (step {s.step}): {m}", file=sys.stderr, flush=True)
            self.run.write_warnings(self._warned)

    def _hear(self) -> dict[str, float]:
        """The labeler's agreement with the classes of the fixed hearing set, by class name."""
        waves = torch.cat(
            [
                self.rep.decode(self.G_ema.render(z, c, self.state.stage, self.alpha()))
                for z, c in zip(
                    self.hear_z.split(monitor.PROBE_PER_CLASS),
                    self.hear_c.split(monitor.PROBE_PER_CLASS),
                    strict=True,
                )
            ]
        )
        return monitor.heard(
            waves.clamp(-1, 1).numpy(), self.dataset.sr, self.hear_labels.numpy(), self.label_names
        )

    def _real_probe(self) -> tuple[torch.Tensor, np.ndarray]:
        """A fixed set of real clips in the representation, full size, and their label ids:
        ``([N, *shape], [N])``; up to ``monitor.REAL_PER_CLASS`` of each class (labelled data) or
        ``monitor.REAL_PROBES`` in all."""
        order = np.random.default_rng(self.cfg.seed + 3).permutation(len(self.dataset))
        if self.n_classes:
            ids = self.dataset.label_ids[order]
            order = np.concatenate(
                [order[ids == k][: monitor.REAL_PER_CLASS] for k in range(self.n_classes)]
            )
        else:
            order = order[: monitor.REAL_PROBES]
        waves, labels = self.dataset.batch(np.sort(order))
        return self.rep.encode(torch.from_numpy(np.ascontiguousarray(waves))), labels

    def _pictures(self, out: torch.Tensor) -> torch.Tensor:
        """Image view of model outputs: themselves, or the log-mel image of 1-D outputs."""
        if out.ndim == 4:
            return out
        waves = self.rep.decode(out).clamp(-1, 1)
        return LogMel(self.dataset.sr, self.dataset.length).encode(waves)[:, None]

    def check_replicas(self) -> None:
        """Distributed runs: verify every rank ended with rank 0's weights; record it in logs/."""
        if not self.world.distributed:
            return
        diff = max(dist.max_replica_difference(m, self.world) for m in (self.G, self.D, self.G_ema))
        if self.world.is_main:
            self.run.write_distributed({"world_size": self.world.size, "replica_max_abs_diff": diff})
        if diff > 1e-4:
            raise RuntimeError(f"replicas diverged: max |w_rank − w_0| = {diff:.3g}")

    def end_stage(self) -> None:
        """Snapshot and keep the finished stage, then grow the networks by one stage."""
        s = self.state
        self.snapshot()
        self.save_checkpoint(self.stages[s.stage])
        s.stage += 1
        s.stage_start_step = s.step
        s.stage_elapsed_s = 0.0
        s.faded_in = False
        s.best_probe_fd, s.best_heard, s.best_elapsed_s = math.inf, -1.0, s.elapsed_s  # new stage


class _Progress:
    """Two rich progress bars — the run and the current growth stage — each with the training time
    left (``time_left``), the losses and the live quality; silent when disabled."""

    def __init__(self, trainer: Trainer, enabled: bool):
        self.trainer, self.bar = trainer, None
        self.sec_per_step: float | None = None  # moving average over the current stage
        self.stage = -1
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        self.bar = Progress(
            TextColumn("[bold]{task.fields[what]:<5}[/]"),
            BarColumn(bar_width=30),
            TaskProgressColumn(),
            TextColumn("{task.description}"),
            transient=False,
        )
        self.bar.start()
        self.run_task = self.bar.add_task("", total=1.0, what="run")
        self.stage_task = self.bar.add_task("", total=1.0, what="stage")

    def update(self, stats: dict[str, float], sec_per_step: float) -> None:
        t, s = self.trainer, self.trainer.state
        if s.stage != self.stage or self.sec_per_step is None:  # a new stage runs at a new pace
            self.stage, self.sec_per_step = s.stage, sec_per_step
        else:
            self.sec_per_step += 0.1 * (sec_per_step - self.sec_per_step)
        if self.bar is None:
            return
        cfg, n = t.cfg, len(t.stages)
        left = time_left(cfg, n, s.stage, s.step, s.elapsed_s, s.stage_elapsed_s, self.sec_per_step)
        done = max(
            s.step / cfg.steps if cfg.steps else 0.0,
            s.elapsed_s / (cfg.minutes * 60) if cfg.minutes else 0.0,
        )
        total = f"/{cfg.steps}" if cfg.steps else ""
        run_end = ("≥ " if left.run_at_least else "") + clock(left.run_s)
        self.bar.update(
            self.run_task,
            completed=min(1.0, done),
            description=f"step {s.step}{total} · {clock(s.elapsed_s)} trained · "
            f"ends in {run_end} · D {stats['d_loss']:.3f} G {stats['g_loss']:.3f}",
        )
        desc = (
            f"{t.stages[s.stage]} ({s.stage + 1}/{n}) α {stats['alpha']:.2f} · "
            f"ends in {clock(left.stage_s)}"
        )
        if stats["probe_fd"] == stats["probe_fd"]:
            desc += f" · quality(FD↓) {stats['probe_fd']:.2f} variety {stats['diversity']:.2f}"
        if stats["heard"] == stats["heard"]:
            desc += f" · heard as asked ≥ {stats['heard']:.0%}"
        self.bar.update(self.stage_task, completed=t.stage_progress(), description=desc)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class StopRequest:
    """SIGINT (Ctrl+C) and SIGTERM ask training to stop after the current step; a second signal
    stops at once. Handlers are installed only in the main thread (elsewhere signals cannot be
    caught) and the previous ones are restored afterwards."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum
        print(
            "\nstopping after this step (a checkpoint is written); press Ctrl+C again to stop now",
            file=sys.stderr,
            flush=True,
        )


def _grad_norm(module: torch.nn.Module) -> float:
    """L2 norm of all parameter gradients of ``module`` (for monitoring)."""
    grads = [p.grad.detach() for p in module.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads).item() if grads else 0.0


def _tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # TensorBoard is a pinned dependency; tolerate its absence in odd installs
        return None
    return SummaryWriter(log_dir=str(folder))


def make_config(
    data: str | None,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> TrainConfig:
    """TrainConfig from defaults ← YAML file ← explicit overrides (``None`` values are ignored).

    Overrides may be nested (``{"pgan": {"z_dim": 64}}``: the file's other ``pgan`` options stay).
    A budget among them (``steps`` or ``minutes``) replaces the file's budget rather than adding a
    second limit.
    """
    raw = load_yaml(config_path) if config_path else {}
    merged = _apply(raw, overrides or {})
    if data is not None:
        merged["data"] = str(data)
    return from_dict(TrainConfig, merged, where=str(config_path or "train options"))


def resume_config(saved: dict[str, Any], changes: dict[str, Any], where: str) -> TrainConfig:
    """The config of a run being resumed: its saved ``config.yaml`` with ``changes`` applied.

    A longer budget, another learning rate, loss, augmentation or interval may be given; what
    defines the models and the data they see (``FIXED_ON_RESUME``) may not, since the checkpoint's
    weights were made for it.
    """
    if isinstance(saved.get("pgan"), dict):
        saved = {**saved, "pgan": {**PGAN_OPTIONS_BEFORE, **saved["pgan"]}}
    before = from_dict(TrainConfig, saved, where=where)
    cfg = from_dict(TrainConfig, _apply(saved, changes), where=where)
    fixed = [k for k in FIXED_ON_RESUME if getattr(cfg, k) != getattr(before, k)]
    if fixed:
        raise UserError(
            f"{', '.join(fixed)}: cannot change when resuming, the checkpoint was made with the "
            "saved value; start a new run in another --out folder instead"
        )
    return cfg


def _apply(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``merge`` for training options: a budget in ``overrides`` replaces the base's budget."""
    merged = merge(base, overrides)
    budget = {k: overrides.get(k) for k in ("steps", "minutes")}
    if any(v is not None for v in budget.values()):
        merged.update(budget)
    return merged


def train(
    run_dir: str | Path,
    data: str | None = None,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
    resume: bool = False,
    show_progress: bool = True,
) -> TrainResult:
    """Train a model into the run folder ``run_dir`` (``runs``), or continue one with ``resume``.

    On resume the saved config.yaml is the base; ``overrides`` may change the budget (``steps`` or
    ``minutes``) to train longer. A fresh run refuses a folder that already holds checkpoints.
    Under ``torchrun`` it trains data-parallel across the ranks (see ``distributed``).
    """
    run = Run(run_dir)
    if resume:
        if not run.has_checkpoint(LATEST):
            raise UserError(f"{run.path}: nothing to resume (no checkpoint in it)")
        changes = merge(load_yaml(config_path) if config_path else {}, overrides or {})
        saved = load_yaml(run.config_path)
        cfg = resume_config(saved, changes, where=str(run.config_path))
    else:
        if run.has_checkpoint(LATEST):
            raise UserError(
                f"{run.path} already holds a training run; pass --resume to continue it "
                "or choose another --out folder"
            )
        if not data:
            raise UserError("train needs --data DATASET (made by `gesturegan prepare`)")
        cfg = make_config(data, config_path, overrides)
    world = dist.init_from_env()
    run.path.mkdir(parents=True, exist_ok=True)
    ckpt = run.load_checkpoint(LATEST) if resume else None
    trainer = Trainer(cfg, run, world, ckpt.get("kinds") if ckpt else None)
    if world.is_main:
        run.write_config(cfg)
    if ckpt:
        trainer.restore(ckpt)
        trainer.metrics = run.metrics_rows(up_to_step=trainer.state.step)
    dist.barrier(world)  # every rank has checked the folder before rank 0 writes into it
    try:
        return trainer.fit(show_progress)
    finally:
        dist.shutdown(world)
