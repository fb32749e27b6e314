"""Run the benchmarks: every ``benchmarks/bench_*.py``, each in its own interpreter, one at a time.

Each benchmark prints JSON result lines on stdout (see ``common.emit``); this runner forwards them
to its stdout unchanged, sends anything else a benchmark prints to stderr, and exits non-zero when
a benchmark fails or prints no result.

Usage::

    python benchmarks/run.py [--quick] [--only NAME ...] [--out FILE]

``--quick`` passes ``--quick`` (and ``GESTUREGAN_BENCH_QUICK=1``) to every benchmark: smaller sizes,
for a smoke test. ``--only prepare`` runs ``bench_prepare.py`` alone. ``--out`` also writes the
result lines to FILE (JSON lines).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import QUICK_ENV
from gesturegan.atomic import write_text

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the gesturegan benchmarks.")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test)")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only bench_NAME.py (repeatable)"
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="also write the lines to FILE")
    args = parser.parse_args(argv)

    benches = {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}
    names = list(benches)
    if args.only:
        wanted = [n.removeprefix("bench_").removesuffix(".py") for n in args.only]
        unknown = [n for n in wanted if n not in benches]
        if unknown:
            parser.error(f"no benchmark {', '.join(unknown)}; known: {', '.join(benches)}")
        names = wanted

    env = dict(os.environ, **({QUICK_ENV: "1"} if args.quick else {}))
    lines, failed = [], []
    for name in names:
        cmd = [sys.executable, str(benches[name]), *(["--quick"] if args.quick else [])]
        print(f"# {name}: running", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        got = 0
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            if _is_result(line):
                print(line, flush=True)
                lines.append(line)
                got += 1
            elif line:
                print(f"# {name}: {line}", file=sys.stderr, flush=True)
        rc = proc.wait()
        seconds = time.perf_counter() - t0
        if rc != 0 or got == 0:
            failed.append(name)
            why = f"exit status {rc}" if rc != 0 else "no result line"
            print(f"# {name}: FAILED ({why}) after {seconds:.1f} s", file=sys.stderr, flush=True)
        else:
            print(f"# {name}: {got} result(s) in {seconds:.1f} s", file=sys.stderr, flush=True)

    if args.out is not None:
        write_text(args.out, "".join(f"{line}\n" for line in lines))
    if failed:
        print(f"# failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _is_result(line: str) -> bool:
    """A result line is a JSON object with a ``bench`` key."""
    try:
        obj = json.loads(line)
    except ValueError:
        return False
    return isinstance(obj, dict) and "bench" in obj


if __name__ == "__main__":
    sys.exit(main())
