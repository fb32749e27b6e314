"""Training options: one dataclass, loaded from YAML plus CLI overrides, saved as RUN/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError
from ..models import MODELS
from ..models.dcgan import DCGANConfig
from ..models.pgan import PGANConfig
from ..models.wavegan import WaveGANConfig
from .losses import LOSSES

DEFAULT_MINUTES = 30.0  # budget when neither steps nor minutes is given


@dataclass
class TrainConfig:
    """Everything needed to rebuild the models and repeat the run.

    The schedule is either a step count (``steps``: deterministic, stages get equal step shares) or a
    time budget (``minutes``: stage s gets a share ∝ ``1 + s`` of the time, since later stages cost
    more per step). In both, the first half of each stage after the first fades the new layers in.
    """

    data: str = ""  # dataset directory (made by `gesturegan prepare`)
    model: str = "pgan"
    repr: str = "logmel_gl"
    repr_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    steps: int | None = None  # total optimisation steps (one D + one G update each)
    minutes: float | None = None  # total training time budget
    batch_size: tuple[int, ...] = (32, 32, 32, 32, 32, 16)  # per stage; the last repeats
    loss: str = "ns_r1"  # "ns_r1" (non-saturating + lazy R1) or "wgan_gp" (WGAN-GP + drift)
    gp_lambda: float = 10.0  # gradient-penalty weight (wgan_gp)
    lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 1.0  # R1 penalty weight on real images (non-saturating loss)
    r1_every: int = 4  # lazy regularisation interval (steps)
    ema_kimg: float = 2.0  # half-life of the generator EMA, in thousands of images
    ema_rampup: float = 0.05  # EMA half-life is at most this fraction of images seen so far
    augment: str = "off"  # "off", "ada" (adaptive strength) or "fixed" (always augment_p)
    augment_p: float = 0.0  # starting (ada) or constant (fixed) augmentation probability
    ada_target: float = 0.6  # r_t = E[sign D(real)] above this means D overfits: raise p
    ada_speed_kimg: float = 20.0  # p can move from 0 to 1 in this many thousand images
    monitor_every_minutes: float = 1.0  # live quality probe (probe_fd, diversity) and best.pt
    until_plateau_minutes: float | None = None  # stop when probe_fd has not improved for this long
    checkpoint_every_steps: int = 500
    checkpoint_every_minutes: float = 2.0
    snapshot_every_minutes: float = 1.0
    log_every_steps: int = 10
    snapshot_per_class: int = 4
    pgan: PGANConfig = field(default_factory=PGANConfig)
    dcgan: DCGANConfig = field(default_factory=DCGANConfig)
    wavegan: WaveGANConfig = field(default_factory=WaveGANConfig)

    def __post_init__(self) -> None:
        if self.steps is None and self.minutes is None:
            self.minutes = DEFAULT_MINUTES
        if self.steps is not None and self.steps < 1:
            raise UserError(f"steps must be at least 1, got {self.steps}")
        if self.minutes is not None and self.minutes <= 0:
            raise UserError(f"minutes must be positive, got {self.minutes}")
        if not self.batch_size or min(self.batch_size) < 2:
            raise UserError("batch_size must list per-stage sizes of at least 2")
        if self.augment not in ("off", "ada", "fixed"):
            raise UserError(f"augment must be off, ada or fixed; got {self.augment!r}")
        if not 0.0 <= self.augment_p <= 1.0:
            raise UserError(f"augment_p must be in [0, 1], got {self.augment_p}")
        if self.model not in MODELS:
            raise UserError(f"model must be one of {', '.join(MODELS)}; got {self.model!r}")
        if self.loss not in LOSSES:
            raise UserError(f"loss must be one of {', '.join(LOSSES)}; got {self.loss!r}")
        if self.lr <= 0:
            raise UserError(f"lr must be positive, got {self.lr}")

    def batch_for_stage(self, stage: int) -> int:
        return self.batch_size[min(stage, len(self.batch_size) - 1)]
