"""A score rendered to a stereo mix: generated gestures, morphs and sound files placed in time.

Rendering is deterministic: the same score and model give a byte-identical WAV.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import audio
from ..atomic import write_text
from ..errors import UserError
from .score import (
    Event,
    FileEvent,
    GestureEvent,
    GestureSource,
    MorphEvent,
    Score,
    check_against,
    existing_file,
    load_score,
    stage_of,
)

DEFAULT_SR = 22050
PEAK_DB = -1.0  # the mix is scaled down so that its peak sits here when it would go above
# A generated clip ends where the model's window ends, mid-waveform: that cut side fades out over
# FADE_S so it does not click. Nothing else fades unless the score asks (``fade_in``/``fade_out``):
# an onset is the sound, and a fade-in would blur every trigger.
FADE_S = 0.005
# Longest mix, in frames: 2**24 frames of 16-bit stereo is a 64 MiB WAV (and a 256 MiB float64
# buffer while mixing); 6 min 20 s at 44.1 kHz, 12 min 40 s at 22.05 kHz.
MAX_MIX_FRAMES = 2**24


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


# ---------------------------------------------------------------------------------- rendering
def render(score: Score, source: GestureSource | None, score_dir: Path) -> Mix:
    """Render ``score`` to a stereo mix.

    Each event's clips are scaled by ``gain_db``, panned with constant power (``pan`` -1 left,
    0 centre at -3 dB per side, +1 right) and added from sample ``round(at_s * sr)`` on, their
    first sample at full level. Fades: only those the event asks for (``fade_in_s``,
    ``fade_out_s``), and a ``FADE_S`` fade-out at the end of a generated clip (where the model's
    window cuts it). The mix lasts until the last clip ends, at most ``MAX_MIX_FRAMES``. When its
    peak exceeds ``PEAK_DB`` the whole mix is scaled down to it (``gain_db_applied``).

    Parameters
    ----------
    score : from ``load_score``.
    source : the model; may be None when the score has only file events.
    score_dir : folder that ``file`` paths are relative to.

    Returns
    -------
    Mix with ``stereo [T, 2] float32`` at ``sr`` = ``mix_rate(score, source, score_dir)``.

    Raises
    ------
    UserError
        An event names a category or stage the model does not have, a file is missing or holds
        a non-finite sample (NaN or infinity), or the mix would be longer than ``MAX_MIX_FRAMES``.
    """
    if source is None and score.needs_model:
        raise UserError("this score has gesture or morph events, so it needs a model")
    sr = mix_rate(score, source, score_dir)
    check_against(score, source)
    check_length(score, source, score_dir)

    placed: list[tuple[int, np.ndarray, Event]] = []  # (start sample, clip [T], event)
    summary: list[dict[str, Any]] = []
    for event in score.events:
        start = round(event.at_s * sr)
        clips = _clips(event, source, sr, score_dir)
        end = max(start + off + len(clip) for off, clip in clips)
        fade_in_s, fade_out_s = _fades(event)
        placed.extend(
            (start + off, _faded(clip, sr, fade_in_s, fade_out_s), event) for off, clip in clips
        )
        summary.append(
            {
                "kind": _KIND_NAMES[type(event)],
                "at_s": event.at_s,
                "start_sample": start,
                "duration_s": round((end - start) / sr, 6),
                "gain_db": event.gain_db,
                "pan": event.pan,
                "fade_in_s": fade_in_s,
                "fade_out_s": fade_out_s,
                "detail": _detail(event),
            }
        )

    total = max(start + len(clip) for start, clip, _ in placed)
    mix = np.zeros((total, 2), dtype=np.float64)  # many overlapping clips: sum in float64
    for start, clip, event in placed:
        theta = (event.pan + 1.0) * math.pi / 4.0
        gains = 10.0 ** (event.gain_db / 20.0) * np.array([math.cos(theta), math.sin(theta)])
        mix[start : start + len(clip)] += clip[:, None] * gains[None, :]

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


def mix_rate(score: Score, source: GestureSource | None, score_dir: Path) -> int:
    """The rate in Hz a score mixes at: its ``sr``; else the highest of the model's rate and its
    files' rates (read from their headers), so that nothing it places loses its top by default;
    else ``DEFAULT_SR``."""
    if score.sr:
        return score.sr
    rates = [source.sr] if source is not None else []
    rates += [
        audio.info(existing_file(e, score_dir)).sr for e in score.events if isinstance(e, FileEvent)
    ]
    return max(rates, default=DEFAULT_SR)


def check_length(score: Score, source: GestureSource | None, score_dir: Path) -> None:
    """Refuse a score whose mix would be longer than ``MAX_MIX_FRAMES``, naming the first event
    that ends too late; from the file headers and the model's clip length, before anything is
    generated or loaded. ``source`` may be None when the score has only file events."""
    sr = mix_rate(score, source, score_dir)
    for event in score.events:
        start = round(event.at_s * sr)
        if isinstance(event, FileEvent):
            end = start + math.ceil(audio.info(existing_file(event, score_dir)).duration_s * sr)
        else:
            assert source is not None  # render() refuses model events without a source
            clip = math.ceil(source.length * sr / source.sr)
            end = start + clip
            if isinstance(event, MorphEvent):
                end += round((event.steps - 1) * _every_s(event, source) * sr)
        if end > MAX_MIX_FRAMES:
            raise UserError(
                f"{event.where}: the mix would last {end / sr:.0f} s; a mix is at most "
                f"{MAX_MIX_FRAMES} frames ({MAX_MIX_FRAMES / sr:.0f} s at {sr} Hz)"
            )


def _every_s(event: MorphEvent, source: GestureSource) -> float:
    """Seconds between a morph's steps: as asked, else one clip (back to back)."""
    return event.every_s if event.every_s is not None else source.length / source.sr


def _clips(
    event: Event, source: GestureSource | None, sr: int, score_dir: Path
) -> list[tuple[int, np.ndarray]]:
    """The event's clips ``[T]`` float32 at ``sr``, each with its offset in samples from ``at``.

    Model clips come at the model's rate and are resampled to ``sr`` (never played at another
    rate, which would shift their pitch and length). A non-finite sample is refused: one NaN
    would make the mix's peak NaN and defeat the normalisation.
    """
    if isinstance(event, FileEvent):
        # checked at its own rate: resampling would smear one NaN over many samples
        wave, file_sr = audio.load(existing_file(event, score_dir))
        if len(wave) == 0:
            raise UserError(f"{event.where}: file {event.path} holds no audio")
        return [(0, audio.resample(_finite(wave, event, f"file {event.path}"), file_sr, sr))]
    assert source is not None  # render() refuses model events without a source
    if isinstance(event, GestureEvent):
        waves = [source.sample(event.category, event.seed, stage_of(event.stage, source.stages))]
        every_s = 0.0
    else:
        assert isinstance(event, MorphEvent)
        every_s = _every_s(event, source)
        stage = stage_of(event.stage, source.stages)
        waves = source.morph(event.start, event.end, event.steps, event.seed, stage)
    return [
        (
            round(k * every_s * sr),
            audio.resample(_finite(np.asarray(w, np.float32), event, "the model"), source.sr, sr),
        )
        for k, w in enumerate(waves)
    ]


def _finite(wave: np.ndarray, event: Event, what: str) -> np.ndarray:
    """``wave`` unchanged, or a ``UserError`` naming the event when a sample is NaN or infinite."""
    bad = ~np.isfinite(wave)
    if bad.any():
        raise UserError(
            f"{event.where}: {what} gave {int(bad.sum())} non-finite samples (NaN or infinity), "
            f"the first at {int(np.argmax(bad))}; a mix of them cannot be levelled"
        )
    return wave


def _fades(event: Event) -> tuple[float, float]:
    """Seconds of fade-in and fade-out for the clips of ``event``: what the score asks, else none
    at the start and ``FADE_S`` at the end of a generated clip (its cut side)."""
    default_out = 0.0 if isinstance(event, FileEvent) else FADE_S
    fade_in = event.fade_in_s if event.fade_in_s is not None else 0.0
    return fade_in, event.fade_out_s if event.fade_out_s is not None else default_out


def _faded(clip: np.ndarray, sr: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    """``clip [T]`` as float64 with raised-cosine fades of the given lengths (each at most the
    clip); without fades every sample keeps its level, the first included."""
    out = clip.astype(np.float64)
    for seconds, head in ((fade_in_s, True), (fade_out_s, False)):
        n = min(round(seconds * sr), len(out))
        if n > 0:
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
            if head:
                out[:n] *= ramp
            else:
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
            from .. import generation

            load_source = generation.load
        source = load_source(score.run)
    mix = render(score, source, score_path.parent)
    save_mix(mix, out_path, str(score_path), score.run)
    return mix


def save_mix(mix: Mix, out_path: str | Path, score_name: str, run: Path | None) -> Path:
    """Write ``mix`` as a 16-bit stereo WAV at ``out_path`` and its JSON sidecar beside it (both
    atomically); the sidecar names the score and run it came from. Returns the WAV's path."""
    out_path = Path(out_path)
    audio.write(out_path, mix.stereo, mix.sr)
    sidecar = {
        "score": score_name,
        "run": str(run) if run is not None else None,
        "wav": out_path.name,
        "sr": mix.sr,
        "duration_s": round(mix.duration_s, 6),
        "peak_before": round(mix.peak_before, 6),
        "gain_db_applied": round(mix.gain_db_applied, 3),
        "events": mix.events,
    }
    # allow_nan=False: the sidecar is strict JSON (render refuses non-finite audio before this)
    write_text(sidecar_path(out_path), json.dumps(sidecar, indent=2, allow_nan=False) + "\n")
    return out_path


def sidecar_path(out_path: str | Path) -> Path:
    """Where ``compose`` writes the JSON sidecar of the mix ``out_path``: ``<out_path>.json``."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.name + ".json")
