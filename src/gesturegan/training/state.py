"""The training state: the networks, their optimisers and the counters — what a checkpoint holds.

A checkpoint is a plain dict (as in nanoGPT), enough to resume exactly or to rebuild the models
with nothing else::

    config, label_names, shape, sr, length, stages, kinds   what the models were made for
    G, D, G_ema, opt_G, opt_D                                 weights and optimiser states
    state                                                     the counters (``Counters``), a dict
    ada, rng                                                  augmentation strength, RNG states
    scaler_G, scaler_D                                        fp16 loss scales (``--precision fp16``)

Tensors are saved from whatever device trained them and read onto the CPU (``runs``); loading
them into the networks moves them to the device the run continues on, so a run trained on a GPU
resumes on a CPU and the other way round.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from ..models import build, use_fast_layout
from . import distributed as dist
from .compiling import Compiled, check_available
from .config import TrainConfig
from .distributed import World


@dataclass
class Counters:
    """Where training is: the schedule's position and the live probe's best so far."""

    step: int = 0
    stage: int = 0
    stage_start_step: int = 0
    faded_in: bool = False  # the current stage's new layers are fully in (stays so on a resume)
    stage_elapsed_s: float = 0.0
    elapsed_s: float = 0.0
    nimg: int = 0
    data_position: int = 0
    best_probe_fd: float = math.inf  # live quality of the current stage's best (lower is better)
    best_heard: float = -1.0  # its worst class's labeler agreement (-1: not measured)
    best_elapsed_s: float = 0.0  # training time when the best was reached
    generator_step: int = -1  # step of the exported generator (-1: none exported yet)
    last_penalty: float = math.nan  # the latest R1 / gradient penalty (logged on every row)


@dataclass
class Nets:
    """Generator, discriminator, the generator's moving average and both optimisers; with
    ``--compile``, G's and D's forwards through ``torch.compile`` too (``compiling``), sharing
    their parameters."""

    G: nn.Module
    D: nn.Module
    G_ema: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    compiled: tuple[Compiled, Compiled] | None = None  # (G, D) compiled, or None: run eagerly


def build_nets(
    cfg: TrainConfig,
    shape: tuple[int, ...],
    n_classes: int,
    kinds_table: list[dict] | None,
    world: World,
) -> Nets:
    """Fresh networks for ``cfg`` (seeded by the caller) on ``world.device``, equal on every
    rank."""
    G, D = build(cfg.model, getattr(cfg, cfg.model), shape, n_classes, kinds_table)
    G, D = G.to(world.device), D.to(world.device)
    use_fast_layout(G, D)
    dist.broadcast_module(G, world)
    dist.broadcast_module(D, world)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    fast = None
    if cfg.compile:
        check_available(world.device)
        fast = Compiled(G, len(G.stages)), Compiled(D, len(G.stages))
    return Nets(G, D, G_ema, *optimizers(G, D, cfg), compiled=fast)


def optimizers(G: nn.Module, D: nn.Module, cfg: TrainConfig) -> tuple[torch.optim.Adam, ...]:
    """Fresh Adam optimisers of G and D with the config's lr and betas."""
    # fused: one kernel over all parameters (3x faster than the per-tensor loop on CPU; CUDA too).
    adam = {"lr": cfg.lr, "betas": tuple(cfg.betas), "fused": True}
    return torch.optim.Adam(G.parameters(), **adam), torch.optim.Adam(D.parameters(), **adam)


@torch.no_grad()
def update_ema(nets: Nets, cfg: TrainConfig, nimg: int, batch: int) -> None:
    """Move G_ema toward G after a step of ``batch`` images, ``nimg`` images seen in all."""
    half_life = min(cfg.ema_kimg * 1000, nimg * cfg.ema_rampup)
    beta = 0.5 ** (batch / max(half_life, 1e-8))
    torch._foreach_lerp_(list(nets.G_ema.parameters()), list(nets.G.parameters()), 1.0 - beta)
    for b_ema, b in zip(nets.G_ema.buffers(), nets.G.buffers(), strict=True):
        b_ema.copy_(b)  # batch-norm statistics (DCGAN) follow G itself


def weights(nets: Nets) -> dict:
    """The checkpoint's weights and optimiser states."""
    return {
        "G": nets.G.state_dict(),
        "D": nets.D.state_dict(),
        "G_ema": nets.G_ema.state_dict(),
        "opt_G": nets.opt_g.state_dict(),
        "opt_D": nets.opt_d.state_dict(),
    }


def load_weights(nets: Nets, ckpt: dict, cfg: TrainConfig) -> None:
    """Put a checkpoint's weights and optimiser states into ``nets``; the optimisers take the
    config's lr and betas, not the saved ones (a resumed run may change them)."""
    nets.G.load_state_dict(ckpt["G"])
    nets.D.load_state_dict(ckpt["D"])
    nets.G_ema.load_state_dict(ckpt["G_ema"])
    for opt, key in ((nets.opt_g, "opt_G"), (nets.opt_d, "opt_D")):
        opt.load_state_dict(ckpt[key])
        for group in opt.param_groups:
            group.update(lr=cfg.lr, betas=tuple(cfg.betas))


def rng_state(noise: torch.Generator, world: World) -> dict:
    """The latent stream of this rank (and of every rank), the kind of device it draws on, and
    torch's global RNGs (the CPU's, and the CUDA device's when training there)."""
    state = {
        "noise": noise.get_state(),
        "noise_per_rank": dist.gather_objects(noise.get_state(), world),
        "noise_device": noise.device.type,
        "torch": torch.get_rng_state(),
    }
    if world.device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(world.device)
    return state


def load_rng_state(noise: torch.Generator, rng: dict, world: World, reseed: int) -> bool:
    """Restore the RNG states; a run resumed on another number of ranks keeps rank 0's stream
    and gives the other ranks fresh ones. A stream saved on another kind of device (a CPU
    generator's state means nothing to a CUDA one) is replaced by one seeded with ``reseed``;
    returns whether that happened."""
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and world.device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"], world.device)
    if rng.get("noise_device", "cpu") != noise.device.type:
        noise.manual_seed(reseed)
        return True
    per_rank = rng.get("noise_per_rank", [])
    if len(per_rank) == world.size:
        noise.set_state(per_rank[world.rank])
    elif world.is_main:
        noise.set_state(rng["noise"])
    return False
