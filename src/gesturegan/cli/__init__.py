"""Command line: parses arguments and calls the library. No logic lives here.

One module per verb or group of verbs; each offers ``add_<verb>(subparsers)``, which declares the
verb's flags and sets ``func`` to a function that calls one library function and prints its
result. ``VERBS`` lists them in the order ``gesturegan --help`` shows; a new verb is a new
``add_<verb>`` and one line there.

Every user mistake surfaces as ``UserError`` and is printed as one line, exit status 2; so is a
full disk.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..atomic import disk_full
from ..errors import UserError
from . import (
    classifier,
    compose,
    data,
    demo,
    evaluate,
    generate,
    labels,
    reprs,
    studio,
    survey,
    train,
)
from .parsing import DeferredParser

VERBS = (
    demo.add_demo,
    data.add_corpus,
    data.add_prepare,
    data.add_merge,
    data.add_import_prep_mels,
    reprs.add_reprs,
    reprs.add_roundtrip,
    labels.add_label,
    labels.add_sort,
    classifier.add_classifier,
    train.add_train,
    generate.add_generate,
    generate.add_morph,
    compose.add_compose,
    generate.add_export,
    evaluate.add_compare,
    evaluate.add_evaluate,
    evaluate.add_study,
    studio.add_studio,
    survey.add_video,
    survey.add_survey,
)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: ``gesturegan VERB ...`` for every verb of ``VERBS``."""
    parser = argparse.ArgumentParser(
        prog="gesturegan",
        description="Grow new sound gestures with GANs from a folder of sounds, hear the model "
        "learn, morph between kinds of gesture, and compose with the results.",
    )
    parser.add_argument("--version", action="version", version=f"gesturegan {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=DeferredParser
    )
    for add in VERBS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gesturegan`` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as exc:
        print(f"gesturegan {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk outside an atomic write (a folder, a link)
        full = disk_full(exc.filename or "a file", exc)
        if full is None:
            raise
        print(f"gesturegan {args.command}: error: {full}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = "; run the same command again to resume" if args.command == "prepare" else ""
        print(f"gesturegan {args.command}: interrupted{hint}", file=sys.stderr)
        return 130
    return 0
