"""What a person looks at and listens to while a model learns: image grids, audio, a growth GIF."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from PIL import Image

from ..atomic import atomic_path


def image_grid(images: torch.Tensor, rows: int, cell: int = 128) -> Image.Image:
    """Tile ``images [N, C, H, W]`` (channel 0, values in [-1, 1]) into ``rows`` rows of cells.

    Row r holds images r*cols … r*cols + cols - 1. Frequency (H) is drawn upwards, time to the right,
    as in a spectrogram; small stages are enlarged with nearest-neighbour so their blocks stay visible.
    """
    n = images.shape[0]
    cols = max(1, -(-n // rows))
    x = images[:, 0].detach().float().clamp(-1, 1).cpu().numpy()
    rgb = colormaps["magma"]((x + 1) / 2)[..., :3]  # [N, H, W, 3]
    gap = 2
    canvas = np.ones((rows * (cell + gap) - gap, cols * (cell + gap) - gap, 3))
    for i in range(n):
        r, col = divmod(i, cols)
        tile = Image.fromarray((rgb[i, ::-1] * 255).astype(np.uint8))
        tile = np.asarray(tile.resize((cell, cell), Image.NEAREST)) / 255.0
        canvas[r * (cell + gap) : r * (cell + gap) + cell, col * (cell + gap) :][:, :cell] = tile
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
