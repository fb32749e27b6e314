"""Training a GAN into a run folder. ``train(run_dir, data, …)`` is the entry point.

config (options) → start (new or resumed run) → loop (orchestration) over state (what a checkpoint
holds), step (one D and one G update), schedule (growth, fade-in, budget), probes (live quality,
with monitor's judges), snapshots and exports (through ``runs.Run``), progress (metrics rows,
bars, stop requests); kinds and augment plug into the step; data feeds it."""

from .config import TrainConfig
from .exports import TrainResult
from .loop import Trainer
from .start import train

__all__ = ["TrainConfig", "TrainResult", "Trainer", "train"]
