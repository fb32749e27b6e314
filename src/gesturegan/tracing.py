"""Recording the models and decoders as graphs (``gesturegan export``).

Inference takes fast paths that a tracer cannot see or that only this machine's torch can run:
numba kernels and worker threads in Griffin-Lim, oneDNN-fused convolutions. Within ``recording()``
they step aside for plain torch operators on the calling thread, which ``torch.jit.trace`` and
``torch.onnx.export`` record as one graph. The values are the same to float rounding.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch

_recording = contextvars.ContextVar("gesturegan_recording", default=False)


@contextlib.contextmanager
def recording() -> Iterator[None]:
    """Within this block (on this thread), ``active()`` is true: plain torch operators only."""
    token = _recording.set(True)
    try:
        yield
    finally:
        _recording.reset(token)


def active() -> bool:
    """True inside ``recording()`` or while ``torch.jit.trace`` runs."""
    return _recording.get() or torch.jit.is_tracing()
