"""Non-square growth: the models take images ``[C, H=frequency, W=time]`` of any power-of-two aspect
ratio (issue 36), and WaveGAN the long clips; square runs keep their stages and names."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gesturegan.errors import UserError
from gesturegan.models import build
from gesturegan.models.dcgan import DCGANConfig
from gesturegan.models.layers import upsample2
from gesturegan.models.pgan import (
    AUTOCORR_LAGS,
    PGANConfig,
    level_stats,
    stage_names,
    stage_sizes,
)
from gesturegan.models.wavegan import WaveGANConfig
from gesturegan.representations import Representation
from gesturegan.training.data import images_at_stage

from .conftest import TINY_MODEL, tiny_overrides

KINDS = [
    {"class": 0, "rule": "pulses", "share": 0.5},
    {"class": 0, "rule": "steady", "share": 0.5},
    {"class": 1, "rule": "short", "share": 1.0},
]


def test_square_stage_names_are_unchanged():
    assert stage_names((2, 128, 128)) == ("4x4", "8x8", "16x16", "32x32", "64x64", "128x128")
    assert stage_names((1, 256, 256))[-1] == "256x256" and len(stage_names((1, 256, 256))) == 7


@pytest.mark.parametrize(
    "shape, names",
    [
        ((2, 256, 512), ("4x8", "8x16", "16x32", "32x64", "64x128", "128x256", "256x512")),
        ((2, 256, 1024), ("4x16", "8x32", "16x64", "32x128", "64x256", "128x512", "256x1024")),
        ((1, 32, 8), ("16x4", "32x8")),
        ((1, 4, 64), ("4x64",)),
    ],
)
def test_non_square_stages_keep_the_aspect_ratio_from_a_shorter_side_of_4(shape, names):
    assert stage_names(shape) == names
    assert stage_sizes(shape)[-1] == shape[1:]


@pytest.mark.parametrize("shape", [(1, 128, 96), (1, 2, 64), (1, 64), (1, 128, 100)])
def test_pgan_refuses_sides_that_are_not_powers_of_two_of_at_least_4(shape):
    with pytest.raises(UserError, match="powers of two of at least 4"):
        build("pgan", PGANConfig(**TINY_MODEL), shape, n_classes=2)


@pytest.mark.parametrize(
    "shape, extra",
    [
        ((1, 16, 64), {"d_level": True}),
        ((2, 8, 32), {"kernels": "time"}),
        ((1, 32, 8), {"d_level": True, "kinds": True}),
        ((1, 16, 32), {"g_out": "clip"}),
        ((2, 16, 32), {"g_growth": "skip", "g_out": "clip"}),
    ],
)
def test_pgan_forward_and_backward_at_every_stage_on_non_square_images(shape, extra):
    cfg = PGANConfig(**TINY_MODEL, **extra)
    kinds = KINDS if extra.get("kinds") else None
    g, d = build("pgan", cfg, shape, n_classes=2, kinds=kinds)
    z, c = torch.randn(4, cfg.z_dim), torch.eye(2)[[0, 1, 0, 1]]
    told = torch.eye(3)[[0, 2, 1, 2]] if kinds else c  # D is told the kind of each clip
    for stage, (h, w) in enumerate(stage_sizes(shape)):
        for alpha in (0.0, 0.5, 1.0):
            g.zero_grad(), d.zero_grad()
            img = g(z, c, stage, alpha)
            assert img.shape == (4, shape[0], h, w)
            logits = d(img, told, stage, alpha, clean=img.detach())
            assert logits.shape == (4,) and torch.isfinite(logits).all()
            logits.sum().backward()
            if alpha > 0:  # at alpha 0 the new stage's layers are still blended out
                assert g.to_img[stage].weight.grad.abs().sum() > 0
                assert d.from_img[stage].weight.grad.abs().sum() > 0
            assert g.input.weight.grad.abs().sum() > 0
        assert g.render(z, c, stage).shape == (4, *shape)


@pytest.mark.parametrize(
    ("shape", "g_out", "g_growth"),
    [((1, 16, 64), "linear", "fade"), ((2, 32, 8), "clip", "fade"), ((1, 8, 32), "linear", "skip")],
)
def test_fade_in_at_alpha_zero_is_the_previous_stage_upsampled_on_non_square_images(
    shape, g_out, g_growth
):
    """At alpha 0 G draws the previous stage's image upsampled (bilinearly for skip growth), the
    same blend as the real images' (``images_at_stage``), and D reads the previous stage's view."""
    torch.manual_seed(0)
    cfg = PGANConfig(**TINY_MODEL, d_level=True, g_out=g_out, g_growth=g_growth)
    g, d = build("pgan", cfg, shape, n_classes=3)
    z, c = torch.randn(4, cfg.z_dim), torch.eye(3)[[0, 1, 2, 0]]
    smooth = g_growth == "skip"
    n = len(g.stages)
    with torch.no_grad():
        for stage in range(1, n):
            previous = upsample2(g(z, c, stage - 1), smooth)
            torch.testing.assert_close(g(z, c, stage, alpha=0.0), previous, atol=1e-6, rtol=0)
            real = torch.randn(4, *shape)
            torch.testing.assert_close(
                images_at_stage(real, stage, n, 0.0, smooth),
                upsample2(images_at_stage(real, stage - 1, n, 1.0), smooth),
                atol=1e-6, rtol=0,
            )  # fmt: skip
            img = torch.randn(4, shape[0], *stage_sizes(shape)[stage])
            pooled = F.avg_pool2d(img, 2)
            torch.testing.assert_close(
                d(img, c, stage, alpha=0.0), d(pooled, c, stage - 1), atol=1e-5, rtol=1e-5
            )


def test_skip_growth_keeps_the_earlier_stages_image_and_adds_the_new_stages_to_it():
    """``g_growth: skip``: after its fade-in a stage's image is the previous stage's image
    upsampled (bilinear) plus its own (``fade``: its own only), and every stage's output layer
    learns."""
    shape, z, c = (1, 16, 32), torch.randn(4, TINY_MODEL["z_dim"]), torch.eye(2)[[0, 1] * 2]
    images = {}
    for growth in ("fade", "skip"):
        torch.manual_seed(0)
        g, _ = build("pgan", PGANConfig(**TINY_MODEL, g_growth=growth), shape, n_classes=2)
        last = len(g.stages) - 1
        with torch.no_grad():
            previous = upsample2(g(z, c, last - 1), smooth=True)
            g.to_img[last].weight.zero_(), g.to_img[last].bias.zero_()
            images[growth] = g(z, c, last), previous
        g(z, c, last).sum().backward()
        learning = [layer.weight.grad is not None for layer in g.to_img]
        assert learning == ([True] * (last + 1) if growth == "skip" else [False] * last + [True])
    torch.testing.assert_close(*images["skip"], atol=1e-6, rtol=0)
    assert images["fade"][0].abs().max() == 0  # fade: the new stage's image alone


def test_a_clipped_output_stays_in_the_image_range_and_learns_inside_it():
    """``g_out: clip`` draws the linear output clipped to [-1, 1]: a pixel below -1 is the floor
    exactly (silence in a magnitude image), and gradients reach G through the pixels inside."""
    shape, z, c = (1, 16, 32), torch.randn(8, TINY_MODEL["z_dim"]), torch.eye(2)[[0, 1] * 4]
    images = {}
    for g_out in ("linear", "clip"):
        torch.manual_seed(0)
        g, _ = build("pgan", PGANConfig(**TINY_MODEL, g_out=g_out), shape, n_classes=2)
        with torch.no_grad():
            g.to_img[-1].weight.mul_(20.0)  # a loud output, far outside [-1, 1] in places
        images[g_out] = img = g(z, c)
        img.sum().backward()
        assert g.to_img[-1].weight.grad.abs().sum() > 0
    linear, clipped = images["linear"].detach(), images["clip"].detach()
    assert linear.min() < -1 and linear.max() > 1
    torch.testing.assert_close(clipped, linear.clamp(-1, 1), atol=1e-6, rtol=0)
    assert (clipped == -1).float().mean() > 0.05  # the floor, exactly


def test_channels_follow_the_shorter_side_so_a_longer_clip_has_the_square_models_widths():
    cfg = PGANConfig()  # the default widths
    square, _ = build("pgan", cfg, (2, 256, 256), n_classes=4)
    long, _ = build("pgan", cfg, (2, 256, 1024), n_classes=4)
    tall, _ = build("pgan", cfg, (2, 1024, 256), n_classes=4)
    widths = [b.conv2.weight.shape[0] for b in square.blocks]
    assert widths == [64, 64, 64, 32, 16, 8]
    assert [b.conv2.weight.shape[0] for b in long.blocks] == widths
    assert [b.conv2.weight.shape[0] for b in tall.blocks] == widths
    assert long.input.weight.shape[0] == 64 * 4 * 16  # the first stage is 4x16


def test_level_read_outs_measure_along_the_time_axis_the_last_one():
    """A level that moves along time (W) is seen; one that moves along frequency (H) is not."""
    t = torch.arange(64, dtype=torch.float32)
    loop = (torch.sin(2 * torch.pi * t / 8) > 0).float()  # period 8 columns
    along_time = loop.expand(1, 1, 16, 64).clone()
    along_freq = torch.linspace(-1, 1, 16)[:, None].expand(1, 1, 16, 64).clone()
    spread, motion, periodicity = level_stats(along_time)[0]
    assert periodicity > 0.9 and spread > -1.0
    still = level_stats(along_freq)[0]
    assert still[0] < -9 and still[1] < -13  # log(≈1e-8)/2, log(1e-6): nothing moves in time


def test_dcgan_grows_non_square_images():
    cfg = DCGANConfig(channels=16, min_channels=4)
    for shape in [(2, 16, 64), (1, 32, 8)]:
        g, d = build("dcgan", cfg, shape, n_classes=2)
        c = torch.eye(2)[[0, 1, 0]]
        img = g(torch.randn(3, cfg.z_dim), c)
        assert img.shape == (3, *shape) and g.stages == (f"{shape[1]}x{shape[2]}",)
        d(img, c).sum().backward()
        assert g.input.weight.grad.abs().sum() > 0
    with pytest.raises(UserError, match="powers of two of at least 8"):
        build("dcgan", cfg, (1, 4, 64), n_classes=2)


@pytest.mark.parametrize(
    "length, strides",
    [
        (16384, [4, 4, 4, 4, 4]),
        (65536, [4, 4, 4, 4, 4, 4]),
        (131072, [4, 4, 4, 4, 4, 4, 2]),
        (262144, [4, 4, 4, 4, 4, 4, 4]),
    ],
)
def test_wavegan_layers_for_each_length(length, strides):
    g, d = build("wavegan", WaveGANConfig(model_size=1), (1, length), n_classes=2)
    assert [up.stride[0] for up in g.ups] == strides
    assert [down.stride[0] for down in d.downs] == strides[::-1]
    assert max(up.in_channels for up in g.ups) <= 32  # at most 32·d channels


@pytest.mark.parametrize("length", [65536, 131072])
def test_wavegan_forward_and_backward_on_long_clips(length):
    torch.manual_seed(0)
    cfg = WaveGANConfig(model_size=4, z_dim=8, embed_dim=4)
    g, d = build("wavegan", cfg, (1, length), n_classes=2)
    c = torch.eye(2)
    wave = g(torch.randn(2, cfg.z_dim), c)
    assert wave.shape == (2, 1, length) and wave.abs().max() <= 1
    d(wave, c).sum().backward()
    for layer in (g.input, g.ups[0], g.ups[-1]):
        assert layer.weight.grad.abs().sum() > 0


def test_wavegan_refuses_a_length_that_is_not_a_power_of_two():
    with pytest.raises(UserError, match="power of two"):
        build("wavegan", WaveGANConfig(), (1, 96000), n_classes=2)


class WideImage(Representation):
    """Test-only: 16384 samples row by row into a 1x64x256 image (a grid 4x as wide as tall);
    exact."""

    name = "wave_image"  # the name the run saves; the test hands this class out for it

    @property
    def shape(self) -> tuple[int, int, int]:
        return (1, 64, self.length // 64)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        return self._batch(wave).reshape(-1, *self.shape)

    def decode(self, image: torch.Tensor) -> torch.Tensor:
        return self._images(image).reshape(-1, self.length)


@pytest.mark.slow
def test_a_run_grows_non_square_images_and_generates_from_its_stages(
    tiny_dataset, tmp_path, monkeypatch
):
    from gesturegan import generation
    from gesturegan.exporting import export
    from gesturegan.runs import Run
    from gesturegan.training import loop, train

    def wide(name: str, sr: int, length: int, **options) -> WideImage:
        return WideImage(sr, length, **options)

    monkeypatch.setattr(loop, "get_representation", wide)
    monkeypatch.setattr(generation, "get_representation", wide)
    run = tmp_path / "run"
    result = train(
        run, data=str(tiny_dataset), overrides=tiny_overrides(10, repr="wave_image"),
        show_progress=False,
    )  # fmt: skip
    stages = ("4x16", "8x32", "16x64", "32x128", "64x256")
    assert result.stage == "64x256" and result.step == 10
    assert set(stages[:-1]) <= set(Run(run).checkpoints())
    assert list((run / "samples" / "4x16").glob("*.wav"))
    gen = generation.Generator.load(run)
    assert gen.all_stages == stages and "4x16" in gen.stages
    for stage in ("4x16", None):
        waves = gen.samples(gen.categories[0], [0, 1], stage)
        assert waves.shape == (2, 16384)
    done = export(run, "torchscript", out=tmp_path / "g.pt", stage="8x32", tolerance=1e-4)
    assert done.stage == "8x32" and done.max_abs_diff <= 1e-4


def test_snapshot_grids_keep_the_images_aspect_ratio():
    from gesturegan.training.snapshots import image_grid

    grid = image_grid(torch.zeros(4, 1, 8, 32), rows=2, cell=16)
    assert grid.size == (2 * 64 + 2, 2 * 16 + 2)  # (width, height): cells 64 wide, 16 high
    assert image_grid(torch.zeros(2, 1, 16, 16), rows=2, cell=16).size == (16, 34)


def test_periodicity_read_out_keeps_the_square_lag_spacing_on_wide_images():
    from gesturegan.models.pgan import envelope_autocorr

    cfg = PGANConfig(**TINY_MODEL)
    lags = {s: build("pgan", cfg, s, n_classes=2)[1].lags for s in [(1, 16, 16), (1, 16, 64)]}
    assert lags == {(1, 16, 16): 32, (1, 16, 64): 128}
    assert build("pgan", cfg, (1, 32, 8), n_classes=2)[1].periodic.weight.shape[1] == 32
    w, period = 256, 12  # a loop 12 columns long in a 16x256 image (D: 512 lags)
    level = (torch.arange(w) % period < period // 2).float() * 2 - 1
    img = level.expand(1, 1, 16, w)
    fine = envelope_autocorr(img, lags=AUTOCORR_LAGS * w // 16)[0]  # 2 points per column
    assert fine[period] < -0.8 and fine[2 * period] > 0.8  # trough at lag 6, peak at lag 12
    # (32 lags over 256 columns would read every 8.2 columns: never lag 6 nor lag 12.)
