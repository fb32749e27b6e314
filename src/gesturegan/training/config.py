"""Training options: one dataclass, loaded from YAML plus CLI overrides, saved as RUN/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import presets
from ..config import field_help, from_dict, load_yaml, merge, option
from ..device import PRECISIONS
from ..errors import UserError
from ..models import MODELS
from ..models.dcgan import DCGANConfig
from ..models.pgan import OPTIONS_BEFORE, PGANConfig
from ..models.wavegan import WaveGANConfig
from .augment import AUGMENT_MODES
from .losses import LOSSES

DEFAULT_MINUTES = 30.0  # budget when neither steps nor minutes is given
# How the last stage of a gesture model picks the generator it exports (docs/training.md).
PICKS = ("heard", "probe_fd")


@dataclass
class TrainConfig:
    """Everything needed to rebuild the models and repeat the run.

    The schedule is either a step count (``steps``: deterministic, stages get equal step shares) or a
    time budget (``minutes``: stage s gets a share ∝ ``(1 + s)^stage_time_power`` of the time, the
    power 3 by default, since later stages cost more per step). In both, the first half of each
    stage after the first fades the new layers in.
    """

    data: str = option(
        "", "dataset folder made by `gesturegan prepare`", section="what to learn from"
    )
    preset: str | None = option(
        None,
        f"{', '.join(presets.PRESETS)} (docs/commands.md, Presets): fills the options it sets "
        "that are not given, and wants data prepared with the same preset; null: none",
    )
    model: str = option(
        "pgan",
        "pgan (progressive), dcgan (one stage) or wavegan (1-D; needs repr waveform)",
        choices=tuple(MODELS),
    )
    repr: str = option("stft_pghi", "audio representation the model learns (`gesturegan reprs`)")
    repr_options: dict[str, Any] = option(
        factory=dict, help="keyword options of the representation, as a YAML mapping"
    )
    seed: int = option(
        0, "seeds the weights, the latents and the data order", at_least=0, at_most=2**32 - 1
    )
    steps: int | None = option(
        None,
        "total steps (one D and one G update each); stages get equal shares",
        section=f"how long (give one; neither means minutes: {DEFAULT_MINUTES:g})",
        at_least=1,
    )
    minutes: float | None = option(
        None,
        "training time budget in minutes; stage s of n gets a share ∝ (1 + s)^stage_time_power",
        above=0,
    )
    # A step costs ~60x more at 256x128 than at 8x4: with the power 1, a 30-minute run on two CPU
    # cores left the last stage 70 steps old; the power 3 gives it 49 % of the time, and read
    # better on the training clips of all three study libraries (docs/study.md, 7 December).
    stage_time_power: float = option(
        3.0,
        "how a minutes budget is shared: stage s gets ∝ (1 + s)^power of the time (0: equal "
        "shares; 3: the last of six stages gets 49 %, 1: 29 %)",
        at_least=0,
    )
    # 32 at 128x128 too: a step there ran at 56 % of the matmul rate against 50 % at 16, for 3–6 %
    # more images per second.
    batch_size: tuple[int, ...] = option(
        (32,),
        "clips per step, one value per growth stage from the first up; the last repeats",
        section="optimisation",
        at_least=2,
    )
    batch: str = option(
        "fixed",
        "fixed: batch_size as given; auto: on a CUDA GPU, per stage the largest power of two "
        "whose trial step fits in batch_memory of the GPU, at most batch_max and the training "
        "clips per process (on the CPU and MPS, batch_size as given); chosen when the run "
        "starts and saved as batch_size, so a resume keeps them. lr is not scaled",
        choices=("fixed", "auto"),
    )
    batch_max: int = option(256, "the largest batch per process that auto may choose", at_least=2)
    batch_memory: float = option(
        0.8,
        "the share of the GPU's memory a trial step of auto may fill (the rest: probes, decoders)",
        above=0,
        at_most=1,
    )
    loss: str = option(
        "ns_r1", "ns_r1 (non-saturating + lazy R1) or wgan_gp (WGAN-GP + drift)", choices=LOSSES
    )
    gp_lambda: float = option(10.0, "gradient-penalty weight (wgan_gp)", at_least=0)
    lr: float = option(0.002, "Adam learning rate of G and D", above=0)
    betas: tuple[float, float] = option(
        (0.0, 0.99), "Adam betas [beta1, beta2] of G and D", at_least=0, below=1
    )
    r1_gamma: float = option(
        1.0, "R1 penalty weight on real images (ns_r1; 0 turns it off)", at_least=0
    )
    r1_every: int = option(4, "apply R1 every this many steps (lazy regularisation)", at_least=1)
    ema_kimg: float = option(
        2.0,
        "half-life of the generator's moving average (EMA G), in thousands of images",
        at_least=0,
    )
    ema_rampup: float = option(
        0.05, "EMA half-life is at most this fraction of the images seen so far", at_least=0
    )
    augment: str = option(
        "off",
        'off, ada (adaptive strength) or fixed (always augment_p); YAML needs "off" quoted',
        section="augmentation of what D sees (small datasets: try ada)",
        choices=AUGMENT_MODES,
    )
    augment_p: float = option(
        0.0,
        "starting (ada) or constant (fixed) probability of each transform, 0..1",
        at_least=0,
        at_most=1,
    )
    ada_target: float = option(
        0.6, "ada raises p while r_t = E[sign D(real)] is above this target", at_least=-1, at_most=1
    )
    ada_speed_kimg: float = option(
        20.0, "ada can move p from 0 to 1 in this many thousand images", above=0
    )
    device: str = option(
        "auto",
        "auto (a CUDA GPU when present, else the CPU), cpu, cuda, cuda:N or mps; the config "
        "saved in the run names the device used",
        section="where and how precisely it runs",
    )
    precision: str = option(
        "fp32",
        "fp32, bf16 or fp16 (autocast; R1 and gradient penalties stay fp32; fp16 needs a GPU)",
        choices=PRECISIONS,
    )
    compile: bool = option(
        False,
        "run G's and D's training passes through torch.compile (R1 and gradient penalties "
        "stay eager); every stage compiles anew when first met",
    )
    monitor_every_minutes: float = option(
        1.0,
        "how often the live quality probe runs (probe_fd, diversity, best.pt)",
        section="the live quality probe, and what the run folder gets how often",
        at_least=0,
    )
    # A probe's steps decide which generator the last stage exports: on a clock, a machine of
    # another pace (or a busy one) probes other steps and exports another model of the same
    # training. The demo probes by steps so that every machine exports the same step's.
    monitor_every_steps: int | None = option(
        None,
        "run the probe every this many steps instead of by the clock (null: every "
        "monitor_every_minutes)",
        at_least=1,
    )
    until_plateau_minutes: float | None = option(
        None, "also stop when probe_fd has not improved for this long (null: never)", at_least=0
    )
    pick: str = option(
        "heard",
        "which probe of the last stage a gesture model exports: heard (the labeler's worst "
        "category, then probe_fd) or probe_fd (the lowest); both only once faded in, never "
        "collapsed",
        choices=PICKS,
    )
    checkpoint_every_steps: int = option(
        500, "write checkpoints/latest.pt every this many steps", at_least=1
    )
    checkpoint_every_minutes: float = option(
        2.0, "write checkpoints/latest.pt at least every this many minutes", at_least=0
    )
    snapshot_every_minutes: float = option(
        1.0, "how often a grid PNG and one WAV per class go to samples/", at_least=0
    )
    log_every_steps: int = option(
        10, "how often a row goes to logs/metrics.csv and TensorBoard", at_least=1
    )
    snapshot_per_class: int = option(4, "fixed latents per class in the snapshot grids", at_least=1)
    pgan: PGANConfig = option(
        factory=PGANConfig,
        help="progressive GAN (model pgan)",
        section="architectures: only the block of `model` is used",
    )
    dcgan: DCGANConfig = option(factory=DCGANConfig, help="DCGAN (model dcgan)")
    wavegan: WaveGANConfig = option(factory=WaveGANConfig, help="WaveGAN (model wavegan)")

    def __post_init__(self) -> None:
        if self.steps is None and self.minutes is None:
            self.minutes = DEFAULT_MINUTES
        if not self.batch_size:
            raise UserError("batch_size must list per-stage sizes of at least 2")
        if self.preset is not None:
            presets.get(self.preset)

    def batch_for_stage(self, stage: int) -> int:
        return self.batch_size[min(stage, len(self.batch_size) - 1)]


# One sentence per option, keyed by its dotted name (``pgan.z_dim``), from the fields above.
OPTION_HELP: dict[str, str] = field_help(TrainConfig)

# What defines the models and the data they see: fixed for the life of a run (``--resume``).
FIXED_ON_RESUME = ("preset", "model", "repr", "repr_options", "seed", "pgan", "dcgan", "wavegan")


def make_config(
    data: str | None,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> TrainConfig:
    """TrainConfig from defaults ← preset ← YAML file ← explicit overrides (``None`` values are
    ignored).

    Overrides may be nested (``{"pgan": {"z_dim": 64}}``: the file's other ``pgan`` options stay).
    A budget among them (``steps`` or ``minutes``) replaces the file's budget rather than adding a
    second limit. A ``preset`` (named in the file or the overrides) fills only the options neither
    of them gives.
    """
    raw = load_yaml(config_path) if config_path else {}
    merged = _apply(raw, overrides or {})
    if data is not None:
        merged["data"] = str(data)
    if isinstance(merged.get("preset"), str):
        merged = merge(presets.get(merged["preset"]).train, merged)
    return from_dict(TrainConfig, merged, where=str(config_path or "train options"))


def resume_config(saved: dict[str, Any], changes: dict[str, Any], where: str) -> TrainConfig:
    """The config of a run being resumed: its saved ``config.yaml`` with ``changes`` applied.

    A longer budget, another learning rate, loss, augmentation or interval may be given; what
    defines the models and the data they see (``FIXED_ON_RESUME``) may not, since the checkpoint's
    weights were made for it.
    """
    if isinstance(saved.get("pgan"), dict):  # options the run predates: as it was trained
        saved = {**saved, "pgan": {**OPTIONS_BEFORE, **saved["pgan"]}}
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
