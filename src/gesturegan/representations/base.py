"""The one interface every audio representation implements, and the registry behind ``get``.

A representation turns a batch of clips ``wave: [B, T] float32 in [-1, 1]`` into images
``[B, C, H, W]`` a GAN can learn (values roughly in [-1, 1]) and back. ``shape`` is ``(C, H, W)``:
``H`` is frequency (row 0 lowest), ``W`` time. The shared grid (``image_grid``) of a clip of
``length = 2**n`` samples is ``H = min(2**(n // 2), 256)`` rows by ``W = length // H`` columns,
one column per hop of ``H`` samples: 16384 → 128x128, 65536 → 256x256, 131072 → 256x512,
262144 → 256x1024. A representation may choose another grid (``stft_pghi`` does); ``H`` and ``W``
are always powers of two ≥ 4.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..errors import UserError

_REGISTRY: dict[str, Callable[..., Representation]] = {}


class Representation(ABC):
    """Invertible mapping between clips ``[B, T]`` and images ``[B, C, H, W]``.

    Subclasses set ``name`` and implement ``shape``, ``encode`` and ``decode``. ``options`` holds
    the keyword options the instance was built with, so ``get(name, sr, length, **options)``
    rebuilds it exactly (runs save them in their config).
    """

    name: str = ""
    description: str = ""
    untraceable: str = ""
    """Why ``decode`` cannot be recorded as a torch graph (``gesturegan export``); empty if it can."""
    floor_is_silence: bool = False
    """Whether channel 0's lowest value, -1, decodes to silence (the magnitude representations)."""

    def __init__(self, sr: int, length: int, **options: Any) -> None:
        if sr <= 0:
            raise UserError(f"sample rate must be positive, got {sr}")
        if length <= 0:
            raise UserError(f"clip length must be positive, got {length}")
        self.sr = int(sr)
        self.length = int(length)
        self.options = dict(options)

    @property
    @abstractmethod
    def shape(self) -> tuple[int, ...]:
        """Shape of one encoded clip, ``(C, H, W)`` (``(1, T)`` for 1-D representations)."""

    @abstractmethod
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave: [B, T] float32 in [-1, 1]`` → ``image: [B, *shape]``."""

    @abstractmethod
    def decode(self, image: torch.Tensor) -> torch.Tensor:
        """``image: [B, *shape]`` → ``wave: [B, T] float32`` (not clamped)."""

    def _batch(self, wave: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Validate and convert a batch of clips at the edge: ``[B, T]`` (or ``[T]``) float32."""
        wave = torch.as_tensor(wave, dtype=torch.float32)
        if wave.ndim == 1:
            wave = wave[None]
        if wave.ndim != 2 or wave.shape[1] != self.length:
            raise UserError(
                f"{self.name}: expected waves of shape [B, {self.length}], got {list(wave.shape)}"
            )
        return wave

    def _images(self, image: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Validate and convert a batch of images ``[B, *shape]`` (or one image ``shape``)."""
        image = torch.as_tensor(image, dtype=torch.float32)
        # ndim first: comparing a batch's shape element by element would tie an exported
        # decoder's batch size to the channel count.
        if image.ndim == len(self.shape) and tuple(image.shape) == tuple(self.shape):
            image = image[None]
        if tuple(image.shape[1:]) != tuple(self.shape):
            raise UserError(
                f"{self.name}: expected images of shape [B, {', '.join(map(str, self.shape))}],"
                f" got {list(image.shape)}"
            )
        return image

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in sorted(self.options.items()))
        return f"{type(self).__name__}(sr={self.sr}, length={self.length}{opts})"


def register(cls: type[Representation]) -> type[Representation]:
    """Class decorator adding a representation to the registry under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def get(name: str, sr: int = 22050, length: int = 16384, **options: Any) -> Representation:
    """Build the representation ``name`` for clips of ``length`` samples at ``sr`` Hz."""
    if name not in _REGISTRY:
        raise UserError(f"unknown representation {name!r}; choose from {', '.join(names())}")
    try:
        return _REGISTRY[name](sr, length, **options)
    except TypeError as exc:
        raise UserError(f"{name}: bad option ({exc})") from exc


def names() -> list[str]:
    """Registered representation names, in registration order."""
    return list(_REGISTRY)


def describe() -> dict[str, str]:
    """``name → one-line description`` for every registered representation."""
    return {name: cls.description for name, cls in _REGISTRY.items()}


def table(sr: int = 22050, length: int = 16384) -> list[dict[str, Any]]:
    """One row per representation: ``name``, ``shape`` for clips of ``length`` at ``sr``, ``description``."""
    return [
        {"name": name, "shape": list(get(name, sr, length).shape), "description": cls.description}
        for name, cls in _REGISTRY.items()
    ]


MAX_ROWS = 256
"""The shared grid grows along time only once ``H`` reaches this many rows."""


def image_grid(length: int) -> tuple[int, int]:
    """``(H, W)`` of the shared frequency x time grid for a clip of ``length = 2**n`` samples.

    ``H = min(2**(n // 2), 256)`` and ``W = length // H``, so the hop of every STFT on the grid is
    ``H`` samples: 16384 → (128, 128), 65536 → (256, 256), 131072 → (256, 512),
    262144 → (256, 1024). Lengths that are not a power of two from 16 up raise ``UserError``.
    """
    n = length.bit_length() - 1
    if length < 16 or length != 1 << n:
        raise UserError(
            f"clip length {length} is not a power of two from 16 up (e.g. 16384, 65536, 131072, 262144)"
        )
    rows = min(1 << (n // 2), MAX_ROWS)
    return rows, length // rows
