"""Drawing gestures from a trained run: samples by class and seed, early growth stages, morphs.

``load(run_dir)`` returns a ``Generator`` (the ``GestureSource`` that ``compose`` consumes). A latent is a
function of its seed alone, so ``sample("trigger", seed=3)`` and ``sample("continuous_variation",
seed=3)`` share a latent, and a class morph with seed 3 glides between exactly those two sounds.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import audio
from .allocator import keep_freed_memory
from .atomic import clean_temps, write_text
from .device import resolve
from .errors import UserError
from .models import build, saved_config, use_fast_layout
from .representations import Representation
from .representations import get as get_representation
from .runs import Run


class Generator:
    """A trained generator: ``sample``, ``morph`` and lower-level ``latents``/``render``/``decode``.

    Attributes: ``sr`` (Hz), ``length`` (samples), ``categories`` (class names, possibly empty),
    ``stages`` (growth stages that can be drawn from: those whose snapshot exists, plus the last one
    trained), ``device`` (where the networks and the decoder run).

    Latents are drawn on the CPU whatever the device (a seed means the same latent everywhere)
    and moved; waveforms come back to the CPU as numpy arrays.
    """

    def __init__(
        self, run: Run, state_dict: dict[str, torch.Tensor], meta: dict, device: str = "cpu"
    ):
        keep_freed_memory()
        self.device = resolve(device)
        self.run, self.run_dir, self.meta = run, run.path, meta
        self.sr, self.length = int(meta["sr"]), int(meta["length"])
        self.categories: tuple[str, ...] = tuple(meta["label_names"])
        self.rep = get_representation(
            meta["repr"], sr=self.sr, length=self.length, **meta.get("repr_options", {})
        )
        self.model_cfg = saved_config(meta["model"], meta["model_config"])
        self.all_stages: tuple[str, ...] = tuple(meta["stages"])
        self.final_stage = self.all_stages[int(meta["stage"])]
        self._nets = {self.final_stage: (self._build(state_dict), float(meta["alpha"]))}
        self._judge: torch.nn.Module | None = None
        self.stages = run.drawable_stages(meta)

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> Generator:
        run = Run.open(run_dir)
        state_dict, meta = run.read_generator()
        return cls(run, state_dict, meta, device)

    def _build(self, state_dict: dict[str, torch.Tensor], which: int = 0) -> torch.nn.Module:
        """The generator (``which`` 0) or discriminator (1) of this run, with ``state_dict``."""
        shape, n_classes = tuple(self.meta["shape"]), len(self.categories)
        net = build(self.meta["model"], self.model_cfg, shape, n_classes, self.meta.get("kinds"))
        net = net[which].to(self.device)
        net.load_state_dict(state_dict)
        use_fast_layout(net)
        return net.eval().requires_grad_(False)

    def _discriminator(self) -> torch.nn.Module:
        """D as it was when the generator was exported (in the same export bundle)."""
        if self._judge is None:
            step = int(self.meta.get("step", -1))
            self._judge = self._build(self.run.read_discriminator(step), which=1)
        return self._judge

    def stage(self, name: str | None) -> str:
        """The stage ``name`` asks for: a stage's name, ``first``, or ``last`` (``None`` too)."""
        if name == "first":
            return self.stages[0]
        return self.final_stage if name in (None, "last") else name

    def _net(self, stage: str | None) -> tuple[torch.nn.Module, int, float]:
        name = self.stage(stage)
        if name not in self.stages:
            raise UserError(
                f"stage {name!r} is not available in {self.run_dir}; "
                f"available: {', '.join(self.stages)}"
            )
        if name not in self._nets:
            weights, _ = self.run.stage_generator(name)
            self._nets[name] = (self._build(weights), 1.0)
        net, alpha = self._nets[name]
        return net, self.all_stages.index(name), alpha

    # ------------------------------------------------------------------ building blocks
    def latents(self, seeds: list[int], truncation: float | None = None) -> torch.Tensor:
        """``[len(seeds), z_dim]``: one standard-normal latent per seed; with ``truncation`` t, every
        component beyond ±t is redrawn (truncated normal: less variety, more typical sounds)."""
        if truncation is not None and truncation <= 0:
            raise UserError(f"truncation must be positive, got {truncation}")
        return torch.stack([self._draw(int(seed), truncation) for seed in seeds])

    def _draw(self, stream: int, truncation: float | None) -> torch.Tensor:
        """``[z_dim]``: one latent from a generator seeded with ``stream`` (see ``latents``)."""
        gen = torch.Generator().manual_seed(stream)
        z = torch.randn(self.model_cfg.z_dim, generator=gen)
        while truncation is not None and bool((bad := z.abs() > truncation).any()):
            z[bad] = torch.randn(int(bad.sum()), generator=gen)
        return z

    def candidates(self, seed: int, k: int, truncation: float | None = None) -> torch.Tensor:
        """``[k, z_dim]``: the latent of ``seed`` first, then ``k - 1`` more whose streams are
        hashed from ``(seed, 1)`` (``numpy.random.SeedSequence``'s states 1 … k - 1), so no plain
        seed's latent is among them and candidate j of a seed is the same whatever k is."""
        streams = np.random.SeedSequence([int(seed) & MASK_64, 1]).generate_state(k, np.uint64)
        extra = [self._draw(int(s), truncation) for s in streams[1:]]
        return torch.stack([self._draw(int(seed), truncation), *extra])

    @torch.no_grad()
    def best_of(
        self, category: str | None, seeds: list[int], k: int, truncation: float | None = None
    ) -> torch.Tensor:
        """Images ``[len(seeds), C, H, W]``: per seed, the one of its ``k`` candidates
        (``candidates``) that the discriminator saved with the generator finds most real for
        ``category`` — discriminator rejection sampling (Azadi et al. 2019) as a best of k, at
        the last stage. A seed's candidates are judged as one batch (D's minibatch standard
        deviation sees nothing else), so its pick does not depend on the other seeds asked for."""
        if k < 1:
            raise UserError(f"--candidates must be at least 1, got {k}")
        net, index, alpha = self._net(None)
        judge = self._discriminator() if k > 1 else None
        picked = []
        for seed in seeds:
            z, c = self._placed(self.candidates(seed, k, truncation), self.condition(category, k))
            images = net.render(z, c, index, alpha)
            best = 0
            if judge is not None:
                told = net.select(z, c) if getattr(net, "select", None) is not None else c
                best = int(judge(images, told, index, alpha).argmax())
            picked.append(images[best : best + 1])
        return torch.cat(picked)

    def condition(self, category: str | None, n: int) -> torch.Tensor | None:
        """One-hot conditioning ``[n, n_classes]`` for ``category`` (None for unconditional runs)."""
        if not self.categories:
            if category is not None:
                raise UserError(f"{self.run_dir} was trained without labels; omit the class")
            return None
        if category not in self.categories:
            raise UserError(
                f"unknown class {category!r}; this model knows: {', '.join(self.categories)}"
            )
        c = torch.zeros(n, len(self.categories))
        c[:, self.categories.index(category)] = 1.0
        return c

    @torch.no_grad()
    def render(
        self, z: torch.Tensor, c: torch.Tensor | None, stage: str | None = None
    ) -> torch.Tensor:
        """Representation images ``[B, C, H, W]`` at full size (early stages upsampled)."""
        net, index, alpha = self._net(stage)
        return net.render(*self._placed(z, c), index, alpha)

    def _placed(
        self, z: torch.Tensor, c: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``z`` and ``c`` on the generator's device."""
        return z.to(self.device), (c.to(self.device) if c is not None else None)

    @torch.no_grad()
    def decode(self, images: torch.Tensor) -> np.ndarray:
        """Images (on any device; decoded there) → waveforms ``[B, T]`` float32 in [-1, 1]."""
        return self.rep.decode(images).clamp(-1, 1).float().cpu().numpy()

    def synthesizer(self, stage: str | None = None) -> Synthesizer:
        """Generator network and decoder of ``stage`` as one module, ``(z, c) → wave``."""
        net, index, alpha = self._net(stage)
        return Synthesizer(net, self.rep, index, alpha)

    # ------------------------------------------------------------------ GestureSource
    def sample(
        self,
        category: str | None,
        seed: int,
        stage: str | None = None,
        truncation: float | None = None,
        candidates: int = 1,
    ) -> np.ndarray:
        """One gesture ``[T]`` of ``category`` from latent ``seed``."""
        return self.samples(category, [seed], stage, truncation, candidates)[0]

    def samples(
        self,
        category: str | None,
        seeds: list[int],
        stage: str | None = None,
        truncation: float | None = None,
        candidates: int = 1,
    ) -> np.ndarray:
        """Gestures ``[len(seeds), T]`` of one category, one per seed; with ``candidates`` k > 1,
        each the best of k by the run's discriminator (``best_of``; last stage only)."""
        if candidates != 1:
            if self.stage(stage) != self.final_stage:
                raise UserError("--candidates draws from the last stage only; leave --stage out")
            return self.decode(self.best_of(category, seeds, candidates, truncation))
        z = self.latents(seeds, truncation)
        return self.decode(self.render(z, self.condition(category, len(seeds)), stage))

    def morph(
        self,
        start: str,
        end: str,
        steps: int,
        seed: int,
        stage: str | None = None,
        mode: str = "class",
    ) -> np.ndarray:
        """``steps`` gestures ``[steps, T]`` gliding from class ``start`` to class ``end``.

        See ``morph_inputs`` for what each ``mode`` interpolates.
        """
        z, c = self.morph_inputs(start, end, steps, seed, mode)
        return self.decode(self.render(z, c, stage))

    def morph_inputs(
        self, start: str, end: str, steps: int, seed: int, mode: str = "class"
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Latents ``[steps, z_dim]`` and conditioning ``[steps, n_classes]`` of a morph.

        ``"class"``: the conditioning moves linearly from the one-hot of ``start`` to that of
        ``end`` while the latent (from ``seed``) stays fixed — the same sound changing category.
        ``"latent"``: the conditioning stays at ``start`` and the latent slerps from ``seed`` to
        ``seed + 1`` — one category, a glide between two of its sounds (``end`` must equal
        ``start``). ``"both"``: both move, so identity and category change together.
        """
        if steps < 2:
            raise UserError(f"a morph needs at least 2 steps, got {steps}")
        if mode not in MORPH_MODES:
            raise UserError(f"unknown morph mode {mode!r}; use {', '.join(MORPH_MODES)}")
        if mode == "latent" and end != start:
            raise UserError(f"a latent morph stays in one class: use --to {start} (or --mode both)")
        t = torch.linspace(0, 1, steps)
        c0, c1 = self.condition(start, 1), self.condition(end, 1)
        c = torch.lerp(c0, c1, t[:, None]) if c0 is not None else None
        z0, z1 = self.latents([seed, seed + 1])
        z = z0.expand(steps, -1) if mode == "class" else slerp(z0, z1, t)
        return z, c


MORPH_MODES = ("class", "latent", "both")
MASK_64 = 2**64 - 1


class Synthesizer(torch.nn.Module):
    """``(z [B, z_dim], c [B, n_classes] or None) → wave [B, T]`` float32 in [-1, 1].

    The path of ``Generator.render`` then ``Generator.decode`` in one ``nn.Module``, which
    ``gesturegan export`` records as a graph. ``c`` is one-hot for a class, a convex mix for a
    morph, None for an unconditional run.
    """

    def __init__(self, net: torch.nn.Module, rep: Representation, stage: int, alpha: float):
        super().__init__()
        self.net, self.rep, self.stage, self.alpha = net, rep, stage, alpha

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        images = self.net.render(z, c, self.stage, self.alpha)  # [B, C, H, W]
        return self.rep.decode(images).clamp(-1, 1)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latents ``a, b [D]`` at fractions ``t [K]`` → ``[K, D]``."""
    cos = torch.clamp(torch.dot(a, b) / (a.norm() * b.norm()), -1.0, 1.0)
    omega = torch.arccos(cos)
    if float(omega) < 1e-6:
        return torch.lerp(a[None], b[None], t[:, None])
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so)[:, None] * a + (torch.sin(t * omega) / so)[:, None] * b


def load(run_dir: str | Path, device: str = "cpu") -> Generator:
    """Load the inference generator of a training run onto ``device`` (``device.resolve``)."""
    return Generator.load(run_dir, device)


# ---------------------------------------------------------------------- file-level commands
@dataclass
class Generated:
    """One written gesture and what the labeler heard in it."""

    path: Path
    category: str
    seed: int
    stage: str
    truncation: float | None
    candidates: int
    heard_as: str


def generate(
    run_dir: str | Path,
    out: str | Path,
    n: int = 4,
    category: str | None = None,
    seed: int = 0,
    stage: str | None = None,
    truncation: float | None = None,
    candidates: int = 1,
    device: str = "cpu",
) -> list[Generated]:
    """Write ``n`` WAVs per class (or of ``category``) to ``out`` plus ``generated.csv``.

    Files are named ``<class>_seed<seed>[_<stage>].wav``; seeds are ``seed … seed + n - 1``, so any
    file can be made again alone (with the same ``candidates``: each clip the discriminator's
    best of that many, see ``Generator.best_of``). The CSV sidecar lists class, seed, truncation,
    candidates, stage and the envelope labeler's verdict per file.
    """
    from .gestures import label

    if n < 1:
        raise UserError(f"--n must be at least 1, got {n}")
    gen = load(run_dir, device)
    out = Path(out)
    clean_temps(out, recursive=False)  # of a generate killed before
    cats = [category] if category is not None else (list(gen.categories) or [None])
    stage_name = gen.stage(stage)
    suffix = f"_{stage_name}" if stage else ""  # a stage asked for is named by its size
    seeds = list(range(seed, seed + n))
    rows: list[Generated] = []
    for cat in cats:
        waves = gen.samples(cat, seeds, stage, truncation, candidates)
        for s, wave in zip(seeds, waves, strict=True):
            name = f"{cat or 'sample'}_seed{s}{suffix}.wav"
            path = audio.write(out / name, wave, gen.sr)
            heard = label(wave, gen.sr)[0]
            rows.append(Generated(path, cat or "", s, stage_name, truncation, candidates, heard))
    _write_sidecar(out / "generated.csv", rows)
    return rows


def _write_sidecar(path: Path, rows: list[Generated]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["file", "class", "seed", "stage", "truncation", "candidates", "heard_as"])
    for r in rows:
        trunc = "" if r.truncation is None else r.truncation
        w.writerow([r.path.name, r.category, r.seed, r.stage, trunc, r.candidates, r.heard_as])
    write_text(path, buf.getvalue())


@dataclass
class MorphResult:
    """Files a morph wrote: one WAV per step, the cross-faded whole, a spectrogram strip."""

    steps: list[Path]
    continuous: Path
    strip: Path


def morph(
    run_dir: str | Path,
    start: str,
    end: str,
    out: str | Path,
    steps: int = 8,
    seed: int = 0,
    stage: str | None = None,
    mode: str = "class",
    crossfade_s: float = 0.1,
    device: str = "cpu",
) -> MorphResult:
    """Write a morph from class ``start`` to ``end``: step WAVs, a continuous WAV and a PNG strip."""
    from .plots import morph_strip

    gen = load(run_dir, device)
    waves = gen.morph(start, end, steps, seed, stage, mode)
    out = Path(out)
    stem = f"morph_{start}_to_{end}_seed{seed}"
    paths = [audio.write(out / f"{stem}_{i:02d}.wav", w, gen.sr) for i, w in enumerate(waves)]
    whole = crossfade_concat(waves, int(crossfade_s * gen.sr))
    continuous = audio.write(out / f"{stem}.wav", whole, gen.sr)
    labels = [f"{i / (steps - 1):.2f}" for i in range(steps)]
    strip = morph_strip(waves, gen.sr, out / f"{stem}.png", labels=labels)
    write_text(
        out / f"{stem}.json",
        json.dumps(
            {
                "from": start,
                "to": end,
                "steps": steps,
                "seed": seed,
                "mode": mode,
                "stage": gen.stage(stage),
            },
            indent=2,
        ),
    )
    return MorphResult(paths, continuous, strip)


def crossfade_concat(waves: np.ndarray, fade: int) -> np.ndarray:
    """Join clips ``[K, T]`` end to end with equal-power cross-fades of ``fade`` samples → ``[N]``."""
    k, t = waves.shape
    fade = max(0, min(fade, t // 2))
    hop = t - fade
    out = np.zeros(hop * (k - 1) + t, dtype=np.float32)
    ramp = np.sin(0.5 * math.pi * (np.arange(fade) + 0.5) / max(fade, 1)).astype(np.float32)
    for i, w in enumerate(waves):
        w = w.copy()
        if fade and i > 0:
            w[:fade] *= ramp
        if fade and i < k - 1:
            w[-fade:] *= ramp[::-1]
        out[i * hop : i * hop + t] += w
    return out
