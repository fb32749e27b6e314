"""Scores rendered to a stereo mix: generated gestures, morphs and sound files placed in time.

``score`` parses and validates score files; ``mix`` renders them and writes the WAV with its sidecar.
"""

from .mix import (
    DEFAULT_SR,
    FADE_S,
    MAX_MIX_FRAMES,
    PEAK_DB,
    Mix,
    check_length,
    compose,
    render,
    save_mix,
    sidecar_path,
)
from .score import (
    DEMO_SCORE_PATH,
    MAX_AT_S,
    Event,
    FileEvent,
    GestureEvent,
    GestureSource,
    MorphEvent,
    Score,
    check_against,
    load_score,
    parse_score,
)

__all__ = [
    "DEFAULT_SR",
    "DEMO_SCORE_PATH",
    "FADE_S",
    "MAX_AT_S",
    "MAX_MIX_FRAMES",
    "PEAK_DB",
    "Event",
    "FileEvent",
    "GestureEvent",
    "GestureSource",
    "Mix",
    "MorphEvent",
    "Score",
    "check_against",
    "check_length",
    "compose",
    "load_score",
    "parse_score",
    "render",
    "save_mix",
    "sidecar_path",
]
