"""The device path on the CPU: ``--device`` resolved at the edge, absent devices refused in one
line, precision options checked, checkpoints read onto another device, collectives' backend by
device, and a step that never reads a tensor on the host."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from gesturegan.device import check_precision, resolve
from gesturegan.errors import UserError
from gesturegan.runs import load_checkpoint
from gesturegan.training.checks import on_host
from gesturegan.training.distributed import World, backend_for
from gesturegan.training.state import load_rng_state, rng_state

from .conftest import tiny_overrides

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


def test_cpu_and_auto_resolve_on_a_machine_without_a_gpu():
    assert resolve("cpu") == torch.device("cpu")
    assert resolve(" CPU ") == torch.device("cpu")
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve("auto").type == want
    assert resolve(None).type == want


@no_cuda
@pytest.mark.parametrize("spec", ["cuda", "cuda:1"])
def test_an_absent_gpu_is_a_user_error(spec):
    with pytest.raises(UserError, match="no CUDA GPU is visible here; use --device cpu"):
        resolve(spec)


@pytest.mark.parametrize("spec", ["tpu", "gpu", "cuda:x"])
def test_an_unknown_device_is_a_user_error(spec):
    with pytest.raises(UserError, match="unknown device"):
        resolve(spec)


@no_cuda
@pytest.mark.parametrize("verb", ["generate", "export"])
def test_device_cuda_without_cuda_is_one_line_and_exit_2(verb, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "gesturegan.cli", verb, str(tmp_path), "--device", "cuda"]
        + (["--out", str(tmp_path / "o")] if verb == "generate" else []),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no CUDA GPU is visible here" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_generate_on_device_cpu_names_the_device(tiny_run, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "gesturegan.cli", "generate", str(tiny_run), "--out",
         str(tmp_path / "g"), "--n", "1", "--device", "cpu"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("on cpu")


def test_fp16_needs_a_gpu_and_unknown_precisions_are_refused():
    cpu = torch.device("cpu")
    check_precision("fp32", cpu)
    check_precision("bf16", cpu)
    with pytest.raises(UserError, match="fp16 needs a GPU"):
        check_precision("fp16", cpu)
    with pytest.raises(UserError, match="precision must be one of"):
        check_precision("fp8", cpu)


def test_collectives_use_nccl_for_cuda_tensors_and_gloo_for_cpu_ones():
    assert backend_for(torch.device("cpu")) == "gloo"
    assert backend_for(torch.device("cuda", 3)) == "nccl"


def test_a_latent_stream_saved_on_another_kind_of_device_is_reseeded():
    global_state = torch.get_rng_state()  # load_rng_state sets torch's global RNG too
    world = World()
    saved = rng_state(torch.Generator().manual_seed(1), world)
    assert saved["noise_device"] == "cpu" and "cuda" not in saved
    noise = torch.Generator().manual_seed(9)
    assert not load_rng_state(noise, saved, world, reseed=5)
    assert torch.equal(noise.get_state(), saved["noise"])
    from_gpu = {**saved, "noise": torch.zeros(16, dtype=torch.uint8), "noise_device": "cuda"}
    assert load_rng_state(noise, from_gpu, world, reseed=5)
    assert torch.equal(noise.get_state(), torch.Generator().manual_seed(5).get_state())
    torch.set_rng_state(global_state)


def test_step_figures_are_read_in_one_transfer():
    stats = {"d_loss": torch.tensor(0.5), "grad_d": torch.tensor(2.0), "alpha": 1.0, "x": None}
    assert on_host(stats) == {"d_loss": 0.5, "grad_d": 2.0, "alpha": 1.0, "x": None}


@pytest.mark.slow
def test_a_run_on_device_cpu_records_it_and_its_checkpoint_maps_onto_the_cpu(
    tiny_dataset, tmp_path
):
    from gesturegan.generation import load
    from gesturegan.runs import Run
    from gesturegan.training import train

    run = tmp_path / "run"
    train(run, data=str(tiny_dataset), overrides=tiny_overrides(4), show_progress=False)
    assert Run(run).read_config()["device"] == "cpu"
    ckpt = load_checkpoint(run / "checkpoints" / "latest.pt")
    tensors = [t for t in ckpt["G"].values() if isinstance(t, torch.Tensor)]
    assert tensors and all(t.device.type == "cpu" for t in tensors)
    assert ckpt["rng"]["noise_device"] == "cpu"
    # A saved device that is not here (a run trained on a GPU) does not stop a resume: it takes
    # auto again.
    cfg = (run / "config.yaml").read_text(encoding="utf-8").replace("device: cpu", "device: cuda:7")
    (run / "config.yaml").write_text(cfg, encoding="utf-8")
    r = train(run, resume=True, overrides={"steps": 6}, show_progress=False)
    assert r.step == 6 and not r.interrupted
    gen = load(run, "cpu")
    assert gen.device == torch.device("cpu")
    assert gen.samples(gen.categories[0], [0, 1]).shape == (2, gen.length)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["ns_r1", "wgan_gp"])
def test_bf16_trains_on_the_cpu_with_finite_figures(tiny_dataset, tmp_path, loss):
    import csv

    from gesturegan.training import train

    run = tmp_path / "bf16"
    opts = tiny_overrides(5, precision="bf16", log_every_steps=1, r1_every=2, loss=loss)
    train(run, data=str(tiny_dataset), overrides=opts, show_progress=False)
    rows = list(csv.DictReader((run / "logs" / "metrics.csv").open()))
    assert len(rows) == 5
    for key in ("d_loss", "g_loss", "penalty", "grad_d", "grad_g"):
        values = [float(r[key]) for r in rows]
        assert all(v == v and abs(v) < 1e6 for v in values), key


def test_fp16_on_the_cpu_is_refused_before_training(tiny_dataset, tmp_path):
    from gesturegan.training import train

    with pytest.raises(UserError, match="fp16 needs a GPU"):
        train(
            tmp_path / "r",
            data=str(tiny_dataset),
            overrides=tiny_overrides(2, precision="fp16"),
            show_progress=False,
        )


@pytest.mark.parametrize("loss", ["ns_r1", "wgan_gp"])
def test_a_training_step_never_reads_a_tensor_on_the_host(
    tiny_dataset, tmp_path, monkeypatch, loss
):
    """No ``.item()``, ``float()``, ``bool()``, ``.tolist()`` or ``.numpy()`` inside the step: on a
    GPU each would wait for the device. The figures come back as tensors."""
    from gesturegan.training import Trainer
    from gesturegan.training.config import make_config
    from gesturegan.training.data import BatchLoader
    from gesturegan.training.step import train_step

    opts = tiny_overrides(10, loss=loss, augment="fixed", augment_p=0.5)
    cfg = make_config(str(tiny_dataset), overrides=opts)
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.counters.stage = len(trainer.stages) - 1
    loader = BatchLoader(trainer.dataset, trainer.rep, 0)
    batch = loader.next(4)
    loader.close()

    def refuse(*args, **kwargs):
        raise AssertionError("the step read a tensor on the host")

    for name in ("item", "tolist", "numpy", "__float__", "__int__", "__bool__"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    stats = train_step(
        trainer.nets, cfg, batch, trainer.counters, len(trainer.stages), 1.0, trainer.cond,
        trainer.aug, trainer.noise, trainer.world, trainer.precision,
    )  # fmt: skip
    monkeypatch.undo()
    for key in ("d_loss", "g_loss", "grad_d", "penalty"):
        assert isinstance(stats[key], torch.Tensor), key
    assert torch.isfinite(stats["d_loss"])
