"""``gesturegan evaluate RUN --data DATA``: a trained model's metrics beside their references.

Every figure of docs/evaluation.md is computed for three sets of clips in the same run,
which is what makes it readable:

- ``generated``: ``n`` clips per class from the model (latent seeds 0 … n−1);
- ``real_vs_real``: held-out real clips, what a perfect model would score;
- ``real_vs_noise``: white noise at the real clips' median loudness, what a useless one would score.

Each set is compared with the ``reference`` set: the dataset is split per class by a seeded
permutation into two halves, ``reference`` and ``heldout``; sets are cut to the same number of clips
per class (``n``, or fewer when the held-out half is smaller) because Fréchet distance and NDB
depend on set size. Embeddings and class probabilities come from the project's classifier
(``gesturegan.classifier``): ``classifier=DIR``, or one trained on the dataset the first time and
kept in ``RUN/eval/classifier``. The labeler's class consistency is given only when the labels are
gesture categories.

``Judge`` holds what does not depend on the model (the split, the classifier, the reference
embeddings and the two reference sets' figures), so ``study`` scores many runs against one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_text
from ..dataset import Dataset
from ..errors import UserError
from ..gestures import CATEGORIES, label
from ..judge.config import JudgeConfig
from ..judge.distances import frechet
from . import metrics

REFERENCE_SETS = ("real_vs_real", "real_vs_noise")
SETS = ("generated", *REFERENCE_SETS)
METRICS = ("class_consistency", "frechet", "inception_score", "ndb_k", "memorization")
NDB_K = 50  # GANSynth's k; fewer when the reference half is small (at most half its clips)
REPORT_NAME = "report.md"  # in the run's eval folder, beside evaluation.json


@dataclass
class Evaluation:
    """Figures per metric and set (``figures[metric][set]``), per category, and over training."""

    figures: dict[str, dict[str, Any]]
    per_category: dict[str, dict[str, float | None]]
    n_per_class: int
    classifier: Path
    over_time: list[dict[str, Any]] = field(default_factory=list)
    independent: Any = None  # the independent judge's Comparison (judge.compare), graded first
    judged_against: str = ""  # which real clips the judge compared with (held out or training)

    def to_dict(self) -> dict[str, Any]:
        return {
            "independent": None if self.independent is None else self.independent.to_dict(),
            "judged_against": self.judged_against,
            **self.figures,
            "per_category": self.per_category,
            "n_per_class": self.n_per_class,
            "classifier": str(self.classifier),
            "over_time": self.over_time,
        }


class Judge:
    """Scores sets of clips of a labelled dataset against its reference half.

    Parameters
    ----------
    data : dataset folder (``gesturegan prepare``) with labels.
    classifier : folder of a trained classifier (``gesturegan classifier train``) for the same
        rate and clip length.
    categories : the classes to judge, each present in the dataset.
    n : clips per class in every scored set (cut to the held-out half's size).
    seed : seeds the reference/held-out split and the noise.
    """

    def __init__(
        self,
        data: str | Path,
        classifier: str | Path,
        categories: tuple[str, ...],
        n: int = 64,
        seed: int = 0,
        device: str = "cpu",
    ):
        from .. import classifier as clf

        if n < 2:
            raise UserError(f"n must be at least 2 clips per class, got {n}")
        self.ds = ds = Dataset.open(data)
        self.categories = categories
        self.model = clf.load(classifier, device)
        if (self.model.sr, self.model.length) != (ds.sr, ds.length):
            raise UserError(
                f"the classifier in {classifier} takes {self.model.length} samples at "
                f"{self.model.sr} Hz but {ds.path} holds {ds.length} at {ds.sr} Hz"
            )
        missing = [c for c in categories if c not in ds.label_names]
        if missing:
            raise UserError(f"{ds.path} has no clips of {', '.join(missing)}")
        rng = np.random.default_rng(seed)
        ref_idx, held_idx = [], []
        for cat in categories:
            idx = rng.permutation(np.flatnonzero(ds.label_ids == ds.label_names.index(cat)))
            half = len(idx) // 2
            if half < 2:
                raise UserError(f"{ds.path}: need at least 4 clips of {cat} to evaluate")
            ref_idx.append(idx[:half])
            held_idx.append(idx[half:])
        self.n = min(n, *(len(h) for h in held_idx))
        held = np.concatenate([h[: self.n] for h in held_idx])
        reference = np.concatenate([self._waves(r) for r in ref_idx])  # class by class
        heldout = self._waves(held)
        self.asked = [c for c in categories for _ in range(self.n)]
        self.ref_emb, _ = self.model.outputs(reference)
        parts = np.split(self.ref_emb, np.cumsum([len(r) for r in ref_idx])[:-1])
        self.ref_by_cat = dict(zip(categories, parts, strict=True))
        self.held_emb, _ = self.model.outputs(heldout)
        rest = self._waves(np.concatenate([h[self.n :] for h in held_idx]))
        # every clip the model may have trained on: a copy of any of them counts as a copy
        self.all_emb = np.concatenate([self.ref_emb, self.held_emb, self.model.outputs(rest)[0]])
        rms = float(np.median(np.sqrt((heldout.astype(np.float64) ** 2).mean(axis=1))))
        noise = (rng.standard_normal(heldout.shape) * rms).clip(-1, 1).astype(np.float32)
        self.references = {
            "real_vs_real": self.score(heldout, seen=self.ref_emb),
            "real_vs_noise": self.score(noise, seen=self.ref_emb),
        }

    def _waves(self, idx: np.ndarray) -> np.ndarray:
        """Clips ``idx`` ``[len(idx), T]`` in the order given (read in file order): the sets are
        scored as class-by-class blocks, whatever order the dataset's rows are in."""
        order = np.argsort(idx, kind="stable")
        waves = np.empty((len(idx), self.ds.length), np.float32)
        waves[order] = self.ds.waves[idx[order]]
        return waves

    def score(self, waves: np.ndarray, seen: np.ndarray | None = None) -> dict[str, Any]:
        """Every metric of ``waves [len(categories) · n, T]``, clips ordered class by class.

        ``seen``: embeddings of the clips the model trained on, against which exact copies are
        counted (default: the whole dataset).
        """
        emb, probs = self.model.outputs(waves)
        heard = [self.model.label_names[i] for i in probs.argmax(axis=1)]
        rules = labeler_verdicts(waves, self.ds.sr, self.categories)
        memo = metrics.memorization(
            self.ref_emb, self.held_emb, emb, self.all_emb if seen is None else seen
        )
        per_category = {}
        for i, cat in enumerate(self.categories):
            part = slice(i * self.n, (i + 1) * self.n)
            per_category[cat] = {
                "labeler": None if rules is None else _agree(rules[part], cat),
                "classifier": _agree(heard[part], cat),
                "frechet": frechet(self.ref_by_cat[cat], emb[part]),
            }
        return {
            "class_consistency": {
                "labeler": None if rules is None else metrics.class_consistency(rules, self.asked),
                "classifier": metrics.class_consistency(heard, self.asked),
            },
            "frechet": frechet(self.ref_emb, emb),
            "inception_score": metrics.inception_score(probs),
            "ndb_k": metrics.ndb_k(self.ref_emb, emb, k=min(NDB_K, len(self.ref_emb) // 2)),
            "memorization": memo.to_dict(),
            "per_category": per_category,
        }

    def evaluation(self, generated: dict[str, Any]) -> Evaluation:
        """The figures of one generated set (``score``'s result) beside the references."""
        by_set = {"generated": generated, **self.references}
        figures = {m: {s: by_set[s][m] for s in SETS} for m in METRICS}
        return Evaluation(figures, generated["per_category"], self.n, self.model.path)


def labeler_verdicts(waves: np.ndarray, sr: int, categories) -> list[str] | None:
    """The labeler's category of every clip of ``waves [B, T]``; ``None`` when ``categories`` are
    not all gesture categories (the labeler knows only those)."""
    if not set(categories) <= set(CATEGORIES):
        return None
    return [label(w, sr)[0] for w in waves]


def _agree(heard: list[str], category: str) -> float:
    return metrics.class_consistency(heard, [category] * len(heard))


def evaluate(
    run: str | Path,
    data: str | Path,
    n: int = 64,
    classifier: str | Path | None = None,
    seed: int = 0,
    over_time: bool = False,
    write_report: bool = True,
    progress: Callable[[str], None] | None = None,
    device: str = "cpu",
) -> Evaluation:
    """Evaluate the run's generator against ``data``; see the module docstring. The generator
    and the classifier run on ``device`` (``gesturegan.device.resolve``).

    ``over_time`` also scores the generator saved at the end of every growth stage (when the run
    kept those checkpoints) and plots the figures against the training step. The report goes to
    ``RUN/eval/evaluation.json`` and ``RUN/eval/report.md``.
    """
    from .. import classifier as clf
    from ..generation import load

    say = progress or (lambda _: None)
    gen = load(run, device)
    ds = Dataset.open(data)
    if (ds.sr, ds.length) != (gen.sr, gen.length):
        raise UserError(
            f"{ds.path} holds {ds.length}-sample clips at {ds.sr} Hz but the model makes "
            f"{gen.length} samples at {gen.sr} Hz; prepare the data with --sr/--length to match"
        )
    if not gen.categories or not ds.has_labels:
        raise UserError("evaluate needs a class-conditional model and a labelled dataset")
    cls_dir = Path(classifier) if classifier else gen.run.eval_dir / "classifier"
    if classifier is None and not (cls_dir / "classifier.json").is_file():
        say(f"training the evaluation classifier on {ds.path} into {cls_dir}")
        clf.train(ds.path, cls_dir, device=device)
    say("embedding the reference, held-out and noise sets")
    judge = Judge(ds.path, cls_dir, gen.categories, n, seed, device)
    generated = generate_set(gen, judge.n)
    result = judge.evaluation(judge.score(generated))
    say("the independent judge: generated clips against the real ones (docs/evaluation.md)")
    result.independent, result.judged_against = independent_judge(
        ds, gen.categories, generated, judge.n, JudgeConfig(seed=seed)
    )
    if over_time:
        for stage in gen.stages:
            say(f"scoring the generator saved after stage {stage}")
            scores = judge.score(generate_set(gen, judge.n, stage))
            result.over_time.append({"stage": stage, "step": _stage_step(gen, stage), **scores})
    if write_report:
        write_report_files(gen.run.eval_dir, result)
    return result


def independent_judge(ds: Dataset, categories, generated: np.ndarray, n: int, cfg: JudgeConfig):
    """``judge.compare`` (as ``cfg`` sets it) of the generated set (``n`` clips per class, class by
    class) against the real clips of ``categories``: the figures that grade (docs/evaluation.md).

    The real clips are those ``prepare --holdout`` kept out of training when the dataset has them,
    else every clip (training saw them: a weaker test, and the second value says so).
    """
    from ..judge.compare import compare_waves

    real, real_labels = judged_clips(ds, categories)
    fake_labels = [c for c in categories for _ in range(n)]
    against = (
        "held-out clips (prepare --holdout: training never saw them)"
        if len(ds.holdout_ids)
        else "the training clips (no held-out split: prepare --holdout keeps some out)"
    )
    comparison = compare_waves(real, real_labels, generated, fake_labels, ds.sr, cfg)
    return comparison, against


def judged_clips(ds: Dataset, categories) -> tuple[np.ndarray, list[str]]:
    """The real clips of ``categories`` the generated ones are judged against, ``[N, T]``, with
    their labels: those ``prepare --holdout`` kept out of training, else every clip."""
    pool = ds.holdout_ids if len(ds.holdout_ids) else np.arange(len(ds))
    keep = pool[np.isin(ds.label_ids[pool], [ds.label_names.index(c) for c in categories])]
    return np.asarray(ds.waves[keep], np.float32), [ds.label_names[i] for i in ds.label_ids[keep]]


def generate_set(gen, n: int, stage: str | None = None) -> np.ndarray:
    """``[classes · n, T]``: latent seeds 0 … n−1 of every class, class by class."""
    return np.concatenate([gen.samples(c, list(range(n)), stage) for c in gen.categories])


def _stage_step(gen, stage: str) -> int:
    if stage == gen.final_stage:
        return int(gen.meta["step"])
    return gen.run.stage_generator(stage)[1]


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict) and "classifier" in value:
        return f"{_cell(value['labeler'])} / {_cell(value['classifier'])}"
    if isinstance(value, dict):
        return f"ratio {value['ratio']:.2f}, copies {value['copies']:.0%}"
    return f"{value:.3g}" if abs(value) >= 0.01 or value == 0 else f"{value:.1e}"


def write_report_files(folder: Path, ev: Evaluation) -> Path:
    """``folder/evaluation.json`` and ``folder/report.md`` (with a plot when over_time is set)."""
    rows = [f"| {m} | " + " | ".join(_cell(ev.figures[m][s]) for s in SETS) + " |" for m in METRICS]
    cats = "\n".join(
        f"| `{c}` | {_cell(v['labeler'])} | {_cell(v['classifier'])} | {_cell(v['frechet'])} |"
        for c, v in ev.per_category.items()
    )
    text = f"""# Evaluation

{ev.n_per_class} clips per class in every set; embeddings and probabilities from the classifier in
`{ev.classifier}`. `class_consistency` is labeler / classifier (share that hears the category
asked for; higher is better). `frechet` and `ndb_k`: lower is better. `inception_score`: higher is
better, at most the number of classes. `memorization`: median distance to the nearest training clip
over the same for held-out real clips (≈ 1 healthy, ≪ 1 copying) and the share of exact copies.

| metric | generated | real vs real | real vs noise |
|---|---|---|---|
{chr(10).join(rows)}

## Per category (generated)

| category | labeler agrees | classifier agrees | Fréchet |
|---|---|---|---|
{cats}
"""
    if ev.over_time:
        from ..plots import metric_over_steps

        series = {
            "frechet": [r["frechet"] for r in ev.over_time],
            "inception_score": [r["inception_score"] for r in ev.over_time],
            "ndb_k": [r["ndb_k"] for r in ev.over_time],
            "classifier agreement": [r["class_consistency"]["classifier"] for r in ev.over_time],
        }
        refs = {
            "frechet": ev.figures["frechet"]["real_vs_real"],
            "inception_score": ev.figures["inception_score"]["real_vs_real"],
            "ndb_k": ev.figures["ndb_k"]["real_vs_real"],
            "classifier agreement": ev.figures["class_consistency"]["real_vs_real"]["classifier"],
        }
        steps = [r["step"] for r in ev.over_time]
        labels = [r["stage"] for r in ev.over_time]
        metric_over_steps(steps, labels, series, refs, folder / "over-time.png")
        stage_rows = "\n".join(
            f"| {r['stage']} | {r['step']} | {_cell(r['frechet'])} | {_cell(r['inception_score'])}"
            f" | {_cell(r['ndb_k'])} | {_cell(r['class_consistency'])} |"
            for r in ev.over_time
        )
        text += f"""
## Over training (generator saved at the end of each stage)

| stage | step | Fréchet | IS | NDB/K | class consistency |
|---|---|---|---|---|---|
{stage_rows}

![metrics over training](over-time.png)
"""
    if ev.independent is not None:
        from ..judge.report import table

        head = (
            "# Evaluation\n\n## The independent judge (grades: docs/evaluation.md)\n\n"
            f"Generated clips against {ev.judged_against}.\n\n"
        )
        text = text.replace(
            "# Evaluation\n",
            head + table(ev.independent, "real clips", "generated")
            + "\n\n## Training signals (the project's classifier and labeler)\n",
            1,
        )
    write_text(folder / "evaluation.json", json.dumps(ev.to_dict(), indent=2))
    return write_text(folder / REPORT_NAME, text)
