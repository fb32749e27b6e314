"""Presets: named sets of defaults for a clip's rate and length and the model that learns it.

``--preset NAME`` on ``prepare`` fills ``--sr`` and ``--length``; on ``train`` (a ``TrainConfig``
field) it fills the training options in ``Preset.train`` and asks the dataset to match the preset's
rate and length. A preset only fills: every field it sets stays an option, and an explicit flag or a
key of the ``--config`` YAML file wins over it. The run saves the resolved options and the preset's
name in ``config.yaml``.

>>> PRESETS["studio"].sr, PRESETS["studio"].length, PRESETS["studio"].seconds
(44100, 65536, 1.486)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import UserError

# The one place the wider model of the 44.1 kHz presets is set. A stage of resolution r has
# min(channel_max, channel_base / r) channels per layer: 128 up to 64, 64 at 128, 32 at 256, where
# the sketch model (channel_max 64, channel_base 2048) has 64 up to 32, then 32, 16 and 8: 4x the
# convolution work at the small stages, 16x at 64 and up. A first choice for a GPU, not yet measured
# for quality or speed (issue 36).
WIDE_PGAN: dict[str, Any] = {"channel_max": 128, "channel_base": 8192}


@dataclass(frozen=True)
class Preset:
    """A clip geometry (``sr`` in Hz, ``length`` in samples) and the training options it fills."""

    name: str
    sr: int
    length: int
    about: str
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields, nested like YAML

    @property
    def seconds(self) -> float:
        """Clip duration in seconds, to the millisecond."""
        return round(self.length / self.sr, 3)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("sketch", 22050, 16384, "the defaults: 0.74 s at 22.05 kHz, minutes on a laptop CPU"),
        Preset(
            "studio", 44100, 65536, "1.49 s at 44.1 kHz, a wider model: a GPU or a night on a CPU",
            {"pgan": WIDE_PGAN},
        ),
        Preset(
            "long", 44100, 131072, "2.97 s at 44.1 kHz, the wider model: meant for a GPU",
            {"pgan": WIDE_PGAN},
        ),
    )
}


def get(name: str) -> Preset:
    """The preset called ``name``; a ``UserError`` listing the presets for any other name."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[name]


def check_dataset(name: str, sr: int, length: int, where: str) -> None:
    """Refuse a dataset (clips of ``length`` samples at ``sr`` Hz, at ``where``) that is not the
    preset's geometry: training it would silently make another model than the preset promises.

    Raises
    ------
    UserError : saying what the dataset holds and how to prepare one for the preset.
    """
    p = get(name)
    if (sr, length) != (p.sr, p.length):
        raise UserError(
            f"the {name} preset trains on {p.length}-sample clips at {p.sr} Hz, but {where} holds "
            f"{length} at {sr} Hz; prepare the data with `gesturegan prepare SRC OUT --preset "
            f"{name}`, or train without --preset"
        )
