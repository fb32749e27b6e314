"""Audio file I/O and resampling: small pure functions around soundfile and soxr.

Conventions: a mono clip is ``wave: [T] float32`` in [-1, 1]; a batch is ``[B, T]``; a stereo mix is
``[T, 2]`` (soundfile's frame-major layout); ``sr`` is in Hz.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .atomic import atomic_path
from .errors import UserError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".mp3")
MAX_SR = 768_000  # Hz: the highest rate audio interfaces record at
MAX_CLIP_LENGTH = 2**24  # samples per clip: 6 min 20 s at 44.1 kHz, 64 MiB as float32


def check_clip_format(sr: int, length: int) -> None:
    """Refuse a clip rate ``sr`` (Hz) or ``length`` (samples) outside 1..``MAX_SR`` and
    1..``MAX_CLIP_LENGTH``, before anything is allocated or written.

    Raises
    ------
    UserError : naming the value and its range.
    """
    if not 1 <= sr <= MAX_SR:
        raise UserError(f"sr must be 1 to {MAX_SR} Hz, got {sr}")
    if not 1 <= length <= MAX_CLIP_LENGTH:
        raise UserError(
            f"length must be 1 to {MAX_CLIP_LENGTH} samples (6 min 20 s at 44.1 kHz), got {length}"
        )


@dataclass(frozen=True)
class AudioInfo:
    """What the file header says: rate in Hz, channel count, length in frames and seconds."""

    sr: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sr if self.sr else 0.0


def info(path: str | os.PathLike) -> AudioInfo:
    """Read the header of an audio file; raises ``UserError`` when it is not readable audio."""
    try:
        i = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for unreadable files
        raise UserError(f"{path}: not readable audio ({_short(exc)})") from exc
    return AudioInfo(sr=int(i.samplerate), channels=int(i.channels), frames=int(i.frames))


def load(
    path: str | os.PathLike, sr: int | None = None, start: int = 0, frames: int = -1
) -> tuple[np.ndarray, int]:
    """Load an audio file as mono float32, optionally resampled.

    Parameters
    ----------
    path : audio file (anything libsndfile reads).
    sr : target rate in Hz; ``None`` keeps the file's rate.
    start, frames : which frames to read, in the file's own rate (``frames=-1``: to the end).

    Returns
    -------
    wave : [T] float32, the channel mean.
    sr : its rate in Hz.
    """
    try:
        data, file_sr = sf.read(
            str(path), start=start, frames=frames, dtype="float32", always_2d=True
        )
    except Exception as exc:
        raise UserError(f"{path}: not readable audio ({_short(exc)})") from exc
    wave = downmix(data)
    if sr is not None and sr != file_sr:
        wave = resample(wave, file_sr, sr)
        file_sr = sr
    return np.ascontiguousarray(wave, dtype=np.float32), int(file_sr)


def blocks(path: str | os.PathLike, blocksize: int) -> Iterator[np.ndarray]:
    """Stream an audio file as consecutive mono blocks, so long files never sit whole in memory.

    Parameters
    ----------
    path : audio file (anything libsndfile reads).
    blocksize : frames per block; the last block may be shorter.

    Yields
    ------
    wave : [blocksize] float32, the channel mean, at the file's own rate.

    Raises ``UserError`` when the file cannot be read, at whichever block that happens.
    """
    try:
        for data in sf.blocks(str(path), blocksize=blocksize, dtype="float32", always_2d=True):
            yield downmix(data)
    except Exception as exc:  # soundfile raises several types for unreadable files
        raise UserError(f"{path}: not readable audio ({_short(exc)})") from exc


class Reader:
    """An audio file held open: its header (``info``) and mono reads of any frame range.

    One open per file serves the header, a streamed scan and a window read, which matters when
    thousands of short files are read. Raises ``UserError`` when the file is not readable audio.

    >>> with Reader("a.wav") as r:  # doctest: +SKIP
    ...     wave = r.read(start=0, frames=r.info.sr)  # the first second, [T] float32
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path
        try:
            self._f = sf.SoundFile(str(path))
        except Exception as exc:  # soundfile raises several types for unreadable files
            raise UserError(f"{path}: not readable audio ({_short(exc)})") from exc
        f = self._f
        self.info = AudioInfo(sr=int(f.samplerate), channels=int(f.channels), frames=int(f.frames))

    def read(self, start: int = 0, frames: int = -1) -> np.ndarray:
        """Frames ``[start, start + frames)`` (``-1``: to the end) as ``[T] float32``, channel mean."""
        try:
            self._f.seek(min(start, self.info.frames))
            return downmix(self._f.read(frames, dtype="float32", always_2d=True))
        except Exception as exc:
            raise UserError(f"{self.path}: not readable audio ({_short(exc)})") from exc

    def blocks(self, blocksize: int) -> Iterator[np.ndarray]:
        """The whole file as consecutive mono blocks of ``blocksize`` frames (see ``blocks``)."""
        try:
            self._f.seek(0)
            for data in self._f.blocks(blocksize, dtype="float32", always_2d=True):
                yield downmix(data)
        except Exception as exc:
            raise UserError(f"{self.path}: not readable audio ({_short(exc)})") from exc

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def downmix(data: np.ndarray) -> np.ndarray:
    """The channel mean of ``data: [T, C]`` as ``[T] float32``.

    Adds whole channels rather than calling ``data.mean(axis=1)``: a reduction across the short,
    strided channel axis is about ten times slower, and it ran once per file in ``prepare``.
    """
    if data.shape[1] == 1:
        return np.ascontiguousarray(data[:, 0], dtype=np.float32)
    wave = data[:, 0].astype(np.float32)  # a contiguous copy
    for c in range(1, data.shape[1]):
        wave += data[:, c]
    wave *= np.float32(1 / data.shape[1])
    return wave


def resample(wave: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """High-quality band-limited resampling of ``wave: [T]`` (soxr, 'HQ')."""
    if sr_in == sr_out:
        return wave.astype(np.float32, copy=False)
    return soxr.resample(wave.astype(np.float32, copy=False), sr_in, sr_out, quality="HQ")


def write(path: str | os.PathLike, wave: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    """Write ``wave`` ([T] mono or [T, C]) as WAV atomically; values are clipped to [-1, 1]."""
    path = Path(path)
    data = np.clip(np.nan_to_num(np.asarray(wave, dtype=np.float32)), -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, int(sr), subtype=subtype, format="WAV")
    return path


def is_audio_file(path: str | os.PathLike) -> bool:
    """True when the file name has one of the extensions ``prepare`` reads."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
