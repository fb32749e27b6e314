"""`gesturegan` verbs: the CNN classifier: train, eval and leave one library out."""

from __future__ import annotations

import argparse

from .parsing import add_device, announce


def add_classifier(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan classifier` and its flags."""
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
    t.add_argument("--config", help="YAML file of classifier options (docs/options.md lists them)")
    t.defer(_add_config_flags)
    t.add_argument("--overwrite", action="store_true", help="replace a classifier in DIR")
    add_device(t)
    t.set_defaults(func=_classifier_train)
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
    add_device(e)
    e.set_defaults(func=_classifier_eval)
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
    lo.add_argument("--groups", metavar="CSV", help="file,library CSV (default: each file's first folder)")
    lo.add_argument("--library", action="append", help="hold out only these (repeatable)")
    lo.add_argument(
        "--train-only", metavar="NAME", action="append",
        help="libraries every fold trains on and none validates, tests or holds out, such as the "
        "built-in corpus as a folder of the data (repeatable)",
    )  # fmt: skip
    lo.add_argument("--epochs", type=int, help="at most this many epochs per fold")
    lo.add_argument("--seed", type=int, help="random seed for split, init and augmentation")
    lo.add_argument("--overwrite", action="store_true", help="replace folds of an earlier run")
    lo.set_defaults(func=_classifier_lolo)


def _add_config_flags(t: argparse.ArgumentParser) -> None:
    """The options of ``ClassifierConfig`` that are also flags, described by its fields."""
    from ..classifier import ClassifierConfig
    from ..config import flag_help

    t.add_argument("--epochs", type=int, help=flag_help(ClassifierConfig, "max_epochs"))
    t.add_argument("--minutes", type=float, help=flag_help(ClassifierConfig, "minutes"))
    t.add_argument("--seed", type=int, help=flag_help(ClassifierConfig, "seed"))
    t.add_argument(
        "--holdout-library", metavar="NAME", help=flag_help(ClassifierConfig, "holdout_library")
    )
    t.add_argument("--groups", metavar="CSV", help=flag_help(ClassifierConfig, "groups"))
    t.add_argument(
        "--train-only", metavar="NAME", action="append",
        help=flag_help(ClassifierConfig, "train_only") + " (repeatable)",
    )  # fmt: skip


def _classifier_train(a) -> None:
    from ..classifier import ClassifierConfig, train
    from ..config import load
    from ..console import progress

    overrides = {
        "max_epochs": a.epochs,
        "minutes": a.minutes,
        "seed": a.seed,
        "holdout_library": a.holdout_library,
        "groups": a.groups,
        "train_only": a.train_only,
    }
    cfg = load(ClassifierConfig, a.config, overrides)
    device = announce(a.device)
    with progress("epochs") as cb:
        s = train(a.data, a.out, cfg, progress=cb, overwrite=a.overwrite, device=device)
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


def _classifier_eval(a) -> None:
    import json

    from ..classifier import evaluate

    r = evaluate(a.model, a.data, out=a.out, device=announce(a.device))
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


def _classifier_lolo(a) -> None:
    import sys

    from ..classifier import ClassifierConfig
    from ..classifier.lolo import leave_one_library_out
    from ..config import load

    overrides = {
        "max_epochs": a.epochs, "seed": a.seed, "groups": a.groups, "train_only": a.train_only,
    }  # fmt: skip
    cfg = load(ClassifierConfig, a.config, overrides)

    def say(lib: str, epoch: int, _: int) -> None:
        if epoch == 0:
            print(f"training without {lib} …", file=sys.stderr)

    r = leave_one_library_out(
        a.data, a.out, cfg, libraries=a.library, progress=say, overwrite=a.overwrite
    )
    for row in [*r.rows, {**r.pooled, "library": "all (pooled)"}]:
        print(
            f"{row['library']}: accuracy {row['accuracy']:.1%}, macro-F1 {row['macro_f1']:.2f}, "
            f"n={row['n']}"
        )
    print(f"table: {r.out / 'lolo.md'}")
