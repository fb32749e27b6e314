"""One source file → one fixed-length clip: decode, downmix, resample, align, pad.

Only the frames a clip needs are decoded: ``align="start"`` reads the first ``length`` samples' worth
(plus a resampler margin); ``onset`` and ``peak`` first stream the file block by block to find the
event, then read the window after it. Memory per file is therefore bounded whatever its duration.

The window is resampled with a margin on both sides and starts on a frame where the input and output
sample grids coincide, so a clip equals ``resample(whole file)[offset : offset + length]`` to float
precision — the offset is exact in samples at the target rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import audio
from ..errors import UserError

ALIGN_MODES = ("start", "onset", "peak")
NORMALIZE_MODES = ("none", "peak", "rms")
DEFAULT_LEVEL_DB = {"peak": -1.0, "rms": -20.0}  # dBFS targets of ``normalize``
HOP_S = 0.005  # energy frame for onset / peak detection
ONSET_DB = -30.0  # onset: first frame whose energy is within this many dB of the loudest frame
PRE_ROLL_S = 0.01  # onset / peak: the clip starts this long before the detected frame
SILENCE_PEAK = 1e-5  # -100 dBFS: a clip quieter than this is treated as silent
RESAMPLE_MARGIN_S = 0.025  # context read on each side of the window: soxr 'HQ' needs < 10 ms
_FRAMES_PER_BLOCK = 4096  # energy frames per streamed block (20 s of audio)


class SkipFile(Exception):
    """A source file that cannot become a clip; the message is the reason, for ``errors.csv``."""


@dataclass(frozen=True)
class Clip:
    """A fitted clip and the facts ``manifest.csv`` records about it."""

    wave: np.ndarray  # [length] float32, peak ≤ 1
    offset: int  # start in the resampled file, in samples at the target rate
    orig_sr: int  # Hz
    orig_channels: int
    orig_duration_s: float
    peak: float  # linear, before the safety scaling that keeps ``wave`` within [-1, 1]
    rms: float  # linear, same convention as ``peak``


def fit_file(
    path: str,
    sr: int,
    length: int,
    align: str,
    *,
    min_duration_s: float = 0.0,
    normalize: str = "none",
    level_db: float | None = None,
) -> Clip:
    """Decode one audio file and fit it to exactly ``length`` samples at ``sr`` Hz.

    Parameters
    ----------
    path : audio file.
    sr : target rate in Hz.
    length : clip length in samples at ``sr``; shorter sources are padded with zeros at the end.
    align : ``"start"`` (from the first frame), ``"onset"`` (``PRE_ROLL_S`` before the first frame
        within ``ONSET_DB`` of the loudest one) or ``"peak"`` (``PRE_ROLL_S`` before the loudest frame).
    min_duration_s : files shorter than this (per their header) are skipped as too short.
    normalize : ``"none"``, ``"peak"`` (scale the clip to a peak of ``level_db`` dBFS) or ``"rms"``
        (scale it to an RMS of ``level_db`` dBFS, lowered where the peak would pass 0 dBFS).
    level_db : target of ``normalize`` in dBFS; ``None`` = ``DEFAULT_LEVEL_DB[normalize]``.

    Returns
    -------
    Clip : ``wave [length] float32`` within [-1, 1]; ``peak``/``rms`` are measured before any gain.

    Raises
    ------
    SkipFile : unreadable, empty, too short, silent or non-finite input; the message says which.
    """
    try:
        with audio.Reader(path) as reader:
            info = reader.info
            if info.sr <= 0:
                raise SkipFile(f"invalid sample rate {info.sr} Hz in the header")
            if info.frames == 0:
                raise SkipFile("empty (0 frames)")
            if info.duration_s < min_duration_s:
                raise SkipFile(
                    f"too short: {info.duration_s:.3f} s, under the minimum of {min_duration_s:g} s"
                )
            offset = 0 if align == "start" else _event_offset(reader, sr, align)
            wave = _read_window(reader, sr, offset, length)
    except UserError as exc:
        raise SkipFile(_reason(exc, path)) from exc
    peak = float(np.max(np.abs(wave)))
    if peak < SILENCE_PEAK:
        where = (
            f"in the first {length / sr:.2f} s (try align onset or peak)"
            if align == "start"
            else "throughout"
        )
        raise SkipFile(f"silent {where}: peak below {20 * math.log10(SILENCE_PEAK):.0f} dBFS")
    rms = math.sqrt(float(np.dot(wave, wave)) / length)
    gain = _gain(peak, rms, normalize, level_db)
    if gain != 1.0:
        wave = wave * np.float32(gain)
    return Clip(wave, offset, info.sr, info.channels, info.duration_s, peak, rms)


def _gain(peak: float, rms: float, normalize: str, level_db: float | None) -> float:
    """Linear gain for a clip of ``peak``/``rms``: the normalisation asked for, never past 0 dBFS."""
    if normalize == "none":
        return 1.0 / peak if peak > 1.0 else 1.0
    target = 10 ** ((DEFAULT_LEVEL_DB[normalize] if level_db is None else level_db) / 20)
    gain = target / (peak if normalize == "peak" else rms)
    return min(gain, 1.0 / peak)


def frame_energy(wave: np.ndarray, hop: int) -> np.ndarray:
    """Mean square of ``wave [T]`` over consecutive non-overlapping frames of ``hop`` samples.

    Returns ``[ceil(T / hop)] float64``; the last frame averages only the samples it has.
    """
    n_full = len(wave) // hop
    sq = np.square(wave, dtype=np.float64)
    energy = sq[: n_full * hop].reshape(n_full, hop).mean(axis=1)
    if len(wave) > n_full * hop:
        energy = np.append(energy, sq[n_full * hop :].mean())
    return energy


def event_frame(energy: np.ndarray, align: str) -> int:
    """Index of the frame a clip is aligned to: first onset or loudest frame of ``energy [F]``."""
    loudest = int(np.argmax(energy))
    if align == "peak":
        return loudest
    return int(np.argmax(energy >= energy[loudest] * 10 ** (ONSET_DB / 10)))


def _event_offset(reader: audio.Reader, sr: int, align: str) -> int:
    """Offset in samples at ``sr`` of the clip start for ``align`` onset or peak, streaming the file."""
    sr_in = reader.info.sr
    hop_in = max(1, round(HOP_S * sr_in))
    parts = []
    for block in reader.blocks(blocksize=hop_in * _FRAMES_PER_BLOCK):
        if not np.isfinite(block).all():
            raise SkipFile("contains NaN or infinite samples")
        parts.append(frame_energy(block, hop_in))
    energy = np.concatenate(parts) if parts else np.zeros(1)
    start_s = max(0.0, event_frame(energy, align) * hop_in / sr_in - PRE_ROLL_S)
    return round(start_s * sr)


def _read_window(reader: audio.Reader, sr: int, offset: int, length: int) -> np.ndarray:
    """``resample(file)[offset : offset + length]`` as ``[length] float32``, zero-padded at the end."""
    sr_in = reader.info.sr
    unit_in = sr_in // math.gcd(sr_in, sr)  # frames after which both sample grids coincide
    margin_in = math.ceil(RESAMPLE_MARGIN_S * sr_in)
    start_in = max(0, offset * sr_in // sr - margin_in) // unit_in * unit_in
    stop_in = -(-(offset + length) * sr_in // sr) + margin_in
    wave_in = reader.read(start=start_in, frames=stop_in - start_in)
    if not np.isfinite(wave_in).all():
        raise SkipFile("contains NaN or infinite samples")
    skip = offset - start_in * sr // sr_in  # exact: start_in is on the common grid
    wave = audio.resample(wave_in, sr_in, sr)[skip : skip + length]
    return np.pad(wave, (0, length - len(wave))) if len(wave) < length else wave


def _reason(exc: UserError, path: str) -> str:
    """The audio module's message without the path (``errors.csv`` has its own column for it).

    libsndfile's own message repeats it too (``Error opening '<path>': <why>``); only ``<why>`` is kept.
    """
    return str(exc).removeprefix(f"{path}: ").replace(f"Error opening {str(path)!r}: ", "")
