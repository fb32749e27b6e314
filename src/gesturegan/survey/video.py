"""Videos of sounds: a mel spectrogram and an envelope under a moving playhead, with the sound.

A frame (``VideoConfig.width`` x ``height`` pixels) shows, top to bottom: an optional picture (a
growth stage's sample grid, a composition's timeline), the clip's mel spectrogram and its RMS
envelope; a white playhead line crosses them in time with the audio. There is no text in the
picture, so a survey stimulus shows nothing that names its file, kind or category.

Encoded with PyAV (libav inside the wheel, no system ffmpeg): VP9 video and Opus audio in WebM,
which Chromium, Firefox and Safari play without proprietary codecs. ``lossless=True`` writes
Matroska with FLAC at the clip's own rate instead, so a test can compare the decoded audio sample
for sample.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw

from ..atomic import atomic_path

OPUS_SR = 48000  # Opus's native rate; other rates are resampled to it
_OPUS_FRAME = 960  # 20 ms at 48 kHz
_RANGE_DB = 80.0
_BACKGROUND = (18, 18, 24)
_ENVELOPE = (120, 190, 255)
_MARK = (255, 255, 255)


@dataclass(frozen=True)
class VideoConfig:
    """How a video looks and is encoded.

    ``fps`` frames per second; ``width``/``height`` in pixels (even numbers, for 4:2:0 chroma);
    ``audio_kbps`` the Opus bitrate; ``crf`` VP9's constant quality (0 best … 63 worst).
    """

    fps: int = 25
    width: int = 640
    height: int = 360
    audio_kbps: int = 128
    crf: int = 36


DEFAULT_CONFIG = VideoConfig()


@dataclass(frozen=True)
class Picture:
    """An image (``rgb: [h, w, 3] uint8``) shown above the spectrogram from ``start_s`` on.

    ``timeline``: the image spans the whole duration left to right (a composition's events), so
    the playhead crosses it too; otherwise (a sample grid) it is left clear.
    """

    start_s: float
    rgb: np.ndarray
    timeline: bool = False


def backdrop(
    wave: np.ndarray, sr: int, width: int, height: int, marks_s: Sequence[float] = ()
) -> np.ndarray:
    """The still part of a frame: mel spectrogram (top 70 %) over the RMS envelope → ``[h, w, 3]``.

    ``wave`` is ``[T]`` or ``[T, C]`` (channels averaged); ``marks_s`` draws thin grey lines at
    those times (segment boundaries). One pixel column per ``len(wave) / width`` samples.
    """
    import librosa

    mono = np.asarray(wave, dtype=np.float32)
    mono = mono.mean(axis=1) if mono.ndim == 2 else mono
    spec_h = int(height * 0.7)
    env_h = height - spec_h
    hop = max(1, math.ceil(len(mono) / width))
    mel = librosa.feature.melspectrogram(
        y=mono, sr=sr, n_fft=2048 if sr > 24000 else 1024, hop_length=hop, n_mels=96, power=2.0
    )
    db = 10.0 * np.log10(np.maximum(mel, 1e-12))
    unit = np.clip((db - (db.max() - _RANGE_DB)) / _RANGE_DB, 0.0, 1.0)[::-1]
    rgb = (colormaps["magma"](unit)[..., :3] * 255).astype(np.uint8)
    top = np.asarray(Image.fromarray(rgb).resize((width, spec_h), Image.Resampling.BILINEAR))

    n = len(mono) // hop * hop
    rms = np.sqrt(np.mean(mono[:n].reshape(-1, hop) ** 2, axis=1)) if n else np.zeros(1)
    rms = np.interp(np.linspace(0, len(rms) - 1, width), np.arange(len(rms)), rms)
    rms = rms / max(float(rms.max()), 1e-9)
    bottom = Image.new("RGB", (width, env_h), _BACKGROUND)
    draw = ImageDraw.Draw(bottom)
    mid = env_h / 2
    for x, a in enumerate(rms):
        draw.line([(x, mid - a * (mid - 2)), (x, mid + a * (mid - 2))], fill=_ENVELOPE)
    frame = np.concatenate([top, np.asarray(bottom)], axis=0)
    duration = len(mono) / sr
    for at in marks_s:
        x = int(round(at / duration * (width - 1)))
        frame[:, max(0, x - 1) : x + 1] = (110, 110, 110)
    return frame


def write_video(
    path: str | Path,
    wave: np.ndarray,
    sr: int,
    pictures: Sequence[Picture] = (),
    marks_s: Sequence[float] = (),
    config: VideoConfig = DEFAULT_CONFIG,
    lossless: bool = False,
) -> Path:
    """Write ``wave`` (``[T]`` or ``[T, C]`` float32 in [-1, 1], ``sr`` Hz) as a video (atomically).

    The video lasts ``len(wave) / sr`` seconds (frames rounded up). ``pictures`` take the upper
    part of the frame from their start on (the spectrogram gets the rest); without them the
    spectrogram and envelope fill the frame. ``lossless``: Matroska with FLAC at ``sr`` (tests),
    else WebM with VP9 and Opus at 48 kHz.
    """
    import av

    wave = np.asarray(wave, dtype=np.float32)
    channels = 1 if wave.ndim == 1 else wave.shape[1]
    w, h = config.width, config.height
    pic_h = h * 2 // 5 if pictures else 0
    base = backdrop(wave, sr, w, h - pic_h, marks_s)
    tops = [
        (p.start_s, p.timeline, _fit(p.rgb, w, pic_h))
        for p in sorted(pictures, key=lambda p: p.start_s)
    ]
    duration = len(wave) / sr
    n_frames = max(1, math.ceil(duration * config.fps))
    path = Path(path)
    with atomic_path(path) as tmp:
        container = av.open(str(tmp), mode="w", format="matroska" if lossless else "webm")
        video = container.add_stream("libvpx-vp9", rate=config.fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.options = {"crf": str(config.crf), "b": "0", "deadline": "realtime", "cpu-used": "8"}
        audio_sr = sr if lossless else OPUS_SR
        layout = "mono" if channels == 1 else "stereo"
        audio = container.add_stream("flac" if lossless else "libopus", rate=audio_sr, layout=layout)
        if not lossless:
            audio.bit_rate = config.audio_kbps * 1000
        sound = _audio_frames(wave, sr, audio_sr, lossless)
        pending = next(sound, None)
        for i in range(n_frames):
            t = i / config.fps
            if tops:
                shown = [top for top in tops if top[0] <= t + 1e-9] or tops[:1]
                frame = np.concatenate([shown[-1][2], base], axis=0)
                played_from = 0 if shown[-1][1] else pic_h
            else:
                frame, played_from = base.copy(), 0
            x = min(w - 1, int(round(t / max(duration, 1e-9) * (w - 1))))
            frame[played_from:, max(0, x - 1) : x + 1] = _MARK
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf.pts = i
            container.mux(video.encode(vf.reformat(format="yuv420p")))
            # Interleave: the sound of this frame's time follows it, so the file streams.
            while pending is not None and pending.pts < (i + 1) * audio_sr / config.fps:
                container.mux(audio.encode(pending))
                pending = next(sound, None)
        container.mux(video.encode())
        while pending is not None:
            container.mux(audio.encode(pending))
            pending = next(sound, None)
        container.mux(audio.encode())
        container.close()
    return path


def _audio_frames(wave: np.ndarray, sr: int, out_sr: int, lossless: bool) -> Iterator:
    """``wave`` as ``av.AudioFrame``s at ``out_sr``: 16-bit for FLAC, whole 20 ms float frames
    for Opus (the last one padded with silence, so the decoded sound runs at most 20 ms past the
    clip)."""
    import av

    x = wave[:, None] if wave.ndim == 1 else wave
    if out_sr != sr:
        import soxr

        x = soxr.resample(x, sr, out_sr, quality="VHQ")
    x = np.clip(x, -1.0, 1.0)
    chunk = _OPUS_FRAME if not lossless else 4096
    layout = "mono" if x.shape[1] == 1 else "stereo"
    for start in range(0, len(x), chunk):
        part = x[start : start + chunk]
        if lossless:
            data = (np.round(part * 32767.0)).astype(np.int16).reshape(1, -1)  # interleaved
            af = av.AudioFrame.from_ndarray(data, format="s16", layout=layout)
        else:
            if len(part) < chunk:
                part = np.pad(part, ((0, chunk - len(part)), (0, 0)))
            af = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(part.T, dtype=np.float32), format="fltp", layout=layout
            )
        af.sample_rate = out_sr
        af.pts = start
        af.time_base = Fraction(1, out_sr)
        yield af


def _fit(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """``rgb`` scaled to fit ``width`` x ``height``, centred on the frame's background colour."""
    img = Image.fromarray(np.asarray(rgb, dtype=np.uint8)).convert("RGB")
    scale = min(width / img.width, height / img.height)
    img = img.resize((max(1, int(img.width * scale)), max(1, int(img.height * scale))))
    canvas = Image.new("RGB", (width, height), _BACKGROUND)
    canvas.paste(img, ((width - img.width) // 2, (height - img.height) // 2))
    return np.asarray(canvas)
