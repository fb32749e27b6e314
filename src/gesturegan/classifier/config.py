"""Classifier options: dataclasses loaded from YAML plus overrides, saved as DIR/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import check, option


@dataclass
class AugmentConfig:
    """Random changes applied to every training clip, each time it is seen (never to val / test).

    They keep the envelope shape — what the gesture categories are about — and change what should
    not matter: level, placement in time, background noise, colour. The library-shift changes
    (speed, band limit, room; off by default) touch the envelope a little — a room lengthens a
    tail, a speed change scales every duration — so their ranges stay mild.
    """

    gain_db: float = option(6.0, "level drawn uniformly in ±gain_db", at_least=0)
    shift_s: tuple[float, float] = option(
        (-0.02, 0.1), "time shift range in seconds (negative: earlier), zero-filled"
    )
    noise_p: float = option(
        0.5, "probability of mixing in coloured noise ...", at_least=0, at_most=1
    )
    noise_snr_db: tuple[float, float] = option(
        (20.0, 50.0), "... this far below the clip's peak, in dB [low, high]"
    )
    eq_p: float = option(
        0.8, "probability of a random EQ: a spectral tilt and one bell ...", at_least=0, at_most=1
    )
    eq_db: float = option(9.0, "... each of up to ±eq_db", at_least=0)
    freq_mask: float = option(
        0.2, "blank a band of up to this share of the image rows (frequencies)", at_least=0, below=1
    )
    # Library shift: how another library's recordings differ from this one's.
    reverb_p: float = option(
        0.0, "probability of adding a room: exponentially decaying noise ...", at_least=0, at_most=1
    )
    reverb_rt60_s: tuple[float, float] = option(
        (0.1, 0.6), "... that falls 60 dB in this many seconds [low, high] ..."
    )
    reverb_wet: tuple[float, float] = option(
        (0.05, 0.3), "... mixed in at this share of the energy"
    )
    band_p: float = option(
        0.0,
        "probability of a band limit, as from a file recorded at a lower rate: ...",
        at_least=0,
        at_most=1,
    )
    band_hz: tuple[float, float] = option(
        (4000.0, 11025.0), "... nothing above a cut-off in this range of Hz"
    )
    speed_p: float = option(
        0.0,
        "probability of playing the clip faster or slower (pitch and time) ...",
        at_least=0,
        at_most=1,
    )
    speed: tuple[float, float] = option((0.94, 1.06), "... by a factor in this range")

    def __post_init__(self) -> None:
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

    ``model: features`` grows a random forest (``forest.Forest``) on each clip's envelope
    features; the rest of this describes ``model: cnn``, the default.

    The network (``model.GestureCNN``): the representation image averaged over ``freq_pool``
    neighbouring rows and ``time_pool`` neighbouring columns; ``len(channels)`` blocks of 3x3
    convolution, batch norm, ReLU and 2x2 max-pooling; the mean over frequency, pooled to
    ``time_steps`` slots (so the order of events in time survives); a linear layer to the
    ``embed_dim``-wide embedding (ReLU); dropout; a linear layer to the classes.
    """

    # docs/gestures.md, "The classifier on envelope features": held out by library, the forest
    # placed the gesture categories better; the CNN reads timbre too, for any other label set.
    model: str = option(
        "cnn",
        "what learns the classes: `cnn` (a CNN on the representation's image) or `features` (a "
        "random forest on the labeler's envelope features; the input, network and augmentation "
        "options below are the CNN's)",
        section="model",
        choices=("cnn", "features"),
    )
    trees: int = option(500, "`features`: trees in the forest", at_least=1)
    min_leaf: int = option(
        2, "`features`: fewest training clips a leaf of a tree holds", at_least=1
    )
    repr: str = option(
        "logmel_gl", "representation the network reads (`gesturegan reprs`)", section="input"
    )
    repr_options: dict[str, Any] = option(
        factory=dict, help="keyword options of the representation, as a YAML mapping"
    )
    freq_pool: int = option(
        2,
        "average this many neighbouring image rows (frequencies) first",
        section="network",
        at_least=1,
    )
    # A long clip (65536 samples: 256 x 256) costs four times a 16384-sample one (128 x 128);
    # freq_pool 4 and time_pool 2 bring it back to the same 64 x 128 at 2x coarser time.
    time_pool: int = option(
        1, "average this many neighbouring image columns (times) first", at_least=1
    )
    channels: tuple[int, ...] = option(
        (12, 24, 48, 64), "channels of each convolution block (one block per value)", at_least=1
    )
    time_steps: int = option(
        8, "time slots the pooled features keep (their order survives)", at_least=1
    )
    embed_dim: int = option(128, "width of the embedding before the class layer", at_least=1)
    dropout: float = option(0.3, "dropout before the class layer", at_least=0, below=1)
    batch_size: int = option(32, "clips per step", section="training", at_least=1)
    lr: float = option(0.002, "AdamW learning rate", above=0)
    weight_decay: float = option(0.01, "AdamW weight decay", at_least=0)
    label_smoothing: float = option(
        0.05, "label smoothing of the cross-entropy loss", at_least=0, below=1
    )
    class_weighting: bool = option(True, "loss weights ∝ 1 / class frequency in the training split")
    balanced_sampling: bool = option(
        False,
        "each epoch draws its clips class by class, every class equally often (with replacement): "
        "a rare class is seen in more augmented versions; its training loss is then unweighted",
    )
    max_epochs: int = option(80, "at most this many epochs", at_least=1)
    # Batch-norm statistics settle in the first epochs.
    min_epochs: int = option(12, "never stop earlier than this many epochs", at_least=0)
    patience: int = option(
        10, "epochs without a better validation loss before stopping", at_least=1
    )
    minutes: float | None = option(None, "time budget in minutes", above=0)
    val_fraction: float = option(
        0.15,
        "share of source files held out for validation (early stopping)",
        section="split",
        at_least=0,
        below=1,
    )
    test_fraction: float = option(
        0.15, "share of source files held out for the test figures", at_least=0, below=1
    )
    seed: int = option(
        0, "seeds the split, the weights and the augmentation", at_least=0, at_most=2**32 - 1
    )
    holdout_library: str | None = option(
        None, "test on this whole library only and train on the others"
    )
    groups: str | None = option(
        None, "CSV file,library naming each file's library (default: its first folder)"
    )
    # docs/gestures.md: the built-in corpus as an extra library lifts leave-one-library-out.
    train_only: tuple[str, ...] = option(
        (),
        "libraries whose clips are only trained on: never validated, tested or held out (e.g. "
        "the built-in corpus added to the data as a folder of its own)",
    )
    augment: AugmentConfig = option(
        factory=AugmentConfig,
        help="random changes to every training clip, each time it is seen",
        section="augmentation (training clips only)",
    )

    def __post_init__(self) -> None:
        check(self, "classifier")  # the Python API builds it directly, not through from_dict
        if not self.channels:
            raise ValueError("channels must list at least one positive width")
        fractions = (self.val_fraction, self.test_fraction)
        if min(fractions) < 0 or sum(fractions) >= 1:
            raise ValueError("val_fraction and test_fraction must be ≥ 0 and sum to less than 1")
