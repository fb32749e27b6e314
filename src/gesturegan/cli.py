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


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that adds some options only when it is used (``defer``): building the
    whole command line must not import what one command needs (torch, for ``train``'s options)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._deferred: list = []

    def defer(self, add) -> None:
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
        "(memory-mapped), errors.csv (skipped files with reasons). An interrupted run resumes "
        "when run again with the same options.",
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
        "--min-duration",
        type=float,
        default=0.0,
        metavar="S",
        help="skip files shorter than S seconds as too short (default 0: keep all)",
    )
    p.add_argument(
        "--normalize",
        choices=("none", "peak", "rms"),
        default="none",
        help="scale each clip to a peak or RMS (loudness) level (default none)",
    )
    p.add_argument(
        "--level-db",
        type=float,
        default=None,
        metavar="DB",
        help="--normalize target in dBFS (default -1 for peak, -20 for rms)",
    )
    p.add_argument(
        "--workers", type=int, default=None, help="decoding threads (default: all cores)"
    )
    p.add_argument(
        "--shard",
        type=_shard_arg,
        default=None,
        metavar="I/N",
        help="prepare only the I-th of N blocks of the files (1/N .. N/N); join with merge",
    )
    p.add_argument("--holdout", type=float, default=0.0, metavar="SHARE",
                   help="keep this share of the source files out of training (default 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the --holdout choice (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at OUT")
    p.set_defaults(func=_prepare)


def _shard_arg(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N such as 1/4, got {text!r}") from None
    if not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"I/N needs 1 <= I <= N, got {text!r}")
    return i, n


def _add_merge(sub) -> None:
    p = sub.add_parser(
        "merge",
        help="join the datasets of prepare --shard 1/N .. N/N into one",
        description="Join shard datasets (prepare --shard I/N, one per machine) into one dataset, "
        "identical to preparing the whole folder at once. The shards are only read.",
    )
    p.add_argument("shards", nargs="+", metavar="SHARD", help="shard dataset folders, any order")
    p.add_argument("--out", required=True, help="dataset folder to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at OUT")
    p.set_defaults(func=_merge)


def _merge(a) -> None:
    from .dataset import merge

    s = merge(a.shards, a.out, overwrite=a.overwrite)
    counts = ", ".join(f"{k}: {v}" for k, v in s.counts.items()) or "unlabelled"
    print(f"{s.n_clips} clips → {s.out} ({counts}); {s.n_errors} skipped, see errors.csv")


def _add_import_prep_mels(sub) -> None:
    p = sub.add_parser(
        "import-prep-mels",
        help="daisukelab's FAT2019 prep-mels pickle → a daisukelab_mel dataset",
        description="Turn a prep-mels pickle (a list of 128xTx3 uint8 mel images, e.g. "
        "mels_train_curated.pkl) into a dataset folder: the images cropped to 128x128 (mels.npy) "
        "and their inverse to audio (audio.npy, 22050 Hz, 65536 samples). See docs/dataset.md.",
    )
    p.add_argument("pickle", help="the .pkl file (only numpy arrays in a list are accepted)")
    p.add_argument("out", help="dataset folder to create")
    p.add_argument(
        "--labels", metavar="CSV", help="the CSV the pickle follows row by row (fname,labels)"
    )
    p.add_argument(
        "--crop",
        choices=("start", "center", "random"),
        default="start",
        help="which 128 frames of a longer image to keep (default start)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --crop random (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at OUT")
    p.set_defaults(func=_import_prep_mels)


def _import_prep_mels(a) -> None:
    from .dataset.prep_mels import import_prep_mels

    s = import_prep_mels(
        a.pickle, a.out, labels_csv=a.labels, crop=a.crop, seed=a.seed, overwrite=a.overwrite
    )
    counts = ", ".join(f"{k}: {v}" for k, v in s.counts.items()) or "unlabelled"
    print(f"{s.n_clips} images → {s.out} ({counts})")


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
            min_duration_s=a.min_duration,
            normalize=a.normalize,
            level_db=a.level_db,
            workers=a.workers,
            overwrite=a.overwrite,
            progress=cb,
            shard=a.shard,
            holdout=a.holdout,
            seed=a.seed,
        )
    counts = ", ".join(f"{k}: {v}" for k, v in s.counts.items()) or "unlabelled"
    resumed = f" (resumed: {s.n_resumed} files done before)" if s.n_resumed else ""
    held = f"; {s.n_holdout} held out of training" if s.n_holdout else ""
    print(f"{s.n_clips} clips → {s.out} ({counts}); {s.n_errors} skipped, see errors.csv{resumed}"
          f"{held}")  # fmt: skip


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
    p.defer(_add_train_options)
    p.set_defaults(func=_train)


def _add_train_options(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig option (generated from the dataclass, so none is missing)."""
    from .config import add_arguments
    from .training.config import OPTION_HELP, TrainConfig

    group = p.add_argument_group(
        "training options",
        "Every option of the run; each can also go in the --config YAML file (the command line "
        "wins; on --resume, all but the model, representation and seed can change). "
        "examples/train.yaml lists them with their defaults. Values are YAML: --batch-size "
        "64,64,32,16  --betas '[0.0, 0.99]'  --pgan.kernels time  --repr-options '{n_mels: 64}'.",
    )
    skip = ("data", "model", "repr", "seed", "steps", "minutes", "until_plateau_minutes")
    add_arguments(group, TrainConfig, OPTION_HELP, skip=skip)


def _train(a) -> None:
    from .config import overrides_from
    from .training import train

    overrides = {
        **overrides_from(a),
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
    if 0 <= r.generator_step < r.step:
        by = (
            f"its worst category heard as asked in {r.generator_heard:.0%} of the probe's clips"
            if r.generator_heard >= 0
            else "probe_fd"
        )
        print(f"generator.safetensors: step {r.generator_step}, the last stage's best probe ({by})")


def _add_generate(sub) -> None:
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
    p.add_argument("--stage", help="decode through an earlier growth stage, e.g. 4x4")
    p.add_argument("--truncation", type=float, help="truncate latents at ±T (less variety)")
    p.add_argument(
        "--candidates",
        type=int,
        default=1,
        metavar="K",
        help="keep the best of K latents per clip by the run's discriminator (default 1: plain)",
    )
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
        candidates=a.candidates,
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


def _add_export(sub) -> None:
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
        "--format", choices=("torchscript", "onnx"), default="torchscript", help="(default torchscript)"
    )
    p.add_argument("--out", help="file to write (default RUN/generator.pt or RUN/generator.onnx)")
    p.add_argument("--stage", help="growth stage to export, e.g. 4x4 (default: the last)")
    p.add_argument(
        "--tolerance",
        type=float,
        help="largest sample difference accepted in the check (default 0.01, -40 dBFS)",
    )
    p.add_argument("--json", action="store_true", help="print the sidecar as one JSON object")
    p.set_defaults(func=_export)


def _export(a) -> None:
    import json

    from .exporting import DEFAULT_TOLERANCE, export

    tolerance = DEFAULT_TOLERANCE if a.tolerance is None else a.tolerance
    done = export(a.run, a.format, out=a.out, stage=a.stage, tolerance=tolerance)
    if a.json:
        print(json.dumps(done.to_dict()))
        return
    print(
        f"wrote {done.path} ({done.format}, stage {done.stage}, {done.repr}): max difference "
        f"{done.max_abs_diff:.2g} from gesturegan's generation, {done.ms_per_clip:.0f} ms per clip"
    )


def _add_label(sub) -> None:
    p = sub.add_parser(
        "label",
        help="gesture category of each sound file, with the features that decided",
        description="Print one line per audio file (FILE, CATEGORY, why; tab-separated): the "
        "envelope rules on the whole file (see docs/gestures.md), or a trained classifier with "
        "--model. Files that cannot be read are listed on stderr; they do not stop the run.",
    )
    p.add_argument("src", help="an audio file or a folder of them (read only)")
    p.add_argument(
        "--model", metavar="DIR", help="classifier folder (`classifier train`); default: rules"
    )
    p.add_argument("--csv", metavar="OUT", help="also write decisions and all features to a CSV")
    p.add_argument("--min-confidence", type=float, metavar="P",
                   help="with --model: mark files whose top probability is below P unsure")  # fmt: skip
    p.add_argument(
        "--workers", type=int, default=None, help="parallel processes (default: all cores)"
    )
    p.set_defaults(func=_label)


def _label(a) -> None:
    from .console import progress
    from .labeling import label_files, write_csv

    with progress("label") as cb:
        r = label_files(a.src, a.model, workers=a.workers, progress=cb,
                        min_confidence=a.min_confidence)  # fmt: skip
    for d in r.decisions:
        print(f"{d.file}\t{d.place}\t{d.explanation}")
    for file, reason in r.errors:
        print(f"{file}: skipped ({reason})", file=sys.stderr)
    if a.csv:
        write_csv(r, a.csv)
    counts = ", ".join(f"{k} {v}" for k, v in r.counts().items()) or "none"
    where = f"; written to {a.csv}" if a.csv else ""
    print(f"{len(r.decisions)} files labelled ({counts}); {len(r.errors)} skipped{where}",
          file=sys.stderr)  # fmt: skip


def _add_sort(sub) -> None:
    p = sub.add_parser(
        "sort",
        help="sort sound files into OUT/<category>/ (links by default); SRC untouched",
        description="Label every audio file under SRC (envelope rules, or --model) and place it in "
        "OUT/<category>/ as a symbolic link (or a copy). OUT/sort.csv lists every decision and "
        "OUT/errors.csv the unreadable files. Re-running updates OUT in place: entries already "
        "right are kept, outdated ones this command made are removed, other files are never "
        "touched. SRC is only read.",
    )
    p.add_argument("src", help="folder (or file) of sounds (read only)")
    p.add_argument("out", help="output folder (created)")
    p.add_argument("--copy", action="store_true", help="copy the files instead of linking them")
    p.add_argument(
        "--model", metavar="DIR", help="classifier folder (`classifier train`); default: rules"
    )
    p.add_argument("--min-confidence", type=float, metavar="P",
                   help="with --model: files whose top probability is below P go to unsure/")  # fmt: skip
    p.add_argument(
        "--workers", type=int, default=None, help="parallel processes (default: all cores)"
    )
    p.set_defaults(func=_sort)


def _sort(a) -> None:
    from .console import progress
    from .sorting import sort_files

    with progress("sort") as cb:
        s = sort_files(a.src, a.out, copy=a.copy, model=a.model, workers=a.workers, progress=cb,
                       min_confidence=a.min_confidence)  # fmt: skip
    counts = ", ".join(f"{k} {v}" for k, v in s.counts.items()) or "none"
    print(
        f"sorted {sum(s.counts.values())} files into {s.out} ({counts}): {s.created} written, "
        f"{s.unchanged} unchanged, {s.removed} removed; {len(s.errors)} unreadable; "
        f"decisions in {s.csv}"
    )


def _add_classifier(sub) -> None:
    p = sub.add_parser(
        "classifier",
        help="train / evaluate the CNN classifier (any label set) with held-out metrics",
        description="A compact CNN on log-mel images: `classifier train DATA --out DIR` learns the "
        "labels of a prepared dataset (split by source file, augmented, early-stopped) and writes "
        "DIR (weights, config, metrics.json, confusion.png); `classifier eval DIR DATA` measures it "
        "on the clips of DATA it never saw. See docs/gestures.md.",
    )
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = csub.add_parser(
        "train",
        help="train a classifier on a labelled dataset",
        description="Train on the labelled dataset DATA and write the classifier folder DIR: "
        "config.yaml, classifier.safetensors + classifier.json, split.csv, history.csv, "
        "metrics.json (train / val / test) and confusion.png (test).",
    )
    t.add_argument("data", help="dataset folder with labels (from `gesturegan prepare`)")
    t.add_argument("--out", required=True, metavar="DIR", help="classifier folder to write")
    t.add_argument("--config", help="YAML file of classifier options (see docs/gestures.md)")
    t.add_argument("--epochs", type=int, help="at most this many epochs (default 80)")
    t.add_argument("--minutes", type=float, help="time budget in minutes (default: none)")
    t.add_argument("--seed", type=int, help="random seed for split, init and augmentation")
    t.add_argument("--holdout-library", metavar="NAME", help="test on this whole library only")
    t.add_argument("--groups", metavar="CSV", help="file,library CSV (default: 1st folder)")
    t.add_argument("--overwrite", action="store_true", help="replace a classifier in DIR")
    t.set_defaults(func=_classifier_train)
    lo = csub.add_parser(
        "lolo",
        help="leave one library out: train on the others, test on each library in turn",
        description="One classifier per library of DATA (first folder of each file, or --groups), "
        "tested on that library and trained on the rest; writes DIR/<library>/ and the table "
        "DIR/lolo.md + lolo.json (accuracy, macro-F1, recall, confusion per held-out library).",
    )
    lo.add_argument("data", help="labelled dataset of files from several libraries")
    lo.add_argument("--out", required=True, metavar="DIR", help="folder for the folds and table")
    lo.add_argument("--config", help="YAML file of classifier options")
    lo.add_argument("--groups", metavar="CSV", help="file,library CSV (default: 1st folder)")
    lo.add_argument("--library", action="append", help="hold out only these (repeatable)")
    lo.add_argument("--epochs", type=int, help="at most this many epochs per fold")
    lo.add_argument("--seed", type=int, help="random seed for split, init and augmentation")
    lo.add_argument("--overwrite", action="store_true", help="replace folds of an earlier run")
    lo.set_defaults(func=_classifier_lolo)
    e = csub.add_parser(
        "eval",
        help="measure a classifier on the clips of a dataset it did not learn from",
        description="Accuracy, macro-F1, per-class recall and confusion matrix of the classifier "
        "DIR on the clips of DATA whose source files it neither trained nor validated on (on its "
        "own training dataset: its test split).",
    )
    e.add_argument("model", metavar="DIR", help="classifier folder")
    e.add_argument("data", help="dataset folder with labels")
    e.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    e.add_argument("--out", help="folder for metrics.json and confusion.png")
    e.set_defaults(func=_classifier_eval)


def _classifier_train(a) -> None:
    from .classifier import ClassifierConfig, train
    from .config import from_dict, load_yaml, merge
    from .console import progress

    base = load_yaml(a.config) if a.config else {}
    overrides = {"max_epochs": a.epochs, "minutes": a.minutes, "seed": a.seed,
                 "holdout_library": a.holdout_library, "groups": a.groups}  # fmt: skip
    cfg = from_dict(ClassifierConfig, merge(base, overrides), where=a.config or "options")
    with progress("epochs") as cb:
        s = train(a.data, a.out, cfg, progress=cb, overwrite=a.overwrite)
    test = s.metrics.get("test")
    if test is None:
        print(f"trained, but no class had enough files for a test split → {s.out}")
        return
    recall = ", ".join(f"{k} {v:.2f}" for k, v in test["per_class_recall"].items() if v is not None)
    print(
        f"test accuracy {test['accuracy']:.1%} (macro-F1 {test['macro_f1']:.2f}, n={test['n']}), "
        f"train {s.metrics['train']['accuracy']:.1%}, gap {s.gap_points:.1f} points; "
        f"{s.epochs} epochs (best {s.best_epoch}), {s.seconds / 60:.1f} min → {s.out}"
    )
    print(f"test recall: {recall}")


def _classifier_lolo(a) -> None:
    from .classifier import ClassifierConfig
    from .classifier.lolo import leave_one_library_out
    from .config import from_dict, load_yaml, merge

    base = load_yaml(a.config) if a.config else {}
    overrides = {"max_epochs": a.epochs, "seed": a.seed, "groups": a.groups}
    cfg = from_dict(ClassifierConfig, merge(base, overrides), where=a.config or "options")

    def say(lib: str, epoch: int, _: int) -> None:
        if epoch == 0:
            print(f"training without {lib} …", file=sys.stderr)

    r = leave_one_library_out(a.data, a.out, cfg, libraries=a.library, progress=say,
                              overwrite=a.overwrite)  # fmt: skip
    for row in [*r.rows, {**r.pooled, "library": "all (pooled)"}]:
        print(f"{row['library']}: accuracy {row['accuracy']:.1%}, macro-F1 {row['macro_f1']:.2f}, "
              f"n={row['n']}")  # fmt: skip
    print(f"table: {r.out / 'lolo.md'}")


def _classifier_eval(a) -> None:
    import json

    from .classifier import evaluate

    r = evaluate(a.model, a.data, out=a.out)
    if a.json:
        print(json.dumps(r.to_dict()))
        return
    m = r.metrics
    print(
        f"{r.n_held_out} held-out clips ({r.n_seen} seen in training left out, "
        f"{r.n_unknown_label} with unknown labels): accuracy {m['accuracy']:.1%}, "
        f"macro-F1 {m['macro_f1']:.2f}"
    )
    names = list(m["per_class_recall"])
    width = max(len(n) for n in names)
    for i, name in enumerate(names):
        row, rec = m["confusion"][i], m["per_class_recall"][name]
        wrong = ", ".join(f"{names[j]} {c}" for j, c in enumerate(row) if c and j != i)
        recall = "–" if rec is None else f"{rec:.2f}"
        print(
            f"  {name:<{width}}  recall {recall} (n={sum(row)})"
            + (f"; taken for {wrong}" if wrong else "")
        )


def _add_reprs(sub) -> None:
    p = sub.add_parser(
        "reprs",
        help="list the audio representations (name, image shape, description)",
        description="List every registered representation with the shape of one encoded clip "
        "(C, H, W; (1, T) for 1-D ones) and a one-line description. See docs/representations.md.",
    )
    p.add_argument("--sr", type=int, default=22050, help="sample rate in Hz (default 22050)")
    p.add_argument("--length", type=int, default=16384, help="samples per clip (default 16384)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_reprs)


def _reprs(a) -> None:
    import json

    from .representations import table

    rows = table(a.sr, a.length)
    if a.json:
        print(json.dumps({"sr": a.sr, "length": a.length, "representations": rows}))
        return
    width = max(len(r["name"]) for r in rows)
    shapes = {r["name"]: "x".join(map(str, r["shape"])) for r in rows}
    swidth = max(map(len, shapes.values()))
    for r in rows:
        print(f"{r['name']:<{width}}  {shapes[r['name']]:<{swidth}}  {r['description']}")


def _add_roundtrip(sub) -> None:
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

    from .console import progress
    from .representations.roundtrip import parse_options, roundtrip

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


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="quality metrics of a trained model against its data, beside real and noise references",
        description="Class consistency (labeler and classifier), Fréchet distance, inception score, "
        "NDB/K and memorization of generated clips, each beside the same figures for held-out real "
        "clips and for noise (docs/evaluation.md). Writes RUN/eval/evaluation.json and report.md.",
    )
    p.add_argument("run", help="training run folder")
    p.add_argument("--data", required=True, help="the labelled dataset the run was trained on")
    p.add_argument("--n", type=int, default=64, help="clips per class in every set (default 64)")
    p.add_argument(
        "--classifier",
        help="classifier folder for embeddings (default: train one into RUN/eval/classifier once)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the real split and noise (default 0)"
    )
    p.add_argument(
        "--over-time",
        action="store_true",
        help="also score the generator saved at the end of each growth stage and plot the figures",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=_evaluate)


def _evaluate(a) -> None:
    import json

    from .evaluation.run import evaluate

    say = None if a.json else (lambda msg: print(msg, file=sys.stderr))
    ev = evaluate(a.run, a.data, a.n, a.classifier, a.seed, a.over_time, progress=say)
    if a.json:
        print(json.dumps(ev.to_dict()))
        return
    print((Path(a.run) / "eval" / "report.md").read_text(encoding="utf-8"))


def _add_study(sub) -> None:
    p = sub.add_parser(
        "study",
        help="train every representation x model pair under one budget and compare them",
        description="Train every (dataset, representation, model, augmentation, seed) combination "
        "for the same budget, evaluate each against one set of references and write study.csv, "
        "study.md and study.png into --out (docs/study.md). Stopped studies resume.",
    )
    p.add_argument("--data", required=True, help="dataset(s) to train on, comma-separated")
    p.add_argument("--reprs", default="logmel_gl,stft_ifreq,wave_image,rgb16", help="comma list")
    p.add_argument("--models", default="pgan,dcgan", help="comma list (default pgan,dcgan)")
    p.add_argument("--augment", default="off", help="augmentation modes to compare (off,ada,fixed)")
    p.add_argument("--seeds", default="0", help="training seeds, comma list (default 0)")
    p.add_argument("--budget", type=float, default=3.0, help="minutes per run (default 3)")
    p.add_argument("--steps", type=int, help="a step budget per run instead of minutes")
    p.add_argument("--n", type=int, default=64, help="clips per class evaluated (default 64)")
    p.add_argument("--eval-data", help="dataset to judge on (default: the first --data)")
    p.add_argument(
        "--classifier", help="evaluation classifier folder (default: train OUT/classifier)"
    )
    p.add_argument("--train-config", help="YAML of training options applied to every run")
    p.add_argument("--out", required=True, help="study folder (created; resumed if it exists)")
    p.set_defaults(func=_study)


def _study(a) -> None:
    from .config import load_yaml
    from .evaluation.study import StudyConfig, run_study

    def items(text: str) -> tuple[str, ...]:
        return tuple(x.strip() for x in text.split(",") if x.strip())

    try:
        seeds = tuple(int(x) for x in items(a.seeds))
    except ValueError:
        raise UserError(f"--seeds must be whole numbers, got {a.seeds!r}") from None
    cfg = StudyConfig(
        data=items(a.data),
        reprs=items(a.reprs),
        models=items(a.models),
        augment=items(a.augment),
        seeds=seeds,
        minutes=None if a.steps else a.budget,
        steps=a.steps,
        n=a.n,
        eval_data=a.eval_data,
        classifier=a.classifier,
        train_options=load_yaml(a.train_config) if a.train_config else {},
    )
    run_study(a.out, cfg, say=lambda msg: print(msg, file=sys.stderr))
    print((Path(a.out) / "study.md").read_text(encoding="utf-8"))


def _add_studio(sub) -> None:
    p = sub.add_parser(
        "studio",
        help="local web page: browse, listen, generate, morph, compose, listening survey",
        description="Serve the studio page (see docs/studio.md) for the runs and datasets under the "
        "given folders. Only files under those folders are ever served.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--runs", default=".", help="folder of training runs, or one run (default .)")
    p.add_argument("--data", help="folder of datasets, or one dataset (default: the --runs folder)")
    p.add_argument(
        "--state",
        help="where survey answers, stimuli and mixes are kept (default <runs>/.studio)",
    )
    p.set_defaults(func=_studio)


def _studio(a) -> None:
    from .studio import serve

    if not Path(a.runs).is_dir():
        raise UserError(f"--runs {a.runs}: no such folder")
    if a.data is not None and not Path(a.data).is_dir():
        raise UserError(f"--data {a.data}: no such folder")
    serve(a.host, a.port, a.runs, a.data, a.state)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gesturegan",
        description="Grow new sound gestures with GANs from a folder of sounds, hear the model "
        "learn, morph between kinds of gesture, and compose with the results.",
    )
    parser.add_argument("--version", action="version", version=f"gesturegan {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    for add in (
        _add_demo,
        _add_corpus,
        _add_prepare,
        _add_merge,
        _add_import_prep_mels,
        _add_reprs,
        _add_roundtrip,
        _add_label,
        _add_sort,
        _add_classifier,
        _add_train,
        _add_generate,
        _add_morph,
        _add_compose,
        _add_export,
        _add_evaluate,
        _add_study,
        _add_studio,
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
        hint = "; run the same command again to resume" if args.command == "prepare" else ""
        print(f"gesturegan {args.command}: interrupted{hint}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
