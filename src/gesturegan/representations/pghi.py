"""Phase-gradient heap integration (PGHI): a phase for an STFT magnitude in one pass, no iterations.

Průša, Balazs & Søndergaard, "A noniterative method for reconstruction of phase from STFT
magnitude", IEEE/ACM TASLP 25(5), 2017; the phase retrieval of TiFGAN (Marafioti et al., 2019).

For a Gaussian window ``exp(-π t² / λ)`` the STFT's phase derivatives follow from the derivatives
of its log-magnitude ``s = log |X|`` (frame-centred phase, bin ``k``, frame ``n``, hop ``a``,
FFT size ``M``)::

    ∂φ/∂n (rad per frame) = 2π a k / M + (a M / λ) ∂s/∂k      (instantaneous frequency)
    ∂φ/∂k (rad per bin)   =            - (λ / (a M)) ∂s/∂n      (local group delay)

A Hann window of ``L`` samples behaves like a Gaussian with ``λ = 0.25645 L²``. The heap
integration then spreads the phase from the loudest coefficient outwards, always continuing from
the loudest coefficient reached so far (where the gradients are most reliable), with the
trapezoidal rule between neighbours; coefficients more than ``tol_db`` below the clip's loudest
get a random phase, and a new seed (phase 0) starts wherever the loud region is not connected.

The queue is a bucket queue keyed on the log-magnitude in steps of ``STEP_DB`` instead of a binary
heap: pushing and popping cost O(1), and coefficients within 0.05 dB of each other may be taken in
either order, which changes nothing audible. The loop is compiled with numba (a dependency of
librosa), works in the ``[frames, bins]`` layout of ``STFT.analyse`` on a grid padded by one
coefficient on every side (no bounds checks in the heap loop), reuses its arrays from clip to clip
and runs the clips of a batch in parallel: about 1.5 ms per default clip on one core.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
import torch

GAMMA_HANN = 0.25645
"""λ / L² of the Gaussian that best matches a Hann window of L samples (Průša et al.)."""
STEP_DB = 0.05
"""Width of one bucket of the priority queue, in dB."""
NEPER_DB = 20 / math.log(10)
"""dB per neper: ``log`` differences times this are dB."""
UNTRACEABLE = (
    "its phase comes from PGHI's heap integration, a loop whose order depends on the magnitudes "
    "(compiled with numba), which no torch graph can express"
)
"""Why decoders that use PGHI cannot be exported (``Representation.untraceable``)."""
LOG_FLOOR = 11.0
"""Log-magnitudes are floored 11 nepers (95.5 dB) below the clip's maximum before differentiating,
as in LTFAT, so that near-zeros do not produce huge gradients."""


def pghi(
    magnitude: torch.Tensor,
    n_fft: int,
    hop: int,
    tol_db: float = 60.0,
    seed: int = 0,
    win_length: int | None = None,
) -> torch.Tensor:
    """Phase for an STFT magnitude by phase-gradient heap integration, batched.

    Parameters
    ----------
    magnitude : ``[B, K, N]`` non-negative magnitude of a Hann-windowed STFT with ``n_fft``
        (``K = n_fft // 2 + 1`` bins) and ``hop``, ``N`` frames; any scaling.
    n_fft, hop : FFT size and hop in samples.
    tol_db : coefficients more than this below the clip's loudest get a random phase.
    seed : seeds those random phases (one pattern shared by the batch, as in ``griffin_lim``).
    win_length : length of the Hann window (default ``n_fft``).

    Returns
    -------
    phase : ``[B, K, N]`` float32 radians in [0, 2π), in the convention of ``torch.stft`` (frames
        referenced to their first sample, window centred at ``n_fft // 2``), ready for
        ``torch.polar(magnitude, phase)`` and ``STFT.inverse``.

    Examples
    --------
    >>> stft = STFT(n_fft=1024, hop=128, length=16384)  # doctest: +SKIP
    >>> mag = stft.forward(wave).abs()
    >>> rebuilt = stft.inverse(torch.polar(mag, pghi(mag, 1024, 128)))
    """
    frames = magnitude.transpose(1, 2)
    out = np.empty(frames.shape, np.float32)
    _run(frames, out, n_fft, hop, tol_db, seed, win_length, spectrum=False)
    return torch.from_numpy(out).transpose(1, 2).to(magnitude.device)


def pghi_frames(
    magnitude: torch.Tensor,
    n_fft: int,
    hop: int,
    tol_db: float = 60.0,
    seed: int = 0,
    win_length: int | None = None,
) -> torch.Tensor:
    """``magnitude * exp(i * pghi(...))`` in the ``[B, frames, bins]`` layout of ``STFT.synthesise``.

    ``magnitude`` is ``[B, N, K]`` here (frames first, as ``STFT.analyse`` gives it); the complex
    coefficients are built inside the compiled loop (no transpose, no ``polar``).
    """
    out = np.empty((*magnitude.shape, 2), np.float32)
    _run(magnitude, out, n_fft, hop, tol_db, seed, win_length, spectrum=True)
    return torch.view_as_complex(torch.from_numpy(out)).to(magnitude.device)


def _run(frames, out, n_fft, hop, tol_db, seed, win_length, spectrum: bool) -> None:
    """Validate, then run the compiled batch on ``frames [B, N, K]`` into ``out``."""
    batch, n_frames, n_bins = frames.shape
    if n_bins != n_fft // 2 + 1:
        raise ValueError(f"{n_bins} bins do not match n_fft={n_fft}")
    mag = np.ascontiguousarray(frames.detach().cpu().numpy(), dtype=np.float32)
    init, init_cos, init_sin = _random_phase(seed, n_frames, n_bins)
    _pghi_batch(
        mag.reshape(batch, -1),
        init,
        init_cos,
        init_sin,
        out.reshape(batch, -1),
        n_bins,
        n_fft,
        hop,
        GAMMA_HANN * (win_length or n_fft) ** 2,
        tol_db / NEPER_DB,
        STEP_DB / NEPER_DB,
        spectrum,
        max(1, min(numba.get_num_threads(), batch)),
    )


@functools.lru_cache(maxsize=4)
def _random_phase(seed: int, n_frames: int, n_bins: int) -> tuple[np.ndarray, ...]:
    """Random phases ``[N * K]`` of the quiet coefficients (and their cosines and sines), one
    pattern per seed and shape, so a clip decodes the same in any batch."""
    init = np.random.default_rng(seed).uniform(0, 2 * math.pi, n_frames * n_bins)
    return init, np.cos(init).astype(np.float32), np.sin(init).astype(np.float32)


@numba.njit(cache=True, parallel=True)
def _pghi_batch(
    mag, init, init_cos, init_sin, out, n_bins, n_fft, hop, gamma, tol, step, spectrum, workers
):  # pragma: no cover (compiled)
    batch = mag.shape[0]
    for w in numba.prange(workers):  # each worker: one workspace, a contiguous run of clips
        work = _workspace(mag.shape[1], n_bins)
        for b in range(w * batch // workers, (w + 1) * batch // workers):
            _pghi_clip(
                mag[b],
                init,
                init_cos,
                init_sin,
                out[b],
                n_bins,
                n_fft,
                hop,
                gamma,
                tol,
                step,
                spectrum,
                work,
            )


@numba.njit(cache=True, nogil=True)
def _workspace(n, n_bins):  # pragma: no cover (compiled)
    """Arrays for ``_pghi_clip`` on a clip of ``n`` coefficients in rows of ``n_bins``."""
    padded = (n // n_bins + 2) * (n_bins + 2)
    # float32 log-magnitude and phase steps (half the cache of float64, ample precision); the
    # phase, a sum of thousands of steps, in float64.
    floats = np.zeros((3, padded), np.float32)  # log-magnitude, time steps, frequency steps
    phase = np.zeros(padded)
    ints = np.empty((3, padded), np.int32)  # bucket, next in bucket, seed order
    done = np.empty(padded, np.bool_)
    return floats, phase, ints, done


@numba.njit(cache=True, nogil=True)
def _pghi_clip(
    mag, init, init_cos, init_sin, out, n_bins, n_fft, hop, gamma, tol, step, spectrum, work
):  # pragma: no cover (compiled)
    """PGHI of one clip. ``mag``, ``init`` (random phases) are ``[N * K]``, frames first; ``out``
    is the phase ``[N * K]`` or, with ``spectrum``, the complex coefficients ``[N * K * 2]``.

    The grid is padded by one coefficient on every side (``[N + 2, K + 2]``, rows of
    ``width = K + 2``) and the border counts as done: a coefficient's neighbours are ``i ± width``
    (previous/next frame) and ``i ± 1`` (bin below/above) with no bounds checks. ``work`` holds
    the arrays (``_workspace``), reused from clip to clip: fresh megabytes per clip cost page
    faults that do not scale across threads.
    """
    floats, ph, ints, done = work
    s, tg, fg = floats[0], floats[1], floats[2]
    n = mag.size
    n_frames = n // n_bins
    width = n_bins + 2
    peak = 0.0
    for i in range(n):
        peak = max(peak, mag[i])
    top = math.log(max(peak, 1e-30))
    floor = top - LOG_FLOOR
    floor_linear = math.exp(floor)
    threshold = top - tol
    s[:] = floor
    for t in range(n_frames):
        for k in range(n_bins):
            m = mag[t * n_bins + k]
            if m > floor_linear:
                s[(t + 1) * width + k + 1] = math.log(m)
    # Phase steps per frame (instantaneous frequency) and per bin (group delay) from centred
    # differences of the log-magnitude, where they will be used (loud coefficients). The spectrum
    # is symmetric about 0 Hz (and Nyquist), so the slope across them is 0; at the first and last
    # frame the difference is one-sided.
    c_t = hop * n_fft / gamma
    c_f = -gamma / (hop * n_fft)
    w_t = 2 * math.pi * hop / n_fft
    last_bin, last_frame = n_bins - 1, n_frames - 1
    for t in range(n_frames):
        row = (t + 1) * width + 1
        for k in range(n_bins):
            i = row + k
            if s[i] < threshold:
                continue
            if k == 0 or (k == last_bin and n_fft % 2 == 0):
                dk = 0.0
            elif k == last_bin:
                dk = s[i] - s[i - 1]
            else:
                dk = 0.5 * (s[i + 1] - s[i - 1])
            if last_frame == 0:
                dt = 0.0
            elif t == 0:
                dt = s[i + width] - s[i]
            elif t == last_frame:
                dt = s[i] - s[i - width]
            else:
                dt = 0.5 * (s[i + width] - s[i - width])
            tg[i] = c_t * dk + w_t * k
            fg[i] = c_f * dt
    _integrate(s, tg, fg, ph, threshold, step, width, ints[0], ints[1], ints[2], done)
    # Frame-centred → frame-start phase: the window centre lies n_fft // 2 samples into the frame.
    shift = 2 * math.pi * (n_fft // 2) / n_fft
    for t in range(n_frames):
        row = (t + 1) * width + 1
        for k in range(n_bins):
            i, o = row + k, t * n_bins + k
            loud = s[i] >= threshold
            if not spectrum:
                p = ph[i] - shift * k if loud else init[o]
                out[o] = p % (2 * math.pi)
            elif loud:
                sn, cs = _sincos(ph[i] - shift * k)
                out[2 * o], out[2 * o + 1] = mag[o] * cs, mag[o] * sn
            else:
                out[2 * o], out[2 * o + 1] = mag[o] * init_cos[o], mag[o] * init_sin[o]


@numba.njit(cache=True, inline="always")
def _sincos(p):  # pragma: no cover (compiled)
    """``(sin p, cos p)`` to ~2e-9 for |p| up to ~1e6: quadrant reduction and Taylor polynomials
    on [-π/4, π/4], inlined (cheaper than libm's calls in the output loop)."""
    q = math.floor(p * (2 / math.pi) + 0.5)
    r = p - q * (math.pi / 2)
    r2 = r * r
    sn = r * (1 + r2 * (-1 / 6 + r2 * (1 / 120 + r2 * (-1 / 5040 + r2 * (1 / 362880)))))
    cs = 1 + r2 * (-0.5 + r2 * (1 / 24 + r2 * (-1 / 720 + r2 * (1 / 40320 - r2 / 3628800))))
    quadrant = int(q) & 3
    if quadrant == 0:
        return sn, cs
    if quadrant == 1:
        return cs, -sn
    if quadrant == 2:
        return -sn, -cs
    return -cs, sn


@numba.njit(cache=True, nogil=True)
def _integrate(
    s, tg, fg, ph, threshold, step, width, bucket, nxt, order, done
):  # pragma: no cover (compiled)
    """Heap integration of one clip, in place on ``ph``.

    ``s, tg, fg, ph``: log-magnitude, time and frequency phase steps and phase on the padded grid
    (``[N + 2, K + 2]`` flattened, rows of ``width = K + 2``, one per frame; the border lies below
    ``threshold``). Coefficients with ``s < threshold`` are left alone. ``bucket``, ``nxt``,
    ``order`` (int32) and ``done`` (bool), as long as ``s``, are workspace.
    """
    n = s.size
    top = max(s.max(), threshold)  # a silent clip has nothing above the threshold
    n_buckets = int((top - threshold) / step) + 1
    count = np.zeros(n_buckets + 1, np.int32)
    per_step = 1 / step
    for i in range(n):
        done[i] = s[i] < threshold  # quiet coefficients (and the border) are never integrated
        if not done[i]:
            b = int((top - s[i]) * per_step)
            bucket[i] = b
            count[b + 1] += 1
    for b in range(n_buckets):
        count[b + 1] += count[b]
    n_active = count[n_buckets]  # order[:n_active]: loud coefficients, loudest bucket first
    fill = count[:n_buckets].copy()
    for i in range(n):
        if not done[i]:
            order[fill[bucket[i]]] = i
            fill[bucket[i]] += 1
    head = np.full(n_buckets, -1, np.int32)
    next_seed = 0
    while True:
        while next_seed < n_active and done[order[next_seed]]:
            next_seed += 1
        if next_seed == n_active:
            break
        i = order[next_seed]  # a new seed: the loudest coefficient not reached yet
        ph[i] = 0.0
        current = _push(i, bucket, head, nxt, done, n_buckets)
        while True:
            while current < n_buckets and head[current] < 0:
                current += 1
            if current == n_buckets:
                break
            i = head[current]
            head[current] = nxt[i]
            # The four neighbours, unrolled: trapezoidal rule on the time steps (next and previous
            # frame) and on the frequency steps (bin above and below).
            j = i + width
            if not done[j]:
                ph[j] = ph[i] + 0.5 * (tg[i] + tg[j])
                current = _push(j, bucket, head, nxt, done, current)
            j = i - width
            if not done[j]:
                ph[j] = ph[i] - 0.5 * (tg[i] + tg[j])
                current = _push(j, bucket, head, nxt, done, current)
            j = i + 1
            if not done[j]:
                ph[j] = ph[i] + 0.5 * (fg[i] + fg[j])
                current = _push(j, bucket, head, nxt, done, current)
            j = i - 1
            if not done[j]:
                ph[j] = ph[i] - 0.5 * (fg[i] + fg[j])
                current = _push(j, bucket, head, nxt, done, current)


@numba.njit(cache=True, inline="always")
def _push(j, bucket, head, nxt, done, current):  # pragma: no cover (compiled)
    """Mark ``j`` done and push it on its bucket's stack; returns the new loudest bucket."""
    done[j] = True
    b = bucket[j]
    nxt[j] = head[b]
    head[b] = j
    return min(b, current)
