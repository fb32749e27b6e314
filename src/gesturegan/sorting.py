"""``sort``: a library of sounds into one folder per gesture category, the source left untouched.

``sort_files(src, out)`` labels every audio file under ``src`` (``labeling.label_files``: envelope
rules, or a classifier) and places it in ``out/<category>/`` as a symbolic link to the source file
(absolute path) or, with ``copy=True``, as a copy (contents and modification time). With a classifier
and ``min_confidence``, a file whose top probability is below it goes to ``out/unsure/`` instead, its
every class's probability in ``sort.csv``, so a person reviews only the doubtful ones. Nothing under
``src`` is ever opened for writing.

``out/sort.csv`` records every decision (source file, category, where it was placed, how, why) and
``out/errors.csv`` the files that could not be read. Running the same command again is safe and
idempotent: entries that are already right are left alone, entries this tool placed earlier that no
longer fit (the file moved category or disappeared) are removed, and files in ``out`` that this tool
did not place are never touched — a name taken by one is avoided with a ``-2``, ``-3`` … suffix.

Names: a file keeps its own name in its category folder. When two files of a category share a name
(``a/kick.wav``, ``b/kick.wav``; compared without case, for case-insensitive disks), each of them is
named after its whole relative path instead, folders joined by ``__`` (``a__kick.wav``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .atomic import atomic_path, clean_temps, write_text
from .errors import UserError
from .labeling import Decision, check_min_confidence, errors_text, label_files, scores_text

SORT_CSV = "sort.csv"
ERRORS_CSV = "errors.csv"
COLUMNS = (
    "file", "category", "placed", "how", "method", "confidence", "source_sha1", "explanation",
    "source", "scores",
)  # fmt: skip
"""Columns of ``sort.csv``: ``file`` relative to the source folder, ``category`` the decision (the
best guess of a file placed in ``unsure/``), ``placed`` relative to ``out``, ``how`` ``link`` or
``copy``, ``source_sha1`` the hash of a copied file (empty for links), ``source`` the absolute path
linked to or copied, ``scores`` a classifier's probability of every class."""


@dataclass
class SortSummary:
    """What ``sort_files`` did: counts per category and how many entries changed."""

    out: Path
    counts: dict[str, int] = field(default_factory=dict)
    created: int = 0  # entries written (new, or replaced because they were out of date)
    unchanged: int = 0  # entries already right
    removed: int = 0  # entries placed by an earlier run that no longer apply
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def csv(self) -> Path:
        return self.out / SORT_CSV


@dataclass(frozen=True)
class _Entry:
    """One placed file, as ``sort.csv`` records it."""

    placed: str  # relative to ``out``, POSIX style
    source: str  # absolute path of the source file
    how: str  # "link" or "copy"
    sha1: str  # of a copy's contents; "" for links


def sort_files(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    copy: bool = False,
    model: str | os.PathLike | None = None,
    workers: int | None = 1,
    progress: Callable[[int, int], None] | None = None,
    min_confidence: float | None = None,
    device: str = "cpu",
) -> SortSummary:
    """Place every audio file of ``src`` in ``out/<category>/`` (see the module docstring).

    Parameters
    ----------
    src : str | os.PathLike
        Folder (or one file) of sounds; only read.
    out : str | os.PathLike
        Output folder (created). It may be inside ``src``: it is then left out of the walk.
    copy : bool
        Copy the files instead of linking them.
    model : str | os.PathLike | None
        Classifier folder to decide with; ``None`` uses the envelope rules. It runs on
        ``device`` (``gesturegan.device.resolve``).
    workers : int | None
        Processes that analyse files (see ``labeling.label_files``).
    progress : Callable[[int, int], None] | None
        Called as ``progress(files_done, files_total)`` while labelling.
    min_confidence : float | None
        With ``model``: files whose top probability is below this (in [0, 1]) go to ``unsure/``.

    Returns
    -------
    SortSummary

    Raises
    ------
    UserError
        ``src`` missing or without audio, ``out`` is ``src`` itself or a file, ``min_confidence``
        outside [0, 1] or without a model.
    """
    check_min_confidence(min_confidence, model)
    src_path, out = Path(src).absolute(), Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder")
    src_root = src_path if src_path.is_dir() else src_path.parent
    if _same_place(out, src_root):
        raise UserError(f"the output folder must not be the source folder itself ({src_root})")
    report = label_files(
        src_path, model, workers=workers, exclude=out, progress=progress,
        min_confidence=min_confidence, device=device,
    )  # fmt: skip
    previous = _read_previous(out)
    clean_temps(out)  # of a sort killed before
    summary = SortSummary(out, report.counts(), errors=report.errors)
    names = _names(report.decisions)
    rows: list[tuple[Decision, _Entry]] = []
    taken: set[str] = set()  # placed names, lower case
    for d in report.decisions:
        entry, changed = _place(out, d, names[d.file], copy, previous, taken)
        taken.add(entry.placed.lower())
        rows.append((d, entry))
        summary.created += changed
        summary.unchanged += not changed
    summary.removed = _remove_stale(out, previous, {e.placed for _, e in rows})
    _write_if_changed(out / ERRORS_CSV, errors_text(report.errors))
    _write_if_changed(out / SORT_CSV, _csv_text(rows))
    return summary


# --- Internals ----------------------------------------------------------------------------------


def _same_place(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _names(decisions: list[Decision]) -> dict[str, str]:
    """File name in its category folder for each decision's ``file``."""
    clashes = Counter((d.place, PurePosixPath(d.file).name.lower()) for d in decisions)
    return {
        d.file: PurePosixPath(d.file).name
        if clashes[(d.place, PurePosixPath(d.file).name.lower())] == 1
        else "__".join(PurePosixPath(d.file).parts)
        for d in decisions
    }


def _folder(category: str) -> str:
    """A safe folder name for a label (classifier labels can be anything): no separators, not
    hidden, not empty."""
    name = category.replace("/", "_").replace("\\", "_").strip()
    return "_" + name if not name or name.startswith(".") else name


def _candidates(category: str, name: str):
    stem, suffix = os.path.splitext(name)
    yield f"{category}/{name}"
    k = 2
    while True:
        yield f"{category}/{stem}-{k}{suffix}"
        k += 1


def _place(
    out: Path, d: Decision, name: str, copy: bool, previous: dict[str, _Entry], taken: set[str]
) -> tuple[_Entry, bool]:
    """Put ``d``'s file at the first free (or already right) name; return its entry and whether
    anything was written."""
    source = os.path.abspath(d.path)
    sha1 = _sha1(source) if copy else ""
    want = _Entry("", source, "copy" if copy else "link", sha1)
    for placed in _candidates(_folder(d.place), name):
        if placed.lower() in taken:
            continue
        target = out / placed
        entry = _Entry(placed, want.source, want.how, want.sha1)
        if not os.path.lexists(target):
            _write(target, entry)
            return entry, True
        if _is_right(target, entry, previous.get(placed)):
            return entry, False
        if _is_ours(target, previous.get(placed)):
            _write(target, entry)
            return entry, True
        # Someone else's file: leave it, try the next name.
    raise AssertionError("unreachable: _candidates never ends")


def _write(target: Path, entry: _Entry) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if entry.how == "copy":
        with atomic_path(target) as tmp:
            shutil.copy2(entry.source, tmp)
        return
    tmp = target.with_name(f".{target.name}.link-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(entry.source, tmp)
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _is_right(target: Path, want: _Entry, before: _Entry | None) -> bool:
    """``target`` already is what ``want`` describes."""
    if want.how == "link":
        return target.is_symlink() and os.readlink(target) == want.source
    return (
        not target.is_symlink()
        and target.is_file()
        and before is not None
        and before.how == "copy"
        and before.sha1 == want.sha1
        and _sha1(target) == want.sha1
    )


def _is_ours(target: Path, before: _Entry | None) -> bool:
    """``target`` is still exactly what an earlier run placed there (safe to replace or remove)."""
    if before is None:
        return False
    if before.how == "link":
        return target.is_symlink() and os.readlink(target) == before.source
    return not target.is_symlink() and target.is_file() and _sha1(target) == before.sha1


def _remove_stale(out: Path, previous: dict[str, _Entry], keep: set[str]) -> int:
    removed = 0
    for placed, before in previous.items():
        target = out / placed
        if placed in keep or not os.path.lexists(target) or not _is_ours(target, before):
            continue
        target.unlink()
        removed += 1
        try:
            target.parent.rmdir()  # only succeeds when the category folder is now empty
        except OSError:
            pass
    return removed


def _read_previous(out: Path) -> dict[str, _Entry]:
    """Entries of an earlier run's ``sort.csv`` (empty when there is none or it is unreadable)."""
    try:
        with open(out / SORT_CSV, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    entries = {}
    for row in rows:
        placed = row.get("placed") or ""
        parts = PurePosixPath(placed).parts
        # Only plain ``category/name`` paths inside ``out`` are trusted from a file on disk.
        if len(parts) != 2 or ".." in parts or PurePosixPath(placed).is_absolute():
            continue
        entries[placed] = _Entry(
            placed, row.get("source") or "", row.get("how") or "", row.get("source_sha1") or ""
        )
    return entries


def _csv_text(rows: list[tuple[Decision, _Entry]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for d, e in rows:
        conf = "" if d.confidence is None else f"{d.confidence:.4f}"
        w.writerow([d.file, d.category, e.placed, e.how, d.method, conf, e.sha1, d.explanation,
                    e.source, scores_text(d.scores)])  # fmt: skip
    return buf.getvalue()


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` atomically unless the file already holds exactly it (a re-run changes
    nothing, not even modification times)."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    write_text(path, text)


def _sha1(path: str | os.PathLike) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()
