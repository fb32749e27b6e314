"""Shared helpers for the benchmarks: timing, memory, the JSON result line and synthetic sources.

Every benchmark is a script (``python benchmarks/bench_x.py [--quick]``) that times our code and the
reference it must beat in the same run and prints one JSON line per measurement with ``emit``.

This module imports only numpy and the standard library at the top: a benchmark script is the
``__main__`` module that ``prepare``'s worker processes import again (multiprocessing's forkserver
and spawn start methods do), so everything it imports at module level is paid once per worker.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QUICK_ENV = "GESTUREGAN_BENCH_QUICK"
"""Set to ``1`` (``run.py --quick`` does) for smaller sizes; ``--quick`` on the command line too."""


def load_1m() -> float:
    """The machine's 1-minute load average, to print beside figures taken on a shared machine."""
    return os.getloadavg()[0]


def quick() -> bool:
    """True when the benchmark should use its small sizes (``--quick`` or ``$GESTUREGAN_BENCH_QUICK``)."""
    return "--quick" in sys.argv[1:] or os.environ.get(QUICK_ENV, "") not in ("", "0")


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of ``repeat`` calls: the best, the median and every one."""

    best: float
    median: float
    times: tuple[float, ...]


def timeit(
    fn: Callable[[], object], repeat: int = 3, setup: Callable[[], object] | None = None
) -> Timing:
    """Time ``repeat`` calls of ``fn`` (``time.perf_counter``); ``setup`` runs untimed before each.

    The best time is the figure to compare (least disturbed by the rest of the machine); the median
    shows how noisy the run was.
    """
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(min(times), statistics.median(times), tuple(times))


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    On Linux this is ``VmHWM`` from ``/proc/self/status``, not ``getrusage``: ``ru_maxrss`` of a
    process started by fork + exec keeps the parent's peak from before the exec, so a benchmark
    child launched from a big parent would report the parent's memory. Elsewhere ``getrusage``.
    """
    hwm = _proc_status(os.getpid()).get("VmHWM")
    if hwm is not None:
        return hwm / 1024
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 2**20 if sys.platform == "darwin" else kib / 1024  # macOS reports bytes


class TreeMonitor:
    """Peak memory and CPU time of this process and all its descendants, sampled from ``/proc``.

    ``getrusage`` sees one process (or only children that were waited for), but ``prepare`` decodes
    in a pool of worker processes started through a fork server, so the honest figures for it are
    those of the whole process tree. A thread samples every ``interval_s`` while the block runs:

    - ``peak_mb``: the sum over every process of the tree of its own peak resident set (``VmHWM``,
      the kernel's exact high-water mark of that process, see ``peak_rss_mb``). An upper
      bound: the peaks need not coincide, and libraries shared between processes count once per
      process. For a single process it is exactly its peak RSS.
    - ``peak_anon_mb``: the largest total of anonymous memory (``RssAnon``: heap, arrays; no file
      pages such as the memory-mapped output array or the libraries) seen at one sample.
    - ``cpu_s``: user + system CPU seconds the tree spent inside the block (this process's time
      before it is not counted; the sampling thread's own ~1 % is). Unlike wall time, it does not
      depend on how busy the rest of the machine is.

    Linux only. New processes are looked for every ``rescan_s``; a process's high-water mark and
    CPU time are those of its last sample, so a process that lives longer than that is counted to
    within ``interval_s``.

    >>> with TreeMonitor() as tree:  # doctest: +SKIP
    ...     work()
    >>> tree.peak_mb, tree.peak_anon_mb, tree.cpu_s  # doctest: +SKIP
    """

    def __init__(self, interval_s: float = 0.02, rescan_s: float = 0.2) -> None:
        self.interval_s, self.rescan_s = interval_s, rescan_s
        self.peak_anon_mb = 0.0
        self._hwm_kib: dict[int, int] = {}
        self._ticks: dict[int, int] = {}  # CPU clock ticks per process at its last sample
        self._ticks_before = _cpu_ticks(os.getpid())
        self._pids: list[int] = []
        self._last_scan = -math.inf
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def peak_mb(self) -> float:
        return sum(self._hwm_kib.values()) / 1024

    @property
    def cpu_s(self) -> float:
        return (sum(self._ticks.values()) - self._ticks_before) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> TreeMonitor:
        self._ticks_before = _cpu_ticks(os.getpid())
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        now = time.monotonic()
        if now - self._last_scan >= self.rescan_s:
            self._pids, self._last_scan = _descendants(os.getpid()), now
        anon = 0
        for pid in self._pids:
            fields = _proc_status(pid)
            if "VmHWM" in fields:
                self._hwm_kib[pid] = max(self._hwm_kib.get(pid, 0), fields["VmHWM"])
            anon += fields.get("RssAnon", 0)
            ticks = _cpu_ticks(pid)
            if ticks is not None:
                self._ticks[pid] = ticks
        self.peak_anon_mb = max(self.peak_anon_mb, anon / 1024)


def _cpu_ticks(pid: int) -> int | None:
    """User + system CPU time of ``pid`` in clock ticks (``/proc/<pid>/stat``); None when gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rpartition(")")[2].split()  # the command name may contain spaces
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5): utime, stime


def _descendants(root: int) -> list[int]:
    """``root`` and every live process below it (from ``/proc/<pid>/stat``)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:  # the process ended while we looked
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _proc_status(pid: int) -> dict[str, int]:
    """The KiB fields of ``/proc/<pid>/status`` (``VmHWM``, ``RssAnon``, ...); empty when gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    fields = {}
    for line in lines:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            fields[key] = int(parts[0])
    return fields


def emit(
    name: str, ours: float, reference: float, unit: str, better: str = "higher", **extra: object
) -> dict:
    """Print one result line ``{"bench", "ours", "reference", "ratio", "unit", "better", ...}``.

    ``ratio`` always reads "how many times better we are", so above 1 means we beat the reference:
    ``ours / reference`` when a higher figure is better (clips/s), ``reference / ours`` when a lower
    one is (seconds, MiB). ``better`` says which (``"higher"`` or ``"lower"``). ``extra`` keys are
    added as they are (sizes, secondary figures).
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    num, den = (ours, reference) if better == "higher" else (reference, ours)
    line = {
        "bench": name,
        "ours": _round(ours),
        "reference": _round(reference),
        "ratio": _round(num / den) if den else math.inf,
        "unit": unit,
        "better": better,
        **{k: _round(v) if isinstance(v, float) else v for k, v in extra.items()},
    }
    print(json.dumps(line), flush=True)
    return line


def _round(x: float) -> float:
    """Four significant digits: more than any benchmark can resolve."""
    return float(f"{x:.4g}")


# --- Synthetic sources ---------------------------------------------------------------------------

SOURCE_RATES = (32000, 44100, 48000)  # Hz, in turn
SOURCE_SUBTYPES = ("PCM_16", "PCM_24")  # in turn, every third file


def write_pool(out: Path, n_files: int, seed: int = 0) -> list[Path]:
    """Write ``n_files`` distinct real-world-shaped source files, as issue 4 specifies them.

    Stereo WAV, 2–5 s long (uniform), at 32 / 44.1 / 48 kHz in turn, 16- and 24-bit in turn; each
    a gesture: one to four decaying partials with a noise burst, its own attack time, decay rate,
    pitch and level, the right channel a slightly detuned copy so the two channels differ. Files go
    to ``OUT/<k>/NNNNN.wav`` for four folders ``k`` (labels from folders).

    Returns
    -------
    list[Path] : the files, in writing order.
    """
    import soundfile as sf

    rng = np.random.default_rng(seed)
    files = []
    for i in range(n_files):
        sr = SOURCE_RATES[i % len(SOURCE_RATES)]
        subtype = SOURCE_SUBTYPES[(i // len(SOURCE_RATES)) % len(SOURCE_SUBTYPES)]
        t = np.arange(round(rng.uniform(2.0, 5.0) * sr)) / sr
        attack = rng.uniform(0.001, 0.3)
        env = np.minimum(t / attack, 1.0) * np.exp(-np.maximum(t - attack, 0) * rng.uniform(0.3, 6))
        left = np.zeros_like(t)
        right = np.zeros_like(t)
        for _ in range(rng.integers(1, 5)):
            f0, amp = rng.uniform(60, 4000), rng.uniform(0.05, 0.3)
            left += amp * np.sin(2 * np.pi * f0 * t)
            right += amp * np.sin(2 * np.pi * f0 * 1.003 * t)
        noise = 0.1 * rng.standard_normal(len(t)) * np.exp(-t * 20)
        stereo = np.stack([(left + noise) * env, (right + noise) * env], axis=1)
        stereo *= rng.uniform(0.2, 0.9) / max(np.abs(stereo).max(), 1e-9)
        path = out / f"{i % 4}" / f"{i:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, stereo.astype(np.float32), sr, subtype=subtype)
        files.append(path)
    return files


def fill_source(src: Path, pool: list[Path], n_files: int) -> Path:
    """A source folder of ``n_files`` audio files taken cyclically from ``pool``.

    Files go to ``SRC/<category>/NNNNNN_<name>.wav`` (labels from folders). They are hard links
    where the file system allows (no extra disk, same decoding work per file), else copies.
    """
    if src.exists():
        shutil.rmtree(src)
    for i in range(n_files):
        path = pool[i % len(pool)]
        dest = src / path.parent.name / f"{i:06d}_{path.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except OSError:
            shutil.copyfile(path, dest)
    return src
