"""``gesturegan study``: train every (dataset, representation, model, augmentation, seed) under one
budget and judge each run independently, on real clips its training never saw.

Each dataset is typically one sample library, sorted into categories (by the labeler, as a composer
would) and prepared with ``--holdout`` so some source files stay out of training. Every run is
judged against the held-out clips of its own dataset by the independent judge (``judge.compare``:
Fréchet and kernel distances, precision / recall in weight-free features and random networks, each
beside real-vs-real with its interval), overall and per class. Two category checks read the
generated clips: a classifier trained on the *other* libraries (``--category-check``, the folder of
``gesturegan classifier lolo``: its fold for this library), and the labeler. Nothing that picked
the exported generator during training grades it here.

Layout of the study folder ``OUT``::

    study.yaml            the StudyConfig (what was asked)
    runs/<name>/          one training run per combination (``<data>-<repr>-<model>-<augment>-s<seed>``)
    runs/<name>/study.json  that run's row, written when it has been trained and judged
    runs/<name>/pictures/   real against generated clips: grids, envelopes, a morph, audio
                          (``study_pictures``)
    study.csv, study.md   the table: every run, then per dataset mean ± spread over seeds
    study.png             Fréchet distance over real-vs-real against the category check, per run

A study that is stopped resumes: finished runs are kept, an unfinished one continues from its last
checkpoint. It may go on with more seeds, libraries, representations, models or augmentation modes
than it started with (``extends``); anything else asks for another folder. ``report_study``
rewrites the table from the runs finished so far and trains nothing, also while the study goes on
elsewhere.

Beside the real-vs-real reference every run gets a second: its *decoder floor*, the held-out clips
encoded and decoded by the run's representation and judged like the generated ones. A generator
that drew every image perfectly would land there, so the gap between the floor and 1 is the
representation's, the gap above the floor the model's.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import audio
from ..atomic import write_text
from ..config import check, from_dict, load_yaml, option, save_yaml
from ..dataset import Dataset
from ..device import resolve
from ..errors import UserError
from ..judge.config import JudgeConfig
from ..models import MODELS
from ..representations import names as repr_names
from ..runs import LATEST, Run
from ..training.augment import AUGMENT_MODES
from . import borders
from .run import generate_set, independent_judge, judged_clips, labeler_verdicts
from .stage_age import last_stage_age
from .study_pictures import write_pictures
from .study_table import write_table

ONE_D = {"waveform"}  # representations for 1-D models only
PICTURES = "pictures"
ROW = "study.json"
FLOOR_BATCH = 64
GEN_SPEED_BATCH = 32
AXES = ("data", "reprs", "models", "augment", "seeds")
"""The StudyConfig lists a study may grow by when it goes on (``extends``)."""
SPACE = "features"
"""The judge's space the table leads with (weight-free features); random nets are beside it."""
JUDGE = JudgeConfig(seed=0)
"""How every run is judged; a row judged otherwise (``judge`` in its study.json) is judged again."""


@dataclass
class StudyConfig:
    """What a study trains and how it judges; saved as OUT/study.yaml."""

    data: tuple[str, ...] = option(
        (), "datasets to train on, each a `gesturegan prepare --holdout` folder (one per library)"
    )
    reprs: tuple[str, ...] = option(("stft_pghi",), "representations to compare")
    models: tuple[str, ...] = option(("pgan",), "models to compare", choices=tuple(MODELS))
    augment: tuple[str, ...] = option(
        ("off",), "training augmentation modes to compare (off, ada, fixed)", choices=AUGMENT_MODES
    )
    seeds: tuple[int, ...] = option((0,), "training seeds", at_least=0, at_most=2**32 - 1)
    minutes: float | None = option(
        30.0, "training budget per run in minutes (steps wins when given)", above=0
    )
    steps: int | None = option(None, "training budget per run in steps (deterministic)", at_least=1)
    n: int = option(64, "clips generated per class for judging", at_least=2)
    eval_data: str | None = option(
        None,
        "judge every run against this dataset (its held-out clips, else all: none of the runs may "
        "train on it) instead of each run's own held-out clips",
    )
    category_check: str | None = option(
        None,
        "folder of `gesturegan classifier lolo`: each dataset's generated clips are classified by "
        "the fold that never saw its library (the dataset's folder name); null: labeler only",
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
        if self.steps is None and self.minutes is None:
            raise UserError("a study needs a budget: --budget MINUTES or --steps N")
        if not self.seeds or not self.augment:
            raise UserError("a study needs at least one seed and one augmentation mode")

    def combinations(self) -> list[dict[str, Any]]:
        """Every trainable combination, in a stable order; 1-D models only with 1-D reprs."""
        out = []
        for seed, data, rep, model, aug in itertools.product(
            self.seeds, self.data, self.reprs, self.models, self.augment
        ):  # seeds outermost: a study cut short still has every library once
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


def extends(before: StudyConfig, after: StudyConfig) -> bool:
    """Whether ``after`` continues the study ``before``: the same but for more entries in its
    ``AXES`` lists (a seed or a library added keeps every finished run valid) and the device."""
    same = replace(before, device=after.device, **{a: getattr(after, a) for a in AXES}) == after
    return same and all(set(getattr(before, a)) <= set(getattr(after, a)) for a in AXES)


def run_study(
    out: str | Path, cfg: StudyConfig, say: Callable[[str], None] = print
) -> list[dict[str, Any]]:
    """Train and judge every combination into ``out``; return the rows (see module docstring)."""
    from ..training import train

    out = Path(out)
    saved = out / "study.yaml"
    if saved.is_file():
        before = from_dict(StudyConfig, load_yaml(saved), where=str(saved))
        if not extends(before, cfg):
            raise UserError(
                f"{out} holds a different study (only its lists of {', '.join(AXES)} may grow); "
                "choose another --out folder"
            )
    judged_on = {data: cfg.eval_data or data for data in cfg.data}
    checkers = {
        data: check_dataset(data, cfg.category_check, held_out=cfg.eval_data is None)
        for data in dict.fromkeys(judged_on.values())
    }
    for data, on in judged_on.items():
        missing = sorted(set(Dataset.open(data).label_names) - set(Dataset.open(on).label_names))
        if missing:
            raise UserError(f"{on} has no clips of {', '.join(missing)} (classes of {data})")
    out.mkdir(parents=True, exist_ok=True)
    save_yaml(cfg, saved)
    device = str(resolve(cfg.device))
    rows = []
    combos = cfg.combinations()
    for i, combo in enumerate(combos, 1):
        run = out / "runs" / combo["name"]
        row_file = run / ROW
        if row_file.is_file():
            rows.append(complete(run, combo, cfg, device))
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
        say(f"[{i}/{len(combos)}] judging {combo['name']} on its held-out clips")
        on = judged_on[combo["data"]]
        rows.append(judge_run(run, combo, on, cfg.n, checkers[on], device))
        write_text(row_file, json.dumps(rows[-1], indent=2))
        write_table(out, rows)
    write_table(out, rows)
    return rows


def report_study(out: str | Path, device: str = "cpu") -> list[dict[str, Any]]:
    """Rewrite the table of the study in ``out`` from the runs finished so far, and the pictures of
    those that have none; train nothing. Returns the rows."""
    out = Path(out)
    saved = out / "study.yaml"
    if not saved.is_file():
        raise UserError(f"{out} holds no study (no study.yaml)")
    cfg = from_dict(StudyConfig, load_yaml(saved), where=str(saved))
    rows = []
    for combo in cfg.combinations():
        run = out / "runs" / combo["name"]
        if (run / ROW).is_file():
            rows.append(complete(run, combo, cfg, device))
    write_table(out, rows)
    return rows


def complete(run: Path, combo: dict[str, Any], cfg: StudyConfig, device: str) -> dict[str, Any]:
    """A judged run's row, judged again whole when it records another judge than ``JUDGE`` (so
    also every row from before the judge was recorded, which may lack figures added since: the
    last stage's age, the decoder's floor, the border figures); else with its pictures drawn
    again if they are missing (from the same clips the judge read)."""
    from ..generation import load

    row = json.loads((run / ROW).read_text(encoding="utf-8"))
    on = cfg.eval_data or combo["data"]
    if row.get("judge") != judge_settings():
        checker = check_dataset(on, cfg.category_check, held_out=cfg.eval_data is None)
        row = judge_run(run, combo, on, cfg.n, checker, device)
        write_text(run / ROW, json.dumps(row, indent=2))
    elif not (run / PICTURES).is_dir():
        gen = load(run, device)
        ds = Dataset.open(on)
        real, real_asked = judged_clips(ds, gen.categories)
        real_here = fit_to(real, ds.sr, gen.sr, gen.length)
        write_pictures(run / PICTURES, gen, generate_set(gen, cfg.n), real_here, real_asked, cfg.n)
    return row


def judge_settings() -> dict[str, Any]:
    """``JUDGE`` as a row stores it (JSON types)."""
    return json.loads(json.dumps(JUDGE.to_dict()))


def decoder_floor(gen, real: np.ndarray, real_asked: list[str]):
    """``judge.compare`` of the real clips ``real [N, T]`` (at the run's rate and length) against
    themselves encoded and decoded by the run's representation: how close a generator that drew
    every image perfectly would come, the floor its decoder sets."""
    from ..judge.compare import compare_waves

    through = np.concatenate([
        gen.decode(gen.rep.encode(torch.from_numpy(real[i : i + FLOOR_BATCH]).to(gen.device)))
        for i in range(0, len(real), FLOOR_BATCH)
    ])  # fmt: skip
    return compare_waves(real, real_asked, through, real_asked, gen.sr, JUDGE, same_clips=True)


def border_figures(gen, generated: np.ndarray, real: np.ndarray, n: int) -> dict[str, Any]:
    """The run's border diagnostics (``borders``): ``frame``, from the images of the clips
    ``generated`` (latent seeds 0 … n−1 of every class) against those of the ``real [N, T]`` clips
    (at the run's rate and length; None for a 1-D representation), ``silent_share`` /
    ``silent_share_real``, the share of the generated / real images' silent pixels (None
    where -1 is not silence), and ``end_rise`` / ``end_rise_real``, the share of generated /
    real clips whose last window rises by ``borders.RISE_DB``."""
    with torch.no_grad():
        drawn = torch.cat([
            gen.render(gen.latents(list(range(n))), gen.condition(c, n)) for c in gen.categories
        ])  # fmt: skip
        encoded = gen.rep.encode(torch.from_numpy(real).to(gen.device))
    shown = drawn.ndim == 4  # images; a 1-D representation has no borders to draw
    silent = shown and gen.rep.floor_is_silence
    return {
        "frame": borders.frame(drawn, encoded) if shown else None,
        "silent_share": borders.silent_share(drawn) if silent else None,
        "silent_share_real": borders.silent_share(encoded) if silent else None,
        "end_rise": float(np.mean(borders.end_rise(generated, gen.sr) > borders.RISE_DB)),
        "end_rise_real": float(np.mean(borders.end_rise(real, gen.sr) > borders.RISE_DB)),
    }


def add_floor(row: dict[str, Any], floor) -> dict[str, Any]:
    """``row`` with ``floor_fd_ratio`` (overall and per class) from ``decoder_floor``'s result."""
    per_class = {c: {**v, "floor_fd_ratio": figures(floor, c)["fd_ratio"]}
                 for c, v in row["per_class"].items()}  # fmt: skip
    return {**row, "floor_fd_ratio": figures(floor, "all")["fd_ratio"], "per_class": per_class}


def check_dataset(data: str, category_check: str | None, held_out: bool = True) -> Path | None:
    """Refuse, before any training, a dataset the study cannot judge on (one with no held-out
    clips, when ``held_out``); return the folder of the classifier that checks its categories
    (None without ``category_check``)."""
    ds = Dataset.open(data)
    if not ds.has_labels:
        raise UserError(f"{ds.path} has no labels; sort the library first (docs/study.md)")
    if held_out and not len(ds.holdout_ids):
        raise UserError(
            f"{ds.path} keeps no clips out of training; prepare it with --holdout so the study "
            "judges on clips training never saw"
        )
    if category_check is None:
        return None
    folder = Path(category_check) / ds.path.name
    if not (folder / "classifier.json").is_file():
        found = sorted(p.parent.name for p in Path(category_check).glob("*/classifier.json"))
        raise UserError(
            f"{category_check} has no classifier for library {ds.path.name!r} "
            f"(it holds {', '.join(found) or 'none'}); name each dataset after its library"
        )
    return folder


def judge_run(
    run: Path, combo: dict[str, Any], data: str, n: int, checker: Path | None, device: str
) -> dict[str, Any]:
    """One run's row: the judge's figures against the held-out clips of ``data`` (all its clips if
    it has none held out), overall and per class, the category checks, and what the run cost."""
    from .. import classifier as clf
    from ..generation import load

    gen = load(run, device)
    ds = Dataset.open(data)
    model = None if checker is None else clf.load(checker, device)
    generated = generate_set(gen, n)
    comparison, _ = independent_judge(ds, gen.categories, generated, n, JUDGE)
    asked = [c for c in gen.categories for _ in range(n)]
    heard = read_categories(generated, gen.sr, gen.categories, model)
    real, real_asked = judged_clips(ds, gen.categories)
    real_heard = read_categories(real, ds.sr, gen.categories, model)
    real_here = fit_to(real, ds.sr, gen.sr, gen.length)
    floor = decoder_floor(gen, real_here, real_asked)
    edges = border_figures(gen, generated, real_here, n)
    write_pictures(run / PICTURES, gen, generated, real_here, real_asked, n)
    t0 = time.perf_counter()
    gen.samples(gen.categories[0], list(range(GEN_SPEED_BATCH)))
    gen_s = time.perf_counter() - t0
    logged = gen.run.metrics_rows()
    last = (logged or [{}])[-1]
    per_class = {
        c: {
            **figures(comparison, c),
            **agreement(heard, asked, c),
            **agreement(real_heard, real_asked, c, suffix="_real"),
        }
        for c in gen.categories
    }
    return add_floor({
        **combo,
        "data": Path(combo["data"]).name,
        "steps": int(gen.meta["step"]),
        "train_min": float(last.get("time_s", "nan")) / 60,
        "stage": gen.final_stage,
        **last_stage_age(logged),
        "gen_rtf": GEN_SPEED_BATCH * gen.length / gen.sr / gen_s,
        **figures(comparison, "all"),
        **agreement(heard, asked, None),
        **agreement(real_heard, real_asked, None, suffix="_real"),
        **edges,
        "judged_on": ds.path.name,
        "judge": judge_settings(),
        "held_out": comparison.n_a,
        "per_class": per_class,
        "skipped": comparison.skipped,
    }, floor)  # fmt: skip


def figures(comparison, group: str) -> dict[str, float | None]:
    """The table's figures of one group (``"all"`` or a class) of a ``judge.compare`` result:
    generated and real-vs-real medians (with real-vs-real's interval) in weight-free features,
    their ratio, and the Fréchet ratio in random networks; ``None`` where the judge skipped it."""
    keys = ("fd", "fd_rr", "fd_rr_lo", "fd_rr_hi", "fd_ratio", "kad", "kad_rr", "precision",
            "recall", "recall_rr", "randnet_fd_ratio")  # fmt: skip
    spaces = comparison.figures.get(group)
    if spaces is None:
        return dict.fromkeys(keys)
    feats, nets = spaces[SPACE], spaces.get("randnet")
    fd, rr = feats["frechet"]["a_vs_b"], feats["frechet"]["real_vs_real"]
    values = (
        fd["median"], rr["median"], rr["lo"], rr["hi"], ratio(fd["median"], rr["median"]),
        feats["kad"]["a_vs_b"]["median"], feats["kad"]["real_vs_real"]["median"],
        feats["precision"]["a_vs_b"]["median"], feats["recall"]["a_vs_b"]["median"],
        feats["recall"]["real_vs_real"]["median"],
        None if nets is None else ratio(nets["frechet"]["a_vs_b"]["median"],
                                        nets["frechet"]["real_vs_real"]["median"]),
    )  # fmt: skip
    return dict(zip(keys, values, strict=True))


def read_categories(waves: np.ndarray, sr: int, categories, checker) -> dict[str, list[str]]:
    """The category each checker hears in every clip of ``waves [B, T]``: the labeler (when the
    classes are gesture categories) and the ``checker`` classifier (when given)."""
    heard = {}
    verdicts = labeler_verdicts(waves, sr, categories)
    if verdicts is not None:
        heard["labeler"] = verdicts
    if checker is not None:
        heard["category_check"] = checker.predict(fit_to(waves, sr, checker.sr, checker.length))
    return heard


def agreement(
    heard: dict[str, list[str]], asked: list[str], category: str | None, suffix: str = ""
) -> dict[str, float | None]:
    """Share of the clips (of ``category``, or all) each checker places where asked, as
    ``category_check`` and ``labeler`` (+ ``suffix``); ``None`` for a checker that did not read
    them."""
    out = dict.fromkeys(("category_check" + suffix, "labeler" + suffix))
    for checker, names in heard.items():
        pairs = [(h, a) for h, a in zip(names, asked, strict=True) if category in (None, a)]
        out[checker + suffix] = float(np.mean([h == a for h, a in pairs])) if pairs else None
    return out


def fit_to(waves: np.ndarray, sr: int, sr_out: int, length: int) -> np.ndarray:
    """``waves [B, T]`` at ``sr`` → ``[B, length]`` at ``sr_out`` (resampled, then cut or padded
    with silence at the end): what a classifier of another rate or length reads."""
    out = np.zeros((len(waves), length), np.float32)
    for i, w in enumerate(waves):
        w = audio.resample(np.asarray(w, np.float32), sr, sr_out)[:length]
        out[i, : len(w)] = w
    return out


def ratio(value: float, reference: float) -> float | None:
    return float(value / reference) if reference > 0 else None
