"""Small in-memory media for the page: WAV bytes and spectrogram-with-waveform thumbnails."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from matplotlib import colormaps
from PIL import Image, ImageDraw

THUMB_W, SPEC_H, WAVE_H = 160, 72, 28  # pixels
_N_FFT, _RANGE_DB = 512, 80.0


def wav_bytes(wave: np.ndarray, sr: int) -> bytes:
    """``wave [T]`` or ``[T, C]`` float32 in [-1, 1] → a 16-bit PCM WAV file, in memory."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(wave, -1.0, 1.0), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def thumbnail_png(wave: np.ndarray, sr: int) -> bytes:
    """A ``THUMB_W`` pixel wide PNG: log spectrogram (0 to ``sr/2``, 80 dB range) over the waveform.

    ``wave`` is ``[T]`` float32. Drawn with numpy and Pillow (no matplotlib figure), so a page of
    thumbnails costs milliseconds each.
    """
    wave = np.asarray(wave, dtype=np.float32)
    hop = max(1, len(wave) // THUMB_W)
    spec = _log_spec(wave, hop)[:, :THUMB_W]  # (freq, frames)
    rgb = (colormaps["magma"](spec)[..., :3] * 255).astype(np.uint8)
    top = Image.fromarray(rgb[::-1]).resize((THUMB_W, SPEC_H), Image.Resampling.BILINEAR)

    bottom = Image.new("RGB", (THUMB_W, WAVE_H), (250, 250, 250))
    draw = ImageDraw.Draw(bottom)
    n = len(wave) // THUMB_W * THUMB_W
    if n:
        cols = np.abs(wave[:n]).reshape(THUMB_W, -1).max(axis=1)
        mid = WAVE_H / 2
        for x, a in enumerate(np.clip(cols, 0, 1)):
            draw.line([(x, mid - a * mid), (x, mid + a * mid)], fill=(40, 90, 160))
    out = Image.new("RGB", (THUMB_W, SPEC_H + WAVE_H))
    out.paste(top, (0, 0))
    out.paste(bottom, (0, SPEC_H))
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _log_spec(wave: np.ndarray, hop: int) -> np.ndarray:
    """``[freq, frames]`` magnitude in dB mapped to [0, 1] over ``_RANGE_DB`` below the peak."""
    padded = np.pad(wave, (_N_FFT // 2, _N_FFT // 2))
    starts = np.arange(0, max(1, len(padded) - _N_FFT + 1), hop)
    frames = np.stack([padded[s : s + _N_FFT] for s in starts]) * np.hanning(_N_FFT)
    mag = np.abs(np.fft.rfft(frames, axis=1)).T
    db = 20.0 * np.log10(np.maximum(mag, 1e-8))
    return np.clip((db - (db.max() - _RANGE_DB)) / _RANGE_DB, 0.0, 1.0)
