"""`gesturegan` verbs: training a GAN into a run folder."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..training.exports import TrainResult


def add_train(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan train` and its flags."""
    p = sub.add_parser(
        "train",
        help="train a (class-conditional) GAN; resumes after any interruption",
        description="Train a model on a prepared dataset into a run folder (config.yaml, checkpoints/, "
        "generator.safetensors, logs/, samples/, progress.gif). Class-conditional when the dataset "
        "has labels. Ctrl+C saves a checkpoint; --resume continues exactly where it stopped.",
    )
    p.defer(_add_train_flags)
    p.set_defaults(func=_train)


def _add_train_flags(p: argparse.ArgumentParser) -> None:
    """The flags of ``train``, their help and defaults read from TrainConfig's fields: a few
    written out here (a budget is --minutes or --steps), the rest one per field."""
    from ..config import add_arguments, flag_help
    from ..presets import PRESETS
    from ..training.config import TrainConfig

    def described(name: str) -> str:
        return flag_help(TrainConfig, name)

    p.add_argument("--data", help=described("data"))
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--preset", choices=tuple(PRESETS), help=described("preset"))
    p.add_argument("--model", choices=("pgan", "dcgan", "wavegan"), help=described("model"))
    p.add_argument("--repr", help=described("repr"))
    p.add_argument("--config", help="YAML file of training options (docs/options.md lists them)")
    b = p.add_mutually_exclusive_group()
    b.add_argument("--minutes", type=float, help=described("minutes"))
    b.add_argument("--steps", type=int, help=described("steps"))
    p.add_argument("--seed", type=int, help=described("seed"))
    p.add_argument(
        "--until-plateau", type=float, metavar="MIN", help=described("until_plateau_minutes")
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--allow-new-data",
        action="store_true",
        help="with --resume: go on with a dataset other than the run's own (refused otherwise)",
    )
    group = p.add_argument_group(
        "training options",
        "Every option of the run; each can also go in the --config YAML file (the command line "
        "wins; on --resume, all but the model, representation and seed can change). "
        "docs/options.md and examples/train.yaml list them with their defaults. Values are YAML: "
        "--batch-size 64,64,32,16  --betas '[0.0, 0.99]'  --pgan.kernels time  "
        "--repr-options '{n_mels: 64}'.",
    )
    skip = ("data", "preset", "model", "repr", "seed", "steps", "minutes", "until_plateau_minutes")
    add_arguments(group, TrainConfig, skip=skip)


def _train(a) -> None:
    from ..config import overrides_from
    from ..training import train

    overrides = {
        **overrides_from(a),
        "preset": a.preset,
        "model": a.model,
        "repr": a.repr,
        "minutes": a.minutes,
        "steps": a.steps,
        "until_plateau_minutes": a.until_plateau,
        "seed": a.seed,
    }
    r = train(
        a.out, data=a.data, config_path=a.config, overrides=overrides, resume=a.resume,
        allow_new_data=a.allow_new_data,
    )  # fmt: skip
    if not r.interrupted:
        how = "done"
    elif r.saved:
        how = f"stopped; checkpoint saved, continue with: gesturegan train --out {a.out} --resume"
    else:
        how = f"stopped at once; the last checkpoint is kept, continue with --out {a.out} --resume"
    print(f"{how}: step {r.step}, stage {r.stage}, {r.elapsed_s / 60:.1f} min → {r.run_dir}")
    if 0 <= r.generator_step < r.step:
        print(generator_line(r))


def generator_line(r: TrainResult) -> str:
    """Which step the exported generator of ``r`` (whose generator is an earlier probe's) comes
    from, with the figure that picked it first."""
    why = [f"probe_fd {r.generator_probe_fd:.3g}"]
    if r.generator_heard >= 0:
        heard = f"its worst category heard as asked in {r.generator_heard:.0%} of the probe's clips"
        why = [heard, *why] if r.pick == "heard" else [*why, heard]
    by = "; ".join(why)
    return f"generator.safetensors: step {r.generator_step}, the last stage's best probe ({by})"
