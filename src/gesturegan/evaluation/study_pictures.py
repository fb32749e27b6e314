"""What a study run looks and sounds like beside the real clips it is judged on.

For every run the study writes ``runs/<name>/pictures/``::

    grid.png              per class, a row of held-out real clips above a row of generated ones
    envelopes.png         per class, the generated clips' RMS envelope (mean ± std) over the
                          real ones'
    morph.png, morph.wav  the same latent gliding from one class to another (``MORPH_STEPS`` steps)
    <class>.wav           ``AUDIO_CLIPS`` generated clips of the class, one after the other
    <class>-real.wav      the same number of held-out real clips of the class

Pictures and audio come from the clips the judge read (latent seeds 0, 1, … of each class) and
from the held-out clips in dataset order: nothing is picked by how it sounds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import audio
from ..plots import envelope_plot, morph_strip, spectrogram_grid

PER_ROW = 6
AUDIO_CLIPS = 4
GAP_S = 0.25
MORPH_STEPS = 6
MORPH_PAIRS = (("trigger", "continuous_variation"), ("trigger", "continuous_repetition"))
"""Morphs drawn, first pair whose classes the run has (else its first class to its last)."""


def write_pictures(
    folder: Path,
    gen,
    generated: np.ndarray,
    real: np.ndarray,
    real_asked: list[str],
    n: int,
) -> list[Path]:
    """Write the files of the module docstring into ``folder``; return their paths.

    ``gen`` is the run's ``generation.Generator``; ``generated [classes · n, T]`` its clips, class
    by class in ``gen.categories`` order (``evaluation.run.generate_set``); ``real [M, T]`` the
    held-out clips at the same rate, ``real_asked`` their classes.
    """
    asked = np.array(real_asked)
    fake = {c: generated[i * n : (i + 1) * n] for i, c in enumerate(gen.categories)}
    truth = {c: real[asked == c] for c in gen.categories if (asked == c).any()}
    rows = {}
    for c in gen.categories:
        if c in truth:
            rows[f"{c} · real"] = truth[c][:PER_ROW]
        rows[f"{c} · generated"] = fake[c][:PER_ROW]
    paths = [
        spectrogram_grid(rows, gen.sr, folder / "grid.png", max_per_row=PER_ROW),
        envelope_plot(fake, gen.sr, folder / "envelopes.png", reference_by_label=truth),
    ]
    start, end = morph_pair(gen.categories)
    waves = gen.morph(start, end, MORPH_STEPS, seed=0)
    labels = [f"{i / (MORPH_STEPS - 1):.1f}" for i in range(MORPH_STEPS)]
    paths.append(morph_strip(waves, gen.sr, folder / "morph.png", labels=labels))
    paths.append(audio.write(folder / "morph.wav", in_a_row(waves, gen.sr), gen.sr))
    for c in gen.categories:
        for suffix, clips in (("", fake), ("-real", truth)):
            if c in clips:
                row = in_a_row(clips[c][:AUDIO_CLIPS], gen.sr)
                paths.append(audio.write(folder / f"{c}{suffix}.wav", row, gen.sr))
    return paths


def morph_pair(categories: list[str]) -> tuple[str, str]:
    """The classes a run's morph glides between (see ``MORPH_PAIRS``)."""
    for start, end in MORPH_PAIRS:
        if start in categories and end in categories:
            return start, end
    return categories[0], categories[-1]


def in_a_row(waves: np.ndarray, sr: int) -> np.ndarray:
    """Clips ``[K, T]`` one after another, ``GAP_S`` of silence after each → ``[K · (T + gap)]``."""
    gap = np.zeros((len(waves), int(GAP_S * sr)), np.float32)
    return np.concatenate([np.asarray(waves, np.float32), gap], axis=1).ravel()
