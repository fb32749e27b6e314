"""Labelling sound files with a gesture category each, and saying why.

``label_files(src)`` walks a folder (or takes one file) and decides, per file, with the envelope
rules of ``gestures`` on the **whole file** (``gestures.features_file``: any length, bounded memory),
or — with ``model`` — with a trained ``classifier`` on the clip it was trained on (the file fit to
its rate and length with its dataset's alignment, as ``prepare`` does). The envelope features and the
rules' verdict are reported either way, so a classifier's decision always comes with the numbers a
person can check. With ``min_confidence``, a classifier's decision whose top probability is below it
is marked ``unsure`` (with every class's probability), so a person reviews only the doubtful files.
Files that cannot be read are listed with a reason; they never stop the run.

>>> report = label_files("sounds/")  # doctest: +SKIP
>>> report.decisions[0].category, report.decisions[0].explanation  # doctest: +SKIP
('trigger', 'trigger: within 20 dB of its peak for only 0.05 s (≤ 0.15 s), decays 20 dB in 0.03 s.')
"""

from __future__ import annotations

import csv
import io
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import audio, gestures
from .atomic import write_text
from .errors import UserError

CSV_COLUMNS = (
    "file", "category", "method", "confidence", "rules_category", "explanation", "unsure", "scores",
)  # fmt: skip
"""Leading columns of the labels CSV; the envelope features (``gestures.features`` keys) follow.
``unsure`` is ``yes`` for a decision below the minimum confidence; ``scores`` lists a classifier's
probability of every class (``name p; name p; …``, most probable first)."""

UNSURE = "unsure"
"""Where a decision below the minimum confidence is counted (and ``sort`` places its file)."""

CLASSIFIER_BATCH = 32
"""Clips the classifier sees at once (bounded memory whatever the number of files)."""

_POOL_MIN_FILES = 16  # fewer files than this are analysed in-process: a pool costs ~1 s to start


@dataclass(frozen=True)
class Decision:
    """The category of one file and why.

    ``file`` is the path relative to the source folder (POSIX style; the file name when the source
    is one file). ``method`` is ``"rules"`` or ``"classifier"``; ``confidence`` is the classifier's
    probability of ``category`` (``None`` for the rules). ``rules_category`` and ``features`` are
    the envelope rules' verdict and the features of the whole file, whatever decided. ``scores`` is
    the classifier's probability of every class (``None`` for the rules); ``unsure`` is true when
    ``confidence`` fell below the minimum asked for — ``category`` is then only the best guess.
    """

    file: str
    path: Path
    category: str
    method: str
    confidence: float | None
    explanation: str
    rules_category: str
    features: dict[str, float]
    scores: dict[str, float] | None = None
    unsure: bool = False

    @property
    def place(self) -> str:
        """Where the file belongs: its category, or ``UNSURE`` when the classifier was not sure."""
        return UNSURE if self.unsure else self.category


@dataclass
class LabelReport:
    """What ``label_files`` decided: one ``Decision`` per usable file, ``(file, reason)`` per other."""

    src: Path
    decisions: list[Decision] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Files per category, in category order (``gestures.CATEGORIES`` first, then others, then
        ``UNSURE`` for the decisions below the minimum confidence)."""
        found = [d.place for d in self.decisions]
        order = [c for c in gestures.CATEGORIES if c in found]
        order += sorted(set(found) - set(order) - {UNSURE})
        order += [UNSURE] if UNSURE in found else []
        return {c: found.count(c) for c in order}


@dataclass(frozen=True)
class _Task:
    path: str  # absolute
    rel: str
    clip_sr: int  # 0: no classifier clip wanted
    clip_length: int
    align: str


@dataclass(frozen=True)
class _Result:
    task: _Task
    features: dict[str, float] | None
    clip: np.ndarray | None
    reason: str


def find_audio(
    src: str | os.PathLike, exclude: str | os.PathLike | None = None
) -> tuple[Path, list[str], list[tuple[str, str]]]:
    """The audio files to label: ``(root, relative paths, errors)``.

    ``src`` is one file (root = its folder) or a folder walked as ``prepare`` walks it (recursive,
    links followed, hidden names skipped, sorted). Anything under ``exclude`` (e.g. the output
    folder of ``sort`` inside ``src``) is left out. What the walk skipped (``scan.Scan.skipped``:
    broken links, loops, unreadable folders, …) is returned as errors.

    Raises
    ------
    UserError
        ``src`` does not exist, or a folder holds no audio file.
    """
    from .dataset.scan import scan

    src = Path(src).absolute()
    if src.is_file():
        if not audio.is_audio_file(src):
            kinds = ", ".join(e.lstrip(".") for e in audio.AUDIO_EXTENSIONS)
            raise UserError(f"{src} is not an audio file ({kinds})")
        return src.parent, [src.name], []
    if not src.is_dir():
        raise UserError(f"{src}: no such file or folder")
    found = scan(src)
    rels, skipped = found.audio, found.skipped
    if exclude is not None:
        ex = Path(os.path.abspath(exclude))
        if ex == src or src in ex.parents:
            prefix = ex.relative_to(src).as_posix() + "/"
            rels = [r for r in rels if not r.startswith(prefix)]
            skipped = [(r, why) for r, why in skipped if not r.startswith(prefix)]
    if not rels and not skipped:
        kinds = ", ".join(e.lstrip(".") for e in audio.AUDIO_EXTENSIONS)
        raise UserError(f"no audio files ({kinds}) found under {src}")
    return src, rels, skipped


def label_files(
    src: str | os.PathLike,
    model: str | os.PathLike | None = None,
    *,
    workers: int | None = 1,
    exclude: str | os.PathLike | None = None,
    progress: Callable[[int, int], None] | None = None,
    min_confidence: float | None = None,
    device: str = "cpu",
) -> LabelReport:
    """Gesture category (or classifier label) of every audio file under ``src``, with reasons.

    Parameters
    ----------
    src : str | os.PathLike
        One audio file or a folder of them (walked recursively; see ``find_audio``). Only read.
    model : str | os.PathLike | None
        A classifier folder (``gesturegan classifier train``); ``None`` uses the envelope rules.
    workers : int | None
        Processes that read and analyse files; ``None`` = available cores, ``1`` = none.
    exclude : str | os.PathLike | None
        A folder under ``src`` to leave out.
    progress : Callable[[int, int], None] | None
        Called as ``progress(files_done, files_total)``.
    min_confidence : float | None
        With ``model``: a decision whose top probability is below this (in [0, 1]) is ``unsure``.
    device : str
        Where the classifier (``model``) runs (``gesturegan.device.resolve``).

    Returns
    -------
    LabelReport
        Decisions in file order, and the files that could not be used with a reason each.

    Raises
    ------
    UserError
        ``min_confidence`` outside [0, 1] or without a model; see also ``find_audio``.
    """
    check_min_confidence(min_confidence, model)
    clf = None
    if model is not None:
        from .classifier import Classifier

        clf = Classifier.load(model, device)
    root, rels, errors = find_audio(src, exclude)
    report = LabelReport(root, errors=list(errors))
    tasks = [
        _Task(
            str(root / rel),
            rel,
            clf.sr if clf else 0,
            clf.length if clf else 0,
            clf.align if clf else "start",
        )
        for rel in rels
    ]
    if progress is not None:
        progress(0, len(tasks))
    pending: list[_Result] = []

    def flush() -> None:
        if not pending:
            return
        probs = clf.probabilities(np.stack([r.clip for r in pending]))
        for r, p in zip(pending, probs, strict=True):
            report.decisions.append(_classifier_decision(r, p, clf.label_names, min_confidence))
        pending.clear()

    for done, result in enumerate(_analyse_all(tasks, _workers(workers, len(tasks))), 1):
        if result.features is None:
            report.errors.append((result.task.rel, result.reason))
        elif clf is None:
            category = gestures.decide(result.features)
            report.decisions.append(
                Decision(
                    result.task.rel,
                    Path(result.task.path),
                    category,
                    "rules",
                    None,
                    gestures.explain(category, result.features),
                    category,
                    result.features,
                )
            )
        else:
            pending.append(result)
            if len(pending) >= CLASSIFIER_BATCH:
                flush()
        if progress is not None:
            progress(done, len(tasks))
    flush()
    order = {rel: i for i, rel in enumerate(rels)}
    report.decisions.sort(key=lambda d: order[d.file])
    report.errors.sort()
    return report


def csv_text(report: LabelReport) -> str:
    """The decisions as CSV text: ``CSV_COLUMNS`` then every envelope feature, one row per file."""
    keys = list(report.decisions[0].features) if report.decisions else []
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*CSV_COLUMNS, *keys])
    for d in report.decisions:
        conf = "" if d.confidence is None else f"{d.confidence:.4f}"
        feats = [f"{d.features[k]:.6g}" for k in keys]
        w.writerow([d.file, d.category, d.method, conf, d.rules_category, d.explanation,
                    "yes" if d.unsure else "no", scores_text(d.scores), *feats])  # fmt: skip
    return buf.getvalue()


def scores_text(scores: dict[str, float] | None) -> str:
    """``"trigger 0.48; trigger_continuous 0.41; …"``, most probable first (``""`` for none)."""
    if not scores:
        return ""
    return "; ".join(f"{k} {v:.2f}" for k, v in sorted(scores.items(), key=lambda kv: -kv[1]))


def check_min_confidence(min_confidence: float | None, model: str | os.PathLike | None) -> None:
    """Refuse a minimum confidence outside [0, 1], or one without a classifier to give it."""
    if min_confidence is None:
        return
    if not 0.0 <= min_confidence <= 1.0:
        raise UserError(f"--min-confidence is a probability in [0, 1], got {min_confidence}")
    if model is None:
        raise UserError("--min-confidence needs --model: the envelope rules give no probability")


def write_csv(report: LabelReport, path: str | os.PathLike) -> Path:
    """Write ``csv_text(report)`` to ``path`` atomically; return the path."""
    return write_text(path, csv_text(report))


def errors_text(errors: list[tuple[str, str]]) -> str:
    """``file,reason`` CSV text of unreadable files (header only when there are none)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([("file", "reason"), *errors])
    return buf.getvalue()


# --- Internals ----------------------------------------------------------------------------------


def _classifier_decision(
    r: _Result, probs: np.ndarray, names: list[str], min_confidence: float | None
) -> Decision:
    order = np.argsort(-probs)
    best, confidence = names[order[0]], float(probs[order[0]])
    unsure = min_confidence is not None and confidence < min_confidence
    rules = gestures.decide(r.features)
    shown = order if unsure else order[:2]  # a doubtful file shows every class's probability
    top = ", ".join(f"{names[i]} {probs[i]:.2f}" for i in shown)
    doubt = f"unsure (best {confidence:.2f} < {min_confidence:.2f}): " if unsure else ""
    sentence = gestures.explain(rules, r.features)
    explanation = f"classifier: {doubt}{top}; envelope rules say {sentence}"
    scores = {names[i]: float(probs[i]) for i in order}
    return Decision(
        r.task.rel, Path(r.task.path), best, "classifier", confidence, explanation, rules,
        r.features, scores, unsure,
    )  # fmt: skip


def _workers(workers: int | None, n_tasks: int) -> int:
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    if n_tasks < _POOL_MIN_FILES:
        return 1
    return min(workers or os.cpu_count() or 1, n_tasks)


def _analyse_all(tasks: list[_Task], workers: int) -> Iterator[_Result]:
    """One result per task, in task order; from a process pool when ``workers > 1``."""
    if workers == 1:
        yield from map(_analyse, tasks)
        return
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    chunksize = max(1, min(8, len(tasks) // (workers * 8)))
    with mp.get_context(method).Pool(workers) as pool:
        yield from pool.imap(_analyse, tasks, chunksize)


def _analyse(task: _Task) -> _Result:
    """Worker: envelope features of the whole file, and the classifier's clip when one is wanted."""
    from .dataset.clip import SkipFile, fit_file

    try:
        feats = gestures.features_file(task.path)
        clip = None
        if task.clip_sr:
            clip = fit_file(task.path, task.clip_sr, task.clip_length, task.align).wave
    except UserError as exc:
        reason = str(exc).removeprefix(f"{task.path}: ").replace(f" {task.path!r}", "")
        return _Result(task, None, None, reason)
    except SkipFile as exc:
        return _Result(task, None, None, str(exc))
    return _Result(task, feats, clip, "")
