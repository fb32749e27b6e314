"""Checkpoints that survive anything: one plain dict, written atomically, enough to resume exactly.

A checkpoint holds G, D, EMA G, both optimisers, the schedule state (step, stage, fade-in progress,
time spent), the data-loader position and the RNG states, plus the config and dataset facts needed to
rebuild the models with nothing else. The inference generator is exported separately as safetensors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ..atomic import atomic_path, write_text
from ..errors import UserError

FORMAT_VERSION = 1
LATEST = "latest.pt"
BEST = "best.pt"  # the checkpoint with the best live quality signal so far (training/monitor.py)


def stage_file(stage_name: str) -> str:
    """File name of the snapshot taken when growth stage ``stage_name`` ended."""
    return f"stage-{stage_name}.pt"


def save(ckpt: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write a checkpoint dict atomically."""
    with atomic_path(path) as tmp:
        torch.save({"format_version": FORMAT_VERSION, **ckpt}, tmp)
    return Path(path)


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint; a missing or damaged file is a ``UserError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint there")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise UserError(f"{path}: damaged checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path}: not a gesturegan checkpoint of format {FORMAT_VERSION}")
    return ckpt


def export_generator(
    state_dict: dict[str, torch.Tensor],
    meta: dict[str, Any],
    run_dir: str | os.PathLike,
    discriminator: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write RUN/generator.safetensors (weights) and RUN/generator.json (how to rebuild it), and
    with ``discriminator`` RUN/discriminator.safetensors: D at the same step (``meta["step"]``),
    which judges the generator's candidates (``generate --candidates``)."""
    run_dir = Path(run_dir)
    if discriminator is not None:
        stamp = {"format": "gesturegan-discriminator", "step": str(meta["step"])}
        _save_weights(discriminator, run_dir / DISCRIMINATOR, stamp)
    path = _save_weights(
        state_dict, run_dir / "generator.safetensors", {"format": "gesturegan-generator"}
    )
    write_text(run_dir / "generator.json", json.dumps(meta, indent=2))
    return path


DISCRIMINATOR = "discriminator.safetensors"


def _save_weights(state_dict: dict[str, torch.Tensor], path: Path, stamp: dict[str, str]) -> Path:
    """Write ``state_dict`` as safetensors atomically, with ``stamp`` as the file's metadata."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=stamp)
    return path


def load_discriminator(run_dir: str | os.PathLike, step: int) -> dict[str, torch.Tensor]:
    """D saved with the run's generator of training step ``step``; a ``UserError`` when there is
    none or it is from another step (a run exported before discriminators were saved with it)."""
    path = Path(run_dir) / DISCRIMINATOR
    if not path.is_file():
        raise UserError(
            f"{run_dir}: no discriminator saved with the generator (trained before they were); "
            "`gesturegan train --out RUN --resume` writes one at its next export"
        )
    try:
        with safe_open(str(path), "pt") as f:
            saved = (f.metadata() or {}).get("step")
            weights = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise UserError(f"{path}: damaged discriminator file ({exc})") from exc
    if saved != str(step):
        raise UserError(f"{path}: saved at step {saved}, but the generator is from step {step}")
    return weights


def load_generator(run_dir: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read the exported inference generator of a run: (state dict, meta)."""
    run_dir = Path(run_dir)
    weights, meta_path = run_dir / "generator.safetensors", run_dir / "generator.json"
    if not weights.is_file() or not meta_path.is_file():
        raise UserError(
            f"{run_dir}: no trained generator (generator.safetensors); train with `gesturegan train`"
        )
    try:
        return load_file(str(weights)), json.loads(meta_path.read_text(encoding="utf-8"))
    except Exception as exc:
        raise UserError(f"{weights}: damaged generator file ({exc})") from exc
