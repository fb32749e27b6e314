"""Command line: parses arguments and calls the library. No logic lives here.

Every user mistake surfaces as ``UserError`` and is printed as one line, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import UserError

CATEGORY_HELP = (
    "gesture class, e.g. trigger, trigger_continuous, continuous_variation, continuous_repetition"
)


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole loop on the built-in corpus: corpus → train → samples, morph, "
        "composition, report.md",
        description="Build the built-in corpus, prepare it, train a class-conditional progressive GAN "
        "for a bounded time, then write samples per class, a morph, a composition and report.md.",
    )
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="training time in minutes (default 6.5, so the whole demo takes under 10)",
    )
    p.add_argument("--per-class", type=int, default=64, help="corpus clips per class (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=_demo)


def _demo(a) -> None:
    from .demo import run_demo

    result = run_demo(a.out, minutes=a.minutes, per_class=a.per_class, seed=a.seed)
    print(f"demo written to {result.out}; open {result.report}")


def _add_corpus(sub) -> None:
    p = sub.add_parser(
        "corpus",
        help="write the built-in procedural corpus of the four gesture categories",
        description="Synthesise varied gestures of each category (deterministic by seed) as "
        "OUT/<category>/*.wav plus OUT/labels.csv (file,label).",
    )
    p.add_argument("out", help="output folder")
    p.add_argument("--per-class", type=int, default=64, help="clips per category (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--sr", type=int, default=22050, help="sample rate in Hz (default 22050)")
    p.add_argument("--length", type=int, default=16384, help="samples per clip (default 16384)")
    p.set_defaults(func=_corpus)


def _corpus(a) -> None:
    from .console import progress
    from .corpus import write_corpus

    if a.per_class < 1:
        raise UserError(f"--per-class must be at least 1, got {a.per_class}")
    with progress("corpus") as cb:
        s = write_corpus(
            a.out, per_class=a.per_class, seed=a.seed, sr=a.sr, length=a.length, progress=cb
        )
    print(f"wrote {sum(s.counts.values())} clips to {s.out} (labels: {s.labels_csv})")


def _add_prepare(sub) -> None:
    p = sub.add_parser(
        "prepare",
        help="folder of audio → memory-mapped dataset (never modifies the source)",
        description="Read every audio file under SRC (wav, flac, ogg, aiff, mp3), downmix, resample, "
        "fit to a fixed length and write a dataset folder: dataset.json, manifest.csv, audio.npy "
        "(memory-mapped), errors.csv (skipped files with reasons).",
    )
    p.add_argument("src", help="folder of sounds (read only)")
    p.add_argument("out", help="dataset folder to create")
    p.add_argument("--sr", type=int, default=22050, help="target sample rate in Hz (default 22050)")
    p.add_argument("--length", type=int, default=16384, help="samples per clip (default 16384)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--labels", metavar="CSV", help="labels CSV (file,label; paths relative to it)")
    g.add_argument(
        "--labels-from-folders", action="store_true", help="label = first folder under SRC"
    )
    p.add_argument(
        "--align",
        choices=("start", "onset", "peak"),
        default="start",
        help="where each clip starts: file start, first onset, or loudest point",
    )
    p.add_argument(
        "--workers", type=int, default=None, help="parallel processes (default: all cores)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at OUT")
    p.set_defaults(func=_prepare)


def _prepare(a) -> None:
    from .console import progress
    from .dataset import prepare

    with progress("prepare") as cb:
        s = prepare(
            a.src,
            a.out,
            sr=a.sr,
            length=a.length,
            labels_csv=a.labels,
            labels_from_folders=a.labels_from_folders,
            align=a.align,
            workers=a.workers,
            overwrite=a.overwrite,
            progress=cb,
        )
    counts = ", ".join(f"{k}: {v}" for k, v in s.counts.items()) or "unlabelled"
    print(f"{s.n_clips} clips → {s.out} ({counts}); {s.n_errors} skipped, see errors.csv")


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a (class-conditional) GAN; resumes after any interruption",
        description="Train a model on a prepared dataset into a run folder (config.yaml, checkpoints/, "
        "generator.safetensors, logs/, samples/, progress.gif). Class-conditional when the dataset "
        "has labels. Ctrl+C saves a checkpoint; --resume continues exactly where it stopped.",
    )
    p.add_argument("--data", help="dataset folder (from `gesturegan prepare`)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument(
        "--model",
        choices=("pgan", "dcgan", "wavegan"),
        default=None,
        help="pgan (progressive, default), dcgan, or wavegan (1-D; needs --repr waveform)",
    )
    p.add_argument("--repr", default=None, help="representation (default logmel_gl; see `reprs`)")
    p.add_argument("--config", help="YAML file of training options (see docs/training.md)")
    b = p.add_mutually_exclusive_group()
    b.add_argument(
        "--minutes", type=float, help="time budget in minutes (default 30 when no --steps)"
    )
    b.add_argument("--steps", type=int, help="number of steps (deterministic schedule)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument(
        "--until-plateau",
        type=float,
        metavar="MIN",
        help="also stop when the live quality (probe_fd) has not improved for MIN minutes",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.set_defaults(func=_train)


def _train(a) -> None:
    from .training import train

    overrides = {
        "model": a.model,
        "repr": a.repr,
        "minutes": a.minutes,
        "steps": a.steps,
        "until_plateau_minutes": a.until_plateau,
        "seed": a.seed,
    }
    r = train(a.out, data=a.data, config_path=a.config, overrides=overrides, resume=a.resume)
    if not r.interrupted:
        how = "done"
    elif r.saved:
        how = f"stopped; checkpoint saved, continue with: gesturegan train --out {a.out} --resume"
    else:
        how = f"stopped at once; the last checkpoint is kept, continue with --out {a.out} --resume"
    print(f"{how}: step {r.step}, stage {r.stage}, {r.elapsed_s / 60:.1f} min → {r.run_dir}")


def _add_generate(sub) -> None:
    p = sub.add_parser(
        "generate",
        help="write new gestures of a class as WAV files",
        description="Draw gestures from a trained run. Files are named <class>_seed<seed>.wav; a "
        "generated.csv sidecar lists class, seed, stage and what the envelope labeler heard.",
    )
    p.add_argument("run", help="run folder")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, default=4, help="gestures per class (default 4)")
    p.add_argument("--class", dest="category", help=f"only this {CATEGORY_HELP} (default: all)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--stage", help="decode through an earlier growth stage, e.g. 4x4")
    p.add_argument("--truncation", type=float, help="truncate latents at ±T (less variety)")
    p.set_defaults(func=_generate)


def _generate(a) -> None:
    from .generation import generate

    rows = generate(
        a.run,
        a.out,
        n=a.n,
        category=a.category,
        seed=a.seed,
        stage=a.stage,
        truncation=a.truncation,
    )
    print(f"wrote {len(rows)} gestures to {a.out} (see generated.csv)")


def _add_morph(sub) -> None:
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
    p.add_argument("--stage", help="growth stage to draw from (default: the last)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=_morph)


def _morph(a) -> None:
    from .generation import morph

    r = morph(a.run, a.start, a.end, a.out, steps=a.steps, seed=a.seed, stage=a.stage, mode=a.mode)
    print(f"wrote {len(r.steps)} steps, {r.continuous} and {r.strip}")


def _add_compose(sub) -> None:
    p = sub.add_parser(
        "compose",
        help="render a score (YAML) of gestures, morphs and files to a stereo mix",
        description="Render a score file (see docs/score.md) to a stereo WAV that never clips; the "
        "gain applied and the placed events are written to MIX.wav.json.",
    )
    p.add_argument("score", help="score YAML file")
    p.add_argument("--out", required=True, help="output WAV")
    p.add_argument("--run", help="override the score's run folder")
    p.set_defaults(func=_compose)


def _compose(a) -> None:
    from .composition import compose

    mix = compose(a.score, a.out, run_override=Path(a.run) if a.run else None)
    dur = mix.stereo.shape[0] / mix.sr
    print(
        f"wrote {a.out}: {dur:.1f} s, {len(mix.events)} events, gain {mix.gain_db_applied:+.1f} dB"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gesturegan",
        description="Grow new sound gestures with GANs from a folder of sounds, hear the model "
        "learn, morph between kinds of gesture, and compose with the results.",
    )
    parser.add_argument("--version", action="version", version=f"gesturegan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (
        _add_demo,
        _add_corpus,
        _add_prepare,
        _add_train,
        _add_generate,
        _add_morph,
        _add_compose,
    ):
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
    except KeyboardInterrupt:
        print(f"gesturegan {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
