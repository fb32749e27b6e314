"""`gesturegan` verbs: audio in: the built-in corpus and datasets (prepare, merge, import-prep-mels)."""

from __future__ import annotations

import argparse

from ..errors import UserError
from .parsing import add_geometry, geometry


def add_corpus(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan corpus` and its flags."""
    p = sub.add_parser(
        "corpus",
        help="write the built-in procedural corpus of the four gesture categories",
        description="Synthesise varied gestures of each category (deterministic by seed) as "
        "OUT/<category>/*.wav plus OUT/labels.csv (file,label).",
    )
    p.add_argument("out", help="output folder")
    p.add_argument("--per-class", type=int, default=64, help="clips per category (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_geometry(p)
    p.set_defaults(func=_corpus)


def _corpus(a) -> None:
    from ..console import progress
    from ..corpus import write_corpus

    if a.per_class < 1:
        raise UserError(f"--per-class must be at least 1, got {a.per_class}")
    sr, length = geometry(a)
    with progress("corpus") as cb:
        s = write_corpus(
            a.out, per_class=a.per_class, seed=a.seed, sr=sr, length=length, progress=cb
        )
    print(f"wrote {sum(s.counts.values())} clips to {s.out} (labels: {s.labels_csv})")


def add_prepare(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan prepare` and its flags."""
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
    add_geometry(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--labels",
        metavar="CSV",
        help="labels CSV (file,label, or the CSV of `gesturegan label --csv`; paths relative to it)",
    )
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
    p.add_argument(
        "--holdout",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="keep this share of the source files out of training (default 0)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the --holdout choice (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at OUT")
    p.set_defaults(func=_prepare)


def _prepare(a) -> None:
    from ..console import progress
    from ..dataset import prepare

    sr, length = geometry(a)
    with progress("prepare") as cb:
        s = prepare(
            a.src,
            a.out,
            sr=sr,
            length=length,
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
    print(
        f"{s.n_clips} clips → {s.out} ({counts}); {s.n_errors} skipped, see errors.csv"
        f"{resumed}{held}"
    )


def _shard_arg(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N such as 1/4, got {text!r}") from None
    if not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"I/N needs 1 <= I <= N, got {text!r}")
    return i, n


def add_merge(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan merge` and its flags."""
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
    from ..dataset import merge

    s = merge(a.shards, a.out, overwrite=a.overwrite)
    counts = ", ".join(f"{k}: {v}" for k, v in s.counts.items()) or "unlabelled"
    print(f"{s.n_clips} clips → {s.out} ({counts}); {s.n_errors} skipped, see errors.csv")


def add_import_prep_mels(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan import-prep-mels` and its flags."""
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
    from ..dataset.prep_mels import import_prep_mels

    s = import_prep_mels(
        a.pickle, a.out, labels_csv=a.labels, crop=a.crop, seed=a.seed, overwrite=a.overwrite
    )
    counts = ", ".join(f"{k}: {v}" for k, v in s.counts.items()) or "unlabelled"
    print(f"{s.n_clips} images → {s.out} ({counts})")
