"""Every embedding space of the judge for one set of clips: ``space -> [view [N, D], ...]``.

``features`` has one view (spectral statistics and envelope features side by side), ``randnet`` one
view per network seed, ``sfx`` one view (the aisfx embedding). Clips of equal length are embedded
together, in chunks of at most ``CHUNK_SAMPLES`` samples so memory stays bounded.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from . import features, randnets, sfx
from .clips import ClipSet
from .config import JudgeConfig

CHUNK_SAMPLES = 1 << 21
"""Samples embedded at once (~95 s at 22.05 kHz; its STFT is ~35 MB)."""


class Embedder:
    """Holds the networks of ``cfg.spaces`` (built once) and embeds sets with them."""

    def __init__(self, cfg: JudgeConfig) -> None:
        self.cfg = cfg
        self.nets = [randnets.RandomConvNet(s) for s in cfg.net_seeds] if "randnet" in cfg.spaces else []
        self.sfx_net = sfx.load_net() if "sfx" in cfg.spaces else None

    def __call__(self, clips: ClipSet) -> dict[str, list[np.ndarray]]:
        """``{space: [view [N, D] float64, ...]}`` for the clips (rows in the set's order)."""
        cfg, n = self.cfg, len(clips)
        if clips.sr != cfg.sr:
            raise ValueError(f"clips at {clips.sr} Hz, the judge analyses at {cfg.sr} Hz")
        rows: dict[str, list[list]] = {}
        if "features" in cfg.spaces:
            rows["features"] = [[None] * n]
        if self.nets:
            rows["randnet"] = [[None] * n for _ in self.nets]
        for idx in _chunks(clips.waves) if rows else []:
            waves = np.stack([clips.waves[i] for i in idx])
            if waves.shape[1] < cfg.n_fft:  # shorter than one frame: pad with silence to one
                waves = np.pad(waves, ((0, 0), (0, cfg.n_fft - waves.shape[1])))
            mag = features.spectrum(waves, cfg)
            mel_db = features.log_mel(mag, cfg)
            if "features" in rows:
                spec = features.spectral(mag, mel_db, cfg)
                for j, i in enumerate(idx):
                    env = features.envelope(clips.waves[i], cfg.sr)
                    rows["features"][0][i] = np.concatenate([spec[j], env])
            for view, emb in zip(rows.get("randnet", []), randnets.embed(self.nets, mel_db), strict=True):
                for j, i in enumerate(idx):
                    view[i] = emb[j]
        out = {space: [np.stack(view) for view in views] for space, views in rows.items()}
        if self.sfx_net is not None:
            out["sfx"] = [sfx.embed(self.sfx_net, clips.waves, clips.sr)]
        return out


def _chunks(waves: list[np.ndarray]) -> list[list[int]]:
    """Indices of clips grouped by length, each group cut to at most ``CHUNK_SAMPLES`` samples."""
    by_len: dict[int, list[int]] = defaultdict(list)
    for i, w in enumerate(waves):
        by_len[len(w)].append(i)
    chunks = []
    for length, idx in sorted(by_len.items()):
        per = max(1, CHUNK_SAMPLES // length)
        chunks += [idx[s : s + per] for s in range(0, len(idx), per)]
    return chunks
