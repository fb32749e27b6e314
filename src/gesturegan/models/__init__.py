"""Model registry: ``build(name, cfg, shape, n_classes) → (generator, discriminator)``.

Every generator maps ``(z [B, z_dim], c [B, n_classes] or None, stage, alpha)`` to a representation
image ``[B, C, H, W]`` and exposes ``stages`` (names of its growth stages, the last being full size);
every discriminator maps ``(image, c, stage, alpha)`` to logits ``[B]``.
"""

from __future__ import annotations

from torch import nn

from ..errors import UserError
from . import pgan

MODELS = {"pgan": (pgan.Generator, pgan.Discriminator)}


def build(
    name: str, cfg, shape: tuple[int, int, int], n_classes: int
) -> tuple[nn.Module, nn.Module]:
    """Instantiate generator and discriminator of model ``name`` for images of ``shape`` (C, H, W)."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    g_cls, d_cls = MODELS[name]
    try:
        return g_cls(cfg, shape, n_classes), d_cls(cfg, shape, n_classes)
    except ValueError as exc:
        raise UserError(f"model {name}: {exc}") from exc
