"""`gesturegan` verbs: what a trained run makes: generate, morph, export."""

from __future__ import annotations

import argparse

from .parsing import CATEGORY_HELP, add_device, announce


def add_generate(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan generate` and its flags."""
    p = sub.add_parser(
        "generate",
        help="write new gestures of a class as WAV files",
        description="Draw gestures from a trained run. Files are named <class>_seed<seed>.wav; a "
        "generated.csv sidecar lists class, seed, stage, candidates and what the envelope labeler "
        "heard.",
    )
    p.add_argument("run", help="run folder")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, default=4, help="gestures per class (default 4)")
    p.add_argument("--class", dest="category", help=f"only this {CATEGORY_HELP} (default: all)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--stage", help="decode through an earlier growth stage: first or e.g. 16x8")
    p.add_argument("--truncation", type=float, help="truncate latents at ±T (less variety)")
    p.add_argument(
        "--candidates",
        type=int,
        default=1,
        metavar="K",
        help="keep the best of K latents per clip by the run's discriminator (default 1: plain)",
    )
    add_device(p)
    p.set_defaults(func=_generate)


def _generate(a) -> None:
    from ..generation import generate

    device = announce(a.device)
    rows = generate(
        a.run,
        a.out,
        n=a.n,
        category=a.category,
        seed=a.seed,
        stage=a.stage,
        truncation=a.truncation,
        candidates=a.candidates,
        device=device,
    )
    print(f"wrote {len(rows)} gestures to {a.out} (see generated.csv) on {device}")


def add_morph(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan morph` and its flags."""
    p = sub.add_parser(
        "morph",
        help="interpolate between two gesture classes (conditioning and latents)",
        description="Write K step WAVs gliding from one class to another, one continuous "
        "cross-faded WAV and a spectrogram strip PNG.",
    )
    p.add_argument("run", help="run folder")
    p.add_argument("--from", dest="start", required=True, help=f"start {CATEGORY_HELP}")
    p.add_argument("--to", dest="end", required=True, help="end class")
    p.add_argument("--steps", type=int, default=8, help="number of steps (default 8)")
    p.add_argument(
        "--mode",
        choices=("class", "latent", "both"),
        default="class",
        help="class: move the conditioning only; latent: slerp the latent within one class "
        "(--to = --from); both: move both",
    )
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    p.add_argument(
        "--stage", help="growth stage to draw from: first, last (the default) or e.g. 16x8"
    )
    p.add_argument("--out", required=True, help="output folder")
    add_device(p)
    p.set_defaults(func=_morph)


def _morph(a) -> None:
    from ..generation import morph

    device = announce(a.device)
    r = morph(
        a.run, a.start, a.end, a.out, steps=a.steps, seed=a.seed, stage=a.stage, mode=a.mode,
        device=device,
    )  # fmt: skip
    print(f"wrote {len(r.steps)} steps, {r.continuous} and {r.strip} on {device}")


def add_export(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan export` and its flags."""
    p = sub.add_parser(
        "export",
        help="write a run's generator + decoder as one TorchScript or ONNX file",
        description="Record latent z [B, Z] and conditioning c [B, classes] -> wave [B, T] as one "
        "graph usable without gesturegan (torch.jit.load or onnxruntime; docs/export.md). The "
        "file is loaded back and checked against gesturegan's own generation before it is put in "
        "place; <file>.json holds the rate, the classes in input order and the check's figures.",
    )
    p.add_argument("run", help="run folder")
    p.add_argument(
        "--format",
        choices=("torchscript", "onnx"),
        default="torchscript",
        help="(default torchscript)",
    )
    p.add_argument("--out", help="file to write (default RUN/generator.pt or RUN/generator.onnx)")
    p.add_argument("--stage", help="growth stage to export: first, last (the default) or e.g. 16x8")
    p.add_argument(
        "--tolerance",
        type=float,
        help="largest sample difference accepted in the check (default 0.01, -40 dBFS)",
    )
    p.add_argument("--json", action="store_true", help="print the sidecar as one JSON object")
    add_device(p)
    p.set_defaults(func=_export)


def _export(a) -> None:
    import json

    from ..exporting import DEFAULT_TOLERANCE, export

    tolerance = DEFAULT_TOLERANCE if a.tolerance is None else a.tolerance
    device = announce(a.device)
    done = export(a.run, a.format, out=a.out, stage=a.stage, tolerance=tolerance, device=device)
    if a.json:
        print(json.dumps(done.to_dict()))
        return
    print(
        f"wrote {done.path} ({done.format}, stage {done.stage}, {done.repr}): max difference "
        f"{done.max_abs_diff:.2g} from gesturegan's generation on {device}, "
        f"{done.ms_per_clip:.0f} ms per clip on the CPU"
    )
