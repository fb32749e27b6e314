"""`gesturegan` verbs: the local web page."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError


def add_studio(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan studio` and its flags."""
    p = sub.add_parser(
        "studio",
        help="local web page: browse, listen, generate, morph, compose, listening survey",
        description="Serve the studio page (see docs/studio.md) for the runs and datasets under the "
        "given folders. Only files under those folders are ever served; open the printed URL (it "
        "carries the session token every request needs).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--runs", default=".", help="folder of training runs, or one run (default .)")
    p.add_argument("--data", help="folder of datasets, or one dataset (default: the --runs folder)")
    p.add_argument(
        "--state",
        help="where survey answers, stimuli and mixes are kept (default <runs>/.studio)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host header names NAME (repeatable; loopback names and "
        "the --host address are always allowed)",
    )
    p.set_defaults(func=_studio)


def _studio(a) -> None:
    from ..studio import serve

    if not Path(a.runs).is_dir():
        raise UserError(f"--runs {a.runs}: no such folder")
    if a.data is not None and not Path(a.data).is_dir():
        raise UserError(f"--data {a.data}: no such folder")
    serve(a.host, a.port, a.runs, a.data, a.state, a.allow_host)
