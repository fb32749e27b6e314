"""`gesturegan` verbs: gesture categories of sound files: label and sort."""

from __future__ import annotations

import argparse
import sys

from .parsing import add_device, announce


def _add_decider_flags(p: argparse.ArgumentParser, unsure: str) -> None:
    """What decides the category, shared by label and sort: the rules, or ``--model`` with its
    ``--min-confidence`` (``unsure`` says what happens below it) and device; the worker count."""
    p.add_argument(
        "--model", metavar="DIR", help="classifier folder (`classifier train`); default: rules"
    )
    p.add_argument(
        "--min-confidence",
        type=float,
        metavar="P",
        help=f"with --model: {unsure}",
    )
    p.add_argument(
        "--workers", type=int, default=None, help="parallel processes (default: all cores)"
    )
    add_device(p, "the classifier of --model")


def add_label(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan label` and its flags."""
    p = sub.add_parser(
        "label",
        help="gesture category of each sound file, with the features that decided",
        description="Print one line per audio file (FILE, CATEGORY, why; tab-separated): the "
        "envelope rules on the whole file (see docs/gestures.md), or a trained classifier with "
        "--model. Files that cannot be read are listed on stderr; they do not stop the run.",
    )
    p.add_argument("src", help="an audio file or a folder of them (read only)")
    p.add_argument("--csv", metavar="OUT", help="also write decisions and all features to a CSV")
    _add_decider_flags(p, unsure="mark files whose top probability is below P unsure")
    p.set_defaults(func=_label)


def _label(a) -> None:
    from ..console import progress
    from ..labeling import label_files, write_csv

    device = announce(a.device) if a.model else "cpu"  # the rules need no device
    with progress("label") as cb:
        r = label_files(
            a.src, a.model, workers=a.workers, progress=cb, min_confidence=a.min_confidence,
            device=device,
        )  # fmt: skip
    for d in r.decisions:
        print(f"{d.file}\t{d.place}\t{d.explanation}")
    for file, reason in r.errors:
        print(f"{file}: skipped ({reason})", file=sys.stderr)
    if a.csv:
        write_csv(r, a.csv)
    counts = ", ".join(f"{k} {v}" for k, v in r.counts().items()) or "none"
    where = f"; written to {a.csv}" if a.csv else ""
    print(f"{len(r.decisions)} files labelled ({counts}); {len(r.errors)} skipped{where}",
          file=sys.stderr)  # fmt: skip


def add_sort(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan sort` and its flags."""
    p = sub.add_parser(
        "sort",
        help="sort sound files into OUT/<category>/ (links by default); SRC untouched",
        description="Label every audio file under SRC (envelope rules, or --model) and place it in "
        "OUT/<category>/ as a symbolic link (or a copy). OUT/sort.csv lists every decision and "
        "OUT/errors.csv the unreadable files. Re-running updates OUT in place: entries already "
        "right are kept, outdated ones this command made are removed, other files are never "
        "touched. SRC is only read.",
    )
    p.add_argument("src", help="folder (or file) of sounds (read only)")
    p.add_argument("out", help="output folder (created)")
    p.add_argument("--copy", action="store_true", help="copy the files instead of linking them")
    _add_decider_flags(p, unsure="files whose top probability is below P go to unsure/")
    p.set_defaults(func=_sort)


def _sort(a) -> None:
    from ..console import progress
    from ..sorting import sort_files

    device = announce(a.device) if a.model else "cpu"  # the rules need no device
    with progress("sort") as cb:
        s = sort_files(
            a.src,
            a.out,
            copy=a.copy,
            model=a.model,
            workers=a.workers,
            progress=cb,
            min_confidence=a.min_confidence,
            device=device,
        )
    counts = ", ".join(f"{k} {v}" for k, v in s.counts.items()) or "none"
    print(
        f"sorted {sum(s.counts.values())} files into {s.out} ({counts}): {s.created} written, "
        f"{s.unchanged} unchanged, {s.removed} removed; {len(s.errors)} unreadable; "
        f"decisions in {s.csv}"
    )
