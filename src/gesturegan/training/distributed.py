"""Data-parallel training over processes and machines with ``torch.distributed`` (torchrun).

``gesturegan train`` started under ``torchrun --nproc_per_node=N [--nnodes=M ...]`` finds the
``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` variables torchrun sets and trains data-parallel: each rank
draws its own share of every global batch and its own latents, gradients are averaged across ranks
after every backward pass, and only rank 0 writes to the run folder.

Why averaged gradients rather than the ``DistributedDataParallel`` wrapper: a progressive GAN leaves
the parameters of not-yet-grown stages unused, and the R1 / gradient penalties differentiate through
D twice per step; DDP's reducer needs ``find_unused_parameters`` and one forward per backward for
that. One flat all-reduce per update (as StyleGAN3 does) is equivalent, simpler and as fast.
Placement: with ``--device cuda`` (or ``auto`` on a GPU machine) rank r uses ``cuda:LOCAL_RANK`` and
the ranks talk over NCCL; on the CPU they keep gloo. The backend follows the device the tensors are
on, not whether a GPU exists (NCCL cannot reduce CPU tensors).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..device import resolve


@dataclass(frozen=True)
class World:
    """Where this process sits: ``rank`` of ``size`` processes (``size == 1``: not distributed)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")  # this rank's; the collectives' tensors live on it

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes files and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def init_from_env(device: str = "auto") -> World:
    """Resolve ``device`` (``device.resolve``; under torchrun a bare ``cuda`` is this rank's
    ``cuda:LOCAL_RANK``) and join the process group torchrun describes in the environment — NCCL
    for CUDA tensors, gloo for CPU ones — or stay single-process."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    where = resolve(device, local_rank if size > 1 else None)
    if size <= 1:
        return World(device=where)
    if not dist.is_initialized():
        if where.type == "cuda":
            torch.cuda.set_device(where)
        # Imported first: its functions default to ``group=group.WORLD``, so imported after the
        # group exists (torch.optim does, through torch._dynamo) they hold it past ``shutdown``,
        # and its threads, left running, abort the interpreter's exit.
        importlib.import_module("torch.distributed.nn.functional")
        dist.init_process_group(backend=backend_for(where))
    return World(dist.get_rank(), dist.get_world_size(), local_rank, where)


def backend_for(device: torch.device) -> str:
    """The collective backend for tensors on ``device``: NCCL for CUDA, gloo otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def shutdown(world: World) -> None:
    """Leave the process group (after the last collective); its backend's threads end here."""
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_module(module: torch.nn.Module, world: World) -> None:
    """Make every rank's parameters and buffers equal rank 0's."""
    if not world.distributed:
        return
    for tensor in [*module.parameters(), *module.buffers()]:
        dist.broadcast(tensor.data, src=0)


def average_gradients(module: torch.nn.Module, world: World) -> None:
    """Average ``.grad`` of every parameter that has one across ranks, in one flat all-reduce."""
    if not world.distributed:
        return
    params = [p for p in module.parameters() if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.flatten() for p in params])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for p in params:
        n = p.grad.numel()
        p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
        offset += n


def broadcast_float(value: float, world: World) -> float:
    """Rank 0's ``value`` on every rank (keeps time-based schedules identical across ranks)."""
    if not world.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=world.device)
    dist.broadcast(t, src=0)
    return float(t.item())


def max_replica_difference(module: torch.nn.Module, world: World) -> float:
    """Largest absolute difference between this module's parameters on any rank and on rank 0."""
    if not world.distributed:
        return 0.0
    flat = torch.cat([p.detach().flatten() for p in module.parameters()])
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    diff = (flat - reference).abs().max().double().reshape(1)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return float(diff.item())


def gather_objects(obj, world: World) -> list:
    """``obj`` from every rank, in rank order (a one-element list when not distributed)."""
    if not world.distributed:
        return [obj]
    out = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def any_rank(flag: bool, world: World) -> bool:
    """True on every rank when ``flag`` is true on at least one."""
    if not world.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=world.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def barrier(world: World) -> None:
    """Wait until every rank gets here."""
    if world.distributed:
        dist.barrier()
