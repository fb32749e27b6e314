"""``gesturegan study``: train every (dataset, representation, model, augmentation, seed) under one
compute budget and compare them with the evaluation metrics in one table and one figure.

Layout of the study folder ``OUT``::

    study.yaml            the StudyConfig (what was asked)
    classifier/           the evaluation classifier, trained once on the evaluation data
    runs/<name>/          one training run per combination (``<data>-<repr>-<model>-<augment>-s<seed>``)
    runs/<name>/study.json  that run's row, written when it has been trained and evaluated
    study.csv, study.md   the comparison table: every row plus the two reference rows
    study.png             Fréchet distance against class consistency, one point per run

Every run trains for the same wall-clock ``minutes`` (or the same ``steps``); the table says how many
steps and images each got. A study that is stopped resumes: finished runs are kept, an unfinished
one continues from its last checkpoint. All runs are judged by one ``Judge`` on the evaluation
data (default: the first dataset), so their figures share the same references.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_text
from ..config import check, from_dict, load_yaml, option, save_yaml
from ..dataset import Dataset
from ..device import resolve
from ..errors import UserError
from ..models import MODELS
from ..representations import names as repr_names
from ..runs import LATEST, Run
from .run import Judge, generate_set

COLUMNS = (
    "name",
    "data",
    "repr",
    "model",
    "augment",
    "seed",
    "steps",
    "kimg",
    "train_min",
    "stage",
    "gen_rtf",
    "labeler",
    "classifier",
    "frechet",
    "inception_score",
    "ndb_k",
    "memo_ratio",
    "copies",
)
ONE_D = {"waveform"}  # representations for 1-D models only
GEN_SPEED_BATCH = 32


@dataclass
class StudyConfig:
    """What a study trains and how it judges; saved as OUT/study.yaml."""

    data: tuple[str, ...] = option((), "datasets to train on, each a `gesturegan prepare` folder")
    reprs: tuple[str, ...] = option(
        ("logmel_gl", "stft_ifreq", "wave_image", "rgb16"), "representations to compare"
    )
    models: tuple[str, ...] = option(("pgan", "dcgan"), "models to compare")
    augment: tuple[str, ...] = option(
        ("off",), "training augmentation modes to compare (off, ada, fixed)"
    )
    seeds: tuple[int, ...] = option((0,), "training seeds", at_least=0, at_most=2**32 - 1)
    minutes: float | None = option(
        3.0, "training budget per run in minutes (steps wins when given)", above=0
    )
    steps: int | None = option(None, "training budget per run in steps (deterministic)", at_least=1)
    n: int = option(64, "clips per class in every evaluated set", at_least=1)
    eval_data: str | None = option(None, "dataset the runs are judged on (null: the first of data)")
    classifier: str | None = option(
        None, "evaluation classifier folder (null: train one into the study's classifier/)"
    )
    train_options: dict[str, Any] = option(
        factory=dict, help="training options applied to every run (docs/options.md)"
    )
    device: str = option(
        "auto", "where the runs train and are judged: auto, cpu, cuda, cuda:N or mps"
    )

    def __post_init__(self) -> None:
        check(self, "study")  # the command line builds it directly, not through from_dict
        if not self.data:
            raise UserError("a study needs at least one --data dataset")
        unknown = [r for r in self.reprs if r not in repr_names()]
        if unknown:
            raise UserError(f"unknown representation {', '.join(unknown)}; see `gesturegan reprs`")
        bad = [m for m in self.models if m not in MODELS]
        if bad:
            raise UserError(f"unknown model {', '.join(bad)}; available: {', '.join(MODELS)}")
        if self.steps is None and self.minutes is None:
            raise UserError("a study needs a budget: --budget MINUTES or --steps N")
        if not self.seeds or not self.augment:
            raise UserError("a study needs at least one seed and one augmentation mode")

    def combinations(self) -> list[dict[str, Any]]:
        """Every trainable combination, in a stable order; 1-D models only with 1-D reprs."""
        out = []
        for seed, data, rep, model, aug in itertools.product(
            self.seeds, self.data, self.reprs, self.models, self.augment
        ):  # seeds outermost: a study cut short still has every pair once
            if (model == "wavegan") != (rep in ONE_D):
                continue
            tag = Path(data).name
            name = f"{tag}-{rep}-{model}-{aug}-s{seed}"
            out.append(dict(name=name, data=data, repr=rep, model=model, augment=aug, seed=seed))
        if not out:
            raise UserError(
                "no representation fits the chosen models (wavegan takes waveform only)"
            )
        return out


def run_study(
    out: str | Path, cfg: StudyConfig, say: Callable[[str], None] = print
) -> list[dict[str, Any]]:
    """Train and evaluate every combination into ``out``; return the rows (see module docstring)."""
    from .. import classifier as clf
    from ..training import train

    out = Path(out)
    saved = out / "study.yaml"
    if saved.is_file():
        before = from_dict(StudyConfig, load_yaml(saved), where=str(saved))
        if replace(before, device=cfg.device) != cfg:  # any device may go on
            raise UserError(f"{out} holds a different study; choose another --out folder")
    out.mkdir(parents=True, exist_ok=True)
    save_yaml(cfg, saved)
    device = str(resolve(cfg.device))
    eval_data = cfg.eval_data or cfg.data[0]
    ds = Dataset.open(eval_data)
    cls_dir = Path(cfg.classifier) if cfg.classifier else out / "classifier"
    if cfg.classifier is None and not (cls_dir / "classifier.json").is_file():
        say(f"training the evaluation classifier on {ds.path}")
        clf.train(ds.path, cls_dir, overwrite=True, device=device)
    judge = Judge(ds.path, cls_dir, tuple(ds.label_names), cfg.n, device=device)
    seen: dict[str, np.ndarray] = {}
    rows = []
    combos = cfg.combinations()
    for i, combo in enumerate(combos, 1):
        run = out / "runs" / combo["name"]
        row_file = run / "study.json"
        if row_file.is_file():
            rows.append(json.loads(row_file.read_text(encoding="utf-8")))
            continue
        say(f"[{i}/{len(combos)}] {combo['name']}")
        budget = {"steps": cfg.steps} if cfg.steps is not None else {"minutes": cfg.minutes}
        overrides = {
            **cfg.train_options,
            **budget,
            "model": combo["model"],
            "repr": combo["repr"],
            "augment": combo["augment"],
            "seed": combo["seed"],
            "device": device,
        }
        resume = Run(run).has_checkpoint(LATEST)
        result = train(run, combo["data"], overrides=overrides, resume=resume, show_progress=False)
        if result.interrupted:
            raise KeyboardInterrupt
        if combo["data"] not in seen:
            seen[combo["data"]] = _embed_dataset(judge, combo["data"])
        rows.append(_evaluate_run(judge, run, combo, seen[combo["data"]], device))
        write_text(row_file, json.dumps(rows[-1], indent=2))
        write_table(out, rows, judge)
    write_table(out, rows, judge)
    return rows


def _embed_dataset(judge: Judge, data: str) -> np.ndarray:
    """Classifier embeddings of every clip of a training dataset (for counting copies)."""
    ds = Dataset.open(data)
    chunks = [
        judge.model.outputs(np.asarray(ds.waves[i : i + 256], dtype=np.float32))[0]
        for i in range(0, len(ds.waves), 256)
    ]
    return np.concatenate(chunks)


def _evaluate_run(
    judge: Judge, run: Path, combo: dict[str, Any], seen: np.ndarray, device: str
) -> dict[str, Any]:
    from ..generation import load

    gen = load(run, device)
    if tuple(gen.categories) != judge.categories:
        raise UserError(
            f"{run} knows classes {gen.categories}, the evaluation data {judge.categories}"
        )
    scores = judge.score(generate_set(gen, judge.n), seen=seen)
    t0 = time.perf_counter()
    gen.samples(gen.categories[0], list(range(GEN_SPEED_BATCH)))
    gen_s = time.perf_counter() - t0
    meta = gen.meta
    last = (gen.run.metrics_rows() or [{}])[-1]
    return {
        **combo,
        "data": Path(combo["data"]).name,
        "steps": int(meta["step"]),
        "kimg": float(last.get("kimg", "nan")),
        "train_min": float(last.get("time_s", "nan")) / 60,
        "stage": gen.final_stage,
        "gen_rtf": GEN_SPEED_BATCH * gen.length / gen.sr / gen_s,
        "labeler": scores["class_consistency"]["labeler"],
        "classifier": scores["class_consistency"]["classifier"],
        "frechet": scores["frechet"],
        "inception_score": scores["inception_score"],
        "ndb_k": scores["ndb_k"],
        "memo_ratio": scores["memorization"]["ratio"],
        "copies": scores["memorization"]["copies"],
        "per_category": scores["per_category"],
    }


def reference_rows(judge: Judge) -> list[dict[str, Any]]:
    """The real-vs-real and real-vs-noise figures as table rows."""
    out = []
    for name, s in judge.references.items():
        out.append(
            {
                "name": name,
                "labeler": s["class_consistency"]["labeler"],
                "classifier": s["class_consistency"]["classifier"],
                "frechet": s["frechet"],
                "inception_score": s["inception_score"],
                "ndb_k": s["ndb_k"],
                "memo_ratio": s["memorization"]["ratio"],
                "copies": s["memorization"]["copies"],
            }
        )
    return out


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± spread over seeds of each (data, repr, model, augment) group: one row per group."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["data"], r["repr"], r["model"], r["augment"]), []).append(r)
    out = []
    for (data, rep, model, aug), members in groups.items():
        row: dict[str, Any] = {"data": data, "repr": rep, "model": model, "augment": aug}
        row["seeds"] = len(members)
        for key in ("steps", "frechet", "labeler", "classifier", "inception_score", "ndb_k"):
            values = np.array([np.nan if m[key] is None else m[key] for m in members], float)
            row[key] = float(np.mean(values))
            row[f"{key}_spread"] = float(np.ptp(values)) / 2 if len(values) > 1 else None
        out.append(row)
    return sorted(out, key=lambda r: r["frechet"])


def write_table(out: Path, rows: list[dict[str, Any]], judge: Judge) -> Path:
    """OUT/study.csv (every run + references), OUT/study.md and OUT/study.png."""
    from ..plots import study_plot

    refs = reference_rows(judge)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in [*rows, *refs]:
        writer.writerow({k: _fmt(r.get(k)) for k in COLUMNS})
    write_text(out / "study.csv", buf.getvalue())
    if rows:
        study_plot(
            rows,
            "frechet",
            "classifier",
            out / "study.png",
            {"real vs real": refs[0]["frechet"], "noise": refs[1]["frechet"]},
            ("Fréchet distance (lower is better)", "classifier agreement (higher is better)"),
        )
    return write_text(out / "study.md", markdown_table(rows, refs, judge.n))


def markdown_table(rows: list[dict[str, Any]], refs: list[dict[str, Any]], n: int) -> str:
    """The study's tables in Markdown: per group (mean ± half-range over seeds), then per run."""
    head = (
        "| data | repr | model | augment | seeds | steps | Fréchet ↓ | classifier agrees ↑ "
        "| labeler agrees ↑ | IS ↑ | NDB/K ↓ |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {g['data']} | {g['repr']} | {g['model']} | {g['augment']} | {g['seeds']} "
        f"| {g['steps']:.0f} | {_pm(g, 'frechet')} | {_pm(g, 'classifier')} "
        f"| {_pm(g, 'labeler')} | {_pm(g, 'inception_score')} | {_pm(g, 'ndb_k')} |\n"
        for g in summarize(rows)
    )
    ref_body = "".join(
        f"| *{r['name']}* | | | | | | {_fmt(r['frechet'])} | {_fmt(r['classifier'])} "
        f"| {_fmt(r['labeler'])} | {_fmt(r['inception_score'])} | {_fmt(r['ndb_k'])} |\n"
        for r in refs
    )
    run_head = "| run | steps | train min | stage | gen × real time | memo ratio | copies |\n"
    run_head += "|---|---|---|---|---|---|---|\n"
    runs = "".join(
        f"| {r['name']} | {r['steps']} | {r['train_min']:.1f} | {r['stage']} "
        f"| {r['gen_rtf']:.0f} | {r['memo_ratio']:.2f} | {r['copies']:.0%} |\n"
        for r in rows
    )
    return (
        f"# Study\n\n{n} clips per class in every evaluated set. Mean ± half the range over "
        f"seeds.\n\n{head}{body}{ref_body}\n## Runs\n\n{run_head}{runs}\n![study](study.png)\n"
    )


def _pm(group: dict[str, Any], key: str) -> str:
    spread = group.get(f"{key}_spread")
    value = _fmt(group[key])
    return value if spread is None else f"{value} ± {_fmt(spread)}"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if np.isnan(value):
            return "–"
        return f"{value:.3g}"
    return str(value)
