"""`gesturegan` verbs that judge: compare two sets of audio, evaluate one run, study many."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UserError
from ..judge.config import MIXES, JudgeConfig
from .parsing import add_device, announce, say_device


def add_compare(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan compare` and its flags."""
    p = sub.add_parser(
        "compare",
        help="the independent judge: folder (or dataset) B against A, beside A's halves and noise",
        description="Fréchet distance, kernel audio distance, precision/recall and density/coverage "
        "of B against A in weight-free features and random conv nets (and the aisfx embedding with "
        "--sfx), each beside two halves of A and noise, overall and per class (docs/evaluation.md).",
    )
    p.add_argument("a", help="reference folder of audio (class sub-folders) or prepared dataset")
    p.add_argument("b", help="folder or dataset to judge against A")
    p.add_argument(
        "--sfx", action="store_true", help="add the aisfx embedding (pip install --no-deps aisfx)"
    )
    p.add_argument(
        "--sr",
        type=int,
        default=22050,
        help="analysis rate in Hz: both sets are resampled to it (default 22050, so content above "
        "11 kHz is not judged; 44100 judges the top octave of 44.1 kHz sets too)",
    )
    p.add_argument(
        "--floor-db",
        type=float,
        default=JudgeConfig.floor_db,
        help="level in dB re full scale under which nothing is heard (default -96, 16-bit audio's "
        "floor): quieter content, such as quantisation noise or a decoder's exact zeros, reads "
        "alike",
    )
    p.add_argument(
        "--mix",
        choices=MIXES,
        default=JudgeConfig.mix,
        help="overall figures: draw B's clips in the class mix of A (matched, the default, when B "
        "has every class of A) or whatever B's mix is (uniform)",
    )
    p.add_argument("--rounds", type=int, default=20, help="random halves of A (default 20)")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of halves, subsets and noise (default 0)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(func=_compare)


def _compare(a) -> None:
    from ..judge import report
    from ..judge.compare import compare_paths

    spaces = ("features", "randnet", "sfx") if a.sfx else ("features", "randnet")
    cfg = JudgeConfig(
        sr=a.sr, floor_db=a.floor_db, mix=a.mix, rounds=a.rounds, seed=a.seed, spaces=spaces
    )
    result = compare_paths(a.a, a.b, cfg)
    print(report.to_json(result, a.a, a.b) if a.json else report.table(result, a.a, a.b))


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan evaluate` and its flags."""
    p = sub.add_parser(
        "evaluate",
        help="quality metrics of a trained model against its data, beside real and noise references",
        description="The independent judge's figures first (as `compare`), then class consistency "
        "(labeler and classifier), Fréchet distance, inception score, "
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
    add_device(p)
    p.set_defaults(func=_evaluate)


def _evaluate(a) -> None:
    import json

    from ..evaluation.run import REPORT_NAME, evaluate
    from ..runs import Run

    say = None if a.json else (lambda msg: print(msg, file=sys.stderr))
    device = announce(a.device)
    ev = evaluate(
        a.run, a.data, a.n, a.classifier, a.seed, a.over_time, progress=say, device=device
    )
    if a.json:
        print(json.dumps(ev.to_dict()))
        return
    print((Run(a.run).eval_dir / REPORT_NAME).read_text(encoding="utf-8"))


def add_study(sub: argparse._SubParsersAction) -> None:
    """Declare `gesturegan study` and its flags."""
    p = sub.add_parser(
        "study",
        help="train every library x representation x model x seed under one budget, judged on "
        "held-out clips",
        description="Train every (dataset, representation, model, augmentation, seed) combination "
        "for the same budget, judge each with the independent judge against its own dataset's "
        "held-out clips (and a classifier that never saw the library) and write study.csv, "
        "study.md and study.png into --out (docs/study.md), with pictures and audio of every "
        "run beside its real clips. Stopped studies resume.",
    )
    p.defer(_add_study_flags)
    p.set_defaults(func=_study)


def _add_study_flags(p: argparse.ArgumentParser) -> None:
    """The flags of ``study``: StudyConfig's fields, lists written as comma lists."""
    from ..config import options
    from ..evaluation.study import StudyConfig

    field = {o.name: o for o in options(StudyConfig)}

    def comma_list(flag: str, name: str) -> None:
        default = ",".join(map(str, field[name].default))
        help = f"{field[name].help}, comma-separated (default {default})"
        p.add_argument(flag, default=default, help=help)

    p.add_argument("--data", help=f"{field['data'].help}, comma-separated (required to train)")
    comma_list("--reprs", "reprs")
    comma_list("--models", "models")
    comma_list("--augment", "augment")
    comma_list("--seeds", "seeds")
    budget = field["minutes"].default
    budget_help = f"{field['minutes'].help} (default {budget:g})"
    p.add_argument("--budget", type=float, default=budget, help=budget_help)
    p.add_argument("--steps", type=int, help=field["steps"].help)
    n = field["n"].default
    p.add_argument("--n", type=int, default=n, help=f"{field['n'].help} (default {n})")
    p.add_argument("--eval-data", help=field["eval_data"].help)
    p.add_argument("--category-check", metavar="LOLO_DIR", help=field["category_check"].help)
    p.add_argument("--train-config", help=f"YAML file of {field['train_options'].help}")
    p.add_argument("--out", required=True, help="study folder (created; resumed if it exists)")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the table, and the pictures of runs that have none, from the runs of --out "
        "finished so far; train nothing (also while the study runs elsewhere)",
    )
    add_device(p)


def _study(a) -> None:
    from ..config import load_yaml
    from ..evaluation.study import StudyConfig, report_study, run_study

    if a.report_only:
        from ..device import resolve

        say_device(a.device)
        report_study(a.out, str(resolve(a.device)))
        print((Path(a.out) / "study.md").read_text(encoding="utf-8"))
        return
    if not a.data:
        raise UserError("study needs --data (one dataset per library), or --report-only")

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
        category_check=a.category_check,
        train_options=load_yaml(a.train_config) if a.train_config else {},
        device=a.device,
    )
    say_device(a.device)
    run_study(a.out, cfg, say=lambda msg: print(msg, file=sys.stderr))
    print((Path(a.out) / "study.md").read_text(encoding="utf-8"))
