"""Model registry: ``build(name, cfg, shape, n_classes) → (generator, discriminator)``.

Every generator maps ``(z [B, z_dim], c [B, n_classes] or None, stage, alpha)`` to a representation
tensor ``[B, *shape]`` and exposes ``stages`` (names of its growth stages, the last being full size;
one stage for models that do not grow) and ``render`` (always full size); every discriminator maps
``(x, c, stage, alpha, clean)`` to logits ``[B]``, ``clean`` being ``x`` before the training loop's
augmentation (or None), which only pgan's level read-outs look at. ``c`` may mix classes (rows of a
convex combination).

| name | model | representations |
|---|---|---|
| ``pgan`` | progressive GAN, 4x4 (4x16, …: the aspect ratio) → full size, fade-in | any image one |
| ``dcgan`` | DCGAN, one stage | any image one (sides ≥ 8) |
| ``wavegan`` | WaveGAN, 1-D | ``waveform`` |

Image models take ``[C, H, W]`` with H (frequency) and W (time) powers of two, of any aspect ratio.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import from_dict
from ..errors import UserError
from . import dcgan, pgan, wavegan

MODELS = {
    "pgan": (pgan.ProgressiveGenerator, pgan.ProgressiveDiscriminator),
    "dcgan": (dcgan.DCGANGenerator, dcgan.DCGANDiscriminator),
    "wavegan": (wavegan.WaveGANGenerator, wavegan.WaveGANDiscriminator),
}
MODEL_CONFIGS = {
    "pgan": pgan.PGANConfig,
    "dcgan": dcgan.DCGANConfig,
    "wavegan": wavegan.WaveGANConfig,
}


def saved_config(name: str, saved: dict):
    """Model ``name``'s config as a run saved it (a ``model_config`` or a ``config.yaml`` section):
    options the run predates take the value it was trained with (``pgan.OPTIONS_BEFORE``), not
    today's default."""
    before = pgan.OPTIONS_BEFORE if name == "pgan" else {}
    return from_dict(MODEL_CONFIGS[name], {**before, **saved}, where=f"saved {name} options")


def build(
    name: str, cfg, shape: tuple[int, ...], n_classes: int, kinds: list[dict] | None = None
) -> tuple[nn.Module, nn.Module]:
    """Instantiate generator and discriminator of model ``name`` for tensors of ``shape``,
    conditioned on the ``kinds`` of gesture within the classes where given (``pgan`` only)."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    if kinds and name != "pgan":
        raise UserError(f"model {name}: kinds of gesture condition the pgan model only")
    g_cls, d_cls = MODELS[name]
    extra = {"kinds": kinds} if kinds else {}
    try:
        return g_cls(cfg, shape, n_classes, **extra), d_cls(cfg, shape, n_classes, **extra)
    except ValueError as exc:
        raise UserError(f"model {name}: {exc}") from exc


def use_fast_layout(*nets: nn.Module) -> None:
    """Store image models' weights channels-last (NHWC), in place; 1-D models are left as they are.

    oneDNN's convolutions run much closer to the matmul rate on NHWC tensors at our narrow layers:
    a 3x3 convolution with 16 channels at 128x128 reached 62 % of it in NCHW and 92 % in NHWC.
    Inputs follow the weights' layout from the first convolution on."""
    for net in nets:
        if any(p.ndim == 4 for p in net.parameters()):
            net.to(memory_format=torch.channels_last)
