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


def add_geometry(p: argparse.ArgumentParser) -> None:
    """``--preset``, ``--sr`` and ``--length``: the clips' rate and length, from a preset (the
    sketch preset's by default) or given; ``geometry`` reads them."""
    from ..presets import PRESETS

    named = "; ".join(f"{x.name}: {x.sr} Hz, {x.length} samples" for x in PRESETS.values())
    p.add_argument(
        "--preset", choices=tuple(PRESETS), help=f"clip rate and length ({named}); default sketch"
    )
    p.add_argument("--sr", type=int, help="sample rate in Hz (default: the preset's)")
    p.add_argument("--length", type=int, help="samples per clip (default: the preset's)")


def geometry(a: argparse.Namespace) -> tuple[int, int]:
    """``(sr, length)`` from ``add_geometry``'s flags: ``--sr`` / ``--length`` win over the preset."""
    from ..presets import get

    preset = get(a.preset or "sketch")
    sr = preset.sr if a.sr is None else a.sr
    return sr, preset.length if a.length is None else a.length


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
