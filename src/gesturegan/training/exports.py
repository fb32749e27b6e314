"""What a run hands on: the inference generator (EMA G, with D of the same step) and how to
rebuild it, written through ``runs.Run``, and the summary a finished training returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import to_dict
from ..runs import Run
from .config import TrainConfig
from .state import Counters, Nets


@dataclass
class TrainResult:
    """What a finished (or interrupted) training left behind."""

    run_dir: Path
    step: int
    stage: str
    elapsed_s: float
    interrupted: bool
    saved: bool = True  # False only when a forced stop mid-step kept the previous checkpoint
    generator_step: int = -1  # the step whose EMA G is the run's exported generator
    generator_heard: float = -1.0  # its worst category's labeler agreement (-1: not measured)
    generator_probe_fd: float = float("inf")  # its probe_fd (inf: not the last stage's best)
    pick: str = "heard"  # which figure picked it (TrainConfig.pick)


@dataclass(frozen=True)
class Facts:
    """What the models were made for: saved in every checkpoint and in the export's meta."""

    label_names: list[str]
    shape: tuple[int, ...]
    sr: int
    length: int
    stages: tuple[str, ...]
    kinds: list[dict] | None
    data_hash: str  # ``Dataset.content_hash`` of the data: ``--resume`` refuses other data

    def checkpoint_part(self, cfg: TrainConfig) -> dict[str, Any]:
        """The checkpoint's keys that describe the run (``training.state``)."""
        return {
            "config": to_dict(cfg),
            "label_names": self.label_names,
            "shape": list(self.shape),
            "sr": self.sr,
            "length": self.length,
            "stages": list(self.stages),
            "kinds": self.kinds,
            "data_hash": self.data_hash,
        }


def generator_meta(cfg: TrainConfig, facts: Facts, c: Counters, alpha: float) -> dict[str, Any]:
    """How to rebuild the inference generator: saved beside its weights."""
    return {
        "model": cfg.model,
        "model_config": to_dict(getattr(cfg, cfg.model)),
        "repr": cfg.repr,
        "repr_options": cfg.repr_options,
        "sr": facts.sr,
        "length": facts.length,
        "shape": list(facts.shape),
        "label_names": facts.label_names,
        "kinds": facts.kinds,
        "stages": list(facts.stages),
        "stage": c.stage,
        "alpha": alpha,
        "step": c.step,
    }


def export(run: Run, nets: Nets, meta: dict[str, Any], is_main: bool, c: Counters) -> None:
    """Write the EMA G as the run's inference generator (rank 0); the counters record its step."""
    c.generator_step = c.step
    if is_main:
        run.write_export(nets.G_ema.state_dict(), meta, nets.D.state_dict())
