"""Score files: parsed and validated into events, and checked against the model that will play them.

A score is a YAML file (the format: docs/score.md)::

    run: runs/demo            # model to draw gestures from (relative to the score file)
    sr: 44100                 # optional; default: the highest rate of the model and the files
    events:
      - {at: 0.0, gesture: trigger, seed: 3, gain_db: -6, pan: -0.5, stage: first}
      - {at: 1.5, morph: {from: trigger, to: continuous_variation, steps: 6, every: 0.4}, pan: 0.3}
      - {at: 4.0, file: sounds/bell.wav, gain_db: -3}

Events are numbered from 1 in messages, as a reader counts them; the default ``seed`` of a gesture
or morph is the event's position in the list counted from 0. Rendering is deterministic: the same score
and model give a byte-identical WAV.

The model side is anything that satisfies ``GestureSource`` (``gesturegan.generation.load`` returns
one); tests use a small fake. Rendering lives in ``composition.mix``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from ..errors import UserError

MAX_AT_S = 3600.0  # an event starting later is a typo (ms for s?), not a piece: refuse it
SR_RANGE = (8000, 192000)  # Hz: what sound cards and WAV players handle
GAIN_DB_RANGE = (-120.0, 40.0)  # dB: beyond these an event is silent or a typo
MAX_SEED = 2**32 - 1  # seeds are 32-bit: the same latent from the CLI, the studio and a score
MAX_FADE_S = 60.0  # s: an explicit fade_in / fade_out longer than this is a typo
DEMO_SCORE_PATH = Path(__file__).parents[1] / "data" / "demo_score.yaml"

_COMMON_KEYS = {"at", "gain_db", "pan", "fade_in", "fade_out"}
_KIND_KEYS = {
    "gesture": _COMMON_KEYS | {"gesture", "seed", "stage"},
    "morph": _COMMON_KEYS | {"morph", "stage"},
    "file": _COMMON_KEYS | {"file"},
}
_MORPH_KEYS = {"from", "to", "steps", "every", "seed"}
_TOP_KEYS = {"run", "sr", "events"}


class GestureSource(Protocol):
    """What ``compose`` needs from a trained model."""

    sr: int  # Hz
    length: int  # samples per gesture
    categories: tuple[str, ...]  # class names the model was conditioned on
    stages: tuple[str, ...]  # growth stages available, e.g. ("4x4", ..., "128x128"); may be empty

    def sample(self, category: str, seed: int, stage: str | None = None) -> np.ndarray:
        """One gesture ``[T]`` float32 of ``category`` from latent ``seed``."""
        ...

    def morph(
        self, start: str, end: str, steps: int, seed: int, stage: str | None = None
    ) -> np.ndarray:
        """``steps`` gestures ``[steps, T]`` float32 gliding from class ``start`` to ``end``."""
        ...


@dataclass
class Event:
    """Fields every event has: start ``at_s`` (s), ``gain_db`` (dB), ``pan`` in [-1, 1], and the
    fades the score asks for, ``fade_in_s`` / ``fade_out_s`` (s; None: the default of the kind).

    ``where`` prefixes messages about the event, e.g. ``"score.yaml: event 3 (line 7)"``.
    """

    at_s: float
    gain_db: float = 0.0
    pan: float = 0.0
    where: str = "event"
    fade_in_s: float | None = None
    fade_out_s: float | None = None


@dataclass
class GestureEvent(Event):
    """A generated gesture of ``category`` from latent ``seed``, optionally at an earlier stage."""

    category: str = ""
    seed: int = 0
    stage: str | None = None


@dataclass
class MorphEvent(Event):
    """``steps`` gestures from class ``start`` to ``end``, placed ``every_s`` seconds apart.

    ``every_s=None`` means one clip duration (the steps follow each other without gap or overlap).
    """

    start: str = ""
    end: str = ""
    steps: int = 6
    every_s: float | None = None
    seed: int = 0
    stage: str | None = None


@dataclass
class FileEvent(Event):
    """A sound file, ``path`` relative to the score's folder (or absolute)."""

    path: Path = field(default_factory=Path)


@dataclass
class Score:
    """A parsed score: model ``run`` folder (resolved), mix rate ``sr`` in Hz (None: default)."""

    run: Path | None
    sr: int | None
    events: list[Event]

    @property
    def needs_model(self) -> bool:
        """True when some event draws from the model (a gesture or a morph)."""
        return any(isinstance(e, GestureEvent | MorphEvent) for e in self.events)


# ---------------------------------------------------------------------------------- parsing
def load_score(path: str | Path, run_override: str | Path | None = None) -> Score:
    """Read and validate a score file.

    Parameters
    ----------
    path : the score YAML.
    run_override : model run folder to use instead of the score's ``run:`` (relative to the current
        folder, not to the score); lets one score be played with any model.

    Returns
    -------
    Score with ``run`` resolved against the score's folder and checked to exist when the score
    needs a model.

    Raises
    ------
    UserError
        One line naming the file, the event number, the YAML line and the field at fault.

    Examples
    --------
    >>> score = load_score(DEMO_SCORE_PATH, run_override="demo-out/run")  # doctest: +SKIP
    >>> [type(e).__name__ for e in score.events][:2]  # doctest: +SKIP
    ['GestureEvent', 'GestureEvent']
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the score ({exc})") from None
    return parse_score(text, path.name, path.parent, run_override=run_override)


def parse_score(
    text: str,
    name: str,
    folder: Path,
    run_override: str | Path | None = None,
    find_run: Callable[[str], Path] | None = None,
    check_file: Callable[[str], object] | None = None,
) -> Score:
    """Validate the score ``text``; messages call it ``name``.

    ``file`` paths are relative to ``folder``, and so is ``run`` unless ``find_run`` maps the
    score's ``run:`` value to a folder (the studio names runs, it does not take paths).
    ``check_file`` may refuse a ``file`` path with a ``UserError`` before it is looked up (the
    studio plays uploads only); every file must exist.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UserError(
            f"{name}{_at_line(mark.line + 1 if mark is not None else None)}: not valid YAML"
            f" ({getattr(exc, 'problem', None) or 'syntax'})"
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{name}: expected a mapping with 'run' and 'events'")
    lines = _LineIndex(text)

    def where(key: str) -> str:
        return f"{name}{_at_line(lines.top(key))}"

    _check_keys(data, _TOP_KEYS, where, "top-level key", "known")
    if "events" not in data:
        raise UserError(f"{name}: no 'events' list; a score needs at least one event")
    raw_events = data["events"]
    if not isinstance(raw_events, list) or not raw_events:
        raise UserError(f"{where('events')}: 'events' must be a non-empty list")

    sr = data.get("sr")
    if sr is not None and (
        isinstance(sr, bool) or not isinstance(sr, int) or not SR_RANGE[0] <= sr <= SR_RANGE[1]
    ):
        raise UserError(
            f"{where('sr')}: sr must be a whole number of Hz from {SR_RANGE[0]} to {SR_RANGE[1]},"
            f" got {sr!r}"
        )

    events = [_parse_event(raw, i, name, lines) for i, raw in enumerate(raw_events)]
    for event in events:
        if isinstance(event, FileEvent):
            if check_file is not None:
                try:
                    check_file(str(event.path))
                except UserError as exc:
                    raise UserError(f"{event.where}: file {exc}") from None
            existing_file(event, folder)

    run: Path | None = None
    run_where = ""  # an override comes from the command line, not from a line of the score
    if run_override is not None:
        run = Path(run_override)
    elif data.get("run") is not None:
        if not isinstance(data["run"], str):
            raise UserError(f"{where('run')}: run must be a folder path")
        run_where = f"{where('run')}: "
        if find_run is None:
            run = folder / data["run"]
        else:
            try:
                run = find_run(data["run"])
            except UserError as exc:
                raise UserError(f"{run_where}run: {exc}") from None
    score = Score(run=run, sr=sr, events=events)
    if score.needs_model:
        if run is None:
            raise UserError(
                f"{name}: gesture and morph events need a model; add 'run: <training run folder>'"
            )
        if not run.is_dir():
            raise UserError(f"{run_where}no run folder at {run}")
    return score


class _LineIndex:
    """1-based YAML line numbers of the top-level keys, events and event fields."""

    def __init__(self, text: str):
        self._top: dict[str, int] = {}
        self._events: list[tuple[int, dict[str, int], dict[str, int]]] = []
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if not isinstance(root, yaml.MappingNode):
            return
        for key, value in root.value:
            self._top[key.value] = key.start_mark.line + 1
            if key.value == "events" and isinstance(value, yaml.SequenceNode):
                self._events = [self._event(item) for item in value.value]

    @staticmethod
    def _event(node: yaml.Node) -> tuple[int, dict[str, int], dict[str, int]]:
        fields: dict[str, int] = {}
        morph: dict[str, int] = {}
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                fields[str(key.value)] = key.start_mark.line + 1
                if key.value == "morph" and isinstance(value, yaml.MappingNode):
                    morph = {str(k.value): k.start_mark.line + 1 for k, _ in value.value}
        return node.start_mark.line + 1, fields, morph

    def top(self, key: str) -> int | None:
        return self._top.get(key)

    def event(self, index: int, key: str | None = None, morph_key: str | None = None) -> int | None:
        if index >= len(self._events):
            return None
        line, fields, morph = self._events[index]
        if morph_key is not None:
            return morph.get(morph_key, fields.get("morph", line))
        return fields.get(key, line) if key is not None else line


def _parse_event(raw: Any, index: int, name: str, lines: _LineIndex) -> Event:
    def where(key: str | None = None, morph_key: str | None = None) -> str:
        return f"{name}: event {index + 1}{_at_line(lines.event(index, key, morph_key))}"

    if not isinstance(raw, dict):
        raise UserError(f"{where()}: expected a mapping like {{at: 0.0, gesture: trigger}}")
    kinds = [k for k in _KIND_KEYS if k in raw]
    if len(kinds) != 1:
        got = " and ".join(kinds) if kinds else "none"
        raise UserError(f"{where()}: needs exactly one of gesture, morph, file; got {got}")
    kind = kinds[0]
    _check_keys(raw, _KIND_KEYS[kind], where, "field", f"a {kind} event takes")

    if "at" not in raw:
        raise UserError(f"{where()}: missing 'at' (start time in seconds)")
    at_s = _number(raw["at"], "at", where("at"))
    if not 0 <= at_s <= MAX_AT_S:
        raise UserError(
            f"{where('at')}: at must be between 0 and {MAX_AT_S:g} seconds, got {raw['at']}"
        )
    gain_db = _number(raw.get("gain_db", 0.0), "gain_db", where("gain_db"))
    if not GAIN_DB_RANGE[0] <= gain_db <= GAIN_DB_RANGE[1]:
        raise UserError(
            f"{where('gain_db')}: gain_db must be between {GAIN_DB_RANGE[0]:g} and "
            f"{GAIN_DB_RANGE[1]:g} dB, got {raw['gain_db']}"
        )
    pan = _number(raw.get("pan", 0.0), "pan", where("pan"))
    if not -1.0 <= pan <= 1.0:
        raise UserError(f"{where('pan')}: pan must be between -1 and 1, got {raw['pan']}")
    fades = {}
    for key in ("fade_in", "fade_out"):
        if key in raw:
            fades[f"{key}_s"] = _number(raw[key], key, where(key))
            if not 0.0 <= fades[f"{key}_s"] <= MAX_FADE_S:
                raise UserError(
                    f"{where(key)}: {key} must be between 0 and {MAX_FADE_S:g} seconds, "
                    f"got {raw[key]}"
                )
    common = {"at_s": at_s, "gain_db": gain_db, "pan": pan, "where": where(), **fades}

    if kind == "gesture":
        return GestureEvent(
            **common,
            category=_text(raw["gesture"], "gesture", where("gesture")),
            seed=_seed(raw.get("seed", index), where("seed")),
            stage=_stage(raw.get("stage"), where("stage")),
        )
    if kind == "file":
        return FileEvent(**common, path=Path(_text(raw["file"], "file", where("file"))))

    spec = raw["morph"]
    if not isinstance(spec, dict):
        raise UserError(f"{where('morph')}: morph must be a mapping {{from: A, to: B, steps: 6}}")
    _check_keys(spec, _MORPH_KEYS, lambda key: where(morph_key=key), "morph field", "a morph takes")
    for key in ("from", "to"):
        if key not in spec:
            raise UserError(f"{where('morph')}: morph needs '{key}' (a category)")
    steps = spec.get("steps", 6)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise UserError(
            f"{where(morph_key='steps')}: morph steps must be a whole number of at least 2, "
            f"got {steps!r}"
        )
    every_s = spec.get("every")
    if every_s is not None:
        every_s = _number(every_s, "every", where(morph_key="every"))
        if every_s <= 0:
            raise UserError(f"{where(morph_key='every')}: every must be positive seconds")
    return MorphEvent(
        **common,
        start=_text(spec["from"], "from", where(morph_key="from")),
        end=_text(spec["to"], "to", where(morph_key="to")),
        steps=steps,
        every_s=every_s,
        seed=_seed(spec.get("seed", index), where(morph_key="seed")),
        stage=_stage(raw.get("stage"), where("stage")),
    )


def _at_line(line: int | None) -> str:
    return f" (line {line})" if line is not None else ""


def _check_keys(
    mapping: dict, known: set[str], where: Callable[[str], str], label: str, takes: str
) -> None:
    """Refuse the first unknown key, suggesting the closest known one."""
    unknown = sorted(str(k) for k in mapping if k not in known)
    if not unknown:
        return
    key = unknown[0]
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise UserError(
        f"{where(key)}: unknown {label} '{key}'{hint}; {takes}: {', '.join(sorted(known))}"
    )


def _number(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UserError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def _text(value: Any, key: str, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise UserError(f"{where}: {key} must be a name, got {value!r}")
    return str(value)


def _seed(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise UserError(f"{where}: seed must be a whole number from 0 to {MAX_SEED}, got {value!r}")
    return value


def _stage(value: Any, where: str) -> str | None:
    return None if value is None else _text(value, "stage", where)


def existing_file(event: FileEvent, score_dir: Path) -> Path:
    """The file of ``event``, relative to ``score_dir``; a missing one is a ``UserError``."""
    path = score_dir / event.path
    if not path.is_file():
        raise UserError(f"{event.where}: file {event.path} not found (looked in {score_dir})")
    return path


STAGE_ALIASES = ("first", "last")
"""Stage names every model with growth stages understands: its first and its last stage (``8x4``
and ``256x128`` for the sketch preset's stft_pghi images, ``4x4`` and ``128x128`` for its
logmel_gl ones)."""


def stage_of(name: str | None, stages: tuple[str, ...]) -> str | None:
    """The model's stage a score's ``stage:`` names: ``first`` / ``last`` resolved through the
    model's ``stages`` (``last`` and no stage both mean the finished model, ``None``)."""
    if name == "first":
        return stages[0]
    return None if name == "last" else name


def check_against(score: Score, source: GestureSource | None) -> None:
    """Refuse the first event that asks ``source`` for a category or stage it does not have."""
    if source is None:
        return
    for event in score.events:
        if isinstance(event, GestureEvent | MorphEvent):
            _check_event(event, source)


def _check_event(event: GestureEvent | MorphEvent, source: GestureSource) -> None:
    if not source.categories:
        raise UserError(
            f"{event.where}: the model was trained without categories, so it cannot be asked "
            "for one; gesture and morph events need a class-conditional run"
        )
    names = [event.category] if isinstance(event, GestureEvent) else [event.start, event.end]
    for category in names:
        if category not in source.categories:
            raise UserError(
                f"{event.where}: unknown category {category!r}; "
                f"the model knows: {', '.join(source.categories)}"
            )
    if event.stage is None or event.stage == "last" or event.stage in source.stages:
        return
    if not source.stages:
        raise UserError(
            f"{event.where}: unknown stage {event.stage!r}; available: none (a model without stages)"
        )
    if event.stage != "first":
        known = ", ".join([*STAGE_ALIASES, *source.stages])
        raise UserError(f"{event.where}: unknown stage {event.stage!r}; available: {known}")


