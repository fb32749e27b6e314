"""What only a CUDA GPU can show (skipped without one; ``benchmarks/gpu_check.py`` runs them): a
training step there, resume equality within tolerance, generation and export there, and a run
trained on the GPU resumed on the CPU."""

from __future__ import annotations

import csv
import os
import signal

import numpy as np
import pytest
import torch

from .conftest import tiny_overrides

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
RESUME_TOLERANCE = {"rel": 1e-3, "abs": 1e-3}  # cuDNN picks kernels per run; sums reorder


def _train(run, data, steps, stop_at=None, **extra):
    """Train a tiny run on the GPU; with ``stop_at``, stop it (as Ctrl+C does) after that step
    and resume it to the end."""
    from gesturegan.training import train
    from gesturegan.training.data import BatchLoader

    opts = tiny_overrides(steps, device="cuda", log_every_steps=1, **extra)
    if stop_at is None:
        return train(run, data=str(data), overrides=opts, show_progress=False)
    original, calls = BatchLoader.next, {"n": 0}

    def interrupting(self, batch_size):
        calls["n"] += 1
        if calls["n"] == stop_at:
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, batch_size)

    BatchLoader.next = interrupting
    try:
        part = train(run, data=str(data), overrides=opts, show_progress=False)
        assert part.interrupted and part.step == stop_at
    finally:
        BatchLoader.next = original
    return train(run, resume=True, overrides={"device": "cuda"}, show_progress=False)


def _rows(run):
    with (run / "logs" / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_training_steps_run_on_the_gpu_with_finite_figures(tiny_dataset, tmp_path, precision):
    from gesturegan.runs import Run, load_checkpoint

    run = tmp_path / precision
    _train(run, tiny_dataset, 8, precision=precision, r1_every=2)
    assert Run(run).read_config()["device"].startswith("cuda")
    for row in _rows(run):
        for key in ("d_loss", "g_loss", "grad_d", "grad_g"):
            assert np.isfinite(float(row[key])), (precision, key, row)
    ckpt = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert ckpt["rng"]["noise_device"] == "cuda" and "cuda" in ckpt["rng"]
    assert ("scalers" in ckpt) == (precision == "fp16")


def test_a_stopped_and_resumed_gpu_run_matches_a_straight_one(tiny_dataset, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    _train(straight, tiny_dataset, 24)
    _train(split, tiny_dataset, 24, stop_at=10)
    a, b = _rows(straight), _rows(split)
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b, strict=True):
        for key in ("d_loss", "g_loss", "d_real", "d_fake"):
            assert float(rb[key]) == pytest.approx(float(ra[key]), **RESUME_TOLERANCE), key


def test_generation_and_export_on_the_gpu_agree_with_the_cpu(tiny_dataset, tmp_path):
    from gesturegan.exporting import export
    from gesturegan.generation import load

    run = tmp_path / "run"
    _train(run, tiny_dataset, 6)
    on_gpu, on_cpu = load(run, "cuda"), load(run, "cpu")
    assert on_gpu.device.type == "cuda"
    cat = on_gpu.categories[0]
    a, b = on_gpu.samples(cat, [0, 1, 2]), on_cpu.samples(cat, [0, 1, 2])
    assert a.dtype == np.float32 and a.shape == b.shape
    assert np.abs(a - b).max() < 0.02
    done = export(run, "torchscript", device="cuda")
    assert done.max_abs_diff <= done.tolerance


def test_a_gpu_trained_run_resumes_and_generates_on_the_cpu(tiny_dataset, tmp_path, capsys):
    from gesturegan.generation import load
    from gesturegan.training import train

    run = tmp_path / "run"
    _train(run, tiny_dataset, 6)
    r = train(run, resume=True, overrides={"steps": 9, "device": "cpu"}, show_progress=False)
    assert r.step == 9
    assert "latent stream continues from a fresh seed" in capsys.readouterr().err
    gen = load(run, "cpu")
    assert np.isfinite(gen.samples(gen.categories[0], [0])).all()


def test_batch_auto_on_the_gpu_probes_powers_of_two_and_a_resume_keeps_them(
    tiny_dataset, tmp_path
):
    from gesturegan.runs import Run
    from gesturegan.training import train

    run = tmp_path / "run"
    _train(run, tiny_dataset, 4, batch="auto", batch_max=64)
    sizes = Run(run).read_config()["batch_size"]
    assert len(sizes) == 6  # one per stage of the 128x128 tiny model
    # The tiny model fits anything: each stage gets the cap, 8 (the 12 training clips' power of 2).
    assert sizes == [8] * 6
    train(run, resume=True, overrides={"steps": 8, "device": "cuda"}, show_progress=False)
    assert Run(run).read_config()["batch_size"] == sizes


def test_batch_auto_stays_within_its_share_of_the_gpu_memory(tiny_dataset, tmp_path):
    from gesturegan.training import Trainer, batching
    from gesturegan.training.config import make_config

    cfg = make_config(str(tiny_dataset), overrides=tiny_overrides(10, device="cuda"))
    t = Trainer(cfg, tmp_path / "run")
    trial = batching.Trial(t.nets, cfg, t.rep.shape, len(t.stages), 2, t.cond, t.device)
    used = {}
    for b in (2, 64):
        trial.step(5, b)  # cuDNN picks its kernels for the shape
        torch.cuda.reset_peak_memory_stats(t.device)
        trial.step(5, b)
        used[b] = torch.cuda.max_memory_allocated(t.device)
    assert used[64] > used[2]  # the probe's premise: memory grows with the batch
    assert batching.fits_in_memory(trial, 5, 64, used[64] * 2)
    assert not batching.fits_in_memory(trial, 5, 64, used[2])


def test_compiled_training_on_the_gpu_matches_eager_and_checkpoints_plainly(
    tiny_dataset, tmp_path
):
    from gesturegan.runs import load_checkpoint

    eager, fast = tmp_path / "eager", tmp_path / "fast"
    _train(eager, tiny_dataset, 2)  # a step at 4x4, one fading 8x8 in (alpha as a tensor)
    _train(fast, tiny_dataset, 2, compile=True)
    for ra, rb in zip(_rows(eager), _rows(fast), strict=True):
        for key in ("d_loss", "g_loss"):
            assert float(rb[key]) == pytest.approx(float(ra[key]), rel=1e-2, abs=1e-3), key
    ckpt = load_checkpoint(fast / "checkpoints" / "latest.pt")
    assert not any("_orig_mod" in k for net in ("G", "D", "G_ema") for k in ckpt[net])
