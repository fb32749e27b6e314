"""What the verbs' parsers share: a parser that builds some options only when used, common help."""

from __future__ import annotations

import argparse
from collections.abc import Callable

CATEGORY_HELP = (
    "gesture class, e.g. trigger, trigger_continuous, continuous_variation, continuous_repetition"
)


def add_device(p: argparse.ArgumentParser, what: str = "models") -> None:
    """``--device``, for a verb that runs a model (``gesturegan.device.resolve`` reads it)."""
    p.add_argument(
        "--device",
        default="auto",
        help=f"where {what} run: auto (a CUDA GPU when present, else the CPU), cpu, cuda, "
        "cuda:N, mps (default auto)",
    )


def announce(device: str) -> str:
    """The device ``--device`` names, resolved before any work (a ``UserError`` when absent):
    ``"cuda:0"``, for the library call and the command's closing line."""
    from ..device import resolve

    return str(resolve(device))


def say_device(device: str) -> None:
    """Print the device a long command runs on, at its start (stderr: stdout stays its own)."""
    import sys

    from ..device import describe, resolve

    print(f"device: {describe(resolve(device))}", file=sys.stderr, flush=True)


class DeferredParser(argparse.ArgumentParser):
    """An ArgumentParser that adds some options only when it is used (``defer``): building the
    whole command line must not import what one command needs (torch, for ``train``'s options)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._deferred: list[Callable[[argparse.ArgumentParser], None]] = []

    def defer(self, add: Callable[[argparse.ArgumentParser], None]) -> None:
        """Call ``add(self)`` before this parser first parses or prints its help."""
        self._deferred.append(add)

    def parse_known_args(self, args=None, namespace=None):
        self._complete()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._complete()
        return super().format_help()

    def _complete(self) -> None:
        while self._deferred:
            self._deferred.pop(0)(self)
