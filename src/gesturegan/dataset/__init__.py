"""Datasets: ``prepare`` turns a folder of sounds into a dataset directory; ``Dataset`` reads one.

Modules: ``scan`` (which files, which labels), ``clip`` (one file → one fixed-length clip),
``prepare`` (the whole folder → dataset directory, atomically and in parallel, resumable, by shards
if asked), ``partial`` (its resumable ``OUT.partial`` folder), ``install`` (the finished folder put
in place, for every writer of datasets), ``split`` (by source file: ``prepare --holdout`` and the
classifier's splits), ``merge`` (shards → one dataset), ``reader`` (``Dataset``, memory-mapped).
"""

from .clip import ALIGN_MODES, NORMALIZE_MODES
from .merge import merge
from .prepare import FORMAT_VERSION, MANIFEST_COLUMNS, PrepareSummary, prepare
from .reader import Dataset

__all__ = [
    "ALIGN_MODES",
    "FORMAT_VERSION",
    "MANIFEST_COLUMNS",
    "NORMALIZE_MODES",
    "Dataset",
    "PrepareSummary",
    "merge",
    "prepare",
]
