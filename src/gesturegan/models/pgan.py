"""Class-conditional progressive GAN (Karras et al. 2018) for representation images ``[C, H, W]``.

H (frequency) and W (time) are powers of two ≥ 4, of any aspect ratio. The generator grows from a
first stage of the image's aspect ratio whose shorter side is 4 (4x4 for a square image, 4x16 for
256x1024) by doubling both sides: stage ``s`` outputs ``H / 2^(n-1-s) x W / 2^(n-1-s)``, ``n`` the
number of stages (``stage_sizes``). While a new stage fades in, its output is blended with the
upsampled output of the previous stage (``alpha`` 0 → 1); with ``g_growth: skip`` the stages' images
are summed instead, each upsampled (bilinear) to the next, and a new stage's share grows from 0.
Conditioning is a continuous vector ``c [B, n_classes]`` (one-hot for a class, any convex mix for a
morph): the generator embeds it next to the latent; the discriminator uses a projection term
(Miyato & Koyama 2018), so mixed conditions are meaningful to both networks. With ``kinds`` (a table
from ``training.kinds``) both are conditioned on the kinds of gesture within each class instead: the
generator routes ``c`` to the kind its latent picks (``KindSelect``), and the discriminator is given
the kind of each clip, real or generated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import option
from ..errors import UserError
from .layers import (
    PADS,
    EqualConv2d,
    EqualLinear,
    downsample2,
    lrelu,
    minibatch_stddev,
    pixel_norm,
    pixel_norm_scale,
    upsample2,
)

OUTPUTS = ("linear", "clip")
"""``PGANConfig.g_out``: what G does to the image its last 1x1 convolution draws."""
GROWTHS = ("fade", "skip")
"""``PGANConfig.g_growth``: how G's stages make its image."""


@dataclass
class PGANConfig:
    """Architecture of the progressive GAN. Saved into every run's config.yaml."""

    z_dim: int = option(128, "latent size", at_least=1)
    embed_dim: int = option(
        32, "size of the class embedding fed to G beside the latent", at_least=1
    )
    # 64 channels up to 32x32, then 32 and 16. Narrower last stages (8 channels at 128x128) were
    # memory-bound: a training step there ran at 30 % of this CPU's matmul rate, against 50 % with
    # 16 channels for 3x the FLOPs in 1.8x the time.
    # A stage's channels follow its shorter side, not its pixel count: a longer clip keeps the
    # square model's features per time-frequency cell, and its compute per step grows with its
    # length, the same per second of audio (docs/training.md, "Long clips: non-square growth").
    channel_base: int = option(
        2048,
        "channels at a stage whose shorter side is r: min(channel_max, channel_base / r)",
        at_least=1,
    )
    channel_max: int = option(64, "most channels of any layer", at_least=1)
    kernel: tuple[int, int] = option(
        (3, 3), "[frequency, time] kernel of every convolution", at_least=1
    )
    # "time" = the original project's time-favouring kernels (see KERNEL_PRESETS).
    kernels: tuple[tuple[int, int], ...] | str = option(
        (), "per-stage kernels from the first stage up (last repeats), or a preset: square, time"
    )
    mbstd_group: int = option(4, "group size of D's minibatch standard deviation", at_least=1)
    # ``envelope_autocorr``: D's convolutions hardly notice how the level repeats along time, so
    # uneven pulses pass for a loop. Off in runs saved before it existed.
    d_periodicity: bool = option(True, "D also sees the autocorrelation of the level along time")
    # ``level_stats``: the autocorrelation is scale-free, so a drone whose level wobbles by 1 dB
    # looks to it like one held within 0.2 dB, and the labeler hears the first as a swell.
    d_level: bool = option(False, "D also reads how far, how fast and how evenly the level moves")
    # ``training.kinds``, each latent picking one: a class of loops and drones is not learnt as one
    # connected space with hybrids between.
    kinds: bool = option(False, "condition on the kinds of gesture in each class (labeler rules)")
    # Zero padding tells G's convolutions where the image ends, and the generated images carry a
    # bright frame: the top frequency row, the first and the last time columns (a click at the
    # start, a thump at the end of the clip). Zeros in runs saved before it existed.
    g_pad: str = option(
        "replicate",
        "how G's convolutions pad the image's borders: replicate (edge pixel) or zeros",
        choices=PADS,
    )
    # Real images sit exactly at -1 (silence) over most of a one-shot's tail; a linear output has
    # to hit that value pixel by pixel, and a young last stage often leaves a haze 10-33 dB above.
    g_out: str = option(
        "linear",
        "G's image output: linear, or clip to [-1, 1], the range every representation encodes "
        "into (then any value at or below -1 draws the floor, silence in the magnitude images)",
        choices=OUTPUTS,
    )
    # Fading in, the last stage replaces the image of the stage before with one drawn through new
    # layers only: on two CPU cores it gets a few hundred steps for that, and its images carry a
    # haze where the earlier stages drew silence. Skip growth keeps every stage's image and the
    # new one adds its detail to it (the skip generator of StyleGAN2, Karras et al. 2020).
    g_growth: str = option(
        "fade",
        "how G's stages make its image: fade (a new stage's image replaces the previous one's "
        "once faded in) or skip (each stage adds its image to the earlier ones', upsampled)",
        choices=GROWTHS,
    )

    def __post_init__(self) -> None:
        if isinstance(self.kernels, str):
            if self.kernels not in KERNEL_PRESETS:
                raise UserError(
                    f"pgan.kernels: unknown preset {self.kernels!r}; "
                    f"choose from {', '.join(KERNEL_PRESETS)} or list [freq, time] per stage"
                )
        elif any(len(k) != 2 or min(k) < 1 for k in self.kernels):
            raise UserError(f"pgan.kernels: each kernel is [freq, time] ≥ 1, got {self.kernels}")

    @property
    def smooth_upsampling(self) -> bool:
        """Whether G upsamples a stage's image to the next bilinearly (skip growth: nearest left
        the early stages' blocks in the image) instead of repeating pixels. The real images'
        fade-in blend (``training.data.images_at_stage``) must upsample the same way."""
        return self.g_growth == "skip"

    def channels(self, side: int) -> int:
        """Channels of the layers of a stage whose shorter side is ``side`` pixels."""
        return max(1, min(self.channel_max, self.channel_base // side))

    def kernel_at(self, stage: int) -> tuple[int, int]:
        """(frequency, time) kernel of the convs of growth stage ``stage`` (0 = the first, whose
        shorter side is 4), applied as written whatever the image's aspect ratio."""
        kernels = KERNEL_PRESETS[self.kernels] if isinstance(self.kernels, str) else self.kernels
        return tuple(kernels[min(stage, len(kernels) - 1)]) if kernels else tuple(self.kernel)


# The 2020 project's "horizontal priority": square kernels while the image is tiny, then kernels
# that reach along time (the image's width) further than along frequency: 1x1, 6x1, 8x2 written
# (time x frequency) there, here (frequency, time).
KERNEL_PRESETS: dict[str, tuple[tuple[int, int], ...]] = {
    "square": ((3, 3),),
    "time": ((3, 3), (1, 1), (1, 6), (1, 6), (2, 8), (2, 8)),
}


# Options added after runs were saved without them, with the value those runs were trained with: a
# default that changed must not change a saved run's networks (``models.saved_config``).
OPTIONS_BEFORE = {"d_periodicity": False, "kinds": False, "g_pad": "zeros", "g_growth": "fade"}


def stage_sizes(shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """``(H, W)`` of every growth stage of images ``shape = (C, H, W)``, first to last: the first
    has the image's aspect ratio and a shorter side of 4, each next one doubles both sides.
    ``(2, 128, 128) → ((4, 4), (8, 8), …, (128, 128))``;
    ``(1, 256, 1024) → ((4, 16), (8, 32), …, (256, 1024))``.
    Raises ``ValueError`` unless H and W are powers of two ≥ 4."""
    h, w = shape[-2:]
    if len(shape) != 3 or min(h, w) < 4 or h & (h - 1) or w & (w - 1):
        raise ValueError(
            f"pgan needs images [C, H, W] with H and W powers of two of at least 4, got {shape}"
        )
    n = int(math.log2(min(h, w))) - 1
    return tuple((h >> (n - 1 - s), w >> (n - 1 - s)) for s in range(n))


def fading_in(stage: int, alpha: float | torch.Tensor) -> bool:
    """Whether ``stage``'s new layers are fading in: ``alpha < 1`` past the first stage. A 0-d
    tensor ``alpha`` is a fade-in's weight by contract: compiled training passes it so, and a new
    value is then a new input of the graph rather than a new graph (``training/compiling``)."""
    return stage > 0 and (isinstance(alpha, torch.Tensor) or alpha < 1.0)


def stage_names(shape: tuple[int, ...]) -> tuple[str, ...]:
    """The name of every growth stage, ``"HxW"`` (``"4x4"`` … ``"128x128"`` for square images, so
    runs, stage checkpoints and scores naming them keep working): what ``stages`` of both networks
    hold, the run's checkpoints and snapshots are named by, and ``generate --stage`` takes."""
    return tuple(f"{h}x{w}" for h, w in stage_sizes(shape))


class _GBlock(nn.Module):
    """Upsample x2 (nearest), then two convs: [B, cin, h, w] → [B, cout, 2h, 2w]. The output is
    not pixel-normed yet: its consumer does that (the next block, or ``ProgressiveGenerator._to_img``)."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int], pad: str = "zeros"):
        super().__init__()
        self.conv1 = EqualConv2d(cin, cout, kernel, activate=True, upsample=True, pad=pad)
        self.conv2 = EqualConv2d(cout, cout, kernel, activate=True, pad=pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(pixel_norm(self.conv1(x), reuse=True))


class ProgressiveGenerator(nn.Module):
    """``(z [B, z_dim], c [B, n_classes]) → image [B, C, h, w]`` at growth stage ``stage``
    (``stage_sizes(shape)[stage]``)."""

    def __init__(
        self,
        cfg: PGANConfig,
        shape: tuple[int, int, int],
        n_classes: int,
        kinds: list[dict] | None = None,
    ):
        super().__init__()
        self.cfg, self.shape, self.n_classes = cfg, tuple(shape), n_classes
        sizes = stage_sizes(shape)
        self.stages = stage_names(shape)
        out_ch = shape[0]
        self.first = sizes[0]
        ch = [cfg.channels(min(size)) for size in sizes]
        self.select = KindSelect(kinds, n_classes) if kinds else None
        n_cond = _n_cond(kinds, n_classes)
        self.embed = EqualLinear(n_cond, cfg.embed_dim, bias=False, gain=1.0) if n_cond else None
        in_dim = cfg.z_dim + (cfg.embed_dim if n_classes else 0)
        self.input = EqualLinear(in_dim, ch[0] * sizes[0][0] * sizes[0][1], gain=2**0.5 / 4)
        self.conv0 = EqualConv2d(ch[0], ch[0], cfg.kernel_at(0), activate=True, pad=cfg.g_pad)
        self.blocks = nn.ModuleList(
            _GBlock(ch[i - 1], ch[i], cfg.kernel_at(i), cfg.g_pad) for i in range(1, len(sizes))
        )
        self.to_img = nn.ModuleList(EqualConv2d(c, out_ch, (1, 1), gain=1.0) for c in ch)

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None,
        stage: int | None = None,
        alpha: float | torch.Tensor = 1.0,
    ) -> torch.Tensor:
        """``alpha``: the fade-in's weight of the new stage, or a 0-d tensor (``fading_in``)."""
        stage = len(self.stages) - 1 if stage is None else stage
        fade = alpha if fading_in(stage, alpha) else None
        h = pixel_norm(z)
        if self.embed is not None:
            k = self.select(z, c) if self.select is not None else c
            h = torch.cat([h, pixel_norm(self.embed(k))], dim=1)
        x = pixel_norm(lrelu(self.input(h).view(z.shape[0], -1, *self.first)))
        x = self.conv0(x)
        if self.cfg.g_growth == "skip":
            img = self._summed_images(x, stage, fade)
        else:
            img = self._faded_image(x, stage, fade)
        return img.clamp(-1.0, 1.0) if self.cfg.g_out == "clip" else img

    def _faded_image(
        self, x: torch.Tensor, stage: int, alpha: float | torch.Tensor | None
    ) -> torch.Tensor:
        """``g_growth: fade``: stage ``stage``'s image from the first stage's features ``x``, blended
        with the previous stage's image upsampled by ``1 - alpha`` (None: not fading in)."""
        prev = x
        for i, block in enumerate(self.blocks[:stage]):
            # Each block's input is normalised in place, except the one the fade-in reads again.
            spent = alpha is None or i < stage - 1
            prev, x = x, block(pixel_norm(x, reuse=spent))
        img = self._to_img(stage, x)
        if alpha is None:
            return img
        return torch.lerp(
            upsample2(self._to_img(stage - 1, prev), self.cfg.smooth_upsampling), img, alpha
        )

    def _summed_images(
        self, x: torch.Tensor, stage: int, alpha: float | torch.Tensor | None
    ) -> torch.Tensor:
        """``g_growth: skip``: the images of stages 0 … ``stage`` summed, each upsampled
        (``smooth_upsampling``) to the next stage's size; stage ``stage``'s own scaled by ``alpha``
        (None: not fading in), so at alpha 0 it is the previous stage's image upsampled."""
        img = self._to_img(0, x)
        for i, block in enumerate(self.blocks[:stage], start=1):
            x = block(pixel_norm(x, reuse=True))  # ``_to_img`` has read x already
            own = self._to_img(i, x)
            if alpha is not None and i == stage:
                own = own * alpha
            img = upsample2(img, self.cfg.smooth_upsampling) + own
        return img

    def _to_img(self, stage: int, x: torch.Tensor) -> torch.Tensor:
        """``to_img[stage](pixel_norm(x))``, the norm's factor applied to the few output channels
        of the (linear) 1x1 convolution instead of ``x``'s many: one pass fewer over the largest
        feature map of the generator (2–3 % of its time at inference)."""
        return self.to_img[stage](x, in_scale=pixel_norm_scale(x))

    def render(
        self, z: torch.Tensor, c: torch.Tensor | None, stage: int | None = None, alpha: float = 1.0
    ) -> torch.Tensor:
        """Like ``forward`` but always full size ``[B, C, H, W]``: early stages are upsampled with
        nearest-neighbour, so a young model's blocky images can be decoded and heard."""
        img = self(z, c, stage, alpha)
        factor = self.shape[-1] // img.shape[-1]  # the same along both axes: stages keep the aspect
        return F.interpolate(img, scale_factor=float(factor), mode="nearest") if factor > 1 else img


class _DBlock(nn.Module):
    """Two convs, then average-pool x2: [B, cin, 2h, 2w] → [B, cout, h, w]."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int]):
        super().__init__()
        self.conv1 = EqualConv2d(cin, cin, kernel, activate=True)
        self.conv2 = EqualConv2d(cin, cout, kernel, activate=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return downsample2(self.conv2(self.conv1(x)))


class ProgressiveDiscriminator(nn.Module):
    """``(image [B, C, h, w], c [B, n_classes]) → logits [B]`` at growth stage ``stage``; with
    ``kinds``, ``c [B, n_kinds]`` names the kind of each clip (``KindSelect`` for generated ones)."""

    def __init__(
        self,
        cfg: PGANConfig,
        shape: tuple[int, int, int],
        n_classes: int,
        kinds: list[dict] | None = None,
    ):
        super().__init__()
        self.cfg, self.shape, self.n_classes = cfg, tuple(shape), n_classes
        sizes = stage_sizes(shape)
        self.stages = stage_names(shape)
        in_ch = shape[0]
        ch = [cfg.channels(min(size)) for size in sizes]
        self.from_img = nn.ModuleList(EqualConv2d(in_ch, c, (1, 1), activate=True) for c in ch)
        # blocks[i - 1] takes stage i's resolution down to stage i - 1's.
        self.blocks = nn.ModuleList(
            _DBlock(ch[i], ch[i - 1], cfg.kernel_at(i)) for i in range(1, len(sizes))
        )
        self.final_conv = EqualConv2d(ch[0] + 1, ch[0], (3, 3), activate=True)
        self.final_dense = EqualLinear(ch[0] * sizes[0][0] * sizes[0][1], ch[0])
        self.out = EqualLinear(ch[0], 1, gain=1.0)
        n_cond = _n_cond(kinds, n_classes)
        self.project = EqualLinear(n_cond, ch[0], bias=False, gain=1.0) if n_cond else None
        self.lags = autocorr_lags(shape)
        self.periodic = EqualLinear(self.lags, ch[0]) if cfg.d_periodicity else None
        self.level = EqualLinear(LEVEL_STATS, ch[0]) if cfg.d_level else None

    def forward(
        self,
        img: torch.Tensor,
        c: torch.Tensor | None,
        stage: int | None = None,
        alpha: float | torch.Tensor = 1.0,
        clean: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``clean``: the same images before the training loop's augmentation, what the level
        read-outs measure (``img`` when None). The augmentation's time mask cuts a hole tens of dB
        deep into the level of nearly every image once ADA's p nears 1, which buries the 0.2 dB
        that tell a held drone from a wobbling one and breaks the pulses' spacing; the convolutions
        still see only augmented images, so D cannot memorise the clips through them."""
        stage = len(self.stages) - 1 if stage is None else stage
        fading = fading_in(stage, alpha)
        small = downsample2(img) if fading else None  # the previous stage's view, while it fades
        x = self.from_img[stage](img)
        if stage > 0:
            x = self.blocks[stage - 1](x)
            if fading:
                x = torch.lerp(self.from_img[stage - 1](small), x, alpha)
        for i in range(stage - 1, 0, -1):
            x = self.blocks[i - 1](x)
        x = minibatch_stddev(x, self.cfg.mbstd_group)
        x = self.final_conv(x)
        feat = self.final_dense(x.flatten(1))  # [B, ch0]
        if self.periodic is not None or self.level is not None:
            if clean is None:
                feat = feat + self._read_level(img, small, alpha)
            else:
                feat = feat + self._read_level(clean, downsample2(clean) if fading else None, alpha)
        feat = lrelu(feat)
        logits = self.out(feat).squeeze(1)
        if self.project is not None:
            logits = logits + (self.project(c) * feat).sum(dim=1)
        return logits

    def _read_level(
        self, img: torch.Tensor, small: torch.Tensor | None, alpha: float | torch.Tensor
    ) -> torch.Tensor:
        """``[B, ch0]``: the periodicity and level read-outs of ``img``; while a stage fades in
        (``small``: ``img`` pooled to the previous stage) they fade like the convolutions, so at
        alpha 0 this is the previous stage's D."""
        feat = torch.zeros(())

        def periodicity(x: torch.Tensor) -> torch.Tensor:
            return envelope_autocorr(x, self.lags)

        for linear, measure in ((self.periodic, periodicity), (self.level, level_stats)):
            if linear is not None:
                m = measure(img)
                feat = feat + linear(m if small is None else torch.lerp(measure(small), m, alpha))
        return feat


def _n_cond(kinds: list[dict] | None, n_classes: int) -> int:
    """Width of the conditioning the networks embed: one per kind where given, else per class."""
    return len(kinds) if kinds else n_classes


class KindSelect(nn.Module):
    """``(z [B, z_dim], c [B, n_classes]) → k [B, n_kinds]``: the weight of each class in ``c`` moved
    to the one kind of that class that the latent picks.

    The latent's first coordinate after pixel norm (what the generator sees, so a scaled latent
    keeps its kinds) gives ``u = Φ(·)`` in (0, 1), near uniform for standard-normal latents; kind
    ``i`` of class ``j`` is picked when ``u`` falls in its slice of [0, 1), the slices as wide as the
    kinds' shares of the class's clips (``table[i]["share"]``). A one-hot ``c`` gives a one-hot
    ``k``; a mix of classes (a morph) mixes the kinds they pick in the same proportions.
    """

    def __init__(self, table: list[dict], n_classes: int):
        super().__init__()
        per_class = [[i for i, k in enumerate(table) if k["class"] == c] for c in range(n_classes)]
        if not all(per_class):
            raise ValueError("every class needs at least one kind")
        width = max(len(ids) for ids in per_class)
        lo = torch.full((n_classes, width), 2.0)  # unused slots: never picked (u ≤ 1)
        hi = torch.full((n_classes, width), 2.0)
        route = torch.zeros(n_classes * width, len(table))
        for c, ids in enumerate(per_class):
            shares = torch.tensor([float(table[i]["share"]) for i in ids], dtype=torch.float64)
            edges = torch.cat([torch.zeros(1), shares.cumsum(0) / shares.sum()]).float()
            edges[0], edges[-1] = -1.0, 1.5  # u = 0 and u = 1 (float rounding) are picked too
            lo[c, : len(ids)], hi[c, : len(ids)] = edges[:-1], edges[1:]
            for j, i in enumerate(ids):
                route[c * width + j, i] = 1.0
        self.register_buffer("lo", lo)
        self.register_buffer("hi", hi)
        self.register_buffer("route", route)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        u = 0.5 * (1.0 + torch.erf(pixel_norm(z)[:, :1, None] / math.sqrt(2.0)))  # [B, 1, 1]
        picked = ((u >= self.lo) & (u < self.hi)).to(c.dtype)  # [B, n_classes, width]
        return (c[:, :, None] * picked).flatten(1) @ self.route


AUTOCORR_LAGS = 32
"""Lags of ``envelope_autocorr`` for a square image: the whole clip's range of periods, resampled
to a fixed count."""


def autocorr_lags(shape: tuple[int, ...]) -> int:
    """How many lags D's periodicity read-out gives for images ``(C, H, W)``: ``AUTOCORR_LAGS``
    per H columns, so a wide image (a longer clip at the same hop) keeps the square image's lag
    spacing — 32 lags over 1024 columns would step 33 columns and step over the peaks of every
    loop shorter than that. Square and tall images: ``AUTOCORR_LAGS``."""
    return AUTOCORR_LAGS * max(1, shape[-1] // shape[-2])



def envelope_autocorr(img: torch.Tensor, lags: int = AUTOCORR_LAGS) -> torch.Tensor:
    """``img [B, C, H, W] → [B, lags]``: normalised autocorrelation of the level along time (channel
    0, the magnitude of every image representation, averaged over frequency rows, mean removed) at
    lags 0 … W−1, linearly resampled to ``lags`` points. An even loop peaks at multiples of its
    period; uneven pulses smear the peaks. Differentiable twice (R1 and WGAN-GP penalties)."""
    level = img[:, 0].mean(dim=1)  # [B, W]
    level = level - level.mean(dim=1, keepdim=True)
    w = level.shape[1]
    spectrum = torch.fft.rfft(level, n=2 * w)  # zero-padded: linear, not circular, correlation
    ac = torch.fft.irfft(spectrum.real.square() + spectrum.imag.square(), n=2 * w)[:, :w]
    ac = ac / (ac[:, :1] + 1e-4)  # 1 at lag 0 (a flat level stays near 0 everywhere)
    return F.interpolate(ac[:, None], size=lags, mode="linear", align_corners=True)[:, 0]


LEVEL_STATS = 3
"""How many numbers ``level_stats`` gives per image."""


def level_stats(img: torch.Tensor) -> torch.Tensor:
    """``img [B, C, H, W] → [B, 3]``: of the level along time (channel 0 averaged over frequency
    rows), the log of its standard deviation, the log of its mean absolute change from one column to
    the next, and its periodicity: the highest local maximum of its unbiased, normalised
    autocorrelation at lags 2 … W/2 (0 without one; near 1 for an even loop). Scale-sensitive where
    ``envelope_autocorr`` is not: a held drone's level moves by 0.2 dB, a wobbling one's by 1 dB.
    Differentiable twice (R1 and WGAN-GP penalties)."""
    level = img[:, 0].mean(dim=1)  # [B, W]
    w = level.shape[1]
    centred = level - level.mean(dim=1, keepdim=True)
    spread = 0.5 * centred.square().mean(dim=1).add(1e-8).log()
    motion = (level[:, 1:] - level[:, :-1]).abs().mean(dim=1).add(1e-6).log()
    ac = envelope_autocorr(img, lags=w) * (w / (w - torch.arange(w, device=img.device)))
    mid = ac[:, 2 : w // 2 + 1]
    peak = (mid > ac[:, 1 : w // 2]) & (mid >= ac[:, 3 : w // 2 + 2])
    periodicity = torch.where(peak, mid, torch.zeros_like(mid)).amax(dim=1).clamp_min(0.0)
    return torch.stack([spread, motion, periodicity], dim=1)
