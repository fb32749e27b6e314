"""``gesturegan export``: one graph file, usable without gesturegan, equal to its generation."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from gesturegan import cli
from gesturegan.errors import UserError
from gesturegan.exporting import described, export
from gesturegan.generation import load
from gesturegan.training import train

from .conftest import TINY_MODEL, tiny_overrides

# Loads the TorchScript file with gesturegan made unimportable, as on a machine without it, and
# writes the waves of seeds 5..7 of class 1 (the docs/export.md example, in a few lines).
STANDALONE = """
import sys, json, numpy as np, torch
sys.modules["gesturegan"] = None
path, out = sys.argv[1], sys.argv[2]
info = json.load(open(path + ".json"))
g = torch.jit.load(path)
z = torch.stack([torch.randn(info["z_dim"], generator=torch.Generator().manual_seed(s))
                 for s in (5, 6, 7)])
c = torch.zeros(3, len(info["categories"])); c[:, 1] = 1.0
np.save(out, g(z, c).detach().numpy())
"""


@pytest.fixture(scope="module")
def ifreq_run(tiny_dataset, tmp_path_factory):
    """A tiny run whose decoder is a fixed function (inverse STFT). Griffin-Lim's 32 iterations
    magnify the engines' float differences on a barely trained model's noise-like spectrograms
    (0.0002 to 0.06 measured on tiny models), which would make the comparison a matter of luck."""
    run = tmp_path_factory.mktemp("ifreq") / "run"
    train(run, str(tiny_dataset), overrides=tiny_overrides(12, repr="stft_ifreq"), show_progress=False)
    return run


def test_torchscript_export_runs_without_gesturegan_and_equals_generation(ifreq_run, tmp_path):
    out = tmp_path / "g.pt"
    done = export(ifreq_run, "torchscript", out=out)
    assert out.is_file() and done.max_abs_diff <= 1e-3
    info = json.loads((tmp_path / "g.pt.json").read_text())
    gen = load(ifreq_run)
    assert info["categories"] == list(gen.categories) and info["sr"] == gen.sr
    assert info["inputs"] == {"z": ["batch", gen.model_cfg.z_dim], "c": ["batch", 2]}
    # Another batch size than the traced one, in a process that cannot import gesturegan.
    waves_file = tmp_path / "waves.npy"
    subprocess.run(
        [sys.executable, "-c", STANDALONE, str(out), str(waves_file)], check=True, timeout=120
    )
    waves = np.load(waves_file)
    expected = gen.samples(gen.categories[1], [5, 6, 7])
    assert waves.shape == expected.shape == (3, gen.length)
    assert np.abs(waves - expected).max() < 1e-3
    assert np.abs(expected).max() > 0  # not a trivially silent comparison


def test_griffin_lim_export_is_checked_against_its_tolerance(tiny_dataset, tmp_path):
    """A Griffin-Lim decoder's graph holds its iterations and fixed start phase (on logmel_gl,
    whose barely trained model stays within 0.5 of the peak-normalised clips: the graph's torch
    iterations and the CPU fast path round apart, and Griffin-Lim spreads it. Measured: 0.1 on
    an Intel Xeon with AVX-512, 0.19 on an AMD EPYC with AVX2; there, with the transposed
    upsampling convolution, 0.30 in one clip of four (157 samples over 0.05, RMS 1.2 % of the
    clip's) and under 0.003 in the others. The default stft_pghi's spectrograms reach far beyond
    full scale at 12 steps, where ``ifreq_run``'s luck applies.)"""
    run = tmp_path / "run"
    overrides = tiny_overrides(12, repr="logmel_gl")
    train(run, str(tiny_dataset), overrides=overrides, show_progress=False)
    done = export(run, "torchscript", out=tmp_path / "gl.pt", tolerance=0.5)
    assert done.repr == "logmel_gl" and done.max_abs_diff <= 0.5


def test_export_of_an_early_stage_is_named_after_it(ifreq_run):
    gen = load(ifreq_run)
    early = gen.stages[0]
    done = export(ifreq_run, "torchscript", stage=early)
    assert done.path.name == f"generator-{early}.pt" and done.stage == early
    assert (ifreq_run / f"generator-{early}.pt.json").is_file()


@pytest.mark.slow
def test_onnx_export_equals_generation(ifreq_run, tmp_path):
    import onnxruntime

    out = tmp_path / "g.onnx"
    done = export(ifreq_run, "onnx", out=out)
    assert done.max_abs_diff <= 1e-2
    gen = load(ifreq_run)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    z = gen.latents([9, 10, 11]).numpy()
    c = np.zeros((3, 2), np.float32)
    c[:, 0] = 1
    (waves,) = session.run(["wave"], {"z": z, "c": c})
    assert np.abs(waves - gen.samples(gen.categories[0], [9, 10, 11])).max() < 1e-2


def test_a_generator_padding_its_borders_by_replication_and_growing_by_skips_exports_to_both_formats(
    tiny_dataset, tmp_path
):
    """``pgan.g_pad: replicate`` and ``pgan.g_growth: skip`` trace into TorchScript and ONNX
    graphs equal to generation."""
    run = tmp_path / "run"
    pgan = {**TINY_MODEL, "g_pad": "replicate", "g_growth": "skip"}
    train(run, str(tiny_dataset), overrides=tiny_overrides(4, repr="stft_ifreq", pgan=pgan),
          show_progress=False)  # fmt: skip
    cfg = load(run).model_cfg
    assert (cfg.g_pad, cfg.g_growth) == ("replicate", "skip")
    assert export(run, "torchscript", out=tmp_path / "g.pt").max_abs_diff <= 1e-3
    assert export(run, "onnx", out=tmp_path / "g.onnx").max_abs_diff <= 1e-2


def test_bad_requests_are_one_line_errors_and_write_nothing(tiny_run, tmp_path, capsys):
    with pytest.raises(UserError, match="unknown export format"):
        export(tiny_run, "tflite")
    with pytest.raises(UserError, match="not available"):
        export(tiny_run, "torchscript", stage="256x256", out=tmp_path / "x.pt")
    # A tolerance no float graph can meet fails the check: no file is left behind.
    with pytest.raises(UserError, match="nothing was written"):
        export(tiny_run, "torchscript", out=tmp_path / "y.pt", tolerance=1e-30)
    assert list(tmp_path.iterdir()) == []
    assert cli.main(["export", str(tmp_path / "missing"), "--out", str(tmp_path / "z.pt")]) == 2
    assert "no such run folder" in capsys.readouterr().err


def test_pghi_decoders_are_refused_with_the_reason(tiny_dataset, tmp_path):
    run = tmp_path / "pghi"
    train(run, str(tiny_dataset), overrides=tiny_overrides(2, repr="logmel_pghi"), show_progress=False)
    with pytest.raises(UserError, match="logmel_pghi cannot be exported: .*heap integration"):
        export(run, "torchscript")


def test_cli_prints_the_sidecar_as_json(ifreq_run, tmp_path, capsys):
    out = tmp_path / "cli.pt"
    assert cli.main(["export", str(ifreq_run), "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["path"] == str(out) and printed["format"] == "torchscript"
    assert printed["max_abs_diff"] <= printed["tolerance"]


def test_onnx_without_its_packages_says_what_to_install(tiny_run, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name)
    )
    with pytest.raises(UserError, match=r"needs onnxruntime: pip install 'gesturegan\[export\]'"):
        export(tiny_run, "onnx")


def test_the_graph_carries_its_description_and_the_sidecar_never_describes_another(
    ifreq_run, tmp_path, monkeypatch
):
    out = tmp_path / "g.pt"
    first = export(ifreq_run, "torchscript", out=out, check_seeds=(0, 1))
    sidecar = tmp_path / "g.pt.json"
    assert described(out) == json.loads(sidecar.read_text()) == first.to_dict()
    # Killed after the new graph went in, before its sidecar: no sidecar, never the old one.
    import gesturegan.exporting as exporting

    def killed(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(exporting, "write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        export(ifreq_run, "torchscript", out=out, check_seeds=(0, 1, 2))
    assert described(out)["check_seeds"] == [0, 1, 2] and not sidecar.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["g.pt"]  # nothing half-written beside it
    monkeypatch.undo()
    export(ifreq_run, "torchscript", out=out)
    assert described(out) == json.loads(sidecar.read_text())


def test_a_failed_export_keeps_the_previous_graph_and_its_sidecar(ifreq_run, tmp_path, monkeypatch):
    from gesturegan import atomic

    out = tmp_path / "g.pt"
    export(ifreq_run, "torchscript", out=out, check_seeds=(0, 1))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def full(tmp, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(atomic, "commit", full)
    with pytest.raises(UserError, match="disk full"):
        export(ifreq_run, "torchscript", out=out, check_seeds=(0, 1, 2))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
