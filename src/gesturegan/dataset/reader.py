"""Reading a dataset directory made by ``prepare``: the audio stays memory-mapped, never loaded whole."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from ..errors import UserError
from .prepare import FORMAT_VERSION, MANIFEST_COLUMNS

_MANIFEST_TYPES = {"id": int, "orig_sr": int, "orig_channels": int, "orig_duration_s": float,
                   "offset": int, "peak": float, "rms": float}  # fmt: skip


class Dataset:
    """A prepared dataset: ``waves [N, length] float32`` (memory-mapped) and one label id per clip.

    Attributes
    ----------
    path : the dataset folder.
    sr : rate in Hz.
    length : samples per clip.
    label_names : class names; a label id indexes this list. Empty when unlabelled.
    waves : ``[N, length] float32`` opened with ``mmap_mode="r"``.
    label_ids : ``[N] int64``; ``-1`` for every clip of an unlabelled dataset (in a labelled one,
        every clip's label is one of ``label_names``: ``open`` checks it).
    manifest : one dict per clip (``prepare.MANIFEST_COLUMNS``, numbers parsed).
    info : the parsed ``dataset.json``.
    holdout_ids : ``[K] int64``, sorted: the clips ``prepare --holdout`` kept out of training (whole
        source files), for evaluation only; empty when none were.
    train_ids : ``[N - K] int64``, sorted: every other clip — all that training may read.
    """

    def __init__(self, path: Path, info: dict, waves: np.ndarray, manifest: list[dict]):
        self.path, self.info, self.waves, self.manifest = path, info, waves, manifest
        self.sr, self.length = int(info["sr"]), int(info["length"])
        self.label_names: list[str] = list(info["labels"])
        ids = {name: i for i, name in enumerate(self.label_names)}
        self.label_ids = np.array([ids.get(row["label"], -1) for row in manifest], dtype=np.int64)
        held = (info.get("holdout") or {}).get("ids", [])
        self.holdout_ids = np.array(sorted(held), dtype=np.int64)
        self.train_ids = np.setdiff1d(np.arange(len(manifest)), self.holdout_ids)

    @classmethod
    def open(cls, path: str | os.PathLike) -> Dataset:
        """Open the dataset folder ``path`` (made by ``gesturegan prepare``).

        Raises
        ------
        UserError : ``path`` is not a dataset, or its files disagree with each other.
        """
        path = Path(path)
        try:
            info = json.loads((path / "dataset.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(
                f"{path} is not a gesturegan dataset (no dataset.json); "
                "create one with `gesturegan prepare`"
            ) from None
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}/dataset.json is not readable ({exc})") from exc
        if not isinstance(info, dict) or info.get("format_version") != FORMAT_VERSION:
            version = info.get("format_version") if isinstance(info, dict) else None
            raise UserError(
                f"{path} has dataset format {version!r}; this gesturegan reads format "
                f"{FORMAT_VERSION} (prepare the dataset again)"
            )
        try:
            waves = np.load(path / "audio.npy", mmap_mode="r")
            with open(path / "manifest.csv", newline="", encoding="utf-8") as f:
                manifest = [_parse_row(row) for row in csv.DictReader(f)]
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"dataset {path} is damaged ({exc}); prepare it again") from exc
        expected = (len(manifest), int(info["length"]))
        if waves.dtype != np.float32 or waves.shape != expected:
            raise UserError(
                f"dataset {path} is damaged: audio.npy is {waves.dtype} {waves.shape}, "
                f"manifest.csv and dataset.json say float32 {expected}; prepare it again"
            )
        held = (info.get("holdout") or {}).get("ids", [])
        if any(not isinstance(i, int) or not 0 <= i < len(manifest) for i in held):
            raise UserError(
                f"dataset {path} is damaged: dataset.json holds out rows that manifest.csv lacks; "
                "prepare it again"
            )
        names = set(info["labels"])
        stray = next((row for row in manifest if row["label"] not in names), None)
        if names and stray is not None:
            raise UserError(
                f"dataset {path} is damaged: manifest.csv gives {stray['source']} the label "
                f"{stray['label']!r}, not one of dataset.json's labels; prepare it again"
            )
        return cls(path, info, waves, manifest)

    @property
    def has_labels(self) -> bool:
        """True when clips carry class labels (the model can be class-conditional)."""
        return bool(self.label_names)

    def __len__(self) -> int:
        return len(self.manifest)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        """``(wave [length] float32, label id)``; the wave is a copy, not a view of the file."""
        return np.array(self.waves[i], dtype=np.float32), int(self.label_ids[i])

    def batch(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """``(waves [B, length] float32, label ids [B] int64)`` for ``indices [B]``.

        Reads are fastest when ``indices`` are sorted (the file is then read front to back).
        """
        idx = np.asarray(indices, dtype=np.int64)
        return np.asarray(self.waves[idx], dtype=np.float32), self.label_ids[idx]

    def __reduce__(self):
        # Reopen by path in another process instead of pickling the whole array.
        return (Dataset.open, (self.path,))

    def __repr__(self) -> str:
        labels = ", ".join(self.label_names) or "unlabelled"
        return f"Dataset({str(self.path)!r}: {len(self)} clips × {self.length} @ {self.sr} Hz; {labels})"


def _parse_row(row: dict) -> dict:
    missing = [c for c in MANIFEST_COLUMNS if c not in row]
    if missing:
        raise KeyError(f"manifest.csv lacks column(s) {', '.join(missing)}")
    return {k: _MANIFEST_TYPES[k](v) if k in _MANIFEST_TYPES else v for k, v in row.items()}
