"""Phase for a magnitude spectrogram in plain torch, on any device: frame-recursive PGHI.

The default decoder of every magnitude representation is ``pghi_griffin_lim``: an initial phase
from the magnitude's own gradients (phase-gradient integration, Průša et al. 2017, as in
``pghi.py``), then fast Griffin-Lim (``spectral.griffin_lim_frames``, momentum 0.99).

``pghi.py`` integrates the phase gradients with a heap, coefficient by coefficient from the
loudest outwards: a loop compiled with numba, on the CPU only, that no torch graph can record.
``pghi_torch`` integrates the same gradients with tensor operations, frame by frame, the way
the real-time variant of PGHI and the phase-locked vocoder do (Průša & Holighaus, "Phase vocoder
done right", 2017; Laroche & Dolson 1999):

1. in every frame each bin is assigned to the spectral peak it belongs to: the local maximum of
   the log-magnitude reached by climbing from the bin (``peaks``, pointer jumping: ``log2 K``
   gathers for the whole spectrogram at once);
2. a peak takes its phase from the previous frame by the trapezoidal rule on the time
   derivative (the instantaneous frequency), at the same bin;
3. every other bin takes its peak's phase plus the integral of the frequency derivative (the
   group delay) from the peak to the bin, a cumulative sum along frequency.

Steps 1 and 3 run for all frames at once; step 2 is a loop over frames of two tensor
operations on ``[B, K]``. Partials keep their frequency from frame to frame, the bins of one
partial share its phase, and at an onset all bins line up through the group delay, as with the
heap. On 30 real clips at 44.1 kHz (1024/256 STFT; ``benchmarks/bench_phase.py`` chose from this
data) it starts 0.3 dB behind the heap in spectral convergence and is level with it after 16
fast Griffin-Lim iterations; in torch it needs no numba, so ``gesturegan export`` can record it.

On CPU tensors outside ``portable.operators()`` the same integration runs compiled (``_integrate``,
numba, frame by frame: 2 ms a 1.49 s clip at 44.1 kHz against 12 ms in torch, most of which was
dispatching the loop's small operations); it performs the same float32 operations in the same
order and is equal to the torch code bit for bit (tested at every decoder geometry).

Layout: ``[B, N, K]`` (frames first, as ``STFT.analyse``); phases in the convention of
``torch.stft`` (referenced to the frame's first sample), ready for ``torch.polar``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

from .. import portable
from .pghi import GAMMA_HANN, LOG_FLOOR, pghi_frames
from .spectral import STFT, cpu_chunks, griffin_lim_frames, polar

TWO_PI = 2 * math.pi
WRAP_EVERY = 32
"""``pghi_torch`` wraps its running phase to [0, 2π) every this many frames."""


def gradients(
    magnitude: torch.Tensor, n_fft: int, hop: int, win_length: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-magnitude and the phase derivatives PGHI predicts from it, frame-centred phase.

    ``magnitude: [B, N, K]`` (``K = n_fft // 2 + 1``) → ``(s, dt, df)``, each ``[B, N, K]``:
    ``s = log |X|`` floored ``LOG_FLOOR`` nepers under the clip's maximum, ``dt`` the phase
    advance per frame (rad; instantaneous frequency times hop) and ``df`` the phase change per bin
    (rad; minus the local group delay), for a Hann window treated as its matching Gaussian.
    """
    slope, advance, spread = _scales(n_fft, hop, win_length)
    s = _log_magnitude(magnitude)
    zero_bin = torch.zeros_like(s[..., :1])
    # Symmetric about 0 Hz and Nyquist: the slope across them is 0.
    ds_dk = torch.cat([zero_bin, 0.5 * (s[..., 2:] - s[..., :-2]), zero_bin], dim=-1)
    ds_dn = torch.cat(
        [s[:, 1:2] - s[:, :1], 0.5 * (s[:, 2:] - s[:, :-2]), s[:, -1:] - s[:, -2:-1]], dim=1
    )
    k = torch.arange(s.shape[-1], device=s.device, dtype=s.dtype)
    dt = slope * ds_dk + advance * k
    df = spread * ds_dn
    return s, dt, df


def _scales(n_fft: int, hop: int, win_length: int | None) -> tuple[float, float, float]:
    """``(slope, advance, spread)``: ``dt = slope * ∂s/∂k + advance * k``, ``df = spread * ∂s/∂n``."""
    gamma = GAMMA_HANN * (win_length or n_fft) ** 2
    return hop * n_fft / gamma, TWO_PI * hop / n_fft, -gamma / (hop * n_fft)


def _log_magnitude(magnitude: torch.Tensor) -> torch.Tensor:
    """``log magnitude`` floored ``LOG_FLOOR`` nepers under each clip's maximum (``[B, N, K]``)."""
    peak = magnitude.amax(dim=(1, 2), keepdim=True).clamp_min(1e-30)
    return torch.log(torch.maximum(magnitude, peak * math.exp(-LOG_FLOOR)))


def peaks(s: torch.Tensor) -> torch.Tensor:
    """``s: [..., K]`` → ``[..., K]`` int64: the bin of the local maximum each bin climbs to.

    A bin steps to the larger of its two neighbours while that is larger than itself (ties go
    down in frequency, then stay) and keeps going the same way until the next bin is no larger.
    Computed without following the steps: a climb upwards ends at the first bin ``j`` from ``k``
    up with ``s[j] >= s[j + 1]`` (a reversed running minimum of such ``j``), a climb downwards
    at the last ``j`` from ``k`` down with ``s[j] >= s[j - 1]`` (a running maximum).
    """
    k = torch.arange(s.shape[-1], device=s.device).expand_as(s)
    edge = torch.full_like(s[..., :1], -math.inf)
    below = torch.cat([edge, s[..., :-1]], dim=-1)  # s[k - 1]
    above = torch.cat([s[..., 1:], edge], dim=-1)  # s[k + 1]
    go_down = (below > s) & (below >= above)
    go_up = (above > s) & (above > below)
    last = s.shape[-1]
    stop_up = torch.where(s >= above, k, last).flip(-1).cummin(-1).values.flip(-1)
    stop_down = torch.where(s >= below, k, -1).cummax(-1).values
    return torch.where(go_up, stop_up, torch.where(go_down, stop_down, k))


def pghi_torch(
    magnitude: torch.Tensor, n_fft: int, hop: int, win_length: int | None = None
) -> torch.Tensor:
    """Phase ``[B, N, K]`` (radians, start-referenced) for ``magnitude: [B, N, K]``, frames first.

    Frame-recursive phase-gradient integration (module docstring) on ``magnitude``'s device;
    compiled for float32 CPU tensors outside ``portable.operators()`` (equal bit for bit).
    """
    k = torch.arange(magnitude.shape[-1], device=magnitude.device, dtype=magnitude.dtype)
    # Frame-centred → frame-start phase: the window centre lies n_fft // 2 samples into the frame.
    centre = (TWO_PI * (n_fft // 2) / n_fft) * k
    if magnitude.device.type == "cpu" and magnitude.dtype == torch.float32 and not portable.required():
        s = _log_magnitude(magnitude.detach()).contiguous()
        phase = torch.empty_like(s)
        scales = (np.float32(c) for c in _scales(n_fft, hop, win_length))
        _integrate(s.numpy(), *scales, centre.numpy(), phase.numpy())
        return phase
    s, dt, df = gradients(magnitude, n_fft, hop, win_length)
    across = torch.cumsum(0.5 * (df[..., 1:] + df[..., :-1]), dim=-1)
    across = torch.cat([torch.zeros_like(df[..., :1]), across], dim=-1)
    up = peaks(s)
    # Each bin's phase relative to its peak's, and the peaks' steps along time, wrapped; frames
    # first in memory for the loop. The running phase is wrapped every WRAP_EVERY frames (it
    # grows by < 4π a frame, so float32 keeps it to ~1e-4 rad).
    offset = torch.remainder(across - torch.gather(across, -1, up), TWO_PI).transpose(0, 1)
    step = torch.remainder(0.5 * (dt[:, 1:] + dt[:, :-1]), TWO_PI).transpose(0, 1).contiguous()
    up = up.transpose(0, 1).contiguous()
    offset = offset.contiguous()
    phase = torch.empty_like(offset)  # [N, B, K]
    phase[0] = offset[0]
    for n in range(1, phase.shape[0]):
        current = torch.gather(phase[n - 1] + step[n - 1], -1, up[n]) + offset[n]
        phase[n] = torch.remainder(current, TWO_PI) if n % WRAP_EVERY == 0 else current
    return phase.transpose(0, 1) - centre


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _integrate(s, slope, advance, spread, centre, phase):  # pragma: no cover (compiled)
    """``pghi_torch`` from the log-magnitude ``s: [B, N, K]`` float32 into ``phase: [B, N, K]``,
    compiled for the CPU, frame by frame: the same float32 operations in the same order as
    ``gradients`` and the torch loop (cumulative sums in float64, as torch's on the CPU;
    ``remainder`` as torch's), so the result is equal bit for bit. In torch the loop's small
    operations cost 6 ms a clip in dispatch alone (1.49 s at 44.1 kHz), the whole 12 ms."""
    batch, n_frames, n_bins = s.shape
    two_pi, half = np.float32(TWO_PI), np.float32(0.5)
    up = np.empty(n_bins, np.int64)
    stop_up = np.empty(n_bins, np.int64)
    across = np.empty(n_bins, np.float32)
    d_freq = np.empty(n_bins, np.float32)
    d_time = np.empty(n_bins, np.float32)  # dt of this frame
    d_time_next = np.empty(n_bins, np.float32)
    running = np.empty(n_bins, np.float32)  # previous frame's phase plus the step, frame-centred
    current = np.empty(n_bins, np.float32)
    for b in range(batch):
        _time_derivative(s[b, 0], slope, advance, d_time_next)
        for n in range(n_frames):
            d_time, d_time_next = d_time_next, d_time
            row = s[b, n]
            _climb(row, up, stop_up)
            # df of this frame (``gradients``' ds_dn: one-sided at the first and last frame)
            if n == 0:
                for k in range(n_bins):
                    d_freq[k] = spread * (s[b, 1, k] - row[k])
            elif n == n_frames - 1:
                for k in range(n_bins):
                    d_freq[k] = spread * (row[k] - s[b, n - 1, k])
            else:
                for k in range(n_bins):
                    d_freq[k] = spread * (half * (s[b, n + 1, k] - s[b, n - 1, k]))
            total = 0.0  # float64, as torch's cumsum
            across[0] = 0
            for k in range(1, n_bins):
                total += half * (d_freq[k] + d_freq[k - 1])
                across[k] = np.float32(total)
            for k in range(n_bins):
                offset = _remainder(across[k] - across[up[k]], two_pi)
                current[k] = offset if n == 0 else running[up[k]] + offset
            if n > 0 and n % WRAP_EVERY == 0:
                for k in range(n_bins):
                    current[k] = _remainder(current[k], two_pi)
            if n + 1 < n_frames:
                _time_derivative(s[b, n + 1], slope, advance, d_time_next)
                for k in range(n_bins):
                    step = _remainder(half * (d_time_next[k] + d_time[k]), two_pi)
                    running[k] = current[k] + step
            for k in range(n_bins):
                phase[b, n, k] = current[k] - centre[k]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _time_derivative(row, slope, advance, out):  # pragma: no cover (compiled)
    """``gradients``' ``dt`` for one frame: ``slope * ∂s/∂k + advance * k`` (∂s/∂k 0 at both ends)."""
    last = row.size - 1
    half = np.float32(0.5)
    out[0] = slope * np.float32(0.0) + advance * np.float32(0)
    for k in range(1, last):
        out[k] = slope * (half * (row[k + 1] - row[k - 1])) + advance * np.float32(k)
    out[last] = slope * np.float32(0.0) + advance * np.float32(last)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _remainder(x, divisor):  # pragma: no cover (compiled)
    """``torch.remainder`` of float32 ``x`` by a positive float32 ``divisor``, bit for bit: the
    exact ``fmod`` (computed in float64, where ``x - q * divisor`` is exact; 13x faster than
    libm's ``fmodf``), then ``+ divisor`` in float32 when negative."""
    wide, by = np.float64(x), np.float64(divisor)
    mod = wide - np.trunc(wide / by) * by
    # The rounded quotient may be one too large. Selects, not branches: signs here are random.
    mod = mod + by if (wide >= 0) & (mod < 0) else mod
    mod = mod - by if (wide < 0) & (mod > 0) else mod
    narrow = np.float32(np.copysign(mod, wide))  # fmod keeps x's sign, also for a zero
    return narrow + divisor if narrow < 0 else narrow


@numba.njit(cache=True, nogil=True)
def _climb(row, up, stop_up):  # pragma: no cover (compiled)
    """``peaks`` for one frame ``row: [K]`` into ``up: [K]`` (the same comparisons; ``stop_up``
    is work space). Three simple loops: fused into one, the selects became branches, 4x slower."""
    last = row.size - 1
    stop = 0
    up[0] = 0
    for k in range(1, last + 1):  # stop_down: the last j <= k with s[j] >= s[j - 1]
        stop = k if row[k] >= row[k - 1] else stop
        up[k] = stop
    stop = last
    stop_up[last] = last
    for i in range(1, last + 1):  # stop_up: the first j >= k with s[j] >= s[j + 1]
        k = last - i
        stop = k if row[k] >= row[k + 1] else stop
        stop_up[k] = stop
    up[0] = stop_up[0] if row[1] > row[0] else 0  # nothing below bin 0
    for k in range(1, last):
        x, below, above = row[k], row[k - 1], row[k + 1]
        down = up[k] if (below > x) & (below >= above) else k
        up[k] = stop_up[k] if (above > x) & (above > below) else down
    up[last] = up[last] if row[last - 1] > row[last] else last  # nothing above the last bin


def initial_spectrum(
    magnitude: torch.Tensor, stft: STFT, heap: bool = False, tol_db: float = 60.0
) -> torch.Tensor:
    """``magnitude: [B, N, K]`` → complex ``[B, N, K]`` with a PGHI phase, on the same device.

    ``heap=True`` uses ``pghi.pghi_frames`` (numba, untraceable; coefficients ``tol_db`` under
    the clip's loudest get a random phase) for CPU tensors; otherwise, and always on other
    devices, ``pghi_torch``.
    """
    if heap and magnitude.device.type == "cpu":
        return pghi_frames(magnitude, stft.n_fft, stft.hop, tol_db=tol_db)

    def run(part: slice) -> torch.Tensor:
        return polar(magnitude[part], pghi_torch(magnitude[part], stft.n_fft, stft.hop))

    if portable.required():
        return run(slice(None))
    # On the CPU in cache-sized chunks on worker threads, as Griffin-Lim (3x less CPU time).
    return cpu_chunks(run, len(magnitude), magnitude.shape[1] * magnitude.shape[2], magnitude.device)


def pghi_griffin_lim(
    magnitude: torch.Tensor,
    stft: STFT,
    n_iter: int,
    momentum: float = 0.99,
    heap: bool = False,
    tol_db: float = 60.0,
) -> torch.Tensor:
    """The default decoder: ``magnitude: [B, N, K]`` (frames first, scaled as ``STFT.analyse``)
    → ``wave: [B, stft.length]``, PGHI phase then ``n_iter`` fast Griffin-Lim iterations.

    Runs on ``magnitude``'s device (``heap``, ``tol_db``: see ``initial_spectrum``).
    """
    magnitude = magnitude.contiguous()
    start = initial_spectrum(magnitude, stft, heap, tol_db)
    return griffin_lim_frames(magnitude, start, stft, n_iter, momentum)
