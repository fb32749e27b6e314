"""One training step: a discriminator update, then a generator update, as a function of the state,
a batch and the config — the losses and penalties and nothing else (no files, no schedule).

D sees augmented images; its level read-outs see them clean. R1 is taken at the clean real images,
through the augmentation (as in StyleGAN2-ADA). Both phases draw their latents from ``noise``, in a
fixed order, so a run is a function of its seed.

Everything happens on the device of the networks (``noise`` draws there too); the step never waits
for the host: its figures stay tensors until the loop reads them at a logging interval.
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
from .precision import Precision
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
    precision: Precision,
) -> dict[str, torch.Tensor | float | None]:
    """Update D, then G, on ``batch`` (full-size images ``[B, *shape]`` and their conditioning,
    on the networks' device) at growth stage ``c.stage`` and fade-in ``alpha``; then the EMA and
    the counters' image count.

    Returns the step's figures (``STAT_KEYS``, ``augment_p``, ``ada_rt``), the computed ones as
    0-d tensors on the device: reading them waits for the device, so the loop reads them only
    when it logs or checks them. ``penalty`` is ``None`` on a step without a penalty."""
    real_full, cond_real = batch
    stage, size = c.stage, real_full.shape[0]
    device = noise.device
    classes = cond.classes(cond_real)
    real = images_at_stage(real_full, stage, n_stages, alpha, cfg.pgan.smooth_upsampling)
    p_aug = aug.p
    do_r1 = cfg.loss == "ns_r1" and cfg.r1_gamma > 0 and c.step % cfg.r1_every == 0
    # In fp32 R1 differentiates the loss pass itself; in bf16/fp16 it gets its own fp32 pass.
    r1_in_loss_pass = do_r1 and not precision.reduced
    # With --compile, the passes differentiated once go through the compiled forwards; those a
    # penalty differentiates twice through the plain D (``compiling``).
    G, D = nets.compiled or (nets.G, nets.D)
    D_real = nets.D if r1_in_loss_pass else D

    # Discriminator phase.
    nets.D.requires_grad_(True)
    z = torch.randn(size, nets.G.cfg.z_dim, generator=noise, device=device)
    with precision.autocast():
        with torch.no_grad():
            fake_clean = G(z, classes, stage, alpha)
            fake = aug(fake_clean, noise)
        real_clean = real.requires_grad_(r1_in_loss_pass)
        real = aug(real_clean, noise)
        logits_real = D_real(real, cond_real, stage, alpha, real_clean).float()
        told = cond.of_fakes(nets.G, z, classes)
        logits_fake = D(fake, told, stage, alpha, fake_clean).float()
    if cfg.loss == "wgan_gp":
        gp = gradient_penalty(
            lambda x: nets.D(x, cond_real, stage, alpha), real.float(), fake.float(), noise
        )
        loss_d = wgan_d_loss(logits_real, logits_fake)
        penalty = cfg.gp_lambda * gp
    else:
        loss_d = d_loss(logits_real, logits_fake)
        if r1_in_loss_pass:
            gp = r1_penalty(logits_real, real_clean)
        elif do_r1:
            gp = _r1_in_fp32(nets, real_clean, cond_real, stage, alpha, aug, noise)
        else:
            gp = torch.zeros((), device=device)
        penalty = 0.5 * cfg.r1_gamma * cfg.r1_every * gp
    grad_d = _update(nets.D, nets.opt_d, loss_d + penalty, world, precision, "D")

    # Generator phase.
    nets.D.requires_grad_(False)
    z = torch.randn(size, nets.G.cfg.z_dim, generator=noise, device=device)
    with precision.autocast():
        fake_clean = G(z, classes, stage, alpha)
        fake = aug(fake_clean, noise)
        told = cond.of_fakes(nets.G, z, classes)
        logits_gen = D(fake, told, stage, alpha, fake_clean).float()
    loss_g = wgan_g_loss(logits_gen) if cfg.loss == "wgan_gp" else g_loss(logits_gen)
    grad_g = _update(nets.G, nets.opt_g, loss_g, world, precision, "G")

    aug.observe(logits_real)
    c.nimg += size * world.size
    update_ema(nets, cfg, c.nimg, size * world.size)
    return {
        "d_loss": loss_d.detach(),
        "g_loss": loss_g.detach(),
        "penalty": gp.detach() if cfg.loss == "wgan_gp" or do_r1 else None,
        "grad_d": grad_d,
        "grad_g": grad_g,
        "d_real": logits_real.detach().mean(),
        "d_fake": logits_fake.detach().mean(),
        "alpha": alpha,
        "augment_p": p_aug,
        "ada_rt": aug.r_t,
    }


def _r1_in_fp32(
    nets: Nets,
    real_clean: torch.Tensor,
    cond_real: torch.Tensor | None,
    stage: int,
    alpha: float,
    aug: Augmentation,
    noise: torch.Generator,
) -> torch.Tensor:
    """R1 from a D pass of its own in fp32 at the clean real images (through a fresh draw of
    the augmentation), as StyleGAN2-ADA's separate regularisation phase."""
    x = real_clean.detach().float().requires_grad_(True)
    logits = nets.D(aug(x, noise), cond_real, stage, alpha, x)
    return r1_penalty(logits, x)


def _update(
    net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    loss: torch.Tensor,
    world: World,
    precision: Precision,
    name: str,
) -> torch.Tensor:
    """One optimiser step of ``net`` (``name`` G or D) on ``loss`` (gradients averaged over the
    ranks); returns the gradients' L2 norm (for monitoring), a 0-d tensor on the device."""
    opt.zero_grad(set_to_none=True)

    def norm() -> torch.Tensor:
        grads = [p.grad.detach() for p in net.parameters() if p.grad is not None]
        if not grads:
            return torch.zeros((), device=loss.device)
        return torch.nn.utils.get_total_norm(grads)

    return precision.backward_and_step(
        name, loss, opt, lambda: dist.average_gradients(net, world), norm
    )
