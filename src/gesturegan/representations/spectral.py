"""Spectral operations shared by the STFT/mel representations.

- ``STFT``: the batched STFT/iSTFT pair of the log-mel representations. Frames follow one
  convention everywhere: on the shared ``H x W`` grid (``base.image_grid``) ``hop = H`` and
  ``n_fft = 8 * hop`` with a periodic Hann window, frames centred on ``k * hop`` (reflect padding).
  The STFT of a clip then has ``W + 1`` frames; images keep the first ``W`` and decoders restore
  the last by repeating frame ``W - 1`` (it only covers the final half window).
- ``CircularSTFT``: the exactly invertible ``H x W`` STFT of the IF representations.
- ``griffin_lim`` / ``griffin_lim_frames``: batched fast Griffin-Lim (CPU and GPU), and
  ``cpu_chunks``, how the CPU runs it fast (with ``cpu_griffin_lim``'s compiled iteration;
  docs/representations.md has the figures).
- ``mel_filters``: librosa's mel filterbank and its pseudo-inverse, cached.

Within ``portable.operators()`` Griffin-Lim runs as plain torch operators on the calling thread (no
numba kernel, no worker threads), so ``gesturegan export`` can record it.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from .. import portable
from .cpu_griffin_lim import griffin_lim_cpu


class STFT:
    """Batched STFT/iSTFT pair for clips of ``length`` samples with ``n_fft`` and ``hop``.

    ``forward``/``inverse`` use the usual ``[B, bins, frames]`` layout; ``analyse``/``synthesise``
    are the same pair in ``[B, frames, bins]`` layout, which is what the FFT produces, so loops such
    as Griffin-Lim run without transposes. Frames are centred (``pad_mode`` padding: "reflect", or
    "constant" for zeros as librosa ≥ 0.10), the window is a
    periodic Hann, phases are referenced to each frame's first sample (as ``torch.stft``), and the
    inverse is the least-squares one (window-weighted overlap-add over ``Σ w²``), as ``torch.istft``.
    """

    def __init__(
        self,
        n_fft: int,
        hop: int,
        length: int,
        dtype: torch.dtype = torch.float32,
        pad_mode: str = "reflect",
    ) -> None:
        if pad_mode == "reflect" and n_fft // 2 >= length:
            raise ValueError(f"n_fft={n_fft} is too long for clips of {length} samples")
        self.n_fft = n_fft
        self.hop = hop
        self.length = length
        self.dtype = dtype
        self.pad_mode = pad_mode
        window = torch.hann_window(n_fft, dtype=torch.float64)
        # A full-scale sine's bin then has magnitude ~1 (0 dB).
        self.scale = float(window.sum()) / 2
        self.window = window.to(dtype)
        self.n_frames = length // hop + 1
        env = torch.zeros((self.n_frames - 1) * hop + n_fft, dtype=torch.float64)
        for f in range(self.n_frames):
            env[f * hop : f * hop + n_fft] += window**2
        env = env[n_fft // 2 : n_fft // 2 + length]
        self._analysis = (window / self.scale).to(dtype)
        self._synthesis = (window * self.scale).to(dtype)
        self._inverse_envelope = (1 / env).to(dtype)
        self._on: dict[torch.device, tuple[torch.Tensor, ...]] = {}

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def constants(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        """``(analysis window, synthesis window, inverse window envelope)`` on ``device``, cached:
        the windows scaled as ``analyse`` and ``synthesise`` apply them (``[n_fft]``), and
        ``1 / Σ w²`` over the clip (``[length]``)."""
        if device not in self._on:
            self._on[device] = tuple(
                t.to(device) for t in (self._analysis, self._synthesis, self._inverse_envelope)
            )
        return self._on[device]

    def analyse(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave: [B, T]`` → complex ``[B, frames, bins]``, scaled so a full-scale sine is ~1."""
        analysis, _, _ = self.constants(wave.device)
        half = self.n_fft // 2
        padded = torch.nn.functional.pad(wave[:, None], (half, half), mode=self.pad_mode)[:, 0]
        return torch.fft.rfft(padded.unfold(-1, self.n_fft, self.hop) * analysis, dim=-1)

    def synthesise(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex ``[B, frames, bins]`` (scaled as ``analyse``) → ``wave: [B, length]``."""
        _, synthesis, inverse_envelope = self.constants(spec.device)
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * synthesis  # [B, F, n_fft]
        batch, n_frames = frames.shape[:2]
        if self.n_fft % self.hop == 0:
            # Overlap-add as n_fft / hop shifted block sums: cheaper than fold (col2im) on CPU.
            blocks = frames.reshape(batch, n_frames, self.n_fft // self.hop, self.hop)
            out = frames.new_zeros(batch, n_frames + blocks.shape[2] - 1, self.hop)
            for j in range(blocks.shape[2]):
                out[:, j : j + n_frames] += blocks[:, :, j]
            out = out.reshape(batch, -1)
        else:
            out = torch.nn.functional.fold(
                frames.transpose(1, 2),
                (1, (n_frames - 1) * self.hop + self.n_fft),
                (1, self.n_fft),
                stride=(1, self.hop),
            ).reshape(batch, -1)
        half = self.n_fft // 2
        return out[:, half : half + self.length] * inverse_envelope

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave: [B, T]`` → complex ``[B, n_bins, T // hop + 1]``, scaled so a full-scale sine is ~1."""
        return self.analyse(wave).transpose(1, 2)

    def inverse(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex ``[B, n_bins, frames]`` (scaled as ``forward``) → ``wave: [B, length]``."""
        return self.synthesise(spec.transpose(1, 2))


PINV_RCOND = 1e-4
"""Relative cut-off of the singular values kept in ``mel_filters``' pseudo-inverse."""


@functools.lru_cache(maxsize=16)
def mel_filters(
    sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float, norm: str | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """librosa's mel filterbank ``[n_mels, n_bins]`` and its pseudo-inverse ``[n_bins, n_mels]``.

    Singular values under ``PINV_RCOND`` of the largest are dropped from the pseudo-inverse: at
    48 kHz the lowest of 256 bands are narrower than an STFT bin, the filterbank is nearly
    singular, and the plain pseudo-inverse (entries up to 4e4) turned the image's rounding into
    a decoded magnitude 1.3x off (spectral convergence ~1.0); truncated, its entries stay under
    1.5 and nothing else changes at 22.05 or 44.1 kHz.

    Cached: representations are rebuilt often (``reprs``, every run, every test) and the SVD of
    the pseudo-inverse is the slow part of building one.
    """
    import librosa

    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, norm=norm)
    inverse = np.linalg.pinv(basis.astype(np.float64), rcond=PINV_RCOND)
    return torch.from_numpy(basis).float(), torch.from_numpy(inverse).float()


def pad_last_frame(x: torch.Tensor) -> torch.Tensor:
    """``[..., F]`` → ``[..., F + 1]`` by repeating the last frame (undoes dropping it in images)."""
    return torch.cat([x, x[..., -1:]], dim=-1)


def with_magnitude(spec: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """``magnitude * spec / |spec|`` for complex ``spec`` (phase kept), computed on the real view.

    Complex ``abs`` and complex-by-real products are slow paths in torch on CPU; this is ~3x faster.
    """
    r = torch.view_as_real(spec)
    re, im = r[..., 0], r[..., 1]
    gain = torch.addcmul(re * re, im, im).add_(1e-30).rsqrt_().mul_(magnitude)
    return torch.view_as_complex(r * gain.unsqueeze(-1))


def polar(magnitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """``torch.polar(magnitude, phase)``, on the CPU as ``magnitude * cos`` + i ``magnitude * sin``:
    torch's CPU ``polar`` takes the sine and cosine one value at a time (13 ns a value for PGHI's
    phases of hundreds of radians), its vectorised ``cos`` and ``sin`` a third of that. The same
    values to float rounding (one unit in the last place)."""
    if magnitude.device.type != "cpu":
        return torch.polar(magnitude, phase)
    return torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))


def griffin_lim(
    magnitude: torch.Tensor,
    stft: STFT,
    n_iter: int = 32,
    momentum: float = 0.99,
    phase: torch.Tensor | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin, Balazs & Søndergaard 2013): phase for a magnitude, batched.

    Parameters
    ----------
    magnitude : ``[B, n_bins, frames]`` non-negative, scaled as ``STFT.forward``.
    stft : the STFT pair that defines consistency.
    n_iter : projections; 0 returns the signal of the initial phase.
    momentum : the "fast" acceleration (0 gives classic Griffin-Lim; librosa also uses 0.99).
    phase : initial phase ``[B, n_bins, frames]`` in radians (e.g. from PGHI); default random.
    seed : seeds the random initial phase (``initial_phase``), one pattern shared by every clip of
        the batch, so a clip decodes the same whatever batch it is in.

    Returns
    -------
    wave : ``[B, length]``.
    """
    if phase is None:
        phase = initial_phase(tuple(magnitude.shape[-2:]), seed)
    mag = magnitude.transpose(1, 2).contiguous()  # [B, F, K]
    start = polar(mag, phase.to(mag.device).transpose(-2, -1).expand_as(mag))
    return griffin_lim_frames(mag, start, stft, n_iter, momentum)


@functools.lru_cache(maxsize=8)
def initial_phase(shape: tuple[int, int], seed: int = 0) -> torch.Tensor:
    """Griffin-Lim's random start: phases ``shape = (n_bins, frames)`` uniform in [0, 2π), float32.

    Drawn with numpy, never with torch's generator: to a tracer (``torch.jit.trace``,
    ``torch.onnx.export``) the result is then a constant, and an exported decoder starts from the
    same phase as this one instead of recording a fresh random draw.
    """
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.uniform(0.0, 2 * math.pi, shape).astype(np.float32))


CHUNK_ELEMENTS = 2**18
"""On the CPU, Griffin-Lim works through the batch in chunks of about this many coefficients
(2 MiB of complex64; 3 default clips): small enough for the arrays of one iteration to stay in
cache, which makes it about 1.5x faster than one pass over a batch of 32 clips."""


def griffin_lim_frames(
    magnitude: torch.Tensor,
    spec: torch.Tensor,
    stft: STFT,
    n_iter: int = 32,
    momentum: float = 0.99,
) -> torch.Tensor:
    """``griffin_lim`` in the ``[B, frames, bins]`` layout, from a complex start ``spec``.

    ``spec`` must already carry ``magnitude`` (``|spec| == magnitude``); ``n_iter=0`` just inverts
    it. On the CPU the batch runs in chunks (``cpu_chunks``), except while ``portable.required()``.
    """
    blend = momentum / (1 + momentum)

    def run(part: slice) -> torch.Tensor:
        return _griffin_lim_chunk(magnitude[part], spec[part], stft, n_iter, blend)

    if portable.required():
        return run(slice(None))  # the batch size stays symbolic for torch.export
    # A lone inverse has no iterations to keep in cache: one chunk per thread.
    per_clip = spec.shape[1] * spec.shape[2] if n_iter else 1
    return cpu_chunks(run, len(spec), per_clip, spec.device)


def cpu_chunks(
    fn: Callable[[slice], torch.Tensor], batch: int, per_clip: int, device: torch.device
) -> torch.Tensor:
    """``torch.cat([fn(part) for part in chunks of the batch])``, arranged for speed on the CPU.

    Elsewhere ``fn(slice(None))``. On the CPU:

    - each chunk holds about ``CHUNK_ELEMENTS`` values (``per_clip`` per clip), so the arrays of a
      Griffin-Lim iteration stay in cache, and no more than a thread's share of the batch;
    - chunks run on ``torch.get_num_threads()`` worker threads whose torch ops are single-threaded
      (torch's thread count is lowered to 1 meanwhile, then restored): short multi-threaded ops
      spend much of their time waiting for each other, worst of all on shared cores;
    - the workers flush denormal floats to zero: the decays of real sounds fill spectra with values
      near 1e-20 whose squares are denormal, and arithmetic on those is ~40 % of Griffin-Lim's
      time on the built-in corpus otherwise. The caller's thread is left as it was.
    """
    if device.type != "cpu":
        return fn(slice(None))
    threads = torch.get_num_threads()
    chunk = min(max(1, CHUNK_ELEMENTS // per_clip), -(-batch // threads))
    parts = [slice(start, start + chunk) for start in range(0, batch, chunk)]
    threads = min(threads, len(parts))

    def work(part: slice) -> torch.Tensor:
        torch.set_flush_denormal(True)  # this worker thread only
        return fn(part)

    with _single_threaded_ops(), ThreadPoolExecutor(threads) as pool:
        return torch.cat(list(pool.map(work, parts)))


_threads_lock = threading.Lock()
_threads_users = 0
_threads_saved = 1


@contextlib.contextmanager
def _single_threaded_ops() -> Iterator[None]:
    """torch ops single-threaded while any caller is inside (re-entrant across threads)."""
    global _threads_users, _threads_saved
    with _threads_lock:
        if _threads_users == 0:
            _threads_saved = torch.get_num_threads()
            torch.set_num_threads(1)
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                torch.set_num_threads(_threads_saved)


STEADY = 0.01
"""Griffin-Lim's projection takes the phase of ``rebuilt + STEADY * current`` (``current``: the
last iterate, which has the target magnitude), not of ``rebuilt`` alone. Where the rebuilt
coefficient nearly cancels (1e-5 of its target magnitude, as at the seams of a PGHI start), its
phase is float rounding, and the same clip decoded alone and in a batch (generator outputs 6e-5
apart) came back 20 dB apart in waveform SNR after 8 iterations; with 0.01 of the last phase kept
there, 34 dB. Elsewhere it moves a phase by < 0.01 rad: spectral convergence on real clips is
unchanged (-15.80 dB log-mel, -26.16 against -26.07 dB linear STFT)."""


def _griffin_lim_chunk(
    mag: torch.Tensor, current: torch.Tensor, stft: STFT, n_iter: int, blend: float
) -> torch.Tensor:
    if mag.device.type == "cpu" and current.dtype == torch.complex64 and not portable.required():
        return griffin_lim_cpu(mag, current, stft, n_iter, blend, STEADY)
    previous = None
    for _ in range(n_iter):
        rebuilt = stft.analyse(stft.synthesise(current))
        target = rebuilt if previous is None else torch.sub(rebuilt, previous, alpha=blend)
        current = with_magnitude(torch.add(target, current, alpha=STEADY), mag)
        previous = rebuilt
    return stft.synthesise(current)


class CircularSTFT:
    """Exactly invertible STFT with ``bins`` bins × ``frames`` frames for ``bins * frames`` samples.

    The clip is treated as one period of a periodic signal: frame ``n`` is centred on sample
    ``n * hop`` (``hop = bins``) and wraps around the ends, so ``frames`` frames tile the clip with
    nothing dropped. The window is a Hann of odd length ``n_fft = 2 * bins - 1`` (a periodic Hann of
    ``2 * bins`` without its leading zero, so it peaks at its centre); an odd ``n_fft`` has exactly
    ``bins`` non-negative frequency bins (``k * sr / n_fft``, no Nyquist bin to drop). Phases are
    referenced to the frame centre (zero-phase windowing), so the main-lobe bins of a partial share
    its phase. Magnitudes are scaled like ``STFT``: a full-scale sine reads ~1.

    The pair is 2x redundant (``bins * frames`` complex numbers for as many real samples) and
    ``inverse(forward(x)) == x`` to float rounding.
    """

    def __init__(self, bins: int, frames: int) -> None:
        self.frames = frames
        self.hop = bins
        self.n_fft = 2 * bins - 1
        self.length = bins * frames
        n = torch.arange(self.n_fft, dtype=torch.float64)
        window = torch.sin(math.pi * (n + 1) / (self.n_fft + 1)) ** 2
        self.window = window.float()
        self.scale = float(window.sum()) / 2
        half = (self.n_fft - 1) // 2  # samples either side of the centre
        k = torch.arange(self.n_bins, dtype=torch.float64)
        # Multiplying the start-referenced FFT by this moves the phase reference to the centre.
        self.centre = torch.polar(torch.ones_like(k), 2 * math.pi * k * half / self.n_fft)
        # The inverse's shift back, cast once per dtype here: an exported decoder (ONNX has no
        # complex casts) then holds it as a constant.
        self._uncentre = {
            dtype: (self.scale / self.centre).to(dtype)
            for dtype in (torch.complex64, torch.complex128)
        }
        # Σ_n w²(t - n hop), circularly: the overlap-add normaliser of the least-squares inverse.
        self._half = half
        # A frame, with one zero put before it, is two hop-long blocks: frame n's land on blocks
        # n - 1 and n (circularly).
        env = self._overlap_add((window**2).expand(1, frames, -1))[0]
        self.inverse_envelope = (1 / env).float()

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        """``[B, frames, n_fft]`` → ``[B, length]``, frame ``n`` centred on ``n * hop``, wrapping."""
        batch = frames.shape[0]
        blocks = torch.nn.functional.pad(frames, (1, 0)).reshape(batch, self.frames, 2, self.hop)
        out = torch.roll(blocks[:, :, 0], shifts=-1, dims=1) + blocks[:, :, 1]
        return out.reshape(batch, self.length)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave: [B, length]`` → complex ``[B, n_bins, frames]``."""
        half = self._half
        padded = torch.cat([wave[:, -half:], wave, wave[:, :half]], dim=1)
        frames = padded.unfold(-1, self.n_fft, self.hop) * self.window.to(wave.device, wave.dtype)
        spec = torch.fft.rfft(frames, dim=-1)  # [B, frames, bins]
        centre = (self.centre / self.scale).to(wave.device, spec.dtype)
        return (spec * centre).transpose(1, 2)

    def inverse(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex ``[B, n_bins, frames]`` (scaled as ``forward``) → ``wave: [B, length]``."""
        centre = self._uncentre[spec.dtype].to(spec.device)
        frames = torch.fft.irfft(spec.transpose(1, 2) * centre, n=self.n_fft, dim=-1)
        frames = frames * self.window.to(spec.device, frames.dtype)
        return self._overlap_add(frames) * self.inverse_envelope.to(spec.device, frames.dtype)
