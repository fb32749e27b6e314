"""Training: losses move the right way, checkpoints round-trip, an interrupted run resumes exactly."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml

from gesturegan.errors import UserError
from gesturegan.models import MODEL_CONFIGS, build
from gesturegan.models.pgan import PGANConfig
from gesturegan.runs import Run, load_checkpoint, save_checkpoint
from gesturegan.training import Trainer, train
from gesturegan.training.config import TrainConfig, make_config
from gesturegan.training.losses import d_loss
from gesturegan.training.schedule import (
    TimeLeft,
    clock,
    stage_budget_s,
    stage_progress,
    time_left,
)
from gesturegan.training.state import Counters

from .conftest import TINY_MODEL, tiny_overrides


@pytest.mark.parametrize("side", [128, 256])
def test_generator_and_discriminator_shapes_at_every_stage(side):
    cfg = PGANConfig(**TINY_MODEL)
    g, d = build("pgan", cfg, (2, side, side), n_classes=4)
    n_stages = 6 if side == 128 else 7
    assert g.stages == tuple(f"{4 * 2**s}x{4 * 2**s}" for s in range(n_stages))
    z, c = torch.randn(3, cfg.z_dim), torch.eye(4)[:3]
    for stage in range(n_stages):
        for alpha in (0.5, 1.0):
            img = g(z, c, stage, alpha)
            assert img.shape == (3, 2, 4 * 2**stage, 4 * 2**stage)
            logits = d(img, c, stage, alpha)
            assert logits.shape == (3,)
        logits.sum().backward()
        assert g.render(z, c, stage).shape == (3, 2, side, side)


def test_mixed_conditioning_is_accepted():
    cfg = PGANConfig(**TINY_MODEL)
    g, _ = build("pgan", cfg, (1, 64, 64), n_classes=4)
    mix = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    assert torch.isfinite(g(torch.randn(1, cfg.z_dim), mix)).all()


def test_discriminator_steps_decrease_its_loss_on_a_fixed_batch(tiny_dataset, tmp_path):
    cfg = make_config(str(tiny_dataset), overrides=tiny_overrides(10))
    trainer = Trainer(cfg, tmp_path)
    stage = 2
    c = torch.eye(2)[torch.arange(8) % 2]
    with torch.no_grad():
        fake = trainer.nets.G(torch.randn(8, cfg.pgan.z_dim), c, stage)
    real = torch.rand(fake.shape) * 2 - 1

    def loss() -> torch.Tensor:
        return d_loss(trainer.nets.D(real, c, stage), trainer.nets.D(fake, c, stage))

    before = loss().item()
    for _ in range(5):
        trainer.nets.opt_d.zero_grad()
        loss().backward()
        trainer.nets.opt_d.step()
    assert loss().item() < before - 0.05


def test_run_folder_layout(tiny_run):
    for rel in (
        "config.yaml",
        "generator.safetensors",
        "progress.gif",
        "checkpoints/latest.pt",
        "checkpoints/stage-8x4.pt",  # the default stft_pghi's 256x128 images grow from 8x4
        "logs/metrics.csv",
    ):
        assert (tiny_run / rel).is_file(), rel
    assert Run(tiny_run).generator_meta()["step"] == 12  # the export bundle says its step
    assert list((tiny_run / "samples").glob("grid-*.png"))
    assert list((tiny_run / "samples" / "8x4").glob("*.wav"))
    rows = list(csv.DictReader((tiny_run / "logs" / "metrics.csv").open()))
    assert rows and all(float(r["d_loss"]) == float(r["d_loss"]) for r in rows)


def test_checkpoint_round_trip(tiny_run, tmp_path):
    ckpt = load_checkpoint(tiny_run / "checkpoints" / "latest.pt")
    for key in ("G", "D", "G_ema", "opt_G", "opt_D", "state", "rng", "config"):
        assert key in ckpt
    copy = save_checkpoint(ckpt, tmp_path / "copy.pt")
    again = load_checkpoint(copy)
    for name in ("G", "D", "G_ema"):
        for k, v in ckpt[name].items():
            assert torch.equal(v, again[name][k])
    assert again["state"] == ckpt["state"]


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "latest.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="damaged checkpoint"):
        load_checkpoint(bad)


def test_training_longer_keeps_the_last_stage_faded_in(tiny_dataset, tmp_path):
    """`train --resume` with a larger budget stretches the last stage's schedule; its layers
    stay fully faded in instead of fading in again."""
    run = tmp_path / "run"
    train(
        run,
        data=str(tiny_dataset),
        overrides=tiny_overrides(12, log_every_steps=1),
        show_progress=False,
    )
    train(run, overrides={"steps": 24}, resume=True, show_progress=False)
    rows = list(csv.DictReader((run / "logs" / "metrics.csv").open()))
    last_stage = [r for r in rows if r["stage"] == rows[-1]["stage"]]
    assert int(rows[-1]["step"]) == 24
    assert [float(r["alpha"]) for r in last_stage if int(r["step"]) >= 12] == [1.0] * 13


def test_time_left_follows_a_minutes_schedule():
    """441 minutes over 6 stages with the default power 3: stage s gets (s + 1)³ minutes; 21 with
    the power 1: s + 1 minutes."""
    cfg = TrainConfig(minutes=441)
    # In stage 2 (27 minutes), one minute into it: 1 + 8 + 1 = 10 minutes spent.
    assert time_left(cfg, 6, 2, 999, 600.0, 60.0, None) == TimeLeft(1560.0, 25860.0)
    # The last stage ends with the run.
    assert time_left(cfg, 6, 5, 999, 26400.0, 100.0, 0.3) == TimeLeft(60.0, 60.0)
    linear = TrainConfig(minutes=21, stage_time_power=1.0)
    # In stage 2 (16x16, 3 minutes), one minute into it: 4 minutes spent.
    assert time_left(linear, 6, 2, 999, 240.0, 60.0, None) == TimeLeft(120.0, 1020.0)


def test_stage_time_power_shares_the_minutes_toward_the_last_stages():
    """91 minutes over 6 stages with the power 2: stage s gets (s + 1)² minutes; the power 0 gives
    equal shares."""
    cfg = TrainConfig(minutes=91, stage_time_power=2.0)
    assert [stage_budget_s(91, s, 6, 2.0) / 60 for s in range(6)] == pytest.approx(
        [1, 4, 9, 16, 25, 36]
    )
    # In stage 2 (9 minutes), one minute into it: 1 + 4 + 1 = 6 minutes spent.
    assert time_left(cfg, 6, 2, 999, 360.0, 60.0, None) == TimeLeft(480.0, 5100.0)
    assert stage_progress(cfg, Counters(stage=4, stage_elapsed_s=750.0), 6) == pytest.approx(0.5)
    assert stage_budget_s(60, 0, 6, 0.0) == stage_budget_s(60, 5, 6, 0.0) == 600.0


def test_time_left_estimates_a_steps_budget_from_recent_step_time():
    """600 steps over 6 stages: stage 1 ends at step 200. Later stages are slower per step, so
    the run's estimate is a lower bound until the last stage."""
    cfg = TrainConfig(steps=600)
    assert time_left(cfg, 6, 1, 150, 80.0, 30.0, 0.5) == TimeLeft(25.0, 225.0, run_at_least=True)
    assert time_left(cfg, 6, 5, 550, 400.0, 30.0, 0.5) == TimeLeft(25.0, 25.0)
    assert time_left(cfg, 6, 0, 0, 0.0, 0.0, None) == TimeLeft(None, None)
    # With a time budget too, the run ends at whichever comes first.
    both = TrainConfig(steps=600, minutes=1)
    assert time_left(both, 6, 1, 150, 50.0, 30.0, 0.5) == TimeLeft(10.0, 10.0)


def test_clock_formats_durations():
    assert (clock(3725), clock(250.4), clock(0), clock(None)) == ("1:02:05", "4:10", "0:00", "?")


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
        stats = original(self, loader)
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C during step 3: it finishes, then stops
        return stats

    monkeypatch.setattr(Trainer, "step", flaky)
    part = train(
        tmp_path / "split",
        data=str(tiny_dataset),
        overrides=tiny_overrides(steps, log_every_steps=1),
        show_progress=False,
    )
    assert part.interrupted and part.saved and part.step == 3
    monkeypatch.setattr(Trainer, "step", original)
    resumed = train(tmp_path / "split", resume=True, show_progress=False)
    assert resumed.step == steps

    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "latest.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "latest.pt")
    for name in ("G", "D", "G_ema"):
        for k, v in a[name].items():
            assert torch.equal(v, b[name][k]), f"{name}.{k} differs after resume"

    def losses(run):
        with (run / "logs" / "metrics.csv").open() as f:
            return [r["d_loss"] for r in csv.DictReader(f)]

    assert losses(tmp_path / "full") == losses(tmp_path / "split")


def test_resume_trains_with_a_changed_learning_rate(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    saved = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert saved["opt_G"]["param_groups"][0]["lr"] == 0.002
    changes = {"steps": 14, "lr": 0.0005, "betas": [0.5, 0.9]}
    assert train(run, resume=True, overrides=changes, show_progress=False).step == 14
    ckpt = load_checkpoint(run / "checkpoints" / "latest.pt")
    for opt in ("opt_G", "opt_D"):  # the optimisers ran with them (not the checkpoint's values)
        assert [(g["lr"], tuple(g["betas"])) for g in ckpt[opt]["param_groups"]] == [
            (0.0005, (0.5, 0.9))
        ]


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


def test_fade_in_at_alpha_zero_is_the_previous_stage_upsampled():
    cfg = PGANConfig(**TINY_MODEL)
    g, d = build("pgan", cfg, (1, 32, 32), n_classes=3)
    z, c = torch.randn(4, cfg.z_dim), torch.eye(3)[[0, 1, 2, 0]]
    for stage in range(1, len(g.stages)):
        previous = torch.nn.functional.interpolate(g(z, c, stage - 1), scale_factor=2.0)
        assert torch.allclose(g(z, c, stage, alpha=0.0), previous, atol=1e-6)
        img = torch.randn(4, 1, 4 * 2**stage, 4 * 2**stage)
        pooled = torch.nn.functional.avg_pool2d(img, 2)
        assert torch.allclose(d(img, c, stage, alpha=0.0), d(pooled, c, stage - 1), atol=1e-5)


def test_generator_without_autograd_equals_it_with_autograd_at_every_stage_and_fade():
    """Inference writes pixel norm over spent feature maps; the fade-in's input is kept. Features
    near zero (here all of them) are where normalising twice is not normalising once."""
    torch.manual_seed(0)
    cfg = PGANConfig(**TINY_MODEL)
    g, _ = build("pgan", cfg, (1, 32, 32), n_classes=3)
    with torch.no_grad():
        for block in g.blocks:
            block.conv2.weight.mul_(1e-4)
    z, c = torch.randn(4, cfg.z_dim), torch.eye(3)[[0, 1, 2, 0]]
    for stage in range(len(g.stages)):
        for alpha in (0.0, 0.5, 1.0):
            expected = g(z, c, stage, alpha)
            with torch.no_grad():
                torch.testing.assert_close(g(z, c, stage, alpha), expected.detach())


def test_envelope_autocorrelation_peaks_at_the_period_of_a_loop():
    from gesturegan.models.pgan import envelope_autocorr

    w = 128
    t = torch.arange(w)
    loop = (t % 16 < 4).float()  # a pulse every 16 frames
    img = loop.expand(1, 1, 8, w).clone()
    ac = envelope_autocorr(img, lags=w)[0]  # one point per lag
    assert ac[0] == pytest.approx(1.0, abs=1e-3)
    peaks = [lag for lag in range(1, 64) if ac[lag] > ac[lag - 1] and ac[lag] >= ac[lag + 1]]
    assert peaks[:3] == [16, 32, 48]
    flat = envelope_autocorr(torch.ones(2, 1, 8, w))
    assert flat.abs().max() < 1e-3


def test_level_stats_tell_a_held_level_from_a_wobbling_one_and_an_even_loop_from_noise():
    from gesturegan.models.pgan import level_stats

    w = 128
    t = torch.arange(w).float()
    held = (0.5 + 0.004 * torch.sin(t)).expand(1, 1, 8, w)  # 0.2 dB at logmel_gl's 50 dB per unit
    wobbly = (0.5 + 0.02 * torch.sin(t)).expand(1, 1, 8, w)
    loop = (t % 16 < 4).float().expand(1, 1, 8, w)
    noise = torch.rand(1, 1, 8, w, generator=torch.Generator().manual_seed(0))
    stats = level_stats(torch.cat([held, wobbly, loop, noise]))
    assert stats.shape == (4, 3)
    spread, motion, periodicity = stats.T
    assert spread[1] - spread[0] == pytest.approx(np.log(5), abs=1e-3)  # 5x the deviation
    assert motion[1] - motion[0] == pytest.approx(np.log(5), abs=1e-2)
    assert periodicity[2] > 0.95 and periodicity[3] < 0.5


def test_discriminator_with_level_stats_fades_them_in_and_takes_an_r1_penalty():
    cfg = PGANConfig(**TINY_MODEL, d_level=True)
    _, d = build("pgan", cfg, (1, 16, 16), n_classes=4)
    img = torch.randn(4, 1, 16, 16, requires_grad=True)
    c = torch.eye(4)
    logits = d(img, c, stage=2, alpha=0.5)
    (grad,) = torch.autograd.grad(logits.sum(), img, create_graph=True)
    grad.square().sum().backward()  # R1: the penalty's gradient reaches D's level read-out
    assert d.level.weight.grad is not None and torch.isfinite(d.level.weight.grad).all()
    assert not PGANConfig().d_level  # off by default: runs saved before it load as trained


def test_discriminators_level_read_outs_measure_the_clean_image_not_the_augmented_one():
    from gesturegan.training.augment import augment

    cfg = PGANConfig(**TINY_MODEL, d_level=True)
    _, d = build("pgan", cfg, (1, 16, 16), n_classes=4)
    c = torch.eye(4)
    w = torch.arange(16.0)
    held = (0.5 + 0.004 * torch.sin(w)).expand(4, 1, 16, 16).clone()
    masked = augment(held, 1.0, torch.Generator().manual_seed(0))  # shifts, gain, masks
    assert not torch.equal(masked, held)
    for stage, alpha in ((2, 1.0), (2, 0.5)):
        plain = d(masked, c, stage, alpha)
        assert torch.equal(d(masked, c, stage, alpha, clean=masked), plain)  # None means img
        seen_clean = d(masked, c, stage, alpha, clean=held)
        assert not torch.allclose(seen_clean, plain)
        d.level, d.periodic, level, periodic = None, None, d.level, d.periodic  # read-outs off:
        assert torch.equal(d(masked, c, stage, alpha, clean=held), d(masked, c, stage, alpha))
        d.level, d.periodic = level, periodic  # ... then clean is not looked at


def test_discriminator_sees_periodicity_by_default_and_trains_with_its_r1_penalty(
    tiny_dataset, tmp_path
):
    assert PGANConfig().d_periodicity
    over = tiny_overrides(4, r1_every=1)
    result = train(tmp_path / "run", data=str(tiny_dataset), overrides=over, show_progress=False)
    assert result.step == 4
    with (tmp_path / "run" / "logs" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert all(np.isfinite(float(r["penalty"])) and float(r["penalty"]) > 0 for r in rows)


def test_time_favouring_kernels_run_at_every_stage():
    cfg = PGANConfig(**TINY_MODEL, kernels="time")
    g, d = build("pgan", cfg, (2, 128, 128), n_classes=4)
    assert g.blocks[2].conv1.weight.shape[-2:] == (1, 6)  # (frequency, time) at 32x32 (stage 3)
    z, c = torch.randn(2, cfg.z_dim), torch.eye(4)[:2]
    for stage in range(len(g.stages)):
        img = g(z, c, stage, 0.5)
        assert img.shape == (2, 2, 4 * 2**stage, 4 * 2**stage)
        d(img, c, stage, 0.5).sum().backward()
    with pytest.raises(UserError, match="unknown preset"):
        PGANConfig(kernels="diagonal")


def test_wgan_gp_trains_and_logs_its_penalty_and_gradient_norms(tiny_dataset, tmp_path):
    run = tmp_path / "wgan"
    overrides = tiny_overrides(4, loss="wgan_gp", log_every_steps=1)
    result = train(run, data=str(tiny_dataset), overrides=overrides, show_progress=False)
    assert result.step == 4
    rows = list(csv.DictReader((run / "logs" / "metrics.csv").open()))
    for key in ("penalty", "grad_d", "grad_g", "img_per_s"):  # measured, not left at zero
        values = [float(r[key]) for r in rows]
        assert len(values) == 4 and all(np.isfinite(v) and v > 0 for v in values), key
    # The logged penalty is the gradient penalty itself, measured before D's first update (same
    # weights, same interpolates whatever its weight); gp_lambda weighs it into that update.
    twice = tiny_overrides(1, loss="wgan_gp", log_every_steps=1, gp_lambda=20.0)
    train(tmp_path / "twice", data=str(tiny_dataset), overrides=twice, show_progress=False)
    (row,) = csv.DictReader((tmp_path / "twice" / "logs" / "metrics.csv").open())
    assert float(row["penalty"]) == pytest.approx(float(rows[0]["penalty"]), rel=1e-5)
    assert float(row["grad_d"]) != pytest.approx(float(rows[0]["grad_d"]), rel=1e-3)
    with pytest.raises(UserError, match="loss: must be one of ns_r1, wgan_gp, got 'hinge'"):
        make_config(str(tiny_dataset), overrides={"loss": "hinge"})


def test_divergence_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(
    tiny_dataset, tmp_path, monkeypatch
):
    run = tmp_path / "nan"
    overrides = tiny_overrides(6, checkpoint_every_steps=2, log_every_steps=1)
    original = Trainer.step

    def poisoned(self, loader):
        stats = original(self, loader)
        return {**stats, "d_loss": float("nan")} if self.counters.step == 4 else stats

    monkeypatch.setattr(Trainer, "step", poisoned)
    with pytest.raises(UserError, match=r"training diverged at step 5 \(d_loss=nan\)"):
        train(run, data=str(tiny_dataset), overrides=overrides, show_progress=False)
    ckpt = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert ckpt["state"]["step"] == 4
    assert not (run / "generator.safetensors").exists()


def test_kill_during_checkpoint_write_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "latest.pt"
    save_checkpoint({"weights": torch.zeros(1000), "step": 0}, path)
    script = (
        "import sys, torch\n"
        "from gesturegan.runs import save_checkpoint\n"
        "big = torch.randn(4_000_000, generator=torch.Generator().manual_seed(3))\n"
        "print('ready', flush=True)\n"
        "step = 1\n"
        "while True:\n"
        "    save_checkpoint({'weights': big, 'step': step}, sys.argv[1]); step += 1\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # several 16 MB writes in flight
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ckpt = load_checkpoint(path)  # one whole write, the first or a later one: never a mix
    if ckpt["step"] == 0:
        assert torch.equal(ckpt["weights"], torch.zeros(1000))
    else:
        big = torch.randn(4_000_000, generator=torch.Generator().manual_seed(3))
        assert ckpt["step"] >= 1 and torch.equal(ckpt["weights"], big)


@pytest.mark.slow
def test_two_process_torchrun_ends_with_identical_weights(tiny_dataset, tmp_path):
    config = tmp_path / "tiny.yaml"
    opts = {k: v for k, v in tiny_overrides(4).items() if k != "steps"}
    config.write_text(yaml.safe_dump({**opts, "snapshot_per_class": 1}))
    run = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "gesturegan", "train", "--data", str(tiny_dataset), "--out", str(run),
        "--steps", "4", "--config", str(config),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads((run / "logs" / "distributed.json").read_text())
    assert facts == {"world_size": 2, "replica_max_abs_diff": 0.0}
    ckpt = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert ckpt["state"]["step"] == 4 and ckpt["state"]["nimg"] == 4 * 2 * 4  # 2 ranks x batch 4
    assert len(ckpt["rng"]["noise_per_rank"]) == 2


LEAVE_GROUP = """
import os, torch
from gesturegan.training import distributed as dist
threads = lambda: len(os.listdir("/proc/self/task"))
before = threads()
world = dist.init_from_env("cpu")
torch.optim.Adam(torch.nn.Linear(2, 2).parameters())  # imports torch._dynamo after the group
assert dist.broadcast_float(float(world.rank), world) == 0.0  # rank 0's value
dist.shutdown(world)
assert threads() == before, (before, threads())
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_leaving_the_process_group_ends_its_threads(tmp_path):
    # A group kept alive past shutdown leaves gloo's threads running into the interpreter's exit,
    # where one of them aborts the process now and then (SIGABRT after "done").
    script = tmp_path / "leave.py"
    script.write_text(LEAVE_GROUP)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(script)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

@pytest.mark.parametrize(
    ("model", "shape"),
    [
        ("dcgan", (1, 128, 128)),
        ("dcgan", (3, 256, 256)),
        ("wavegan", (1, 16384)),
        ("wavegan", (1, 65536)),
    ],
)
def test_single_stage_models_forward_and_backward(model, shape):
    cfg = MODEL_CONFIGS[model](**({"channels": 32} if model == "dcgan" else {"model_size": 4}))
    g, d = build(model, cfg, shape, n_classes=4)
    assert len(g.stages) == 1
    z, c = torch.randn(2, cfg.z_dim), torch.tensor([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0]])
    out = g(z, c)
    assert out.shape == (2, *shape) and out.abs().max() <= 1
    d(out, c).sum().backward()
    assert all(p.grad is not None for p in g.parameters())


@pytest.mark.parametrize(("model", "repr_name"), [("dcgan", "logmel_gl"), ("wavegan", "waveform")])
def test_single_stage_models_train_generate_and_resume(model, repr_name, tiny_dataset, tmp_path):
    small = {"dcgan": {"channels": 32}, "wavegan": {"model_size": 4}}[model]
    overrides = {**tiny_overrides(3), "model": model, "repr": repr_name, model: small}
    result = train(
        tmp_path / model, data=str(tiny_dataset), overrides=overrides, show_progress=False
    )
    assert result.step == 3 and list((tmp_path / model / "samples").glob("grid-*.png"))
    again = train(tmp_path / model, resume=True, overrides={"steps": 5}, show_progress=False)
    assert again.step == 5
    from gesturegan.generation import load

    wave = load(tmp_path / model).sample("tone", seed=1)
    assert wave.shape == (16384,) and np.isfinite(wave).all()
    with pytest.raises(UserError, match="wavegan needs the 'waveform' representation"):
        train(tmp_path / "bad", data=str(tiny_dataset), show_progress=False,
              overrides={**tiny_overrides(1), "model": "wavegan"})  # fmt: skip


def test_sigterm_stops_after_the_step_and_a_second_signal_stops_at_once(
    tiny_dataset, tmp_path, monkeypatch
):
    original = Trainer.step

    def terminated(self, loader):
        stats = original(self, loader)
        if self.counters.step == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return stats

    monkeypatch.setattr(Trainer, "step", terminated)
    def ours(signum, frame):  # the caller's own handler, which training must put back
        raise AssertionError("training's handler should have caught this signal")

    previous = signal.signal(signal.SIGTERM, ours)
    try:
        before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        run = tmp_path / "term"
        over = tiny_overrides(6)
        result = train(run, data=str(tiny_dataset), overrides=over, show_progress=False)
        assert {sig: signal.getsignal(sig) for sig in before} == before
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert result.interrupted and result.saved and result.step == 2
    assert load_checkpoint(run / "checkpoints" / "latest.pt")["state"]["step"] == 2

    def forced(self, loader):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # the second one interrupts this very step
        return original(self, loader)

    monkeypatch.setattr(Trainer, "step", forced)
    again = train(run, resume=True, overrides={"steps": 6}, show_progress=False)
    assert again.interrupted and not again.saved
    assert load_checkpoint(run / "checkpoints" / "latest.pt")["state"]["step"] == 2
