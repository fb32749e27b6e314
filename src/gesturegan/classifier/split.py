"""Which clips a classifier learns from and which it is measured on.

Two ways: by source file within one collection (``dataset.split.split_by_source``), or a whole
library held out (``split_holding_out``) — the clips of a library no one here made are the test, the
other libraries are split into training and validation by source file. Either way, libraries named
``train_only`` (such as the built-in corpus) are only trained on (``split_by_library``). A clip's
library is the first folder of its source path, or the ``library`` (or ``group``) column of a CSV
(``read_groups``).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import numpy as np

from ..dataset.scan import csv_columns
from ..dataset.split import SPLITS, split_by_source
from ..errors import UserError

__all__ = ["GROUP_COLUMNS", "SPLITS", "clip_libraries", "read_groups", "split_by_library",
           "split_by_source", "split_holding_out"]  # fmt: skip

GROUP_COLUMNS = ("library", "group")
"""Accepted names of the group column of a groups CSV, in order of preference."""


def read_groups(csv_path: str | os.PathLike, source_root: str | os.PathLike) -> dict[Path, str]:
    """``{resolved file path: group}`` from a CSV with a file column and a ``library``/``group`` one.

    File paths are relative to the CSV's folder or, failing that, to ``source_root`` (the folder the
    dataset was prepared from), as in a labels CSV; both readings are kept. Rows with an empty group
    are skipped.

    Raises
    ------
    UserError
        The CSV is missing, unreadable or lacks the columns.
    """
    path = Path(csv_path).absolute()
    need = "file,library (or file,group)"
    groups: dict[Path, str] = {}
    for file, group in csv_columns(path, "groups", GROUP_COLUMNS, need):
        if group:
            for base in (Path(source_root), path.parent):
                groups[(base / file).resolve()] = group
    return groups


def clip_libraries(
    sources: list[str], source_root: str | os.PathLike, groups: dict[Path, str] | None = None
) -> list[str]:
    """The library of each clip, from its ``source`` path (relative to ``source_root``).

    Without ``groups``: the first folder of the path (``""`` for a file at the top). With ``groups``
    (``read_groups``): the file's group, ``""`` when the CSV does not list it.
    """
    if groups is None:
        return [PurePosixPath(s).parts[0] if len(PurePosixPath(s).parts) > 1 else "" for s in sources]
    root = Path(source_root)
    return [groups.get((root / s).resolve(), "") for s in sources]


def split_holding_out(
    label_ids: np.ndarray,
    keys: list[str],
    libraries: list[str],
    holdout: str,
    val_fraction: float,
    seed: int,
) -> np.ndarray:
    """Assign every clip to ``train``, ``val``, ``test`` or ``unused``, holding out one library.

    ``test`` is every clip of the library ``holdout``. A clip of another library whose key (the same
    file contents) is also a test clip's is ``unused``: it is neither learnt nor measured, so no
    sound is on both sides. The other libraries' clips are split into ``train`` and ``val`` by key
    and stratified by class (``split_by_source`` without a test share), so validation — early
    stopping, any choice of options — only ever sees the training libraries.

    Parameters
    ----------
    label_ids : np.ndarray
        ``[N]`` class id per clip.
    keys : list[str]
        ``[N]`` group key per clip (content hash, else source path).
    libraries : list[str]
        ``[N]`` library per clip (``clip_libraries``).
    holdout : str
        The library to hold out; must be one of ``libraries``.
    val_fraction : float
        Share of each class's training-library source files used for validation.
    seed : int
        Seeds the shuffle of the source files.

    Returns
    -------
    np.ndarray
        ``[N]`` strings: ``train``, ``val``, ``test`` or ``unused``.

    Raises
    ------
    UserError
        ``holdout`` is not a library of the clips, or it is the only one.
    """
    found = sorted(set(libraries))
    if holdout not in found:
        raise UserError(
            f"no clip is in library {holdout!r}; the libraries are {', '.join(map(repr, found))}"
        )
    if len(found) < 2:
        raise UserError(f"{holdout!r} is the only library: nothing is left to train on")
    test = np.array([lib == holdout for lib in libraries])
    test_keys = {k for k, t in zip(keys, test, strict=True) if t}
    rest = np.flatnonzero(~test & np.array([k not in test_keys for k in keys], dtype=bool))
    out = np.full(len(keys), "unused", dtype=object)
    out[test] = "test"
    out[rest] = split_by_source(
        np.asarray(label_ids)[rest], [keys[i] for i in rest], val_fraction, 0.0, seed
    )
    return out.astype(str)


def split_by_library(
    label_ids: np.ndarray,
    keys: list[str],
    libraries: list[str],
    holdout: str | None,
    train_only: tuple[str, ...],
    fractions: tuple[float, float],
    seed: int,
) -> np.ndarray:
    """Assign every clip to ``train``, ``val``, ``test`` or ``unused``, knowing each clip's library.

    ``label_ids``, ``keys`` and ``libraries`` are ``split_holding_out``'s, one entry per clip. The
    clips of the ``train_only`` libraries are ``train``, or ``unused`` where their key (the same
    file contents) is also a validation or test clip's. The other clips are split as
    ``split_holding_out`` does when ``holdout`` names a library, else by source file
    (``split_by_source`` with the ``(val, test)`` shares of ``fractions``), shuffled by ``seed``.
    So early stopping and every figure only ever read the other libraries. Returns ``[N]``
    strings.

    Raises
    ------
    UserError
        A ``train_only`` library has no clip, or ``holdout`` is train-only, missing or the only
        other library.
    """
    found = sorted(set(libraries))
    missing = [lib for lib in train_only if lib not in found]
    if missing:
        raise UserError(
            f"no clip is in train-only library {', '.join(map(repr, missing))}; the libraries are "
            f"{', '.join(map(repr, found))}"
        )
    if holdout in train_only:
        raise UserError(f"library {holdout!r} cannot be both held out and train-only")
    extra = np.array([lib in train_only for lib in libraries], dtype=bool)
    rest = np.flatnonzero(~extra)
    ids, rest_keys = np.asarray(label_ids)[rest], [keys[i] for i in rest]
    out = np.full(len(keys), "unused", dtype=object)
    if holdout is None:
        out[rest] = split_by_source(ids, rest_keys, fractions[0], fractions[1], seed)
    else:
        rest_libraries = [libraries[i] for i in rest]
        out[rest] = split_holding_out(ids, rest_keys, rest_libraries, holdout, fractions[0], seed)
    measured = {keys[i] for i in rest if out[i] in ("val", "test")}
    out[extra] = ["unused" if keys[i] in measured else "train" for i in np.flatnonzero(extra)]
    return out.astype(str)
