"""GAN objectives: non-saturating loss with lazy R1 (Mescheder et al. 2018), and WGAN-GP with drift
(Gulrajani et al. 2017; the progressive GAN paper's choice, Karras et al. 2018).

``LOSSES`` names them for the config (``loss: ns_r1`` or ``loss: wgan_gp``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..models.conv import input_gradients_only

LOSSES = ("ns_r1", "wgan_gp")
WGAN_DRIFT = 0.001  # ε·D(real)² keeps WGAN critic scores near zero (progressive GAN paper)


def d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """Discriminator loss: ``softplus(D(fake)) + softplus(-D(real))``, batch mean."""
    return F.softplus(logits_fake).mean() + F.softplus(-logits_real).mean()


def g_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: ``softplus(-D(G(z)))``, batch mean."""
    return F.softplus(-logits_fake).mean()


def r1_penalty(logits_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean squared gradient norm of D at real images (``real`` must require grad)."""
    with input_gradients_only():
        (grad,) = torch.autograd.grad(logits_real.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(dim=1).mean()


def wgan_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss with drift: ``D(fake) − D(real) + ε·D(real)²``, batch mean."""
    return (logits_fake - logits_real + WGAN_DRIFT * logits_real.pow(2)).mean()


def wgan_g_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss: ``−D(G(z))``, batch mean."""
    return -logits_fake.mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP: ``(‖∇D(x̂)‖ − 1)²`` at random interpolates ``x̂`` of real and fake, batch mean.

    ``real``, ``fake``: ``[B, C, H, W]`` images or ``[B, C, T]`` waveforms."""
    # One mixing weight per sample, broadcast over the other axes (a 4-D weight made 1-D inputs 4-D).
    eps_shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    where = generator.device if generator is not None else real.device
    eps = torch.rand(eps_shape, generator=generator, device=where).to(real)
    mixed = torch.lerp(real.detach(), fake.detach(), eps).requires_grad_(True)
    with input_gradients_only():
        (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
