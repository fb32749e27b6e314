"""Classifier options: dataclasses loaded from YAML plus overrides, saved as DIR/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import option


@dataclass
class AugmentConfig:
    """Random changes applied to every training clip, each time it is seen (never to val / test).

    They keep the envelope shape — what the gesture categories are about — and change what should
    not matter: level, placement in time, background noise, colour. The library-shift changes
    (speed, band limit, room; off by default) touch the envelope a little — a room lengthens a
    tail, a speed change scales every duration — so their ranges stay mild.
    """

    gain_db: float = option(6.0, "level drawn uniformly in ±gain_db")
    shift_s: tuple[float, float] = option(
        (-0.02, 0.1), "time shift range in seconds (negative: earlier), zero-filled"
    )
    noise_p: float = option(0.5, "probability of mixing in coloured noise ...")
    noise_snr_db: tuple[float, float] = option(
        (20.0, 50.0), "... this far below the clip's peak, in dB [low, high]"
    )
    eq_p: float = option(0.8, "probability of a random EQ: a spectral tilt and one bell ...")
    eq_db: float = option(9.0, "... each of up to ±eq_db")
    freq_mask: float = option(
        0.2, "blank a band of up to this share of the image rows (frequencies)"
    )
    # Library shift: how another library's recordings differ from this one's.
    reverb_p: float = option(0.0, "probability of adding a room: exponentially decaying noise ...")
    reverb_rt60_s: tuple[float, float] = option(
        (0.1, 0.6), "... that falls 60 dB in this many seconds [low, high] ..."
    )
    reverb_wet: tuple[float, float] = option((0.05, 0.3), "... mixed in at this share of the energy")
    band_p: float = option(
        0.0, "probability of a band limit, as from a file recorded at a lower rate: ..."
    )
    band_hz: tuple[float, float] = option(
        (4000.0, 11025.0), "... nothing above a cut-off in this range of Hz"
    )
    speed_p: float = option(
        0.0, "probability of playing the clip faster or slower (pitch and time) ..."
    )
    speed: tuple[float, float] = option((0.94, 1.06), "... by a factor in this range")

    def __post_init__(self) -> None:
        if not 0 <= self.freq_mask < 1:
            raise ValueError(f"freq_mask must be in [0, 1), got {self.freq_mask}")
        if self.gain_db < 0 or self.eq_db < 0:
            raise ValueError("gain_db and eq_db must be non-negative")
        probabilities = ("noise_p", "eq_p", "reverb_p", "band_p", "speed_p")
        if not all(0 <= getattr(self, name) <= 1 for name in probabilities):
            raise ValueError(f"{', '.join(probabilities)} are probabilities in [0, 1]")
        if len(self.shift_s) != 2 or self.shift_s[0] > self.shift_s[1]:
            raise ValueError(f"shift_s must be a range [low, high], got {list(self.shift_s)}")
        ranges = {"noise_snr_db": (-np.inf, np.inf), "reverb_rt60_s": (1e-3, 10.0),
                  "reverb_wet": (0.0, 1.0), "band_hz": (1.0, np.inf), "speed": (0.25, 4.0)}  # fmt: skip
        for name, (lowest, highest) in ranges.items():
            lo_hi = getattr(self, name)
            if len(lo_hi) != 2 or not lowest <= lo_hi[0] <= lo_hi[1] <= highest:
                raise ValueError(
                    f"{name} must be a range [low, high] within [{lowest}, {highest}], "
                    f"got {list(lo_hi)}"
                )


@dataclass
class ClassifierConfig:
    """Everything needed to rebuild the classifier and repeat its training.

    The network (``model.GestureCNN``): the representation image averaged over ``freq_pool``
    neighbouring rows; ``len(channels)`` blocks of 3x3 convolution, batch norm, ReLU and 2x2
    max-pooling; the mean over frequency, pooled to ``time_steps`` slots (so the order of events in
    time survives); a linear layer to the ``embed_dim``-wide embedding (ReLU); dropout; a linear
    layer to the classes.
    """

    repr: str = option(
        "logmel_gl", "representation the network reads (`gesturegan reprs`)", section="input"
    )
    repr_options: dict[str, Any] = option(
        factory=dict, help="keyword options of the representation, as a YAML mapping"
    )
    freq_pool: int = option(
        2, "average this many neighbouring image rows (frequencies) first", section="network"
    )
    channels: tuple[int, ...] = option(
        (12, 24, 48, 64), "channels of each convolution block (one block per value)"
    )
    time_steps: int = option(8, "time slots the pooled features keep (their order survives)")
    embed_dim: int = option(128, "width of the embedding before the class layer")
    dropout: float = option(0.3, "dropout before the class layer")
    batch_size: int = option(32, "clips per step", section="training")
    lr: float = option(0.002, "AdamW learning rate")
    weight_decay: float = option(0.01, "AdamW weight decay")
    label_smoothing: float = option(0.05, "label smoothing of the cross-entropy loss")
    class_weighting: bool = option(
        True, "loss weights ∝ 1 / class frequency in the training split"
    )
    max_epochs: int = option(80, "at most this many epochs")
    # Batch-norm statistics settle in the first epochs.
    min_epochs: int = option(12, "never stop earlier than this many epochs")
    patience: int = option(10, "epochs without a better validation loss before stopping")
    minutes: float | None = option(None, "time budget in minutes")
    val_fraction: float = option(
        0.15, "share of source files held out for validation (early stopping)", section="split"
    )
    test_fraction: float = option(0.15, "share of source files held out for the test figures")
    seed: int = option(0, "seeds the split, the weights and the augmentation")
    holdout_library: str | None = option(
        None, "test on this whole library only and train on the others"
    )
    groups: str | None = option(
        None, "CSV file,library naming each file's library (default: its first folder)"
    )
    augment: AugmentConfig = option(
        factory=AugmentConfig,
        help="random changes to every training clip, each time it is seen",
        section="augmentation (training clips only)",
    )

    def __post_init__(self) -> None:
        if not self.channels or min(self.channels) < 1:
            raise ValueError("channels must list at least one positive width")
        for name in (
            "freq_pool",
            "time_steps",
            "embed_dim",
            "batch_size",
            "max_epochs",
            "patience",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.min_epochs < 0:
            raise ValueError(f"min_epochs must be non-negative, got {self.min_epochs}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError("lr must be positive and weight_decay non-negative")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"minutes must be positive, got {self.minutes}")
        fractions = (self.val_fraction, self.test_fraction)
        if min(fractions) < 0 or sum(fractions) >= 1:
            raise ValueError("val_fraction and test_fraction must be ≥ 0 and sum to less than 1")
