"""Putting a finished dataset in place: what ``OUT`` may be replaced, and the atomic rename.

Shared by every writer of datasets (``prepare``, ``merge``, ``import_prep_mels``): each builds the
dataset in ``OUT.partial`` and calls ``install`` at the end, so ``OUT`` is always absent, the
previous dataset, or the complete new one.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

from ..atomic import process_alive
from ..errors import UserError


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` we may not replace: a dataset without ``overwrite``, or anything else
    (after putting back the dataset an install killed midway left aside)."""
    restore_killed_install(out)
    if not out.exists():
        return
    if (out / "dataset.json").is_file():
        if not overwrite:
            raise UserError(
                f"{out} already holds a dataset; pass overwrite (--overwrite) to replace it"
            )
    elif not out.is_dir() or any(out.iterdir()):
        raise UserError(f"{out} exists and is not a gesturegan dataset; choose another folder")


def restore_killed_install(out: Path) -> None:
    """A writer killed between ``install``'s two renames left no ``out`` but ``out.old-<pid>``:
    put the previous dataset back (the finished new one in ``OUT.partial`` is made again)."""
    if out.exists():
        return
    for old in sorted(out.parent.glob(f"{glob.escape(out.name)}.old-*")):
        pid = old.name.rsplit("-", 1)[1]
        if pid.isdigit() and not process_alive(int(pid)) and (old / "dataset.json").is_file():
            os.replace(old, out)
            return


def install(partial: Path, out: Path, overwrite: bool) -> None:
    """Rename the finished ``partial`` folder to ``out``, replacing what ``check_out`` allows."""
    check_out(out, overwrite)  # again: something may have appeared there while we worked
    if not out.exists():
        os.replace(partial, out)
        return
    old = out.with_name(f"{out.name}.old-{os.getpid()}")
    os.replace(out, old)
    try:
        os.replace(partial, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old)
