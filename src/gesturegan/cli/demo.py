"""`gesturegan` verbs: the whole loop on the built-in corpus."""

from __future__ import annotations

import argparse

from .parsing import add_device, announce, say_device


def add_demo(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan demo` and its flags."""
    p = sub.add_parser(
        "demo",
        help="the whole loop on the built-in corpus: corpus → train → samples, morph, "
        "composition, report.md",
        description="Build the built-in corpus, prepare it, train a class-conditional progressive GAN "
        "(the sketch preset) for a fixed number of steps, then write samples per class, a morph, "
        "a composition and report.md.",
    )
    p.add_argument("--out", required=True, help="output folder (created)")
    p.defer(_add_budget)
    p.add_argument("--per-class", type=int, default=64, help="corpus clips per class (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_device(p)
    p.set_defaults(func=_demo)


def _add_budget(p: argparse.ArgumentParser) -> None:
    """``--steps`` or ``--minutes``, with the default step count (read from the demo, which
    imports training: only when this command is used)."""
    from ..demo import DEFAULT_STEPS

    b = p.add_mutually_exclusive_group()
    b.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"training steps (default {DEFAULT_STEPS}: the same model on every machine, and the "
        "whole demo under 10 minutes on two idle cores)",
    )
    b.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="train for this many minutes instead of a number of steps (the model then depends "
        "on the machine's speed)",
    )


def _demo(a) -> None:
    from ..demo import run_demo

    device = announce(a.device)
    say_device(device)
    result = run_demo(
        a.out, steps=a.steps, minutes=a.minutes, per_class=a.per_class, seed=a.seed, device=device
    )
    print(f"demo written to {result.out}; open {result.report}")
