"""Finding the inputs of ``prepare``: audio files under a folder, and the label of each.

Walk rules: recursive, symbolic links followed (to files and to folders, each real folder visited
once), hidden files and folders (name starting with ``.``) skipped, files taken by extension
(``audio.AUDIO_EXTENSIONS``), results sorted by their POSIX path relative to the source folder so
the order — and hence clip ids — never depends on the file system.
"""

from __future__ import annotations

import csv
import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .. import audio
from ..errors import UserError

# Accepted header names, so CSVs from common corpora (FSDKaggle2019: fname,labels) work unchanged.
FILE_COLUMNS = ("file", "fname", "filename", "path")
LABEL_COLUMNS = ("label", "labels", "category")


@dataclass
class Scan:
    """What a walk of the source folder found (paths relative to it, POSIX style)."""

    audio: list[str] = field(default_factory=list)  # readable candidates, sorted
    # (name, reason) of what the walk could not take: broken links, link loops, unreadable
    # folders, audio names that are not regular files or not UTF-8; sorted by name
    skipped: list[tuple[str, str]] = field(default_factory=list)
    n_ignored: int = 0  # visible files without an audio extension


def scan(src: Path) -> Scan:
    """Walk ``src`` (see module docstring) and list its audio files.

    Nothing under ``src`` stops the walk: what it cannot take is listed in ``Scan.skipped`` with a
    reason, under a printable name (``shown_name``) — a name that is not UTF-8 is skipped, since
    manifests and CSVs are UTF-8, and its reason gives its exact bytes.

    Parameters
    ----------
    src : the source folder; must exist.

    Returns
    -------
    Scan : audio files, skipped entries with reasons, and the count of other files.

    Raises
    ------
    UserError : ``src`` itself cannot be read.
    """
    found = Scan()
    seen_dirs: set[str] = set()

    def walk(folder: Path, rel: PurePosixPath) -> None:
        real = os.path.realpath(folder)
        if real in seen_dirs:  # a link back up the tree would otherwise loop forever
            return
        seen_dirs.add(real)
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            if not rel.parts:
                raise UserError(f"{src}: cannot read the folder ({exc.strerror})") from exc
            found.skipped.append(_skip(f"{rel}/", f"folder not readable ({exc.strerror})"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path, rel_path = folder / entry.name, rel / entry.name
            kind, problem = _kind(entry)
            if kind == "dir":
                walk(path, rel_path)
            elif problem and (kind == "loop" or audio.is_audio_file(entry.name)):
                found.skipped.append(_skip(str(rel_path), problem))
            elif not audio.is_audio_file(entry.name):
                found.n_ignored += 1
            elif not _is_utf8(str(rel_path)):
                raw = os.fsencode(str(rel_path)).hex(" ")
                found.skipped.append(_skip(str(rel_path), f"name is not UTF-8 (bytes {raw})"))
            else:
                found.audio.append(str(rel_path))

    walk(src, PurePosixPath())
    found.audio.sort()
    found.skipped.sort()
    return found


def shown_name(rel: str) -> str:
    """``rel`` as UTF-8 text: bytes that are not UTF-8 (kept by the file system's surrogate escapes)
    shown as ``\\xff``."""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _skip(rel: str, reason: str) -> tuple[str, str]:
    return shown_name(rel), reason


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: a byte the file system name could not decode
        return False
    return True


def _kind(entry: os.DirEntry) -> tuple[str, str]:
    """``(kind, problem)`` of what ``entry`` points at (links followed): kind ``dir``, ``file``,
    ``loop`` (a link loop), or ``other`` (a FIFO, a device, a broken link); problem is "" when it is
    a folder or a regular file."""
    if not entry.is_symlink():  # the listing's file type: no system call
        if entry.is_dir(follow_symlinks=False):
            return "dir", ""
        if entry.is_file(follow_symlinks=False):
            return "file", ""
        return "other", "not a regular file (a FIFO, socket or device)"
    try:
        mode = os.stat(entry.path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "loop", "symbolic link loop"
        return "other", "broken symbolic link"
    if stat.S_ISDIR(mode):
        return "dir", ""
    if stat.S_ISREG(mode):
        return "file", ""
    return "other", "link to something that is not a regular file (a FIFO, socket or device)"


def csv_columns(
    csv_path: Path, what: str, value_columns: tuple[str, ...], need: str
) -> list[tuple[str, str]]:
    """``(file, value)`` cells, stripped, of every non-empty row of a CSV with a header naming a file
    column (``FILE_COLUMNS``) and one of ``value_columns`` ('' where a row is too short).

    Raises
    ------
    UserError : ``what`` CSV unreadable, or its header lacks the columns (``need`` names them).
    """
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{what} CSV {csv_path} could not be read ({exc})") from exc
    header = [h.strip().lower() for h in rows[0]] if rows else []
    file_col = next((header.index(c) for c in FILE_COLUMNS if c in header), None)
    value_col = next((header.index(c) for c in value_columns if c in header), None)
    if file_col is None or value_col is None:
        raise UserError(
            f"{what} CSV {csv_path} needs a header row with columns {need} "
            f"(found: {','.join(header) or 'nothing'})"
        )

    def cell(row: list[str], col: int) -> str:
        return row[col].strip() if col < len(row) else ""

    return [(cell(r, file_col), cell(r, value_col)) for r in rows[1:] if r]


def read_labels_csv(csv_path: Path, base: Path | None = None) -> dict[Path, str]:
    """Read a labels CSV into ``{resolved file path: label}``.

    The CSV needs a header with a file column (``file``, ``fname``, ``filename`` or ``path``) and a
    label column (``label`` or ``labels``). File paths are relative to ``base``, by default the CSV's
    own folder (absolute paths are taken as they are). A multi-label cell such as ``"a,b"`` gives
    its first label, ``a``; an empty cell gives no label. When a file is listed twice, the first
    row wins.

    Raises
    ------
    UserError : the CSV is missing, unreadable or lacks the two columns.
    """
    if not csv_path.is_file():
        raise UserError(f"labels CSV {csv_path} does not exist")
    labels: dict[Path, str] = {}
    for file, value in csv_columns(csv_path, "labels", LABEL_COLUMNS, "file,label"):
        if not file:
            continue
        label = value.split(",")[0].strip()
        key = ((csv_path.parent if base is None else base) / file).resolve()
        if label and key not in labels:
            labels[key] = label
    return labels


def folder_label(rel: str) -> str | None:
    """Label from the first folder of a path relative to the source (``None`` at the top level)."""
    parts = PurePosixPath(rel).parts
    return parts[0] if len(parts) > 1 else None
