"""What a person sees of a running training: metrics rows (metrics.csv and TensorBoard), two
progress bars, and a polite stop on Ctrl+C / SIGTERM."""

from __future__ import annotations

import math
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ..runs import Run
from .config import TrainConfig
from .schedule import clock, stage_progress, time_left
from .state import Counters
from .step import STAT_KEYS

METRIC_COLUMNS = (
    "step", "time_s", "stage", "alpha", "kimg", "d_loss", "g_loss", "penalty", "d_real", "d_fake",
    "grad_d", "grad_g", "augment_p", "ada_rt", "probe_fd", "diversity", "heard", "sec_per_step",
    "img_per_s",
)  # fmt: skip
LOGGED_KEYS = (*STAT_KEYS, "augment_p", "ada_rt", "probe_fd", "diversity", "heard")


class MetricsLog:
    """The logged rows of a run (kept in memory, written whole at checkpoints) and their
    TensorBoard twin (rank 0 only; ``enabled`` False elsewhere)."""

    def __init__(
        self, run: Run, extra_columns: tuple[str, ...], rows: list[dict[str, Any]], enabled: bool
    ):
        self.run, self.extra_columns, self.rows = run, extra_columns, rows
        self.enabled = enabled
        self.writer = _tensorboard(run.logs_dir) if enabled else None

    def add(self, c: Counters, stage: str, batch: int, stats: dict[str, float], dt: float) -> None:
        """One row for the step just counted in ``c`` (it took ``dt`` seconds)."""
        row = {
            "step": c.step,
            "time_s": round(c.elapsed_s, 3),
            "stage": stage,
            "kimg": round(c.nimg / 1000, 3),
            "sec_per_step": round(dt, 4),
            "img_per_s": round(batch / dt, 2),
            **{k: round(v, 5) for k, v in stats.items()},
        }
        self.rows.append(row)
        if self.writer is not None:
            for key in (*LOGGED_KEYS, *self.extra_columns):
                if not math.isnan(stats.get(key, math.nan)):
                    self.writer.add_scalar(f"train/{key}", stats[key], c.step)
            self.writer.add_scalar("train/stage", c.stage, c.step)
            self.writer.add_scalar("train/img_per_s", row["img_per_s"], c.step)

    def write(self) -> None:
        if self.enabled:
            self.run.write_metrics(self.rows, (*METRIC_COLUMNS, *self.extra_columns))

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class ProgressBars:
    """Two rich progress bars — the run and the current growth stage — each with the training time
    left (``time_left``), the losses and the live quality; silent when disabled."""

    def __init__(self, cfg: TrainConfig, stages: tuple[str, ...], enabled: bool):
        self.cfg, self.stages, self.bar = cfg, stages, None
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

    def update(self, s: Counters, stats: dict[str, float], sec_per_step: float) -> None:
        if s.stage != self.stage or self.sec_per_step is None:  # a new stage runs at a new pace
            self.stage, self.sec_per_step = s.stage, sec_per_step
        else:
            self.sec_per_step += 0.1 * (sec_per_step - self.sec_per_step)
        if self.bar is None:
            return
        cfg, n = self.cfg, len(self.stages)
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
            f"{self.stages[s.stage]} ({s.stage + 1}/{n}) α {stats['alpha']:.2f} · "
            f"ends in {clock(left.stage_s)}"
        )
        if stats["probe_fd"] == stats["probe_fd"]:
            desc += f" · quality(FD↓) {stats['probe_fd']:.2f} variety {stats['diversity']:.2f}"
        if stats["heard"] == stats["heard"]:
            desc += f" · heard as asked ≥ {stats['heard']:.0%}"
        self.bar.update(self.stage_task, completed=stage_progress(cfg, s, n), description=desc)

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


def _tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # TensorBoard is a pinned dependency; tolerate its absence in odd installs
        return None
    return SummaryWriter(log_dir=str(folder))
