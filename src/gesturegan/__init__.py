"""gesturegan: grow new sound gestures with GANs from a folder of sounds.

The Python API the command line, the studio and notebooks share::

    import gesturegan
    gen = gesturegan.load("runs/first")                  # a trained run's generator
    gesturegan.generate("runs/first", "out/", n=4, category="trigger")
    gesturegan.morph("runs/first", "trigger", "continuous_variation", "morph/", steps=8)
    gesturegan.compose("examples/score.yaml", "mix.wav")
    gesturegan.export("runs/first", "onnx")              # generator + decoder as one graph

Heavy modules (torch) load on first use, so ``import gesturegan`` stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "load": "generation",
    "generate": "generation",
    "morph": "generation",
    "compose": "composition",
    "export": "exporting",
    "train": "training",
    "prepare": "dataset",
    "write_corpus": "corpus",
}

__all__ = [*_API, "__version__"]


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'gesturegan' has no attribute {name!r}")
