"""The live probe's judges, wired here so that neither the probe nor the monitor imports evaluation
or the labeler: ``monitor``'s embedding with evaluation's Fréchet distance, and the envelope labeler
when the classes are gesture categories. What these pick (the exported generator) the independent
judge (``gesturegan.judge``) grades; they never grade it."""

from __future__ import annotations

from functools import partial

from .. import gestures
from ..judge.distances import frechet
from . import monitor
from .probes import Judges


def live_judges(label_names: list[str]) -> Judges:
    """Today's live measures for a run whose classes are ``label_names``."""
    hear = partial(monitor.heard, label=gestures.label) if monitor.hears(label_names) else None
    return Judges(
        embed=monitor.embed,
        compare=partial(monitor.measure, distance=frechet),
        hear=hear,
        collapsed=monitor.collapsed,
        warnings=monitor.warnings_for,
    )
