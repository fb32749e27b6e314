"""What a person looks at and listens to while a model learns: image grids, audio, a growth GIF."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image

from .. import audio
from ..atomic import atomic_path
from ..representations import Representation
from ..representations.logmel import LogMel
from ..runs import Run


def image_grid(images: torch.Tensor, rows: int, cell: int = 128) -> Image.Image:
    """Tile ``images [N, C, H, W]`` (channel 0, values in [-1, 1]) into ``rows`` rows of cells
    ``cell`` pixels high and as wide as the images' aspect ratio makes them (4 x ``cell`` for
    256x1024).

    Row r holds images r*cols … r*cols + cols - 1. Frequency (H) is drawn upwards, time to the right,
    as in a spectrogram; small stages are enlarged with nearest-neighbour so their blocks stay visible.
    """
    n, h, w = images.shape[0], images.shape[-2], images.shape[-1]
    cols = max(1, -(-n // rows))
    width = max(1, cell * w // h)
    x = images[:, 0].detach().float().clamp(-1, 1).cpu().numpy()
    rgb = colormaps["magma"]((x + 1) / 2)[..., :3]  # [N, H, W, 3]
    gap = 2
    canvas = np.ones((rows * (cell + gap) - gap, cols * (width + gap) - gap, 3))
    for i in range(n):
        r, col = divmod(i, cols)
        tile = Image.fromarray((rgb[i, ::-1] * 255).astype(np.uint8))
        tile = np.asarray(tile.resize((width, cell), Image.NEAREST)) / 255.0
        canvas[r * (cell + gap) : r * (cell + gap) + cell, col * (width + gap) :][:, :width] = tile
    return Image.fromarray((canvas * 255).astype(np.uint8))


def save_png(img: Image.Image, path: str | os.PathLike) -> Path:
    """Save a PIL image as PNG atomically."""
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return Path(path)


def save_gif(frames: list[Path], path: str | os.PathLike, ms_per_frame: int = 400) -> Path | None:
    """Assemble PNG frames (same size) into an animated GIF, holding the last frame longer."""
    if not frames:
        return None
    imgs = [Image.open(f).convert("RGB") for f in frames]
    size = imgs[-1].size
    imgs = [im if im.size == size else im.resize(size) for im in imgs]
    durations = [ms_per_frame] * (len(imgs) - 1) + [ms_per_frame * 5]
    with atomic_path(path) as tmp:
        imgs[0].save(
            tmp, format="GIF", save_all=True, append_images=imgs[1:], duration=durations, loop=0
        )
    return Path(path)


def pictures(out: torch.Tensor, rep: Representation, sr: int, length: int) -> torch.Tensor:
    """Image view ``[N, C, H, W]`` of model outputs: themselves, or the log-mel image of 1-D
    outputs (``rep`` decodes them to waves of ``length`` samples at ``sr`` Hz)."""
    if out.ndim == 4:
        return out
    waves = rep.decode(out).clamp(-1, 1)
    return LogMel(sr, length).encode(waves)[:, None]


@torch.no_grad()
def snapshot(
    run: Run,
    out: torch.Tensor,
    rep: Representation,
    sr: int,
    length: int,
    step: int,
    stage: str,
    label_names: list[str],
) -> None:
    """Keep model outputs ``out [N, *shape]`` (``N / max(1, classes)`` fixed latents per class, in
    class order) as a grid PNG and one decoded WAV per class."""
    rows = max(1, len(label_names))
    save_png(image_grid(pictures(out, rep, sr, length), rows), run.grid_path(step, stage))
    per = out.shape[0] // rows
    waves = rep.decode(out[::per]).clamp(-1, 1).cpu().numpy()
    for wave, name in zip(waves, label_names or ["unconditional"], strict=False):
        audio.write(run.sample_audio_path(step, stage, name), wave, sr)
