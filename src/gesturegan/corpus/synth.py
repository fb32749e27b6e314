"""Small pure DSP primitives for the procedural corpus: noise, envelopes, filters, oscillators,
plucked strings, modal resonators and a room.

Conventions: signals are ``[T]`` float64 arrays, ``sr`` is in Hz, times are in seconds, levels in dB.
Everything is vectorised numpy/scipy; recursive filters run in ``scipy.signal.lfilter``.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

T60_DB = 60.0
"""A T60 time is how long a level takes to fall by this many dB."""

_LN_1000 = np.log(1000.0)  # exp(-_LN_1000 * t / t60) falls 60 dB at t = t60


# --- Noise --------------------------------------------------------------------------------------


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Uniform draw in [lo, hi]."""
    return float(rng.uniform(lo, hi))


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Log-uniform draw in [lo, hi] (pitches, times, Q: equal odds per octave)."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def colored_noise(rng: np.random.Generator, n: int, exponent: float = 0.0) -> np.ndarray:
    """Gaussian noise with a ``1 / f**exponent`` power spectrum, unit RMS.

    Parameters
    ----------
    rng : np.random.Generator
        Source of randomness.
    n : int
        Length in samples.
    exponent : float
        0 white, 1 pink, 2 brown (red); negative values tilt towards the highs (-1 blue).

    Returns
    -------
    np.ndarray
        ``[n]`` noise with zero mean and unit RMS.
    """
    spec = np.fft.rfft(rng.standard_normal(n))
    k = np.arange(len(spec), dtype=np.float64)
    k[0] = 1.0
    spec *= k ** (-exponent / 2.0)
    spec[0] = 0.0
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x * x)) + 1e-12)


def smooth_random(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
    """A slowly wandering random curve in about [-1, 1], with no detail faster than ``rate_hz``.

    Random values at ``rate_hz`` are joined by cosine interpolation.
    """
    points = max(2, int(np.ceil(n / sr * rate_hz)) + 2)
    values = rng.uniform(-1.0, 1.0, points)
    return _cosine_interp(np.linspace(0, points - 1, n), values)


# --- Envelopes ----------------------------------------------------------------------------------


def exp_decay(n: int, sr: int, t60_s: float, start_s: float = 0.0) -> np.ndarray:
    """``[n]`` amplitude envelope: 0 before ``start_s``, then 1 falling by 60 dB every ``t60_s``."""
    t = np.arange(n) / sr - start_s
    return np.where(t >= 0, np.exp(-_LN_1000 * np.maximum(t, 0.0) / t60_s), 0.0)


def attack_decay(
    n: int, sr: int, attack_s: float, t60_s: float, start_s: float = 0.0
) -> np.ndarray:
    """``[n]`` amplitude envelope: a raised-cosine rise over ``attack_s`` then an exponential decay."""
    t = np.arange(n) / sr - start_s
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip(t / max(attack_s, 1e-6), 0.0, 1.0))
    fall = np.exp(-_LN_1000 * np.maximum(t - attack_s, 0.0) / t60_s)
    return np.where(t >= 0, rise * fall, 0.0)


def gate(
    n: int, sr: int, start_s: float, dur_s: float, attack_s: float = 0.002, release_s: float = 0.01
) -> np.ndarray:
    """``[n]`` amplitude envelope: on for ``dur_s`` from ``start_s`` with raised-cosine edges."""
    t = np.arange(n) / sr - start_s
    rise = np.clip(t / max(attack_s, 1e-6), 0.0, 1.0)
    fall = np.clip((dur_s - t) / max(release_s, 1e-6), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))


def contour_db(n: int, sr: int, times_s: np.ndarray, levels_db: np.ndarray) -> np.ndarray:
    """``[n]`` amplitude envelope through breakpoints ``(times_s, levels_db)``, eased in dB.

    Before the first and after the last breakpoint the level is held.
    """
    t = np.arange(n) / sr
    times_s = np.asarray(times_s, dtype=np.float64)
    pos = np.interp(t, times_s, np.arange(len(times_s), dtype=np.float64))
    return 10.0 ** (_cosine_interp(pos, np.asarray(levels_db, dtype=np.float64)) / 20.0)


def fade(x: np.ndarray, sr: int, in_s: float = 0.0, out_s: float = 0.005) -> np.ndarray:
    """``x`` with raised-cosine fades at both ends (avoids clicks where a clip is cut)."""
    n = len(x)
    t = np.arange(n) / sr
    up = np.clip(t / in_s, 0.0, 1.0) if in_s > 0 else np.ones(n)
    down = np.clip((n / sr - t) / out_s, 0.0, 1.0) if out_s > 0 else np.ones(n)
    return x * (0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down)))


# --- Filters ------------------------------------------------------------------------------------


def biquad(kind: str, f0_hz: float, q: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """RBJ-cookbook biquad coefficients ``(b, a)``.

    Parameters
    ----------
    kind : str
        ``"lowpass"``, ``"highpass"``, ``"bandpass"`` (0 dB peak) or ``"notch"``.
    f0_hz : float
        Corner or centre frequency; kept inside (10 Hz, 0.45 sr).
    q : float
        Quality factor (0.707: Butterworth; higher: resonant).
    sr : int
        Sample rate in Hz.
    """
    w0 = 2.0 * np.pi * np.clip(f0_hz, 10.0, 0.45 * sr) / sr
    cos, alpha = np.cos(w0), np.sin(w0) / (2.0 * q)
    if kind == "lowpass":
        b = [(1 - cos) / 2, 1 - cos, (1 - cos) / 2]
    elif kind == "highpass":
        b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
    elif kind == "bandpass":
        b = [alpha, 0.0, -alpha]
    elif kind == "notch":
        b = [1.0, -2 * cos, 1.0]
    else:
        raise ValueError(f"unknown biquad kind {kind!r}")
    a = np.array([1 + alpha, -2 * cos, 1 - alpha])
    return np.asarray(b) / a[0], a / a[0]


def filt(x: np.ndarray, kind: str, f0_hz: float, q: float, sr: int) -> np.ndarray:
    """``x`` through one biquad (see ``biquad``)."""
    b, a = biquad(kind, f0_hz, q, sr)
    return scipy.signal.lfilter(b, a, x)


def sweep(
    x: np.ndarray, kind: str, f0_hz: np.ndarray, q: float, sr: int, block: int = 128
) -> np.ndarray:
    """``x`` through a biquad whose frequency follows ``f0_hz: [T]`` (Hz), updated every ``block``
    samples; the filter state carries across blocks so the sweep is continuous."""
    out = np.empty_like(x)
    zi = np.zeros(2)
    for start in range(0, len(x), block):
        seg = slice(start, start + block)
        b, a = biquad(kind, float(np.mean(f0_hz[seg])), q, sr)
        out[seg], zi = scipy.signal.lfilter(b, a, x[seg], zi=zi)
    return out


def dc_block(x: np.ndarray, sr: int, cutoff_hz: float = 20.0) -> np.ndarray:
    """``x`` without DC and subsonic rumble (2nd-order Butterworth high-pass)."""
    b, a = scipy.signal.butter(2, cutoff_hz, "highpass", fs=sr)
    return scipy.signal.lfilter(b, a, x)


# --- Oscillators --------------------------------------------------------------------------------


def phase(freq_hz: np.ndarray | float, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    """``[n]`` running phase in radians of an oscillator at ``freq_hz`` (scalar or ``[n]``)."""
    f = np.broadcast_to(np.asarray(freq_hz, dtype=np.float64), (n,))
    return phase0 + 2.0 * np.pi * np.cumsum(f) / sr


def harmonic_tone(
    freq_hz: np.ndarray | float,
    n: int,
    sr: int,
    shape: str = "saw",
    max_partials: int = 96,
    inharmonicity: float = 0.0,
) -> np.ndarray:
    """Band-limited additive oscillator: partials ``k`` above 0.45 sr at any moment are dropped.

    Parameters
    ----------
    freq_hz : np.ndarray | float
        Fundamental, scalar or ``[n]`` (glides).
    shape : str
        ``"saw"`` (all partials, 1/k), ``"square"`` (odd, 1/k), ``"triangle"`` (odd, 1/k^2) or
        ``"organ"`` (the first eight partials, 1/k).
    inharmonicity : float
        Stiff-string stretch ``B``: partial ``k`` sits at ``k * sqrt(1 + B k^2)`` times the
        fundamental (pianos: about 1e-4).

    Returns
    -------
    np.ndarray
        ``[n]`` tone with peak amplitude about 1.
    """
    f = np.broadcast_to(np.asarray(freq_hz, dtype=np.float64), (n,))
    top = min(max_partials, 8 if shape == "organ" else max_partials)
    k = np.arange(1, top + 1, dtype=np.float64)
    if shape in ("square", "triangle"):
        k = k[::2]
    amp = 1.0 / k**2 if shape == "triangle" else 1.0 / k
    ratio = k * np.sqrt(1.0 + inharmonicity * k * k)
    keep = ratio * f.min() < 0.45 * sr
    ratio, amp = ratio[keep], amp[keep]
    ph = phase(f, n, sr)
    audible = ratio[:, None] * f[None, :] < 0.45 * sr  # (K, n)
    tone = (amp[:, None] * audible * np.sin(ratio[:, None] * ph[None, :])).sum(axis=0)
    return tone / (np.abs(tone).max() + 1e-12)


def fm_tone(
    freq_hz: np.ndarray | float,
    n: int,
    sr: int,
    ratio: float,
    index: np.ndarray | float,
) -> np.ndarray:
    """Two-operator FM: a sine carrier at ``freq_hz`` modulated at ``ratio * freq_hz`` with
    modulation ``index`` (scalar or ``[n]``; 0 is a pure sine, 5 is bright)."""
    ph = phase(freq_hz, n, sr)
    return np.sin(ph + np.asarray(index) * np.sin(ratio * ph))


def modes(
    n: int,
    sr: int,
    freqs_hz: np.ndarray,
    t60_s: np.ndarray,
    amps: np.ndarray,
    start_s: float = 0.0,
    phases: np.ndarray | None = None,
) -> np.ndarray:
    """Modal resonator bank struck at ``start_s``: a sum of exponentially decaying sinusoids.

    Parameters
    ----------
    freqs_hz, t60_s, amps : np.ndarray
        ``[M]`` mode frequencies (Hz), decay times (s) and amplitudes; modes above 0.45 sr are
        dropped.
    phases : np.ndarray | None
        ``[M]`` initial phases in radians (``None``: all 0, a sharp strike).

    Returns
    -------
    np.ndarray
        ``[n]`` the ringing of all modes.
    """
    freqs_hz, t60_s, amps = (np.asarray(v, dtype=np.float64) for v in (freqs_hz, t60_s, amps))
    ph0 = np.zeros_like(freqs_hz) if phases is None else np.asarray(phases, dtype=np.float64)
    keep = freqs_hz < 0.45 * sr
    f, d, a, p = freqs_hz[keep], t60_s[keep], amps[keep], ph0[keep]
    t = np.arange(n) / sr - start_s
    on = t >= 0
    t = np.maximum(t, 0.0)
    ring = a[:, None] * np.exp(-_LN_1000 * t[None, :] / d[:, None])
    return (ring * np.sin(2.0 * np.pi * f[:, None] * t[None, :] + p[:, None])).sum(axis=0) * on


def karplus_strong(
    n: int,
    sr: int,
    f0_hz: float,
    t60_s: float,
    brightness: float,
    rng: np.random.Generator,
    start_s: float = 0.0,
) -> np.ndarray:
    """Plucked string: Karplus–Strong with a fractional-delay all-pass, as one IIR filter.

    The loop is ``delay(L) -> all-pass (fraction) -> g * (s + (1 - s) z^-1)``; its transfer
    function is written out so ``lfilter`` runs it in C.

    Parameters
    ----------
    f0_hz : float
        Pitch (Hz).
    t60_s : float
        Decay time of the fundamental (s).
    brightness : float
        0..1: the loop low-pass weight ``s`` goes from 0.5 (dark, the classic average) to 0.95, and
        the pluck noise's low-pass from 2 to 32 harmonics.
    start_s : float
        When the string is plucked.

    Returns
    -------
    np.ndarray
        ``[n]`` the string output.
    """
    s = 0.5 + 0.45 * brightness
    period = sr / f0_hz - (1.0 - s)  # the two-tap low-pass delays about (1 - s) samples
    length = max(2, int(np.floor(period - 0.1)))
    frac = period - length  # in [0.1, 1.1): a stable all-pass delay
    c = (1.0 - frac) / (1.0 + frac)
    # Loop gain: the fundamental loses 60 dB in t60_s, the low-pass's own loss at f0 included.
    lowpass_gain = abs(s + (1.0 - s) * np.exp(-2j * np.pi * f0_hz / sr))
    g = min(10.0 ** (-3.0 / (f0_hz * t60_s)) / lowpass_gain, 0.99999)
    den = np.zeros(length + 3)
    den[0], den[1] = 1.0, c
    den[length:] -= g * np.array([s * c, s + (1.0 - s) * c, 1.0 - s])
    # The pluck: one period of noise low-passed at 2-32 harmonics (a soft or a sharp plectrum).
    cutoff = f0_hz * 2.0 ** (1.0 + 4.0 * brightness)
    burst = filt(rng.uniform(-1.0, 1.0, 4 * length), "lowpass", cutoff, 0.707, sr)[-length:]
    exc = np.zeros(n)
    i0 = int(start_s * sr)
    seg = burst[: max(0, n - i0)]
    exc[i0 : i0 + len(seg)] = seg - seg.mean()
    return scipy.signal.lfilter([1.0, c], den, exc)


# --- Space and level ----------------------------------------------------------------------------


def room(
    x: np.ndarray, sr: int, rng: np.random.Generator, rt60_s: float, wet: float
) -> np.ndarray:
    """``x`` in a small diffuse room: convolution with exponentially decaying noise whose highs die
    faster, mixed ``wet`` (0..1, the reverb's energy relative to the dry sound)."""
    m = max(16, int(rt60_s * sr))
    t = np.arange(m) / sr
    ir = rng.standard_normal(m) * np.exp(-_LN_1000 * t / rt60_s)
    ir = scipy.signal.lfilter([0.6], [1.0, -0.4], ir)  # darker tail
    ir[: int(0.005 * sr)] = 0.0  # first reflections arrive after 5 ms
    ir /= np.sqrt((ir * ir).sum()) + 1e-12
    tail = scipy.signal.fftconvolve(x, ir)[: len(x)]
    return x + np.sqrt(wet) * tail


def place(sound: np.ndarray, n: int, offset: int) -> np.ndarray:
    """``[n]`` with ``sound`` starting at sample ``offset`` (cut at the end)."""
    out = np.zeros(n)
    seg = sound[: max(0, n - offset)]
    out[offset : offset + len(seg)] = seg
    return out


def finish(x: np.ndarray, sr: int) -> np.ndarray:
    """A drawn recipe's ``x`` as a clip: DC and subsonic rumble removed, the ends faded (0.5 ms in,
    5 ms out); its level is still to be set."""
    return fade(dc_block(x, sr), sr, in_s=0.0005, out_s=0.005)


def normalize_peak(x: np.ndarray, peak_db: float) -> np.ndarray:
    """``x`` scaled so that its largest absolute sample is ``peak_db`` dBFS."""
    peak = np.abs(x).max()
    return x * (10.0 ** (peak_db / 20.0) / peak) if peak > 0 else x


def _cosine_interp(pos: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values at fractional indices ``pos`` with raised-cosine easing between neighbours."""
    i = np.clip(np.floor(pos).astype(int), 0, len(values) - 2)
    w = 0.5 - 0.5 * np.cos(np.pi * np.clip(pos - i, 0.0, 1.0))
    return values[i] * (1.0 - w) + values[i + 1] * w
