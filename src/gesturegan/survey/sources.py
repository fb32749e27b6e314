"""What ``gesturegan video`` films: a clip, a composition, a run's growth or a morph.

Each ``*_video`` function gathers the sound (levelled to one loudness, ``loudness``) and the
pictures shown with it, and writes the video with ``video.write_video``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .. import audio
from ..errors import UserError
from ..runs import Run
from . import loudness
from .video import DEFAULT_CONFIG, Picture, VideoConfig, write_video

GAP_S = 0.25  # silence between the clips of one growth stage
_KIND_COLOURS = {"gesture": (235, 120, 80), "morph": (120, 200, 120), "file": (110, 160, 240)}


def levelled(wave: np.ndarray, sr: int) -> np.ndarray:
    """``wave`` at ``loudness.TARGET_LUFS``, or lower where its peak would pass the ceiling."""
    return loudness.level(wave, sr, loudness.common_level([wave], sr))[0]


def clip_video(path: str | Path, out: str | Path, config: VideoConfig = DEFAULT_CONFIG) -> Path:
    """A sound file's video. A mix from ``gesturegan compose`` (its ``.wav.json`` sidecar beside
    it) gets its timeline of events above the spectrogram; any other file just the spectrogram."""
    path = Path(path)
    sidecar = path.with_name(path.name + ".json")
    if sidecar.is_file():
        try:
            events = json.loads(sidecar.read_text())["events"]
        except (ValueError, KeyError, TypeError):
            events = None
        if isinstance(events, list):
            return composition_video(path, events, out, config)
    wave, sr = audio.load(path)
    return write_video(out, levelled(wave, sr), sr, config=config)


def composition_video(
    path: str | Path, events: list[dict], out: str | Path, config: VideoConfig = DEFAULT_CONFIG
) -> Path:
    """A mix's video (stereo kept) with its events as bars on a timeline above the spectrogram."""
    import soundfile as sf

    try:
        stereo, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise UserError(f"{path}: not readable audio") from exc
    duration = len(stereo) / sr
    picture = timeline(events, duration, config.width, config.height * 2 // 5)
    return write_video(
        out, levelled(stereo, sr), sr, [Picture(0.0, picture, timeline=True)], config=config
    )


def timeline(events: list[dict], duration_s: float, width: int, height: int) -> np.ndarray:
    """Events (``kind, at_s, duration_s``) as bars in lanes, time left to right → ``[h, w, 3]``.

    An event takes the first lane free at its start; colours tell gestures, morphs and files apart.
    """
    lanes: list[float] = []  # end time of the last event in each lane
    placed = []
    for ev in sorted(events, key=lambda e: float(e.get("at_s", 0.0))):
        start, length = float(ev.get("at_s", 0.0)), float(ev.get("duration_s", 0.0))
        lane = next((i for i, end in enumerate(lanes) if end <= start), len(lanes))
        if lane == len(lanes):
            lanes.append(0.0)
        lanes[lane] = start + length
        placed.append((lane, start, length, _KIND_COLOURS.get(ev.get("kind"), (200, 200, 200))))
    img = Image.new("RGB", (width, height), (18, 18, 24))
    draw = ImageDraw.Draw(img)
    lane_h = (height - 8) / max(1, len(lanes))
    scale = (width - 1) / max(duration_s, 1e-9)
    for lane, start, length, colour in placed:
        y0 = 4 + lane * lane_h
        box = [start * scale, y0 + 1, max(start * scale + 2, (start + length) * scale), y0 + lane_h - 2]
        draw.rounded_rectangle(box, radius=3, fill=colour)
    return np.asarray(img)


def growth_video(run_dir: str | Path, out: str | Path, config: VideoConfig = DEFAULT_CONFIG) -> Path:
    """A run's growth: each stage's last sample grid (as in ``progress.gif``) shown while that
    stage's snapshot clips play, youngest stage first; every stage levelled to one loudness."""
    run = Run.open(run_dir)
    snaps = [s for s in run.snapshots() if s.audio]
    if not snaps:
        raise UserError(f"{run.path.name}: no snapshot audio yet (train it past its first snapshot)")
    sr = audio.info(snaps[0].audio[0]).sr
    stages = []
    for snap in snaps:
        gap = np.zeros(int(GAP_S * sr), dtype=np.float32)
        parts = []
        for wav in snap.audio:
            parts += [audio.load(wav, sr=sr)[0], gap]
        stages.append(np.concatenate(parts))
    common = loudness.common_level(stages, sr)
    stages = [loudness.level(s, sr, common)[0] for s in stages]
    starts = np.cumsum([0] + [len(s) for s in stages])[:-1] / sr
    pictures = [
        Picture(float(at), np.asarray(Image.open(s.grid).convert("RGB")))
        for at, s in zip(starts, snaps, strict=True)
    ]
    return write_video(
        out, np.concatenate(stages), sr, pictures, marks_s=list(starts[1:]), config=config
    )


def morph_video(
    gen, start: str, end: str, out: str | Path, steps: int = 8, seed: int = 0,
    config: VideoConfig = DEFAULT_CONFIG,
) -> Path:  # fmt: skip
    """A morph of generator ``gen`` (``generation.Generator``) from category ``start`` to ``end``
    in ``steps`` stops, cross-faded, with marks between the stops."""
    from ..generation import crossfade_concat

    waves = gen.morph(start, end, steps, seed)
    fade = int(0.1 * gen.sr)
    whole = crossfade_concat(np.asarray(waves), fade)
    hop = (len(waves[0]) - min(fade, len(waves[0]) // 2)) / gen.sr
    marks = [i * hop for i in range(1, steps)]
    return write_video(out, levelled(whole, gen.sr), gen.sr, marks_s=marks, config=config)


def video(
    source: str | Path, out: str | Path, morph: tuple[str, str] | None = None, steps: int = 8,
    seed: int = 0, device: str = "cpu", config: VideoConfig = DEFAULT_CONFIG,
) -> Path:  # fmt: skip
    """``gesturegan video``: a run folder → its growth (or a morph with ``morph=(from, to)``);
    a sound file → its video (with the timeline when it is a mix)."""
    source = Path(source)
    if not source.exists():
        raise UserError(f"{source}: no such file or run folder")
    if source.is_dir():
        if morph is not None:
            from ..generation import load

            return morph_video(load(source, device), *morph, out, steps, seed, config)
        return growth_video(source, out, config)
    if morph is not None:
        raise UserError("--morph needs a run folder, not a sound file")
    return clip_video(source, out, config)
