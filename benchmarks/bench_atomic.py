"""What durability costs: ``atomic.write_bytes`` with fsync (file before the rename, folder after)
against the same atomic write without fsync, in the same run, on the same folder.

Two typical sizes: a 20 KB JSON (``generator.json``-like metadata, ``metrics.csv``) and a 5 MB
checkpoint (a small run's ``latest.pt``). One line: ``ours`` is the durable write of the 5 MB
checkpoint (ms), ``reference`` the same write without fsync; ``json_*`` the same pair for the
20 KB file. ``ratio`` below 1 is the price of durability (reference / ours, lower is better).

The folder is a temporary one under ``--dir`` (default: the current folder, i.e. the disk a run
folder would be on; ``/tmp`` may be a RAM disk where fsync costs nothing) and is removed after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from common import emit, load_1m, quick, timeit
from gesturegan import atomic

SIZES = {"json": 20 * 1024, "checkpoint": 5 * 1024 * 1024}


def file_system(path: Path) -> str:
    """The type of the file system holding ``path`` (from /proc/mounts; ``?`` elsewhere)."""
    best, kind = "", "?"
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            for line in f:
                _, mount, fs = line.split()[:3]
                if str(path).startswith(mount) and len(mount) > len(best):
                    best, kind = mount, fs
    except OSError:
        pass
    return kind


def time_write(folder: Path, size: int, durable: bool, repeat: int) -> float:
    """Median ms of ``repeat`` atomic writes of ``size`` random bytes over one file."""
    data = os.urandom(size)
    target = folder / f"file-{size}.bin"
    atomic.DURABLE = durable
    try:
        return 1000 * timeit(lambda: atomic.write_bytes(target, data), repeat=repeat).median
    finally:
        atomic.DURABLE = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dir", type=Path, default=Path.cwd(), help="where to write")
    args = parser.parse_args()
    repeat = 5 if quick() else 21
    folder = Path(tempfile.mkdtemp(prefix="bench-atomic-", dir=args.dir))
    try:
        figures = {}
        for name, size in SIZES.items():
            time_write(folder, size, True, 2)  # warm the folder and the page cache
            # interleaved, so a change in the machine's load falls on both
            plain = time_write(folder, size, False, repeat)
            synced = time_write(folder, size, True, repeat)
            figures[name] = (synced, plain)
        (ckpt_synced, ckpt_plain), (json_synced, json_plain) = figures["checkpoint"], figures["json"]
        emit(
            "atomic_write_fsync", ckpt_synced, ckpt_plain, "ms", better="lower",
            size_bytes=SIZES["checkpoint"], json_ms=json_synced, json_no_fsync_ms=json_plain,
            json_size_bytes=SIZES["json"], repeat=repeat, file_system=file_system(folder.resolve()),
            load_1m=load_1m(),
        )  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
