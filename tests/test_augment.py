"""Augmentation for small data: shapes, differentiability, identity at p = 0, adaptive strength."""

from __future__ import annotations

import csv
import time
from itertools import pairwise

import numpy as np
import pytest
import torch

from gesturegan.judge.distances import frechet as frechet_distance
from gesturegan.runs import Run, load_checkpoint
from gesturegan.training import train
from gesturegan.training.augment import AdaController, augment
from gesturegan.training.config import PICKS

from .conftest import tiny_overrides, write_tiny_sounds


@pytest.mark.parametrize("shape", [(4, 1, 128, 128), (4, 2, 64, 64), (4, 1, 16384)])
def test_augment_keeps_shapes_and_gradients(shape):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, requires_grad=True)
    y = augment(x, 1.0, gen)
    assert y.shape == x.shape and not torch.equal(y, x)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(augment(x, 0.0, gen), x)


def test_augment_is_reproducible_from_the_generator():
    x = torch.randn(4, 1, 32, 32)
    a = augment(x, 0.5, torch.Generator().manual_seed(7))
    b = augment(x, 0.5, torch.Generator().manual_seed(7))
    other = augment(x, 0.5, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, x) and not torch.equal(a, other)  # it augments, by the seed


def test_strength_rises_when_d_overfits_and_stays_low_otherwise():
    overfit, healthy = AdaController(speed_kimg=1.0), AdaController(speed_kimg=1.0)
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        overfit.update(torch.rand(16, generator=gen) + 0.1)  # D sure of every real clip
        healthy.update(torch.randn(16, generator=gen))  # D unsure: r_t ≈ 0
    assert overfit.p > 0.5 and overfit.r_t == 1.0
    assert healthy.p == 0.0
    copy = AdaController()
    copy.load_state_dict(overfit.state_dict())
    assert copy.p == overfit.p


def test_ada_training_on_a_tiny_set_raises_p_and_logs_it(tiny_dataset, tmp_path):
    run = tmp_path / "ada"
    # Target −0.9: p rises unless D calls almost every real clip fake, whatever 24 steps of a
    # tiny model do to its real logits.
    overrides = tiny_overrides(
        24, augment="ada", ada_speed_kimg=0.05, ada_target=-0.9, log_every_steps=1
    )
    train(run, data=str(tiny_dataset), overrides=overrides, show_progress=False)
    rows = list(csv.DictReader((run / "logs" / "metrics.csv").open()))
    p = [float(r["augment_p"]) for r in rows]
    assert p[0] == 0.0 and max(p) > 0.0


def test_collapse_detector_fires_on_a_constant_generator_and_not_on_real_data(tiny_dataset):
    from gesturegan.dataset import Dataset
    from gesturegan.representations import get
    from gesturegan.training import monitor

    data = Dataset.open(tiny_dataset)
    rep = get("logmel_gl", sr=data.sr, length=data.length)
    real = rep.encode(torch.from_numpy(np.array(data.waves, dtype=np.float32)))
    real_emb, pooled = monitor.embed(real), np.full(len(real), -1)
    same = monitor.measure(real_emb, pooled, monitor.embed(real.flip(0)), pooled, frechet_distance)
    assert same.probe_fd < 1e-6 and same.diversity == pytest.approx(1.0)
    assert monitor.warnings_for(same, ada_rt=0.1, augment="off") == []
    constant_emb = monitor.embed(real[:1].expand(12, -1, -1, -1))
    constant = monitor.measure(real_emb, pooled, constant_emb, np.full(12, -1), frechet_distance)
    assert constant.diversity < 1e-6 and constant.duplicate_share == 1.0
    assert constant.probe_fd > same.probe_fd
    warnings = monitor.warnings_for(constant, ada_rt=0.95, augment="off")
    assert "mode collapse" in warnings[0] and "augment: ada" in warnings[1]


def test_live_probe_keeps_best_checkpoint_and_until_plateau_stops(tiny_dataset, tmp_path):
    run = tmp_path / "probe"
    overrides = tiny_overrides(
        200, monitor_every_minutes=0.0, until_plateau_minutes=0.0, log_every_steps=1
    )
    result = train(run, data=str(tiny_dataset), overrides=overrides, show_progress=False)
    # With a zero plateau budget training stops at the first probe that does not improve.
    assert result.step < 200 and not result.interrupted
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    rows = list(csv.DictReader((run / "logs" / "metrics.csv").open()))
    fds = [float(r["probe_fd"]) for r in rows if r["probe_fd"] != "nan"]
    # metrics.csv rounds to 5 decimals: the logged minimum may sit up to 5e-6 under the kept one.
    assert fds and best["state"]["best_probe_fd"] <= min(fds) + 5e-6


def test_generator_is_the_last_stages_best_probe(tiny_dataset, tmp_path):

    run = tmp_path / "best"
    overrides = tiny_overrides(40, monitor_every_minutes=0.0, log_every_steps=1)
    result = train(run, data=str(tiny_dataset), overrides=overrides, show_progress=False)
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    weights, meta = Run(run).read_generator()
    n_stages = len(meta["stages"])
    assert best["state"]["stage"] == n_stages - 1  # best.pt holds the newest stage's best
    assert meta["step"] == best["state"]["step"] == result.generator_step
    assert result.generator_step < result.step  # (seeded) the best probe is not the last step
    for name, tensor in best["G_ema"].items():
        torch.testing.assert_close(weights[name], tensor, rtol=0, atol=0)


def test_probes_on_a_step_schedule_export_the_same_generator_on_a_fast_and_a_slow_machine(
    tiny_dataset, tmp_path, monkeypatch
):
    """``monitor_every_steps``: the probes, which pick the exported generator, fall on the same
    steps whatever the clock says, so the same training exports the same generator. Probed every
    minute instead, this run probes at no step on an idle machine and at every step on one whose
    clock moves 1000 s between readings."""
    from types import SimpleNamespace

    from gesturegan.training import loop

    overrides = tiny_overrides(
        40, monitor_every_steps=8, monitor_every_minutes=1.0, log_every_steps=1,
        snapshot_every_minutes=1e6, checkpoint_every_minutes=1e6,
    )  # fmt: skip
    data = str(tiny_dataset)
    fast = train(tmp_path / "fast", data=data, overrides=overrides, show_progress=False)
    readings = iter(range(0, 10**9, 1000))
    clock = SimpleNamespace(monotonic=lambda: float(next(readings)), perf_counter=time.perf_counter)
    monkeypatch.setattr(loop, "time", clock)
    slow = train(tmp_path / "slow", data=data, overrides=overrides, show_progress=False)

    def probed_steps(run):  # the row after a probe is the first to carry its figures
        rows = list(csv.DictReader((run / "logs" / "metrics.csv").open()))
        return [int(b["step"]) - 1 for a, b in pairwise(rows) if b["probe_fd"] != a["probe_fd"]]

    assert probed_steps(tmp_path / "fast") == probed_steps(tmp_path / "slow") == [8, 16, 24, 32]
    assert fast.generator_step == slow.generator_step
    slow_weights = Run(slow.run_dir).read_generator()[0]
    for name, tensor in Run(fast.run_dir).read_generator()[0].items():
        torch.testing.assert_close(slow_weights[name], tensor, rtol=0, atol=0)


@pytest.mark.parametrize("pick", PICKS)
def test_a_gesture_models_generator_is_the_last_stages_best_probe_by_its_pick(
    tmp_path, monkeypatch, pick
):
    from gesturegan.dataset import prepare
    from gesturegan.training import monitor

    src = write_tiny_sounds(tmp_path / "src", names=("trigger", "continuous_repetition"))
    prepare(src, tmp_path / "data", labels_from_folders=True, workers=1)
    probes = iter(range(64))

    def fading_ear(waves, sr, label_ids, label_names, label):  # a clip fewer on every probe
        return dict.fromkeys(label_names, 1 - next(probes) / 64)

    monkeypatch.setattr(monitor, "heard", fading_ear)
    monkeypatch.setattr(monitor, "collapsed", lambda result: False)  # a tiny model may collapse
    run = tmp_path / "run"
    overrides = tiny_overrides(16, monitor_every_minutes=0.0, log_every_steps=1, pick=pick)
    result = train(run, data=str(tmp_path / "data"), overrides=overrides, show_progress=False)
    rows = list(csv.DictReader((run / "logs" / "metrics.csv").open()))
    heard = [r for r in rows if r["heard"] != "nan"]
    last = Run(run).read_generator()[1]["stages"][-1]
    assert heard and all(r["stage"] == last for r in heard)  # heard at the last stage only
    for r in heard:  # the worst class's agreement, on 64 clips per class
        per_class = [float(r["heard_trigger"]), float(r["heard_continuous_repetition"])]
        assert float(r["heard"]) == min(per_class)
        # whole clips out of 64, as far as metrics.csv's 5 digits show (0.640625 is 0.64062)
        assert all(abs(64 * v - round(64 * v)) < 1e-3 for v in per_class)
    best = load_checkpoint(run / "checkpoints" / "best.pt")
    # The row after a probe carries its figures; the last probe (after the last step) has no row.
    assert result.generator_heard == best["state"]["best_heard"]
    assert result.generator_probe_fd == best["state"]["best_probe_fd"]
    faded = [r for r in heard if float(r["alpha"]) == 1.0]
    first_heard = max(float(r["heard"]) for r in faded)  # the ear fades: the first probe's
    if pick == "heard":
        assert result.generator_heard == first_heard
    else:  # the lowest probe_fd once faded in (5 digits in metrics.csv), not the first probe
        assert result.generator_probe_fd <= min(float(r["probe_fd"]) for r in faded) + 1e-5
        assert result.generator_heard < first_heard
    meta = Run(run).generator_meta()
    assert meta["step"] == best["state"]["step"] == result.generator_step
    assert meta["alpha"] == 1.0 and best["state"]["faded_in"]  # never a half-grown blend


@pytest.mark.parametrize(
    "pick, faded_in, probe_fd, heard, expected",
    [
        ("probe_fd", True, 0.2, 0.30, True),  # lower FD wins, whatever the labeler heard
        ("heard", True, 0.2, 0.30, False),  # the worst class heard decides first
        ("heard", True, 0.9, 0.50, True),
        ("probe_fd", True, 0.9, 0.50, False),
        ("probe_fd", False, 0.2, 0.50, False),  # never a half-grown blend, whatever the pick
    ],
)
def test_the_last_stage_keeps_the_best_probe_by_the_configured_pick(
    tiny_dataset, pick, faded_in, probe_fd, heard, expected
):
    from gesturegan.dataset import Dataset
    from gesturegan.representations import get
    from gesturegan.training.judges import live_judges
    from gesturegan.training.monitor import ProbeResult
    from gesturegan.training.probes import Probes
    from gesturegan.training.state import Counters

    data = Dataset.open(tiny_dataset)
    names = ["trigger", "continuous_repetition"]
    probes = Probes(live_judges(names), data, get("logmel_gl", sr=data.sr, length=data.length),
                    names, z_dim=8, seed=0)  # fmt: skip
    probes.last = ProbeResult(probe_fd=probe_fd, diversity=1.0, duplicate_share=0.0)
    probes.last_heard = {"trigger": 1.0, "continuous_repetition": heard}
    best = Counters(faded_in=faded_in, best_probe_fd=0.5, best_heard=0.4)
    assert probes.is_best(best, pick) is expected
