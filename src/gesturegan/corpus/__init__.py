"""The built-in procedural corpus: labelled sound gestures of the four categories, made from seeds.

``synthesize(category, rng)`` draws one clip; ``write_corpus(out)`` writes a folder of them,
``OUT/<category>/<category>_<index:04d>.wav`` plus ``OUT/labels.csv`` (``file,label``, paths
relative to OUT). Clip ``i`` of a category depends only on ``(seed, category, i, sr, length)``, so
the same seed gives byte-identical files whatever ``per_class`` is.

>>> import numpy as np
>>> wave = synthesize("trigger", np.random.default_rng(0))
>>> wave.shape, wave.dtype
((16384,), dtype('float32'))
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import audio
from ..atomic import write_text
from ..errors import UserError
from ..gestures import CATEGORIES
from . import synth
from .recipes import RECIPES

PEAK_DB_RANGE = (-12.0, -1.0)
"""Each clip is peak-normalised to a level drawn uniformly from this range (dBFS): never clips."""


@dataclass(frozen=True)
class CorpusSummary:
    """What ``write_corpus`` wrote: the folder, clips per category and the labels CSV."""

    out: Path
    counts: dict[str, int]
    labels_csv: Path


def synthesize(
    category: str, rng: np.random.Generator, sr: int = 22050, length: int = 16384
) -> np.ndarray:
    """One procedural clip of a gesture category.

    Parameters
    ----------
    category : str
        One of ``gestures.CATEGORIES``.
    rng : np.random.Generator
        Draws the recipe and all its parameters.
    sr : int
        Sample rate in Hz.
    length : int
        Clip length in samples.

    Returns
    -------
    np.ndarray
        ``[length]`` float32, DC-free, peak at -12..-1 dBFS.
    """
    if category not in RECIPES:
        raise UserError(f"unknown gesture category {category!r}; known: {', '.join(CATEGORIES)}")
    if sr < 8000 or length < 1024:
        raise UserError(f"corpus needs sr >= 8000 Hz and length >= 1024 samples, got {sr}, {length}")
    recipes = RECIPES[category]
    x = recipes[rng.integers(len(recipes))](rng, sr, length)
    x = synth.finish(x, sr)
    x = synth.normalize_peak(x, rng.uniform(*PEAK_DB_RANGE))
    return x.astype(np.float32)


def clip_rng(seed: int, category: str, index: int) -> np.random.Generator:
    """The generator of clip ``index`` of ``category`` in the corpus of ``seed``."""
    key = (CATEGORIES.index(category), index)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def write_corpus(
    out: str | Path,
    per_class: int = 64,
    seed: int = 0,
    sr: int = 22050,
    length: int = 16384,
    progress: Callable[[int, int], None] | None = None,
) -> CorpusSummary:
    """Write the procedural corpus: ``per_class`` 16-bit WAVs per category and ``labels.csv``.

    Parameters
    ----------
    out : str | Path
        Output folder (created; existing files of the same names are replaced atomically).
    per_class : int
        Clips per category.
    seed : int
        Corpus seed; clip ``i`` depends only on ``(seed, category, i, sr, length)``.
    sr : int
        Sample rate in Hz.
    length : int
        Clip length in samples.
    progress : Callable[[int, int], None] | None
        Called as ``progress(done, total)`` after each file.

    Returns
    -------
    CorpusSummary
        The folder, counts per category and the path of ``labels.csv``.
    """
    if per_class < 1:
        raise UserError(f"--per-class must be at least 1, got {per_class}")
    if seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {seed}")
    audio.check_clip_format(sr, length)
    out = Path(out)
    total = per_class * len(CATEGORIES)
    rows = []
    for c, category in enumerate(CATEGORIES):
        for i in range(per_class):
            wave = synthesize(category, clip_rng(seed, category, i), sr, length)
            rel = f"{category}/{category}_{i:04d}.wav"
            audio.write(out / rel, wave, sr)
            rows.append((rel, category))
            if progress is not None:
                progress(c * per_class + i + 1, total)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("file", "label"))
    writer.writerows(rows)
    labels_csv = write_text(out / "labels.csv", buf.getvalue())
    return CorpusSummary(out=out, counts=dict.fromkeys(CATEGORIES, per_class), labels_csv=labels_csv)
