"""Recipes for the four gesture categories: each draws one sound from a ``np.random.Generator``.

A recipe is ``recipe(rng, sr, n) -> [n] float64`` (unnormalised; ``synthesize`` removes DC, fades
the ends and sets the level). The categories differ in their *energy envelope* only: every category
has noisy and tonal recipes, low and high pitches, dark and bright sounds, so a classifier cannot
tell them apart by timbre. What separates them (docs/contract.md, "The four gesture categories"):

- ``trigger``: within 20 dB of its peak for at most about 0.1 s (T60 of 0.03-0.3 s), then silence
  or a faint room.
- ``trigger_continuous``: an immediate peak, then a long ring (T60 of 0.6-2.5 s) or a reverberant
  tail: the level keeps falling for the rest of the clip.
- ``continuous_variation``: a stream whose loudness follows a smooth, irregular contour (15-40 dB of
  swell) that starts softly, over a source that may also sweep in pitch or brightness; or a short
  melodic phrase, or speech-like syllables (both redrawn until the labeler hears a variation).
- ``continuous_repetition``: steady drones (within about 1 dB) or regular pulses at 4-28 Hz (loops,
  rolls, tremolo, gates, repeated notes) that last the whole clip.
"""

from __future__ import annotations

import numpy as np

from . import synth
from .synth import log_uniform as _lu
from .synth import uniform as _u
from .variations import Recipe, heard_as, vary_phrase, vary_voice

# --- Short hits (also the building blocks of loops and rolls) -----------------------------------


def _kick(rng: np.random.Generator, sr: int, n: int, t60_s: float) -> np.ndarray:
    f_end = _lu(rng, 38, 90)
    f_start = f_end * _u(rng, 1.8, 4.0)
    t = np.arange(n) / sr
    freq = f_end + (f_start - f_end) * np.exp(-t / _lu(rng, 0.01, 0.05))
    body = np.sin(synth.phase(freq, n, sr)) * synth.exp_decay(n, sr, t60_s)
    drive = _lu(rng, 1.0, 3.0)
    body = np.tanh(drive * body) / np.tanh(drive)
    click = synth.filt(synth.colored_noise(rng, n), "highpass", _lu(rng, 1500, 6000), 0.7, sr)
    return body + _u(rng, 0.05, 0.4) * click * synth.exp_decay(n, sr, _lu(rng, 0.008, 0.03))


def _snare(rng: np.random.Generator, sr: int, n: int, t60_s: float) -> np.ndarray:
    tone = np.sin(synth.phase(_lu(rng, 140, 340), n, sr)) * synth.exp_decay(n, sr, 0.6 * t60_s)
    noise = synth.filt(synth.colored_noise(rng, n), "bandpass", _lu(rng, 1200, 7000), 0.8, sr)
    return _u(rng, 0.2, 1.0) * tone + noise * synth.exp_decay(n, sr, t60_s)


def _hat(rng: np.random.Generator, sr: int, n: int, t60_s: float) -> np.ndarray:
    noise = synth.filt(synth.colored_noise(rng, n), "highpass", _lu(rng, 3000, 9000), 0.7, sr)
    squares = sum(
        np.sign(np.sin(synth.phase(f, n, sr))) for f in rng.uniform(250, 800, size=6)
    )
    metal = synth.filt(squares / 6.0, "bandpass", _lu(rng, 5000, 10000), 1.0, sr)
    return (noise + _u(rng, 0.0, 2.0) * metal) * synth.exp_decay(n, sr, t60_s)


def _click(rng: np.random.Generator, sr: int, n: int, t60_s: float) -> np.ndarray:
    f0 = _lu(rng, 200, 8000)
    q = min(_lu(rng, 1.0, 25.0), np.pi * f0 * t60_s / 6.9)  # ring no longer than t60_s
    x = np.zeros(n)
    x[: max(1, int(rng.integers(1, 4)))] = 1.0
    return synth.filt(x, "bandpass", f0, q, sr) + 0.05 * x


def _wood(rng: np.random.Generator, sr: int, n: int, t60_s: float) -> np.ndarray:
    f0 = _lu(rng, 120, 3000)
    ratios = np.array([1.0, _u(rng, 2.3, 3.0), _u(rng, 3.9, 5.5), _u(rng, 6.0, 9.0)])
    amps = rng.uniform(0.2, 1.0, 4) * ratios ** -_u(rng, 0.3, 1.5)
    return synth.modes(n, sr, f0 * ratios, t60_s * ratios**-0.5, amps)


def _noise_burst(rng: np.random.Generator, sr: int, n: int, dur_s: float) -> np.ndarray:
    noise = synth.colored_noise(rng, n, _u(rng, -1.0, 2.0))
    if rng.random() < 0.6:
        noise = synth.filt(noise, "bandpass", _lu(rng, 200, 8000), _lu(rng, 0.5, 4.0), sr)
    env = synth.gate(n, sr, 0.0, dur_s, _lu(rng, 0.0005, 0.008), _lu(rng, 0.004, 0.03))
    return noise * env


def _blip(rng: np.random.Generator, sr: int, n: int, dur_s: float) -> np.ndarray:
    f0 = _lu(rng, 110, 5000)
    t = np.arange(n) / sr
    freq = f0 * 2.0 ** (_u(rng, -1.0, 1.0) * np.clip(t / dur_s, 0, 1))
    kind = rng.integers(3)
    if kind == 0:
        tone = synth.harmonic_tone(freq, n, sr, ("saw", "square", "triangle")[rng.integers(3)])
    elif kind == 1:
        tone = synth.fm_tone(freq, n, sr, float(rng.integers(1, 5)), _u(rng, 0.5, 5.0))
    else:
        tone = np.sin(synth.phase(freq, n, sr))
    return tone * synth.gate(n, sr, 0.0, dur_s, _lu(rng, 0.001, 0.006), _lu(rng, 0.004, 0.02))


_HITS = (_kick, _snare, _hat, _click, _wood)


def _hit(rng: np.random.Generator, sr: int, n: int, t60_s: float) -> np.ndarray:
    """One short percussive sound of a random kind (kick, snare, hat, click, wood)."""
    return _HITS[rng.integers(len(_HITS))](rng, sr, n, t60_s)


def _start(rng: np.random.Generator, sr: int, n: int, sound: np.ndarray, max_s: float) -> np.ndarray:
    """``sound`` delayed by a random 0..``max_s`` seconds."""
    return synth.place(sound, n, int(rng.uniform(0.0, max_s) * sr))


def _small_room(rng: np.random.Generator, x: np.ndarray, sr: int) -> np.ndarray:
    """A dry booth or a small room, quiet enough that a short hit stays short."""
    if rng.random() < 0.5:
        return x
    return synth.room(x, sr, rng, _lu(rng, 0.1, 0.4), _lu(rng, 0.005, 0.05))


# --- trigger ------------------------------------------------------------------------------------


def trigger_drum(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A kick, snare, hat, click or wood-block hit (T60 0.03-0.3 s)."""
    x = _hit(rng, sr, n, _lu(rng, 0.04, 0.25))
    return _small_room(rng, _start(rng, sr, n, x, 0.1), sr)


def trigger_burst(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A gated burst of coloured, possibly band-passed noise (15-80 ms)."""
    x = _noise_burst(rng, sr, n, _lu(rng, 0.015, 0.08))
    return _small_room(rng, _start(rng, sr, n, x, 0.1), sr)


def trigger_blip(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A short synthetic tone (sine, saw, square, FM) with a small glide (20-90 ms)."""
    x = _blip(rng, sr, n, _lu(rng, 0.02, 0.09))
    return _small_room(rng, _start(rng, sr, n, x, 0.1), sr)


# --- trigger_continuous -------------------------------------------------------------------------


def _ring_t60(rng: np.random.Generator) -> float:
    return _lu(rng, 0.6, 2.5)


def ring_pluck(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A plucked string (Karplus–Strong, 55-1500 Hz) ringing on."""
    x = synth.karplus_strong(n, sr, _lu(rng, 55, 1500), _ring_t60(rng), _u(rng, 0, 1), rng)
    return _start(rng, sr, n, x, 0.06)


def ring_struck(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A struck bell, bar or plate (modal bank, slightly beating pairs) ringing on."""
    family = rng.integers(3)
    if family == 0:  # church-bell partials
        ratios = np.array([0.5, 1.0, 1.19, 1.5, 2.0, 2.51, 2.66, 3.01, 4.1])
    elif family == 1:  # free bar
        ratios = np.array([1.0, 2.756, 5.404, 8.933])
    else:  # plate / glass: irregular
        ratios = np.sort(np.concatenate([[1.0], rng.uniform(1.2, 9.0, 7)]))
    f0 = _lu(rng, 80, 1800)
    base = _ring_t60(rng)
    t60 = base * ratios ** -_u(rng, 0.1, 0.6)
    amps = rng.uniform(0.3, 1.0, len(ratios)) * ratios ** -_u(rng, 0.0, 1.2)
    beat = f0 * ratios + rng.uniform(0.3, 2.0, len(ratios))
    x = synth.modes(
        n, sr, np.concatenate([f0 * ratios, beat]), np.tile(t60, 2),
        np.concatenate([amps, 0.3 * amps]), phases=rng.uniform(0, 2 * np.pi, 2 * len(ratios)),
    )
    x = x * synth.attack_decay(n, sr, 0.001, 1e9)
    return _start(rng, sr, n, x, 0.06)


def ring_cymbal(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A crash or gong-like wash: bright or dark noise plus many inharmonic modes, long decay."""
    t60 = _ring_t60(rng)
    noise = synth.colored_noise(rng, n, _u(rng, -1.0, 1.0))
    noise = synth.filt(noise, "highpass", _lu(rng, 300, 5000), 0.7, sr)
    f = rng.uniform(1.0, 12.0, 24) * _lu(rng, 150, 900)
    metal = synth.modes(n, sr, f, t60 * rng.uniform(0.5, 1.0, 24), rng.uniform(0.1, 1.0, 24),
                        phases=rng.uniform(0, 2 * np.pi, 24))
    metal /= np.abs(metal).max() + 1e-12
    env = synth.attack_decay(n, sr, _lu(rng, 0.001, 0.02), t60)
    x = (noise / 4.0 + _u(rng, 0.0, 1.0) * metal) * env
    return _start(rng, sr, n, x, 0.06)


def ring_piano(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A piano-like note (40-1500 Hz): bright prompt decay, then a darker after-sound."""
    f0 = _lu(rng, 40, 1500)
    bright = synth.harmonic_tone(f0, n, sr, "saw", inharmonicity=_lu(rng, 1e-5, 5e-4))
    dark = synth.harmonic_tone(f0, n, sr, "triangle")
    t60 = _ring_t60(rng)
    x = bright * synth.exp_decay(n, sr, _u(rng, 0.2, 0.5) * t60) + _u(rng, 0.3, 0.8) * dark * (
        synth.exp_decay(n, sr, t60)
    )
    hammer = synth.filt(synth.colored_noise(rng, n), "lowpass", 2000, 0.7, sr)
    x = x * synth.attack_decay(n, sr, 0.002, 1e9) + 0.1 * hammer * synth.exp_decay(n, sr, 0.03)
    return _start(rng, sr, n, x, 0.06)


def ring_drum(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A low tom, timpani or gong stroke (45-250 Hz) with a long, slightly falling pitch."""
    f0 = _lu(rng, 45, 250)
    t = np.arange(n) / sr
    freq = f0 * (1.0 + _u(rng, 0.0, 0.3) * np.exp(-t / 0.1))
    t60 = _ring_t60(rng)
    body = np.sin(synth.phase(freq, n, sr)) * synth.exp_decay(n, sr, t60)
    over = synth.modes(n, sr, f0 * np.array([1.5, 1.99, 2.44]), np.full(3, 0.7 * t60),
                       rng.uniform(0.1, 0.6, 3))
    stick = synth.filt(synth.colored_noise(rng, n), "bandpass", _lu(rng, 800, 5000), 1.0, sr)
    x = body + over + 0.3 * stick * synth.exp_decay(n, sr, 0.04)
    return _start(rng, sr, n, x * synth.attack_decay(n, sr, 0.002, 1e9), 0.06)


def ring_hall(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A short hit or burst in a big reverberant hall: the room keeps the energy moving."""
    if rng.random() < 0.5:
        x = _hit(rng, sr, n, _lu(rng, 0.04, 0.2))
    else:
        x = _noise_burst(rng, sr, n, _lu(rng, 0.015, 0.06))
    x = _start(rng, sr, n, x, 0.06)
    return synth.room(x, sr, rng, _lu(rng, 0.8, 2.5), _lu(rng, 0.7, 3.0))


def ring_fed(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A struck resonator that is fed a little more: the strike, then a fading scrape through the
    same resonances."""
    f0 = _lu(rng, 100, 2500)
    ratios = np.sort(np.concatenate([[1.0], rng.uniform(1.3, 6.0, 3)]))
    t60 = _ring_t60(rng)
    strike = synth.modes(n, sr, f0 * ratios, t60 * ratios**-0.3, rng.uniform(0.3, 1.0, 4))
    scrape = synth.colored_noise(rng, n, _u(rng, 0.0, 1.5)) * synth.exp_decay(n, sr, 0.8 * t60)
    fed = sum(synth.filt(scrape, "bandpass", f0 * r, _lu(rng, 20, 80), sr) for r in ratios)
    x = strike / (np.abs(strike).max() + 1e-12) + _u(rng, 0.1, 0.5) * fed / (
        np.abs(fed).max() + 1e-12
    )
    return _start(rng, sr, n, x * synth.attack_decay(n, sr, 0.001, 1e9), 0.06)


# --- continuous_variation -----------------------------------------------------------------------


def _swell(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A soft-starting, irregular loudness contour with 15-40 dB of swell (amplitude ``[n]``)."""
    d = n / sr
    depth = _u(rng, 15.0, 40.0)
    kind = rng.integers(4)
    if kind == 0:  # crescendo
        times = [0.0, _u(rng, 0.55, 0.95) * d, d]
        levels = [-depth, 0.0, -_u(rng, 0.0, 4.0)]
    elif kind == 1:  # arch
        peak = _u(rng, 0.3, 0.7) * d
        times = [0.0, peak, d]
        levels = [-depth, 0.0, -_u(rng, 12.0, depth)]
    elif kind == 2:  # soft start, then fade away
        times = [0.0, _u(rng, 0.25, 0.45) * d, d]
        levels = [-depth, 0.0, -_u(rng, 15.0, depth)]
    else:  # two swells of different size and width
        a, b, c = np.sort(rng.uniform(0.15, 0.95, 3)) * d
        first_up = rng.random() < 0.5
        levels = [-depth, 0.0 if first_up else -_u(rng, 4, 10), -_u(rng, 12, 25),
                  -_u(rng, 4, 10) if first_up else 0.0, -_u(rng, 5, depth)]
        times = [0.0, a, b, c, d]
    return synth.contour_db(n, sr, np.asarray(times), np.asarray(levels))


def _glide(rng: np.random.Generator, sr: int, n: int, lo: float, hi: float) -> np.ndarray:
    """A frequency curve ``[n]`` (Hz) gliding between two random values in [lo, hi], or wandering."""
    f0 = _lu(rng, lo, hi)
    if rng.random() < 0.3:
        return f0 * 2.0 ** (_u(rng, 0.1, 1.0) * synth.smooth_random(rng, n, sr, 2.0))
    f1 = float(np.clip(f0 * 2.0 ** _u(rng, -3.0, 3.0), lo, hi))
    return np.geomspace(f0, f1, n)


def vary_noise_sweep(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """Coloured noise through a resonant filter sweeping up, down or around, swelling."""
    noise = synth.colored_noise(rng, n, _u(rng, -0.5, 1.5))
    kind = ("lowpass", "bandpass", "highpass")[rng.integers(3)]
    freq = _glide(rng, sr, n, 200, 9000)
    # Bands of 150 Hz or more, so that the noise itself does not flutter like a roll.
    x = synth.sweep(noise, kind, freq, min(_lu(rng, 0.7, 4.0), freq.min() / 150.0), sr)
    return x * _swell(rng, sr, n)


def vary_gliss(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A glissando (saw, square, triangle, sine or FM; 50-3000 Hz) with a changing loudness."""
    freq = _glide(rng, sr, n, 50, 3000)
    if rng.random() < 0.4:
        x = synth.fm_tone(freq, n, sr, float(rng.integers(1, 4)),
                          _u(rng, 0, 5) * (0.5 + 0.5 * synth.smooth_random(rng, n, sr, 2.0)))
    else:
        x = synth.harmonic_tone(freq, n, sr, ("saw", "square", "triangle", "organ")[rng.integers(4)])
    return x * _swell(rng, sr, n)


def vary_texture(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """An evolving texture: noise bands or a detuned chord whose parts drift in level and
    brightness, under one overall swell."""
    parts = []
    for _ in range(int(rng.integers(2, 5))):
        if rng.random() < 0.5:
            f0 = _lu(rng, 150, 8000)
            band = synth.filt(synth.colored_noise(rng, n, _u(rng, -0.5, 1.5)), "bandpass",
                              f0, min(_lu(rng, 1.0, 10.0), f0 / 150.0), sr)
        else:
            band = synth.harmonic_tone(_lu(rng, 50, 1500) * (1 + 0.003 * synth.smooth_random(
                rng, n, sr, 1.5)), n, sr, ("saw", "triangle", "organ")[rng.integers(3)])
        drift = 10.0 ** (_u(rng, 2.0, 6.0) * synth.smooth_random(rng, n, sr, 2.0) / 20.0)
        parts.append(band / (np.abs(band).max() + 1e-12) * drift)
    x = np.sum(parts, axis=0)
    if rng.random() < 0.5:
        x = synth.sweep(x, "lowpass", _glide(rng, sr, n, 300, 9000), _lu(rng, 0.7, 3.0), sr)
    return x * _swell(rng, sr, n)


# --- continuous_repetition ----------------------------------------------------------------------


def _pulse_times(rng: np.random.Generator, sr: int, n: int, rate_hz: float) -> np.ndarray:
    """Sample offsets of a regular pulse at ``rate_hz`` over the whole clip (first within one
    period of the start), with 2% timing jitter."""
    period = 1.0 / rate_hz
    times = np.arange(_u(rng, 0.0, min(period, 0.05)), n / sr, period)
    times = times + rng.normal(0.0, 0.02 * period, len(times))
    return np.clip((times * sr).astype(int), 0, n - 1)


def _stamp(n: int, hits: list[np.ndarray], offsets: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Mix ``hits[i]`` (each ``[n]``, starting at 0) at ``offsets[i]`` with ``gains[i]``."""
    out = np.zeros(n)
    for hit, off, gain in zip(hits, offsets, gains, strict=True):
        out[off:] += gain * hit[: n - off]
    return out


def repeat_loop(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A drum loop on a regular grid (5-12 steps per second): kick and snare accents, hats or
    clicks on every other step."""
    rate = _lu(rng, 5.0, 12.0)
    offsets = _pulse_times(rng, sr, n, rate)
    t60 = min(_lu(rng, 0.04, 0.15), 1.0 / rate)
    kit = [_kick(rng, sr, n, t60), _snare(rng, sr, n, t60), _hat(rng, sr, n, t60 * 0.7),
           _click(rng, sr, n, t60)]
    kit = [k / (np.abs(k).max() + 1e-12) for k in kit]
    pattern = np.where(np.arange(len(offsets)) % 4 == 0, 0, np.where(
        np.arange(len(offsets)) % 4 == 2, 1, 2 + rng.integers(2)))
    gains = np.where(pattern < 2, 1.0, _u(rng, 0.4, 0.8)) * 10 ** (
        rng.normal(0, 1.0, len(offsets)) / 20)
    return _small_room(rng, _stamp(n, [kit[p] for p in pattern], offsets, gains), sr)


def repeat_roll(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A roll of one drum, click or wood sound at 9-28 strokes per second, steady level."""
    rate = _lu(rng, 9.0, 28.0)
    hit = _hit(rng, sr, n, min(_lu(rng, 0.03, 0.1), 1.5 / rate))
    hit /= np.abs(hit).max() + 1e-12
    offsets = _pulse_times(rng, sr, n, rate)
    gains = 10 ** (rng.normal(0, 1.5, len(offsets)) / 20)
    return _small_room(rng, _stamp(n, [hit] * len(offsets), offsets, gains), sr)


def repeat_notes(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """Repeated plucked notes (an ostinato, 4-10 notes per second) on one or a few pitches."""
    rate = _lu(rng, 4.0, 10.0)
    offsets = _pulse_times(rng, sr, n, rate)
    base = _lu(rng, 80, 1000)
    scale = np.array([0, 2, 4, 7, 9, 12])
    pitches = base * 2.0 ** (rng.choice(scale, size=min(4, len(offsets))) / 12.0)
    t60 = _lu(rng, 0.08, 0.4)
    notes = [synth.karplus_strong(n, sr, float(p), t60, _u(rng, 0.2, 1.0), rng) for p in pitches]
    notes = [x / (np.abs(x).max() + 1e-12) for x in notes]
    hits = [notes[i % len(notes)] for i in range(len(offsets))]
    return _stamp(n, hits, offsets, 10 ** (rng.normal(0, 1.0, len(offsets)) / 20))


def _source(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A held sound of a random kind: harmonic chord, FM tone, coloured/filtered noise, organ."""
    kind = rng.integers(4)
    if kind == 0:
        root = _lu(rng, 40, 800)
        x = sum(synth.harmonic_tone(root * r * (1 + rng.normal(0, 0.002)), n, sr,
                                    ("saw", "square", "triangle")[rng.integers(3)])
                for r in rng.choice([1.0, 1.25, 1.5, 2.0, 3.0], size=int(rng.integers(1, 4))))
    elif kind == 1:
        x = synth.fm_tone(_lu(rng, 50, 2000), n, sr, float(rng.integers(1, 5)), _u(rng, 0.2, 6))
    elif kind == 2:
        x = synth.colored_noise(rng, n, _u(rng, -1.0, 2.0))
        if rng.random() < 0.7:
            f0 = _lu(rng, 300, 8000)  # bands of 150 Hz or more: a steady hiss, not a flutter
            x = synth.filt(x, ("lowpass", "bandpass", "highpass")[rng.integers(3)],
                           f0, min(_lu(rng, 0.7, 4.0), f0 / 150.0), sr)
    else:
        x = synth.harmonic_tone(_lu(rng, 60, 1200), n, sr, "organ")
    return x / (np.abs(x).max() + 1e-12)


def repeat_tremolo(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A held sound under regular amplitude modulation (4-14 Hz, deep), sine, triangle or pulse."""
    rate = _lu(rng, 4.5, 14.0)
    ph = synth.phase(rate, n, sr, _u(rng, 0, 2 * np.pi))
    shape = rng.integers(3)
    if shape == 0:
        lfo = 0.5 + 0.5 * np.sin(ph)
    elif shape == 1:
        lfo = np.abs((ph / np.pi) % 2.0 - 1.0)
    else:
        duty = _u(rng, 0.25, 0.7)
        lfo = ((ph / (2 * np.pi)) % 1.0 < duty).astype(np.float64)
        lfo = synth.filt(lfo, "lowpass", _lu(rng, 40, 300), 0.7, sr)
    depth = _u(rng, 0.8, 1.0)
    x = _source(rng, sr, n) * (1.0 - depth + depth * lfo)
    return synth.fade(x, sr, in_s=_lu(rng, 0.002, 0.03), out_s=0.0)


def repeat_drone(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A steady drone (chord, FM, noise, organ) with under 1 dB of slow drift."""
    drift = 10.0 ** (_u(rng, 0.2, 1.0) * synth.smooth_random(rng, n, sr, 1.5) / 20.0)
    x = _source(rng, sr, n) * drift
    return synth.fade(x, sr, in_s=_lu(rng, 0.002, 0.06), out_s=0.0)


RECIPES: dict[str, tuple[Recipe, ...]] = {
    "trigger": (trigger_drum, trigger_drum, trigger_burst, trigger_blip),
    "trigger_continuous": (ring_pluck, ring_struck, ring_cymbal, ring_piano, ring_drum,
                           ring_hall, ring_fed),
    "continuous_variation": (vary_noise_sweep, vary_gliss, vary_texture,
                             heard_as("continuous_variation", vary_phrase),
                             heard_as("continuous_variation", vary_voice)),
    "continuous_repetition": (repeat_loop, repeat_roll, repeat_notes, repeat_tremolo,
                              repeat_drone, repeat_drone),
}
"""Recipes per category, drawn uniformly (a recipe listed twice is drawn twice as often)."""
