"""Training: losses move the right way, checkpoints round-trip, an interrupted run resumes exactly."""

from __future__ import annotations

import csv

import pytest
import torch

from gesturegan.errors import UserError
from gesturegan.models import build
from gesturegan.models.pgan import PGANConfig
from gesturegan.training import Trainer, train
from gesturegan.training import checkpoint as ckpt_io
from gesturegan.training.loop import make_config
from gesturegan.training.losses import d_loss

from .conftest import TINY_MODEL, tiny_overrides


def test_generator_and_discriminator_shapes_at_every_stage():
    cfg = PGANConfig(**TINY_MODEL)
    g, d = build("pgan", cfg, (1, 128, 128), n_classes=4)
    assert g.stages == ("4x4", "8x8", "16x16", "32x32", "64x64", "128x128")
    z, c = torch.randn(3, cfg.z_dim), torch.eye(4)[:3]
    for stage in range(6):
        for alpha in (0.5, 1.0):
            img = g(z, c, stage, alpha)
            assert img.shape == (3, 1, 4 * 2**stage, 4 * 2**stage)
            assert d(img, c, stage, alpha).shape == (3,)
        assert g.render(z, c, stage).shape == (3, 1, 128, 128)


def test_mixed_conditioning_is_accepted():
    cfg = PGANConfig(**TINY_MODEL)
    g, _ = build("pgan", cfg, (1, 64, 64), n_classes=4)
    mix = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    assert torch.isfinite(g(torch.randn(1, cfg.z_dim), mix)).all()


def test_discriminator_steps_decrease_its_loss_on_a_fixed_batch(tiny_dataset, tmp_path):
    cfg = make_config(str(tiny_dataset), overrides=tiny_overrides(10))
    trainer = Trainer(cfg, tmp_path)
    stage = 2
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    c = torch.eye(2)[torch.arange(8) % 2]
    with torch.no_grad():
        fake = trainer.G(torch.randn(8, cfg.pgan.z_dim), c, stage)

    def loss() -> torch.Tensor:
        return d_loss(trainer.D(real, c, stage), trainer.D(fake, c, stage))

    before = loss().item()
    for _ in range(5):
        trainer.opt_d.zero_grad()
        loss().backward()
        trainer.opt_d.step()
    assert loss().item() < before - 0.05


def test_run_folder_layout(tiny_run):
    for rel in (
        "config.yaml",
        "generator.safetensors",
        "generator.json",
        "progress.gif",
        "checkpoints/latest.pt",
        "checkpoints/stage-4x4.pt",
        "logs/metrics.csv",
    ):
        assert (tiny_run / rel).is_file(), rel
    assert list((tiny_run / "samples").glob("grid-*.png"))
    assert list((tiny_run / "samples" / "4x4").glob("*.wav"))
    rows = list(csv.DictReader((tiny_run / "logs" / "metrics.csv").open()))
    assert rows and all(float(r["d_loss"]) == float(r["d_loss"]) for r in rows)


def test_checkpoint_round_trip(tiny_run, tmp_path):
    ckpt = ckpt_io.load(tiny_run / "checkpoints" / "latest.pt")
    for key in ("G", "D", "G_ema", "opt_G", "opt_D", "state", "rng", "config"):
        assert key in ckpt
    copy = ckpt_io.save(ckpt, tmp_path / "copy.pt")
    again = ckpt_io.load(copy)
    for name in ("G", "D", "G_ema"):
        for k, v in ckpt[name].items():
            assert torch.equal(v, again[name][k])
    assert again["state"] == ckpt["state"]


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "latest.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="damaged checkpoint"):
        ckpt_io.load(bad)


def test_interrupted_run_resumes_exactly(tiny_dataset, tmp_path, monkeypatch):
    steps = 8
    full = train(
        tmp_path / "full",
        data=str(tiny_dataset),
        overrides=tiny_overrides(steps, log_every_steps=1),
        show_progress=False,
    )
    assert full.step == steps and not full.interrupted

    original = Trainer.step
    calls = {"n": 0}

    def flaky(self, loader):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # Ctrl+C in the middle of the run
        return original(self, loader)

    monkeypatch.setattr(Trainer, "step", flaky)
    part = train(
        tmp_path / "split",
        data=str(tiny_dataset),
        overrides=tiny_overrides(steps, log_every_steps=1),
        show_progress=False,
    )
    assert part.interrupted and part.step == 3
    monkeypatch.setattr(Trainer, "step", original)
    resumed = train(tmp_path / "split", resume=True, show_progress=False)
    assert resumed.step == steps

    a = ckpt_io.load(tmp_path / "full" / "checkpoints" / "latest.pt")
    b = ckpt_io.load(tmp_path / "split" / "checkpoints" / "latest.pt")
    for name in ("G", "D", "G_ema"):
        for k, v in a[name].items():
            assert torch.equal(v, b[name][k]), f"{name}.{k} differs after resume"
    def losses(run):
        with (run / "logs" / "metrics.csv").open() as f:
            return [r["d_loss"] for r in csv.DictReader(f)]

    assert losses(tmp_path / "full") == losses(tmp_path / "split")


def test_fresh_train_refuses_an_existing_run(tiny_run, tiny_dataset):
    with pytest.raises(UserError, match="--resume"):
        train(tiny_run, data=str(tiny_dataset), overrides=tiny_overrides(2), show_progress=False)


def test_bad_config_is_a_user_error(tiny_dataset, tmp_path):
    bad = tmp_path / "cfg.yaml"
    bad.write_text("lr: fast\n")
    with pytest.raises(UserError, match="lr"):
        make_config(str(tiny_dataset), str(bad))
    bad.write_text("learning_rate: 0.1\n")
    with pytest.raises(UserError, match="unknown option"):
        make_config(str(tiny_dataset), str(bad))
