"""The energy envelope and the spectral measurements of a signal, frame by frame.

``envelope`` is the RMS level in dB of short centred frames; ``analyse`` measures the same frames'
level, spectral energy, centroid and flux in one pass over consecutive chunks, so a signal of any
length is analysed in bounded memory. ``features`` (in ``features.py``) summarises these frames.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import UserError

# --- Analysis constants -------------------------------------------------------------------------

FRAME_S = 0.0232
"""Envelope frame length in seconds (512 samples at 22050 Hz): short enough to follow a drum hit."""

HOP_S = 0.0116
"""Envelope hop in seconds (256 samples at 22050 Hz): the time resolution of every time feature."""

FLOOR_DB = -120.0
"""Level given to digital silence, so that log-energy is always finite."""

SILENCE_DB = -80.0
"""Frames quieter than this (dBFS RMS) are silence whatever the clip's peak: no onsets, not active."""

RANGE_DB = 60.0
"""Dynamic range analysed below the peak; the envelope is clipped here (reverb floors, noise)."""

ACTIVE_DB = 30.0
"""A frame is *active* when it is within this many dB of the peak (and not silent)."""

ATTACK_DB = 3.0
"""The attack ends at the first frame within this many dB of the top level (see ``features``)."""

ONSET_RISE_DB = 6.0
"""An onset is a rise of at least this many dB within ``ONSET_WINDOW_S`` (a new push of energy)."""

ONSET_WINDOW_S = 0.035
"""Window in which an onset's rise is measured (three frames)."""

ONSET_MIN_GAP_S = 0.05
"""Onsets closer than this are one onset (the ear fuses them; flams and rolls faster than 20 Hz)."""

STEADY_BAND_DB = 3.0
"""``steady_fraction`` counts the frames within this many dB of the sound's median level."""

SUSTAIN_AFTER_S = 0.1
"""``sustain_ratio`` is the share of energy later than this after the sound starts."""

PERIOD_MIN_LAG_S = 0.04
"""Shortest repetition period considered by ``periodicity`` (25 Hz: faster is a timbre, not a
rhythm)."""

FILE_BLOCK = 1 << 16
"""Samples read (or copied) at a time when analysing a long signal: memory stays bounded."""

GRID_MIN_ONSETS = 6
"""``onset_grid_error`` is measured on at least this many onsets (fewer fit any grid); the rhythm
rule asks for as many."""

GRID_MIN_TATUM_S = 0.08
"""Shortest beat that ``onset_grid_error`` tries (a finer grid would fit any intervals)."""

FRAME_BLOCK = 4096
"""Frames whose spectra are taken at once (~16 MB at 512-sample frames)."""

MIN_NORM = 1e-9
"""Spectral norm below which a frame counts as silent for the spectral features."""


def envelope(
    wave: np.ndarray, sr: int, frame_s: float = FRAME_S, hop_s: float = HOP_S
) -> np.ndarray:
    """RMS energy envelope in dB, in short centred frames.

    The DC offset (the clip mean) is removed first. Frame ``i`` is centred on sample
    ``i * hop`` (the signal is zero-padded by half a frame at both ends), so a clip of ``T`` samples
    has ``1 + T // hop`` frames and frame ``i`` sits at ``i * hop / sr`` seconds.

    Parameters
    ----------
    wave : np.ndarray
        ``[T]`` mono samples in [-1, 1].
    sr : int
        Sample rate in Hz.
    frame_s, hop_s : float
        Frame length and hop in seconds (rounded to whole samples, at least one).

    Returns
    -------
    np.ndarray
        ``[F]`` float64 RMS level per frame in dBFS (a full-scale sine is -3 dB), at least
        ``FLOOR_DB``.
    """
    x = validated(wave, sr)
    frame, hop = frame_hop(sr, frame_s, hop_s)
    n = 1 + len(x) // hop
    x = np.pad(x - x.mean(), (frame // 2, frame - frame // 2))
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::hop][:n]  # (F, frame) view
    power = np.einsum("ij,ij->i", frames, frames) / frame
    return 10.0 * np.log10(np.maximum(power, 10.0 ** (FLOOR_DB / 10.0)))



def spectral_flux(wave: np.ndarray, sr: int) -> np.ndarray:
    """Spectral flux over time: positive spectral change per envelope frame.

    Frame ``i`` is the same frame as ``envelope(wave, sr)[i]`` (Hann window); its flux is the
    Euclidean norm of the rises of the magnitude spectrum since frame ``i - 1`` (0 for frame 0),
    divided by the spectral norm of the loudest frame of the clip, so a sound that switches from
    silence to its loudest spectrum at once reads 1.

    Parameters
    ----------
    wave : np.ndarray
        ``[T]`` mono samples in [-1, 1].
    sr : int
        Sample rate in Hz.

    Returns
    -------
    np.ndarray
        ``[F]`` float64, ``F = 1 + T // hop``; all zeros for digital silence.
    """
    x = validated(wave, sr)
    a = analyse(lambda: chunks(x), float(x.mean()), len(x), sr)
    top = float(np.sqrt(a.spec_energy.max()))
    return a.flux / top if top > MIN_NORM else np.zeros_like(a.flux)



def validated(wave: np.ndarray, sr: int) -> np.ndarray:
    x = np.asarray(wave)
    if x.ndim != 1:
        raise UserError(f"expected a mono clip of shape [T], got shape {tuple(x.shape)}")
    if x.size == 0:
        raise UserError("empty clip: nothing to analyse")
    if not sr or sr <= 0:
        raise UserError(f"sample rate must be a positive number of Hz, got {sr}")
    x = x.astype(np.float64, copy=False)
    if not np.isfinite(x).all():
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise UserError(f"clip contains {bad} NaN or infinite sample(s) of {x.size}: not audio")
    return x


def frame_hop(sr: int, frame_s: float, hop_s: float) -> tuple[int, int]:
    return max(1, round(frame_s * sr)), max(1, round(hop_s * sr))



@dataclass
class Frames:
    """Per-frame measurements of a whole signal, on the envelope's frame grid: ``[F]`` each."""

    level_db: np.ndarray  # RMS level, dBFS (``envelope``)
    spec_energy: np.ndarray  # sum of squared Hann-windowed magnitudes
    centroid: np.ndarray  # power-weighted spectral centroid, Hz (0 for a silent frame)
    flux: np.ndarray  # norm of the positive magnitude change since the previous frame


def chunks(x: np.ndarray) -> Iterator[np.ndarray]:
    """An in-memory signal as consecutive chunks, so the analysis copies a chunk at a time."""
    for start in range(0, len(x), FILE_BLOCK):
        yield x[start : start + FILE_BLOCK]


def analyse(
    chunks: Callable[[], Iterable[np.ndarray]], mean: float, n_samples: int, sr: int
) -> Frames:
    """Envelope and spectral measurements of the signal that ``chunks()`` yields, frame by frame.

    The signal (``n_samples`` long, DC ``mean`` removed) is seen as zero-padded by half a frame at
    both ends, exactly as in ``envelope``; frames are cut from a rolling buffer as the chunks
    arrive, and analysed ``FRAME_BLOCK`` at a time, so only a chunk and a block of frames are in
    memory at once.
    """
    frame, hop = frame_hop(sr, FRAME_S, HOP_S)
    n = 1 + n_samples // hop
    window = np.hanning(frame + 2)[1:-1]
    freqs = np.fft.rfftfreq(frame, 1.0 / sr)
    power, energy, centroid, flux = (np.empty(n) for _ in range(4))
    tail = itertools.repeat(None, 1)  # marks the right zero-padding
    buf = np.zeros(frame // 2)  # the buffer starts at frame ``k``'s first sample
    k = 0
    prev = None
    for chunk in itertools.chain(chunks(), tail):
        more = np.zeros(frame - frame // 2) if chunk is None else chunk.astype(np.float64) - mean
        buf = np.concatenate([buf, more])
        m = min(n - k, (len(buf) - frame) // hop + 1) if len(buf) >= frame else 0
        for b in range(0, m, FRAME_BLOCK):
            c = min(FRAME_BLOCK, m - b)
            frames = np.lib.stride_tricks.sliding_window_view(
                buf[b * hop : (b + c - 1) * hop + frame], frame
            )[::hop]  # (c, frame) view
            power[k + b : k + b + c] = np.einsum("ij,ij->i", frames, frames) / frame
            mag = np.abs(np.fft.rfft(frames * window, axis=1))  # (c, K)
            p = mag * mag
            e = p.sum(axis=1)
            energy[k + b : k + b + c] = e
            centroid[k + b : k + b + c] = np.where(e > 0, p @ freqs / np.maximum(e, 1e-300), 0.0)
            before = np.vstack([mag[:1] if prev is None else prev, mag[:-1]])
            flux[k + b : k + b + c] = np.sqrt((np.maximum(mag - before, 0.0) ** 2).sum(axis=1))
            prev = mag[-1:]
        k += m
        buf = buf[m * hop :]
    level = 10.0 * np.log10(np.maximum(power, 10.0 ** (FLOOR_DB / 10.0)))
    return Frames(level, energy, centroid, flux)

