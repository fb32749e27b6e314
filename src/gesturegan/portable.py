"""Portable operators: a switch that turns the fast paths off, for anything that records a graph.

Inference takes fast paths that a graph recorder cannot see or that only this machine's torch can
run: numba kernels and worker threads in Griffin-Lim, oneDNN-fused convolutions. Within
``operators()`` they step aside for plain torch operators on the calling thread, which
``torch.jit.trace`` and ``torch.onnx.export`` record as one graph (``gesturegan export`` uses it).
The values are the same to float rounding. Models and representations ask ``required()``; this module
knows nothing of them or of exporting.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch

_portable = contextvars.ContextVar("gesturegan_portable", default=False)


@contextlib.contextmanager
def operators() -> Iterator[None]:
    """Within this block (on this thread), ``required()`` is true: plain torch operators only."""
    token = _portable.set(True)
    try:
        yield
    finally:
        _portable.reset(token)


def required() -> bool:
    """True inside ``operators()`` or while ``torch.jit.trace`` runs."""
    return _portable.get() or torch.jit.is_tracing()
