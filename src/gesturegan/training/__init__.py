"""Training: configs, the loop, checkpoints. ``train(run_dir, data, …)`` is the entry point."""

from .config import TrainConfig
from .loop import Trainer, TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "Trainer", "train"]
