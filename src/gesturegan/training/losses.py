"""Non-saturating GAN loss with lazy R1 regularisation (Mescheder et al. 2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """Discriminator loss: ``softplus(D(fake)) + softplus(-D(real))``, batch mean."""
    return F.softplus(logits_fake).mean() + F.softplus(-logits_real).mean()


def g_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: ``softplus(-D(G(z)))``, batch mean."""
    return F.softplus(-logits_fake).mean()


def r1_penalty(logits_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean squared gradient norm of D at real images (``real`` must require grad)."""
    (grad,) = torch.autograd.grad(logits_real.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(dim=1).mean()
