"""`gesturegan` verbs: representations: list them, measure their round trip."""

from __future__ import annotations

import argparse

from .parsing import add_geometry, geometry


def add_reprs(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan reprs` and its flags."""
    p = sub.add_parser(
        "reprs",
        help="list the audio representations (name, image shape, description)",
        description="List every registered representation with the shape of one encoded clip "
        "(C, H, W; (1, T) for 1-D ones) and a one-line description. See docs/representations.md.",
    )
    add_geometry(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_reprs)


def _reprs(a) -> None:
    import json

    from ..representations import table

    sr, length = geometry(a)
    rows = table(sr, length)
    if a.json:
        print(json.dumps({"sr": sr, "length": length, "representations": rows}))
        return
    width = max(len(r["name"]) for r in rows)
    shapes = {r["name"]: "x".join(map(str, r["shape"])) for r in rows}
    swidth = max(map(len, shapes.values()))
    for r in rows:
        print(f"{r['name']:<{width}}  {shapes[r['name']]:<{swidth}}  {r['description']}")


def add_roundtrip(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan roundtrip` and its flags."""
    p = sub.add_parser(
        "roundtrip",
        help="encode → decode a dataset through a representation; report quality and speed",
        description="Encode and decode clips of a prepared dataset through one representation and "
        "report waveform SNR, spectral convergence and log-spectral distance (mean and median) and "
        "the encode/decode time per clip.",
    )
    p.add_argument("data", help="dataset folder (from `gesturegan prepare`)")
    p.add_argument("--repr", required=True, help="representation name (see `gesturegan reprs`)")
    p.add_argument("--n", type=int, default=None, help="clips, evenly spread (default: all)")
    p.add_argument("--batch-size", type=int, default=32, help="clips per call (default 32)")
    p.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="representation option, e.g. n_iter=8 (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_roundtrip)


def _roundtrip(a) -> None:
    import json

    from ..console import progress
    from ..representations.roundtrip import parse_options, roundtrip

    options = parse_options(a.option)
    with progress("roundtrip", enabled=not a.json) as cb:
        r = roundtrip(a.data, a.repr, n=a.n, batch_size=a.batch_size, options=options, progress=cb)
    if a.json:
        print(json.dumps(r.to_dict()))
        return
    shape = "x".join(map(str, r.shape))
    print(
        f"{r.repr} ({shape}, {r.ratio:.2g} values per sample) on {r.n_clips} clips of {r.dataset}"
    )
    print(f"  SNR  mean {r.snr_db_mean:7.2f} dB   median {r.snr_db_median:7.2f} dB")
    print(f"  SC   mean {r.sc_mean:7.4f}      median {r.sc_median:7.4f}")
    print(f"  LSD  mean {r.lsd_mean:7.2f} dB   median {r.lsd_median:7.2f} dB")
    print(
        f"  encode {r.encode_ms:.2f} ms/clip, decode {r.decode_ms:.2f} ms/clip (batch {r.batch_size})"
    )
