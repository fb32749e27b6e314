"""One training step: a discriminator update, then a generator update, as a function of the state,
a batch and the config — the losses and penalties and nothing else (no files, no schedule).

D sees augmented images; its level read-outs see them clean. R1 is taken at the clean real images,
through the augmentation (as in StyleGAN2-ADA). Both phases draw their latents from ``noise``, in a
fixed order, so a run is a function of its seed.
"""

from __future__ import annotations

import torch

from . import distributed as dist
from .augment import Augmentation
from .config import TrainConfig
from .data import images_at_stage
from .distributed import World
from .kinds import Conditioning
from .losses import d_loss, g_loss, gradient_penalty, r1_penalty, wgan_d_loss, wgan_g_loss
from .state import Counters, Nets, update_ema

STAT_KEYS = ("d_loss", "g_loss", "penalty", "d_real", "d_fake", "grad_d", "grad_g", "alpha")


def train_step(
    nets: Nets,
    cfg: TrainConfig,
    batch: tuple[torch.Tensor, torch.Tensor | None],
    c: Counters,
    n_stages: int,
    alpha: float,
    cond: Conditioning,
    aug: Augmentation,
    noise: torch.Generator,
    world: World,
) -> dict[str, float]:
    """Update D, then G, on ``batch`` (full-size images ``[B, *shape]`` and their conditioning)
    at growth stage ``c.stage`` and fade-in ``alpha``; then the EMA and the counters' image
    count. Returns the step's figures (``STAT_KEYS``, ``augment_p``, ``ada_rt``)."""
    real_full, cond_real = batch
    stage, size = c.stage, real_full.shape[0]
    classes = cond.classes(cond_real)
    real = images_at_stage(real_full, stage, n_stages, alpha)
    p_aug = aug.p
    do_r1 = cfg.loss == "ns_r1" and cfg.r1_gamma > 0 and c.step % cfg.r1_every == 0

    # Discriminator phase.
    nets.D.requires_grad_(True)
    z = torch.randn(size, nets.G.cfg.z_dim, generator=noise)
    with torch.no_grad():
        fake_clean = nets.G(z, classes, stage, alpha)
        fake = aug(fake_clean, noise)
    real_clean = real.requires_grad_(do_r1)
    real = aug(real_clean, noise)
    logits_real = nets.D(real, cond_real, stage, alpha, real_clean)
    logits_fake = nets.D(fake, cond.of_fakes(nets.G, z, classes), stage, alpha, fake_clean)
    if cfg.loss == "wgan_gp":
        gp = gradient_penalty(
            lambda x: nets.D(x, cond_real, stage, alpha), real, fake, noise
        )
        loss_d = wgan_d_loss(logits_real, logits_fake)
        penalty = cfg.gp_lambda * gp
    else:
        loss_d = d_loss(logits_real, logits_fake)
        gp = r1_penalty(logits_real, real_clean) if do_r1 else torch.zeros(())
        penalty = 0.5 * cfg.r1_gamma * cfg.r1_every * gp
    grad_d = _update(nets.D, nets.opt_d, loss_d + penalty, world)

    # Generator phase.
    nets.D.requires_grad_(False)
    z = torch.randn(size, nets.G.cfg.z_dim, generator=noise)
    fake_clean = nets.G(z, classes, stage, alpha)
    fake = aug(fake_clean, noise)
    logits_gen = nets.D(fake, cond.of_fakes(nets.G, z, classes), stage, alpha, fake_clean)
    loss_g = wgan_g_loss(logits_gen) if cfg.loss == "wgan_gp" else g_loss(logits_gen)
    grad_g = _update(nets.G, nets.opt_g, loss_g, world)

    aug.observe(logits_real)
    c.nimg += size * world.size
    update_ema(nets, cfg, c.nimg, size * world.size)
    if cfg.loss == "wgan_gp" or do_r1:  # logged as the latest value: every row has one
        c.last_penalty = gp.item()
    return {
        "d_loss": loss_d.item(),
        "g_loss": loss_g.item(),
        "penalty": c.last_penalty,
        "grad_d": grad_d,
        "grad_g": grad_g,
        "d_real": logits_real.mean().item(),
        "d_fake": logits_fake.mean().item(),
        "alpha": alpha,
        "augment_p": p_aug,
        "ada_rt": aug.r_t,
    }


def _update(
    net: torch.nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor, world: World
) -> float:
    """One optimiser step of ``net`` on ``loss`` (gradients averaged over the ranks); returns
    the gradients' L2 norm (for monitoring)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    dist.average_gradients(net, world)
    grads = [p.grad.detach() for p in net.parameters() if p.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads).item() if grads else 0.0
    opt.step()
    return norm
