"""Leave one library out: how well a classifier does on a sample library it never saw.

``leave_one_library_out(data, out)`` trains one classifier per library of the dataset, each tested
on that whole library and trained (and validated, for early stopping) on the others only
(``split.split_holding_out``), and writes the table:

- ``OUT/<library>/`` — each fold's classifier folder (``train``'s files; ``metrics.json`` holds the
  held-out library as ``test`` and the training libraries' validation split as ``val``);
- ``OUT/lolo.json`` — per library: ``n``, accuracy, macro-F1, per-class recall, confusion matrix,
  and the fold's validation macro-F1; ``pooled``: the same over every held-out clip at once;
- ``OUT/lolo.md`` — the table and the confusion matrices, ready for the docs.

Only the validation figures (training libraries) may choose options; the held-out figures judge.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..config import to_dict
from ..dataset import Dataset
from ..errors import UserError
from . import metrics
from .config import ClassifierConfig
from .split import clip_libraries, read_groups
from .train import train


@dataclass
class LoloResult:
    """The table ``leave_one_library_out`` wrote: one row per held-out library, and all pooled."""

    out: Path
    rows: list[dict]  # library, n, accuracy, macro_f1, per_class_recall, confusion, val_macro_f1
    pooled: dict  # metrics.summary over every held-out clip
    label_names: list[str]


def dataset_libraries(data: str | os.PathLike, groups: str | os.PathLike | None = None) -> dict:
    """``{library: labelled clips}`` of the dataset ``data``, in name order (``""``: no library).

    A clip's library is the first folder of its source path, or its row in the ``groups`` CSV (see
    ``split.read_groups``).
    """
    ds = Dataset.open(data)
    labelled = np.flatnonzero(ds.label_ids >= 0)
    root = ds.info.get("source", ".")
    table = read_groups(groups, root) if groups else None
    libs = clip_libraries([ds.manifest[i]["source"] for i in labelled], root, table)
    return {lib: libs.count(lib) for lib in sorted(set(libs))}


def leave_one_library_out(
    data: str | os.PathLike,
    out: str | os.PathLike,
    cfg: ClassifierConfig | None = None,
    *,
    libraries: list[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    overwrite: bool = False,
) -> LoloResult:
    """Train and test one classifier per held-out library of ``data``; write the table to ``out``.

    Parameters
    ----------
    data : str | os.PathLike
        Labelled dataset (``gesturegan prepare``) of files from several libraries.
    out : str | os.PathLike
        Folder for the folds' classifiers and ``lolo.json`` / ``lolo.md``.
    cfg : ClassifierConfig | None
        Options of every fold (its ``holdout_library`` is set per fold; ``groups`` is honoured).
    libraries : list[str] | None
        The libraries to hold out, in turn; ``None``: every named library of the dataset but
        ``cfg.train_only``'s.
    progress : Callable[[str, int, int], None] | None
        Called as ``progress(library, epoch, max_epochs)`` during each fold.
    overwrite : bool
        Replace the folds' classifiers of an earlier run in ``out``.

    Returns
    -------
    LoloResult

    Raises
    ------
    UserError
        Fewer than two libraries, or a library asked for that the dataset does not have.
    """
    cfg = cfg or ClassifierConfig()
    out = Path(out)
    found = [lib for lib in dataset_libraries(data, cfg.groups) if lib]
    if len(found) < 2:
        raise UserError(
            f"{data} holds {len(found)} librar{'y' if len(found) == 1 else 'ies'} "
            f"({', '.join(found) or 'none'}); leaving one out needs at least two"
        )
    kept = [lib for lib in found if lib not in cfg.train_only]
    wanted = kept if libraries is None else list(libraries)
    unknown = [lib for lib in wanted if lib not in found]
    if unknown:
        raise UserError(f"no library {', '.join(map(repr, unknown))}; found: {', '.join(found)}")
    both = [lib for lib in wanted if lib in cfg.train_only]
    if both:
        raise UserError(f"library {', '.join(map(repr, both))} is train-only: it is never held out")
    rows, names = [], []
    for lib in wanted:
        fold = dataclasses.replace(cfg, holdout_library=lib)
        report = None if progress is None else (lambda e, n, lib=lib: progress(lib, e, n))
        s = train(data, out / _folder(lib), fold, progress=report, overwrite=overwrite)
        test, val = s.metrics["test"], s.metrics.get("val", {})
        names = list(test["per_class_recall"])
        rows.append({
            "library": lib, "n": test["n"], "accuracy": test["accuracy"],
            "macro_f1": test["macro_f1"], "per_class_recall": test["per_class_recall"],
            "confusion": test["confusion"], "val_macro_f1": val.get("macro_f1"),
            "val_n": val.get("n"), "epochs": s.epochs, "best_epoch": s.best_epoch,
        })  # fmt: skip
    pooled = pool(rows, names)
    result = LoloResult(out, rows, pooled, names)
    report_json = {"rows": rows, "pooled": pooled, "labels": names, "config": to_dict(cfg),
                   "dataset": str(Path(data).absolute())}  # fmt: skip
    write_text(out / "lolo.json", json.dumps(report_json, indent=2) + "\n")
    write_text(out / "lolo.md", markdown(result))
    return result


def pool(rows: list[dict], names: list[str]) -> dict:
    """``metrics.summary`` over every held-out clip of ``rows`` (their confusion matrices summed)."""
    m = np.sum([np.array(r["confusion"]) for r in rows], axis=0)
    true, pred = np.nonzero(m)
    counts = m[true, pred]
    return metrics.summary(np.repeat(true, counts), np.repeat(pred, counts), names)


def markdown(result: LoloResult) -> str:
    """The table (per library and pooled) and each library's confusion matrix, as Markdown."""
    names = result.label_names
    head = ["held-out library", "n", "accuracy", "macro-F1", *[f"recall {n}" for n in names],
            "val macro-F1 (training libraries)"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cells(row: dict) -> list[str]:
        recall = [("–" if row["per_class_recall"][n] is None else f"{row['per_class_recall'][n]:.2f}")
                  for n in names]  # fmt: skip
        return [str(row["n"]), f"{row['accuracy']:.1%}", f"{row['macro_f1']:.2f}", *recall]

    for row in result.rows:
        val = "–" if row["val_macro_f1"] is None else f"{row['val_macro_f1']:.2f}"
        lines.append("| " + " | ".join([row["library"], *cells(row), val]) + " |")
    lines.append("| " + " | ".join(["**all, pooled**", *cells(result.pooled), ""]) + " |")
    for row in result.rows:
        lines += ["", f"Confusion, held-out {row['library']} (rows true, columns predicted):", "",
                  "| true \\ predicted | " + " | ".join(names) + " |",
                  "|" + "---|" * (len(names) + 1)]  # fmt: skip
        for name, counts in zip(names, row["confusion"], strict=True):
            lines.append(f"| {name} | " + " | ".join(map(str, counts)) + " |")
    return "\n".join(lines) + "\n"


def _folder(library: str) -> str:
    """A safe folder name for a library name (any text from a groups CSV)."""
    name = library.replace("/", "_").replace("\\", "_").strip()
    return "_" + name if not name or name.startswith(".") else name
