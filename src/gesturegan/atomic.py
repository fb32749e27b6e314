"""Atomic, durable file writes: every file gesturegan writes appears whole or not at all, and once
it has appeared it survives a power cut (temp + fsync + rename + fsync of the folder).

A temporary file is named ``.<name>.gesturegan-tmp-<pid>-<random><suffix>`` beside its target, so
the temporary files of a killed writer can be told from everything else and removed at the next
start (``clean_temps``), while those of a live writer are left alone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import UserError

# Read once at import: os.umask can only be read by setting it, which is not thread-safe.
_UMASK = os.umask(0)
os.umask(_UMASK)

TEMP_MARK = ".gesturegan-tmp-"
"""What every temporary file of this module has in its name (and nothing else the tool writes)."""
FULL_DISK = (errno.ENOSPC, errno.EDQUOT)
"""The errors of a full disk or a spent quota: a user's problem, told in one line."""
DURABLE = True
"""fsync each file before its rename and the folder after it (benchmarks/bench_atomic.py turns it
off to measure what it costs)."""


class DiskFull(UserError):
    """A write failed for want of space or quota; the previous file is left as it was."""


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make the names in ``folder`` (a rename, a new or removed file) survive a power cut."""
    if not DURABLE:
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike) -> None:
    """Put the file's bytes on the disk (before a rename makes it visible)."""
    if not DURABLE:
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def disk_full(path: str | os.PathLike, exc: BaseException) -> DiskFull | None:
    """A ``DiskFull`` naming ``path`` when ``exc`` came from a full disk, else ``None``.

    Writers in C (libsndfile, PyTorch's zip writer) lose the errno, so a non-``OSError`` counts
    as a full disk when the file system of ``path`` has no space left for us.
    """
    if isinstance(exc, DiskFull):
        return exc
    if isinstance(exc, UserError):  # a refusal of ours, whatever the disk
        return None
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None and not isinstance(exc, OSError):
        try:
            st = os.statvfs(Path(path).parent)
            code = errno.ENOSPC if st.f_bavail * st.f_frsize < 64 * 1024 else None
        except OSError:
            code = None
    if code not in FULL_DISK:
        return None
    why = "disk full" if code == errno.ENOSPC else "disk quota exceeded"
    return DiskFull(f"{path}: {why}; nothing was written there (free some space and run it again)")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success make it durable and rename it over
    ``path``.

    The temporary file lives in the same folder so the final ``os.replace`` is atomic. On any
    exception the temporary file is removed and ``path`` is left as it was; a full disk becomes a
    ``DiskFull`` (one line at the CLI). ``suffix`` defaults to the target's own suffix so writers
    that pick a format from the extension still work.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}{TEMP_MARK}{os.getpid()}-",
            suffix=path.suffix if suffix is None else suffix,
            dir=path.parent,
        )
    except OSError as exc:
        raise disk_full(path, exc) or exc from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the file the permissions a plain open() would have.
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        commit(tmp_path, path)
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        full = disk_full(path, exc) if isinstance(exc, Exception) else None
        if full is not None and full is not exc:
            raise full from exc
        raise


def commit(tmp: Path, path: Path) -> None:
    """fsync ``tmp``, rename it over ``path``, fsync the folder: the one place a file becomes
    visible (tests make it fail to stand for a full disk)."""
    fsync_file(tmp)
    os.replace(tmp, path)
    fsync_folder(path.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and durably and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically and durably and return the path."""
    return write_bytes(path, text.encode("utf-8"))


def temp_name(path: str | os.PathLike, tag: str) -> Path:
    """A name beside ``path`` that ``clean_temps`` counts as this process's temporary file (for a
    file moved aside while its replacement goes in)."""
    path = Path(path)
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{tag}")


def is_temp(name: str) -> bool:
    """True for the name of a temporary file of ``atomic_path``."""
    return name.startswith(".") and TEMP_MARK in name


def clean_temps(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folder`` (and below with
    ``recursive``); those of a process still running on this host are kept. Returns the removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.rglob(f"*{TEMP_MARK}*") if recursive else folder.glob(f"*{TEMP_MARK}*")
    removed = []
    for p in sorted(found):
        if is_temp(p.name) and p.is_file() and not p.is_symlink() and not _writer_alive(p.name):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _writer_alive(name: str) -> bool:
    """Whether the process that named this temp file (pid after the mark) still runs here."""
    try:
        pid = int(name.split(TEMP_MARK, 1)[1].split("-", 1)[0])
    except ValueError:
        return False
    return process_alive(pid)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (ours included)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

