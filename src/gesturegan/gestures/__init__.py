"""Explainable gesture analysis: the energy envelope of a clip, what a listener hears in it, and a
short rule list that names its gesture category.

Everything here works on the RMS energy envelope in dB (``envelope``), measured in short frames
(23.2 ms frames every 11.6 ms: 512/256 samples at 22050 Hz), plus the spectrum of the same frames.
``features`` turns them into about thirty numbers with units; ``label`` applies a transparent
sequence of threshold rules (``Thresholds``) that follows the definitions of the four categories
in docs/contract.md; ``explain`` says in one sentence which features decided. ``features_file`` and
``label_file`` analyse a whole audio file of any length, a block at a time. ``fit`` chooses the
thresholds on hand-labelled real libraries, leave-one-library-out.

Modules: ``analysis`` (envelope and per-frame spectra), ``features``, ``rules`` (the labeler),
``explain``, ``fit``.

>>> import numpy as np
>>> sr = 22050
>>> t = np.arange(16384) / sr
>>> hit = (np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.01)).astype(np.float32)
>>> label(hit, sr)[0]
'trigger'
"""

from .analysis import (
    ACTIVE_DB,
    ATTACK_DB,
    FILE_BLOCK,
    FLOOR_DB,
    FRAME_S,
    GRID_MIN_ONSETS,
    HOP_S,
    RANGE_DB,
    SILENCE_DB,
    envelope,
    spectral_flux,
)
from .explain import explain
from .features import features, features_file
from .rules import (
    CATEGORIES,
    RULE_CATEGORY,
    THRESHOLDS,
    Thresholds,
    decide,
    label,
    label_file,
    rule,
)

__all__ = [
    "ACTIVE_DB",
    "ATTACK_DB",
    "CATEGORIES",
    "FILE_BLOCK",
    "FLOOR_DB",
    "FRAME_S",
    "GRID_MIN_ONSETS",
    "HOP_S",
    "RANGE_DB",
    "RULE_CATEGORY",
    "SILENCE_DB",
    "THRESHOLDS",
    "Thresholds",
    "decide",
    "envelope",
    "explain",
    "features",
    "features_file",
    "label",
    "label_file",
    "rule",
    "spectral_flux",
]
