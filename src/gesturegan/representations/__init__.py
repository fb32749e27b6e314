"""Invertible audio representations behind one interface (docs/contract.md, "Python API").

>>> import torch
>>> from gesturegan import representations
>>> rep = representations.get("logmel_gl", sr=22050, length=16384)
>>> rep.shape
(1, 128, 128)
>>> rep.decode(rep.encode(torch.zeros(2, 16384))).shape
torch.Size([2, 16384])
"""

from . import (  # noqa: F401, I001  (registers the representations, in listing order)
    waveform,
    logmel,
    logmel_pghi,
    rgb16,
    stft_ifreq,
    stft_pghi,
    mel_ifreq,
    daisukelab,
)
from .base import Representation, describe, get, image_grid, names, table

__all__ = ["Representation", "describe", "get", "image_grid", "names", "table"]
