"""Scores rendered to a stereo mix: generated gestures, morphs and sound files placed in time.

A score is a YAML file (see ``docs``/DESIGN.md, "Score file")::

    run: runs/demo            # model to draw gestures from (relative to the score file)
    sr: 22050                 # optional; default: the model's rate, else 22050 Hz
    events:
      - {at: 0.0, gesture: trigger, seed: 3, gain_db: -6, pan: -0.5, stage: 4x4}
      - {at: 1.5, morph: {from: trigger, to: continuous_variation, steps: 6, every: 0.4}, pan: 0.3}
      - {at: 4.0, file: sounds/bell.wav, gain_db: -3}

Events are numbered from 1 in messages, as a reader counts them; the default ``seed`` of a gesture
or morph is the event's position in the list counted from 0. Rendering is deterministic: the same score
and model give a byte-identical WAV.

The model side is anything that satisfies ``GestureSource`` (``gesturegan.generation.load`` returns
one); tests use a small fake.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from . import audio
from .atomic import write_text
from .config import load_yaml
from .errors import UserError

DEFAULT_SR = 22050
PEAK_DB = -1.0  # the mix is scaled down so that its peak sits here when it would go above
MAX_AT_S = 3600.0  # an event starting later is a typo (ms for s?), not a piece: refuse it
FADE_S = 0.005  # fade at both ends of every placed clip, so clips cut mid-waveform do not click
DEMO_SCORE_PATH = Path(__file__).parent / "data" / "demo_score.yaml"

_COMMON_KEYS = {"at", "gain_db", "pan"}
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
    """Fields every event has: start ``at_s`` (s), ``gain_db`` (dB), ``pan`` in [-1, 1].

    ``where`` prefixes messages about the event, e.g. ``"score.yaml: event 3 (line 7)"``.
    """

    at_s: float
    gain_db: float = 0.0
    pan: float = 0.0
    where: str = "event"


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


@dataclass
class Mix:
    """A rendered score.

    Attributes
    ----------
    stereo : [T, 2] float32, peak at most -1 dBFS.
    sr : rate in Hz.
    gain_db_applied : normalisation gain in dB (0.0 when the mix did not need it, else negative).
    peak_before : linear peak of the mix before normalisation.
    events : one dict per event: ``kind, at_s, duration_s, gain_db, pan, detail``.
    """

    stereo: np.ndarray
    sr: int
    gain_db_applied: float
    peak_before: float
    events: list[dict[str, Any]]

    @property
    def duration_s(self) -> float:
        """Length of the mix in seconds."""
        return self.stereo.shape[0] / self.sr


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
    data = load_yaml(path)
    lines = _LineIndex(path.read_text(encoding="utf-8"))
    name = path.name

    def where(key: str) -> str:
        return f"{name}{_at_line(lines.top(key))}"

    _check_keys(data, _TOP_KEYS, where, "top-level key", "known")
    if "events" not in data:
        raise UserError(f"{name}: no 'events' list; a score needs at least one event")
    raw_events = data["events"]
    if not isinstance(raw_events, list) or not raw_events:
        raise UserError(f"{where('events')}: 'events' must be a non-empty list")

    sr = data.get("sr")
    if sr is not None and (isinstance(sr, bool) or not isinstance(sr, int) or sr <= 0):
        raise UserError(f"{where('sr')}: sr must be a positive whole number of Hz, got {sr!r}")

    events = [_parse_event(raw, i, name, lines) for i, raw in enumerate(raw_events)]
    for event in events:
        if isinstance(event, FileEvent):
            _existing_file(event, path.parent)

    run: Path | None = None
    run_where = ""  # an override comes from the command line, not from a line of the score
    if run_override is not None:
        run = Path(run_override)
    elif data.get("run") is not None:
        if not isinstance(data["run"], str):
            raise UserError(f"{where('run')}: run must be a folder path")
        run = path.parent / data["run"]
        run_where = f"{where('run')}: "
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
    pan = _number(raw.get("pan", 0.0), "pan", where("pan"))
    if not -1.0 <= pan <= 1.0:
        raise UserError(f"{where('pan')}: pan must be between -1 and 1, got {raw['pan']}")
    common = {"at_s": at_s, "gain_db": gain_db, "pan": pan, "where": where()}

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
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UserError(f"{where}: seed must be a whole number 0 or more, got {value!r}")
    return value


def _stage(value: Any, where: str) -> str | None:
    return None if value is None else _text(value, "stage", where)


def _existing_file(event: FileEvent, score_dir: Path) -> Path:
    path = score_dir / event.path
    if not path.is_file():
        raise UserError(f"{event.where}: file {event.path} not found (looked in {score_dir})")
    return path


# ---------------------------------------------------------------------------------- rendering
def render(score: Score, source: GestureSource | None, score_dir: Path) -> Mix:
    """Render ``score`` to a stereo mix.

    Each event's clips are faded in and out over ``FADE_S``, scaled by ``gain_db``, panned with
    constant power (``pan`` -1 left, 0 centre at -3 dB per side, +1 right) and added at sample
    ``round(at_s * sr)``. The mix lasts until the last clip ends. When its peak exceeds ``PEAK_DB``
    the whole mix is scaled down to it.

    Parameters
    ----------
    score : from ``load_score``.
    source : the model; may be None when the score has only file events.
    score_dir : folder that ``file`` paths are relative to.

    Returns
    -------
    Mix with ``stereo [T, 2] float32`` at ``sr`` = the score's ``sr``, else the model's, else 22050.

    Raises
    ------
    UserError
        An event names a category or stage the model does not have, or a file is missing.
    """
    if source is None and score.needs_model:
        raise UserError("this score has gesture or morph events, so it needs a model")
    sr = score.sr or (source.sr if source is not None else DEFAULT_SR)
    for event in score.events:
        _check_against_source(event, source)

    placed: list[tuple[int, np.ndarray, Event]] = []  # (start sample, clip [T], event)
    summary: list[dict[str, Any]] = []
    for event in score.events:
        clips = _clips(event, source, sr, score_dir)
        start = round(event.at_s * sr)
        end = max(start + off + len(clip) for off, clip in clips)
        placed.extend((start + off, clip, event) for off, clip in clips)
        summary.append(
            {
                "kind": _KIND_NAMES[type(event)],
                "at_s": event.at_s,
                "duration_s": round((end - start) / sr, 6),
                "gain_db": event.gain_db,
                "pan": event.pan,
                "detail": _detail(event),
            }
        )

    total = max(start + len(clip) for start, clip, _ in placed)
    mix = np.zeros((total, 2), dtype=np.float64)  # many overlapping clips: sum in float64
    for start, clip, event in placed:
        theta = (event.pan + 1.0) * math.pi / 4.0
        gains = 10.0 ** (event.gain_db / 20.0) * np.array([math.cos(theta), math.sin(theta)])
        mix[start : start + len(clip)] += _faded(clip, sr)[:, None] * gains[None, :]

    peak_before = float(np.abs(mix).max()) if total else 0.0
    ceiling = 10.0 ** (PEAK_DB / 20.0)
    gain_db_applied = 0.0
    if peak_before > ceiling:
        mix *= ceiling / peak_before
        gain_db_applied = 20.0 * math.log10(ceiling / peak_before)
    return Mix(
        stereo=mix.astype(np.float32),
        sr=sr,
        gain_db_applied=gain_db_applied,
        peak_before=peak_before,
        events=summary,
    )


_KIND_NAMES = {GestureEvent: "gesture", MorphEvent: "morph", FileEvent: "file"}


def _check_against_source(event: Event, source: GestureSource | None) -> None:
    if source is None or not isinstance(event, GestureEvent | MorphEvent):
        return
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
    if event.stage is not None and event.stage not in source.stages:
        known = ", ".join(source.stages) if source.stages else "none (a model without stages)"
        raise UserError(f"{event.where}: unknown stage {event.stage!r}; available: {known}")


def _clips(
    event: Event, source: GestureSource | None, sr: int, score_dir: Path
) -> list[tuple[int, np.ndarray]]:
    """The event's clips ``[T]`` float32 at ``sr``, each with its offset in samples from ``at``."""
    if isinstance(event, FileEvent):
        wave, _ = audio.load(_existing_file(event, score_dir), sr=sr)
        if len(wave) == 0:
            raise UserError(f"{event.where}: file {event.path} holds no audio")
        return [(0, wave)]
    assert source is not None  # render() refuses model events without a source
    if isinstance(event, GestureEvent):
        wave = source.sample(event.category, event.seed, event.stage)
        return [(0, audio.resample(np.asarray(wave, np.float32), source.sr, sr))]
    assert isinstance(event, MorphEvent)
    waves = source.morph(event.start, event.end, event.steps, event.seed, event.stage)
    every_s = event.every_s if event.every_s is not None else source.length / source.sr
    return [
        (round(k * every_s * sr), audio.resample(np.asarray(w, np.float32), source.sr, sr))
        for k, w in enumerate(waves)
    ]


def _faded(clip: np.ndarray, sr: int) -> np.ndarray:
    """``clip [T]`` with raised-cosine fades of ``FADE_S`` (at most a quarter each) at both ends."""
    n = min(round(FADE_S * sr), len(clip) // 4)
    out = clip.astype(np.float64)
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
        out[:n] *= ramp
        out[-n:] *= ramp[::-1]
    return out


def _detail(event: Event) -> str:
    stage = f", stage {event.stage}" if getattr(event, "stage", None) else ""
    if isinstance(event, GestureEvent):
        return f"{event.category}, seed {event.seed}{stage}"
    if isinstance(event, MorphEvent):
        every = "back to back" if event.every_s is None else f"every {event.every_s:g} s"
        return (
            f"{event.start} -> {event.end}, {event.steps} steps {every}, seed {event.seed}{stage}"
        )
    assert isinstance(event, FileEvent)
    return str(event.path)


# ---------------------------------------------------------------------------------- command
def compose(
    score_path: str | Path,
    out_path: str | Path,
    load_source: Callable[[Path], GestureSource] | None = None,
    run_override: str | Path | None = None,
) -> Mix:
    """Render a score file to a 16-bit stereo WAV plus a JSON sidecar.

    Parameters
    ----------
    score_path : the score YAML.
    out_path : the WAV to write (atomically). The sidecar ``<out_path>.json`` goes beside it
        (``mix.wav`` → ``mix.wav.json``): the events placed, the normalisation gain and the peak.
    load_source : ``run_dir -> GestureSource``; default ``gesturegan.generation.load``. Only called
        when the score has gesture or morph events.
    run_override : model run folder used instead of the score's ``run:``.

    Returns
    -------
    The rendered Mix.

    Examples
    --------
    >>> mix = compose("examples/score.yaml", "mix.wav")  # doctest: +SKIP
    >>> print(f"{mix.duration_s:.1f} s, normalised by {mix.gain_db_applied:.1f} dB")  # doctest: +SKIP
    """
    score_path, out_path = Path(score_path), Path(out_path)
    score = load_score(score_path, run_override)
    source = None
    if score.needs_model:
        assert score.run is not None  # load_score guarantees it
        if load_source is None:
            from . import generation

            load_source = generation.load
        source = load_source(score.run)
    mix = render(score, source, score_path.parent)
    audio.write(out_path, mix.stereo, mix.sr)
    sidecar = {
        "score": str(score_path),
        "run": str(score.run) if score.run is not None else None,
        "wav": out_path.name,
        "sr": mix.sr,
        "duration_s": round(mix.duration_s, 6),
        "peak_before": round(mix.peak_before, 6),
        "gain_db_applied": round(mix.gain_db_applied, 3),
        "events": mix.events,
    }
    write_text(sidecar_path(out_path), json.dumps(sidecar, indent=2) + "\n")
    return mix


def sidecar_path(out_path: str | Path) -> Path:
    """Where ``compose`` writes the JSON sidecar of the mix ``out_path``: ``<out_path>.json``."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.name + ".json")
