"""``merge``: the datasets of ``prepare --shard 1/n ... n/n`` → one dataset, as if prepared at once.

Shards are consecutive blocks of the sorted input files, so joining them in shard order gives the
rows, manifest and errors of an unsharded ``prepare`` of the same folder, byte for byte. The audio is
copied block by block (never whole in memory) into ``OUT``, written atomically like ``prepare``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .. import __version__
from ..atomic import write_text
from ..errors import UserError
from .install import check_out, install
from .prepare import FORMAT_VERSION, MANIFEST_COLUMNS, PrepareSummary

# dataset.json keys every shard must agree on: the clips would not be comparable otherwise.
SAME_KEYS = ("format_version", "sr", "length", "align", "min_duration_s", "normalize", "level_db")
_COPY_BYTES = 16 * 2**20  # audio is copied this many bytes at a time


def merge(
    shards: list[str | os.PathLike], out: str | os.PathLike, *, overwrite: bool = False
) -> PrepareSummary:
    """Join the datasets of ``prepare(..., shard=(i, n))`` for ``i = 1..n`` into one at ``out``.

    Parameters
    ----------
    shards : the ``n`` shard dataset folders, in any order.
    out : dataset folder to create (as ``prepare``'s ``out``).
    overwrite : replace an existing dataset at ``out``.

    Returns
    -------
    PrepareSummary : of the merged dataset (``seconds`` is 0).

    Raises
    ------
    UserError : a folder is not a dataset or not a shard, shards are missing or repeated, or they
        were prepared with different options.
    """
    out = Path(out).absolute()
    parts = sorted((_read_info(Path(p)) for p in shards), key=lambda pi: pi[1]["shard"][0])
    if not parts:
        raise UserError("merge needs the shard datasets to join")
    first = parts[0][1]
    n = first["shard"][1]
    got = [info["shard"] for _, info in parts]
    if got != [[i, n] for i in range(1, n + 1)]:
        have = ", ".join(f"{i}/{m}" for i, m in got)
        raise UserError(f"merge needs shards 1/{n} to {n}/{n} once each; got {have}")
    for path, info in parts[1:]:
        for key in SAME_KEYS:
            if info.get(key) != first.get(key):
                raise UserError(
                    f"{path} was prepared with {key}={info.get(key)!r}, "
                    f"{parts[0][0]} with {first.get(key)!r}; shards must share their options"
                )
    check_out(out, overwrite)

    partial = out.with_name(f"{out.name}.merging-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        counts = _join(partial, parts, first["length"])
        n_clips = sum(counts.values())
        n_errors = sum(info["n_errors"] for _, info in parts)
        info = {
            **first,
            "labels": sorted(c for c in counts if c),
            "counts": {k: counts[k] for k in sorted(counts) if k},
            "n_clips": n_clips,
            "n_errors": n_errors,
            "shard": None,
            "merged_from": [str(p) for p, _ in parts],
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "gesturegan_version": __version__,
        }
        write_text(partial / "dataset.json", json.dumps(info, indent=2) + "\n")
        install(partial, out, overwrite)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return PrepareSummary(out, n_clips, n_errors, info["counts"], first.get("n_ignored", 0))


def _read_info(path: Path) -> tuple[Path, dict]:
    """A shard's folder and its ``dataset.json``; ``UserError`` when it is not a shard dataset."""
    try:
        info = json.loads((path / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{path} is not a gesturegan dataset (no readable dataset.json)") from None
    if info.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path} has dataset format {info.get('format_version')}; prepare it again")
    if not info.get("shard"):
        raise UserError(f"{path} is not a shard (made without prepare --shard i/n)")
    return path, info


def _join(folder: Path, parts: list[tuple[Path, dict]], length: int) -> Counter:
    """Write ``audio.npy``, ``manifest.csv`` (ids renumbered) and ``errors.csv`` of all ``parts``."""
    total = sum(info["n_clips"] for _, info in parts)
    counts: Counter = Counter()
    errors: list[list[str]] = []
    with (
        open(folder / "audio.npy", "wb") as wave_f,
        open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as man_f,
    ):
        header = {"descr": "<f4", "fortran_order": False, "shape": (total, length)}
        np.lib.format.write_array_header_1_0(wave_f, header)
        manifest = csv.writer(man_f)
        manifest.writerow(MANIFEST_COLUMNS)
        n = 0
        for path, info in parts:
            with open(path / "audio.npy", "rb") as f:  # plain reads: no pages stay mapped
                np.lib.format.read_magic(f)
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                if shape != (info["n_clips"], length) or fortran or dtype != np.dtype("<f4"):
                    raise UserError(
                        f"{path}/audio.npy does not match its dataset.json; prepare again"
                    )
                shutil.copyfileobj(f, wave_f, _COPY_BYTES)
            with open(path / "manifest.csv", newline="", encoding="utf-8") as f:
                rows = csv.reader(f)
                if tuple(next(rows, ())) != MANIFEST_COLUMNS:
                    raise UserError(f"{path}/manifest.csv has unexpected columns; prepare again")
                for row in rows:
                    manifest.writerow([n, *row[1:]])
                    counts[row[2]] += 1
                    n += 1
            with open(path / "errors.csv", newline="", encoding="utf-8") as f:
                errors += list(csv.reader(f))[1:]
        if n != total:
            raise UserError(f"the shards' manifests list {n} clips, their dataset.json {total}")
    with open(folder / "errors.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("file", "reason"), *sorted(map(tuple, errors))])
    return counts
