"""The schedule: when each growth stage ends, how far its new layers have faded in, when the run is
done, and how long is left — pure functions of the config and the counters (``state.Counters``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import TrainConfig
from .state import Counters


def stage_end_step(steps: int, stage: int, n_stages: int) -> int:
    """The step at which ``stage`` (0 = the first: 4x4, or 4x16 for a 256x1024 image) ends under a
    ``steps`` budget: equal shares."""
    return round(steps * (stage + 1) / n_stages)


def stage_budget_s(minutes: float, stage: int, n_stages: int, power: float = 1.0) -> float:
    """Training seconds ``stage`` gets under a ``minutes`` budget: a share ∝ ``(1 + stage)^power``
    (``TrainConfig.stage_time_power``), since later stages cost more per step."""
    weights = [(1 + s) ** power for s in range(n_stages)]
    return minutes * 60.0 * weights[stage] / sum(weights)


def stage_progress(cfg: TrainConfig, c: Counters, n_stages: int) -> float:
    """Fraction of the current stage done, in [0, 1] (the last stage never ends by itself)."""
    if cfg.steps is not None:
        start, end = c.stage_start_step, stage_end_step(cfg.steps, c.stage, n_stages)
        return 1.0 if end <= start else min(1.0, (c.step - start) / (end - start))
    budget = stage_budget_s(cfg.minutes, c.stage, n_stages, cfg.stage_time_power)
    return min(1.0, c.stage_elapsed_s / budget)


def alpha(cfg: TrainConfig, c: Counters, n_stages: int) -> float:
    """Fade-in of the newest layers: 0 → 1 over the first half of every stage but the first.

    Once 1 it stays 1 for the stage, also when a resume with a larger budget stretches the
    stage's schedule."""
    if c.stage == 0 or c.faded_in:
        return 1.0
    return min(1.0, 2.0 * stage_progress(cfg, c, n_stages))


def done(cfg: TrainConfig, c: Counters) -> bool:
    """True once the step count or the time budget (whichever is set and comes first) is spent,
    or, with ``until_plateau_minutes``, when the live quality has not improved for that long."""
    plateau = (
        cfg.until_plateau_minutes is not None
        and c.best_probe_fd < math.inf
        and c.elapsed_s - c.best_elapsed_s > cfg.until_plateau_minutes * 60.0
    )
    return (
        plateau
        or (cfg.steps is not None and c.step >= cfg.steps)
        or (cfg.minutes is not None and c.elapsed_s >= cfg.minutes * 60.0)
    )


def advance(cfg: TrainConfig, c: Counters, n_stages: int, dt: float, data_position: int) -> None:
    """Count one finished step that took ``dt`` seconds; the data loader is at
    ``data_position``."""
    c.step += 1
    c.elapsed_s += dt
    c.stage_elapsed_s += dt
    c.data_position = data_position
    c.faded_in = alpha(cfg, c, n_stages) >= 1.0


def grow(c: Counters) -> None:
    """Start the next stage: its budget, its fade-in and its best probe start afresh."""
    c.stage += 1
    c.stage_start_step = c.step
    c.stage_elapsed_s = 0.0
    c.faded_in = False
    c.best_probe_fd, c.best_heard, c.best_elapsed_s = math.inf, -1.0, c.elapsed_s


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
        budget = stage_budget_s(cfg.minutes, stage, n_stages, cfg.stage_time_power)
        stage_s = run if last else budget - stage_elapsed_s
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
