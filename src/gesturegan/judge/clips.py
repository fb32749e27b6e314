"""Reading a set of clips for the judge: a folder of audio files or a prepared dataset.

A folder's class of a file is its first sub-folder under the root (files directly in the root have
no class); a dataset's classes are its labels. Every clip is mono, resampled to the judge's rate
and cut to ``max_s`` seconds. Files that cannot be read are skipped and listed, never fatal; a set
with no readable clip is a ``UserError``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import audio
from ..dataset import Dataset
from ..errors import UserError

MIN_SAMPLES = 64
"""Shorter clips (after resampling) carry no spectrum worth judging; they are skipped and listed."""


@dataclass
class ClipSet:
    """Clips of one set at one rate.

    Attributes
    ----------
    waves : one ``[T_i] float32`` array per clip, in [-1, 1] (lengths may differ).
    sr : rate in Hz.
    labels : one class name per clip; ``""`` when the clip has none.
    names : where each clip came from (a file path, or ``dataset#index``).
    skipped : ``"name: why"`` for every file that was left out.
    """

    waves: list[np.ndarray]
    sr: int
    labels: list[str]
    names: list[str]
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.waves)

    def subset(self, indices) -> ClipSet:
        """The clips at ``indices`` (a new set; waves are shared, not copied)."""
        idx = [int(i) for i in indices]
        return ClipSet(
            [self.waves[i] for i in idx], self.sr, [self.labels[i] for i in idx],
            [self.names[i] for i in idx], list(self.skipped),
        )  # fmt: skip

    @property
    def classes(self) -> list[str]:
        """The class names present, sorted (``""``, no class, left out)."""
        return sorted({label for label in self.labels if label})


def load(path: str | os.PathLike, sr: int, max_s: float = 30.0) -> ClipSet:
    """Read ``path`` (a folder of audio files, or a dataset folder made by ``prepare``).

    Parameters
    ----------
    path : folder; a ``dataset.json`` inside makes it a dataset.
    sr : rate in Hz the clips are resampled to.
    max_s : seconds kept from the start of each file.

    Raises
    ------
    UserError : ``path`` is not a folder, or holds no readable audio clip.
    """
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: not a folder of audio files or a dataset")
    clips = _load_dataset(path, sr, max_s) if (path / "dataset.json").exists() else None
    if clips is None:
        clips = _load_folder(path, sr, max_s)
    if not clips.waves:
        why = f" ({len(clips.skipped)} file(s) skipped, first: {clips.skipped[0]})" if clips.skipped else ""
        raise UserError(f"{path}: no readable audio clip{why}")
    return clips


def from_arrays(waves, sr: int, labels: list[str] | None = None, name: str = "array") -> ClipSet:
    """A set made from ``waves`` (``[N, T]`` or a list of ``[T_i]``) at ``sr`` Hz, as it is.

    Clips are named ``name#i``; ``compare`` takes equal names in two sets for the same clip, so give
    sets that are not the same clips different names.
    """
    waves = [np.ascontiguousarray(w, dtype=np.float32) for w in waves]
    labels = list(labels) if labels is not None else [""] * len(waves)
    return ClipSet(waves, sr, labels, [f"{name}#{i}" for i in range(len(waves))])


def _load_folder(root: Path, sr: int, max_s: float) -> ClipSet:
    files = sorted(p for p in root.rglob("*") if p.is_file() and audio.is_audio_file(p))
    waves, labels, names, skipped = [], [], [], []
    for f in files:
        try:
            with audio.Reader(f) as r:
                wave = r.read(0, int(round(max_s * r.info.sr)))
                file_sr = r.info.sr
        except UserError as exc:
            skipped.append(str(exc))
            continue
        if not np.isfinite(wave).all():
            skipped.append(f"{f}: contains NaN or infinite samples")
            continue
        wave = audio.resample(wave, file_sr, sr)
        if len(wave) < MIN_SAMPLES:
            skipped.append(f"{f}: too short ({len(wave)} samples at {sr} Hz)")
            continue
        rel = f.relative_to(root).parts
        waves.append(np.ascontiguousarray(wave, dtype=np.float32))
        labels.append(rel[0] if len(rel) > 1 else "")
        names.append(str(f))
    return ClipSet(waves, sr, labels, names, skipped)


def _load_dataset(path: Path, sr: int, max_s: float) -> ClipSet:
    ds = Dataset.open(path)
    keep = min(ds.length, int(round(max_s * ds.sr)))
    waves = [audio.resample(np.array(ds.waves[i, :keep]), ds.sr, sr) for i in range(len(ds))]
    names = [ds.label_names[i] if i >= 0 else "" for i in ds.label_ids]
    return ClipSet(waves, sr, names, [f"{path}#{i}" for i in range(len(ds))])
