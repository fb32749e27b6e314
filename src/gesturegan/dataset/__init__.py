"""Datasets: ``prepare`` turns a folder of sounds into a dataset directory; ``Dataset`` reads one.

Modules: ``scan`` (which files, which labels), ``clip`` (one file → one fixed-length clip),
``prepare`` (the whole folder → dataset directory, atomically and in parallel), ``reader``
(``Dataset``, memory-mapped).
"""

from .clip import ALIGN_MODES
from .prepare import FORMAT_VERSION, MANIFEST_COLUMNS, PrepareSummary, prepare
from .reader import Dataset

__all__ = [
    "ALIGN_MODES",
    "FORMAT_VERSION",
    "MANIFEST_COLUMNS",
    "Dataset",
    "PrepareSummary",
    "prepare",
]
