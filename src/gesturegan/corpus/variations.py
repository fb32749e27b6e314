"""Variations of other kinds than a swell: melodic phrases and speech-like syllables.

The swells of ``recipes`` start softly and change smoothly; real libraries' variations are also
spoken words and short melodies, whose note or syllable onsets the labeler may hear as pulses. So
these recipes are drawn through ``heard_as``, which draws again until the labeler hears the
category (docs/corpus.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..gestures import label
from . import synth
from .synth import log_uniform as _lu
from .synth import uniform as _u

Recipe = Callable[[np.random.Generator, int, int], np.ndarray]


def _irregular(
    rng: np.random.Generator, count: int, total_s: float, lo_s: float, hi_s: float
) -> np.ndarray:
    """``count`` durations (s) of log-normal spread summing to about ``total_s``, each kept within
    [lo_s, hi_s]."""
    d = np.exp(rng.normal(0.0, 0.5, count))
    return np.clip(d / d.sum() * total_s, lo_s, hi_s)


def vary_phrase(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A short melodic phrase: 3-8 notes of irregular lengths and pitches (steps of 2-7 semitones
    about a centre of 150-1500 Hz), each with its own attack and decay, legato or with short gaps;
    no regular period."""
    count = int(rng.integers(3, 9))
    lengths = _irregular(rng, count, _u(rng, 0.6, 1.0) * n / sr, 0.05, 0.5 * n / sr)
    centre = _lu(rng, 150, 1500)
    shape = ("saw", "square", "triangle", "organ", "fm")[rng.integers(5)]
    t60 = _lu(rng, 0.3, 2.0)
    x = np.zeros(n)
    step, t = 0, _u(rng, 0.0, 0.04)
    for length in lengths:
        step = int(np.clip(step + rng.choice([-7, -5, -4, -3, -2, 2, 3, 4, 5, 7]), -12, 12))
        f = min(centre * 2.0 ** (step / 12), 0.4 * sr)
        start, size = int(t * sr), int((length + 0.03) * sr)
        if start >= n:
            break
        if shape == "fm":
            tone = synth.fm_tone(f, size, sr, 2.0, 1.5)
        else:
            tone = synth.harmonic_tone(f, size, sr, shape)
        env = synth.attack_decay(size, sr, _lu(rng, 0.003, 0.03), t60)
        env *= synth.fade(np.ones(size), sr, in_s=0.0, out_s=0.03)
        x += synth.place(tone * env * 10 ** (-_u(rng, 0, 10) / 20), n, start)
        t += length + (_u(rng, 0.02, 0.12) if rng.random() < 0.3 else 0.0)
    return x


def vary_voice(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """Speech-like syllables: a buzz with a wandering pitch (90-260 Hz) through two moving formants,
    syllables of irregular length (80-400 ms) with 15-30 dB dips between them, pauses between
    words and noisy consonants."""
    top = 0.42 * sr
    f0 = _lu(rng, 90, 260) * 2.0 ** (_u(rng, 0.1, 0.4) * synth.smooth_random(rng, n, sr, 3.0))
    buzz = synth.harmonic_tone(f0, n, sr, "saw")
    f1 = 300.0 * 3.0 ** ((synth.smooth_random(rng, n, sr, 6.0) + 1) / 2)
    f2 = np.minimum(900.0 * 2.8 ** ((synth.smooth_random(rng, n, sr, 6.0) + 1) / 2), top)
    voiced = synth.sweep(buzz, "bandpass", f1, 4.0, sr) + 0.6 * synth.sweep(
        buzz, "bandpass", f2, 7.0, sr
    )
    env = np.full(n, 10 ** (-_u(rng, 15, 30) / 20))  # the dip between the syllables of a word
    hiss = np.zeros(n)
    t = _u(rng, 0.0, 0.05)
    while t < n / sr:
        length = float(np.clip(np.exp(rng.normal(np.log(0.17), 0.45)), 0.08, 0.4))
        start, size = int(t * sr), int(length * sr)
        vowel_s = length * _u(rng, 0.55, 0.85)  # the rest of the syllable is the dip
        gate = synth.gate(size, sr, 0.0, vowel_s, _lu(rng, 0.01, 0.03), _lu(rng, 0.02, 0.05))
        seg = slice(start, min(n, start + size))
        env[seg] = np.maximum(env[seg], gate[: seg.stop - start] * 10 ** (-_u(rng, 0, 14) / 20))
        if rng.random() < 0.4:  # a consonant before the vowel
            burst = int(_u(rng, 0.03, 0.09) * sr)
            noise = synth.filt(synth.colored_noise(rng, burst, 0.0), "highpass",
                               min(_lu(rng, 2500, 6000), top), 0.7, sr)  # fmt: skip
            hiss += synth.place(noise * np.hanning(burst) * 0.3, n, start)
        t += length
        if rng.random() < 0.35:  # a pause between words
            pause = _u(rng, 0.05, 0.3)
            env[int(t * sr) : int((t + pause) * sr)] = 1e-3
            t += pause
    return voiced / (np.abs(voiced).max() + 1e-12) * env + hiss


REDRAWS = 20
"""A recipe wrapped by ``heard_as`` draws at most this many times."""


def heard_as(category: str, recipe: Recipe) -> Recipe:
    """``recipe`` drawn again (from the same generator, at most ``REDRAWS`` times) until the envelope
    labeler hears ``category`` in it, judged as ``synthesize`` finishes a clip (``synth.finish``;
    the level does not matter to the labeler); the last draw if it never does."""

    def drawn(rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
        for _ in range(REDRAWS):
            x = recipe(rng, sr, n)
            clip = synth.normalize_peak(synth.finish(x, sr), -3)
            if label(clip.astype(np.float32), sr)[0] == category:
                break
        return x

    drawn.__name__ = recipe.__name__
    drawn.__doc__ = recipe.__doc__
    return drawn
