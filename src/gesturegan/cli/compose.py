"""`gesturegan` verbs: rendering a score to a mix."""

from __future__ import annotations

import argparse
from pathlib import Path

from .parsing import add_device, announce


def add_compose(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan compose` and its flags."""
    p = sub.add_parser(
        "compose",
        help="render a score (YAML) of gestures, morphs and files to a stereo mix",
        description="Render a score file (see docs/score.md) to a stereo WAV that never clips; the "
        "gain applied and the placed events are written to MIX.wav.json.",
    )
    p.add_argument("score", help="score YAML file")
    p.add_argument("--out", required=True, help="output WAV")
    p.add_argument("--run", help="override the score's run folder")
    add_device(p)
    p.set_defaults(func=_compose)


def _compose(a) -> None:
    from functools import partial

    from ..composition import compose
    from ..generation import load

    source = partial(load, device=announce(a.device))
    mix = compose(a.score, a.out, source, run_override=Path(a.run) if a.run else None)
    dur = mix.stereo.shape[0] / mix.sr
    print(
        f"wrote {a.out}: {dur:.1f} s, {len(mix.events)} events, gain {mix.gain_db_applied:+.1f} dB"
        f" (models on {source.keywords['device']})"
    )
