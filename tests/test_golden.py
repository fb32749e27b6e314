"""Today's training pinned: the same losses for the same seed, exact resume, the same run folder, and
a run written by an earlier version still loads, generates and resumes.

The reference figures are kept per kind of CPU, ``tests/data/golden-<vendor>-<ISA>.json`` (the
vendor and torch's CPU capability: ``cpu_key``), each recorded on one thread of a 2-core x86 CPU by
``python -m tests.test_golden`` (run it again on every kind, and say why in the commit, only when
training is meant to change). Another CPU rounds differently and drifts within a few steps (an
AMD EPYC with AVX2 against an Intel Xeon with AVX-512: 1e-5 by step 4, a mode-collapse warning at
step 120 where the Xeon had none), so a CPU without a reference skips the tests that read one; the
resume test does not depend on the machine.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gesturegan.runs import Run

from .conftest import TINY_MODEL, tiny_overrides

DATA = Path(__file__).parent / "data"
OLD_RUN = DATA / "run-v1"  # written by the trainer of commit 2299d8e, kept as it was written

# One configuration per model, small enough for a few seconds each; every interval that runs on
# the clock is out of reach, so the run is a function of the seed alone.
STEPS = {"pgan": 120, "dcgan": 40, "wavegan": 80}
MODEL_OPTIONS = {
    "pgan": {"pgan": dict(TINY_MODEL)},
    "dcgan": {"repr": "logmel_gl", "dcgan": {"channels": 16, "min_channels": 8}},
    "wavegan": {"repr": "waveform", "wavegan": {"model_size": 4}},
}
STOP_AT = 50  # the split pgan run stops after this step (mid fade-in of 16x16) and resumes
# Columns measured by the clock, not by the computation.
TIMED = ("time_s", "sec_per_step", "img_per_s")
TOLERANCE = {"rel": 1e-5, "abs": 2e-5}  # metrics.csv keeps 5 decimals


def golden_overrides(model: str, steps: int) -> dict:
    """Options of the pinned run of ``model``."""
    return {
        **tiny_overrides(steps),
        "model": model,
        **MODEL_OPTIONS[model],
        "log_every_steps": 1,
        "snapshot_per_class": 1,
        "checkpoint_every_minutes": 1e6,
        "snapshot_every_minutes": 1e6,
        "monitor_every_minutes": 1e6,
    }


def train_golden(model: str, data: Path, run: Path, stop_at: int | None = None) -> None:
    """Train the pinned run of ``model`` into ``run`` on one thread; with ``stop_at``, stop it
    (as Ctrl+C does) after that step and resume it to the end."""
    from gesturegan.training import train
    from gesturegan.training.data import BatchLoader

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    original = BatchLoader.next
    calls = {"n": 0}

    def interrupting(self, batch_size):
        calls["n"] += 1
        if calls["n"] == stop_at:  # the stop is asked during this step: it ends, then training
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, batch_size)

    try:
        opts = golden_overrides(model, STEPS[model])
        if stop_at is None:
            train(run, data=str(data), overrides=opts, show_progress=False)
            return
        BatchLoader.next = interrupting
        part = train(run, data=str(data), overrides=opts, show_progress=False)
        assert part.interrupted and part.step == stop_at
        BatchLoader.next = original
        train(run, resume=True, show_progress=False)
    finally:
        BatchLoader.next = original
        torch.set_num_threads(threads)


def computed_rows(run: Path) -> list[dict[str, float | str]]:
    """metrics.csv without the clock's columns: numbers as floats, the stage as text."""
    with (run / "logs" / "metrics.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        {k: (v if k == "stage" else float(v)) for k, v in row.items() if k not in TIMED}
        for row in rows
    ]


def weight_sums(tensors: dict[str, torch.Tensor]) -> dict[str, float]:
    """Sum and sum of squares over every tensor of a state dict (float64)."""
    flat = torch.cat([t.double().flatten() for t in tensors.values()])
    return {"sum": flat.sum().item(), "sq": (flat**2).sum().item()}


def listing(run: Path) -> list[str]:
    """Every file of a run, relative, with TensorBoard's host- and time-stamped name masked."""
    names = []
    for p in sorted(run.rglob("*")):
        if p.is_file():
            rel = p.relative_to(run).as_posix()
            names.append("logs/events.out.tfevents.*" if "tfevents" in rel else rel)
    return sorted(names)


def wave_sums(wave: np.ndarray) -> dict[str, float]:
    return {"sum": float(np.sum(wave, dtype=np.float64)), "abs": float(np.abs(wave).sum())}


def measure(model: str, run: Path) -> dict:
    """What the reference holds of one pinned run."""
    weights, meta = Run(run).read_generator()
    return {
        "rows": computed_rows(run),
        "generator": weight_sums(weights),
        "generator_json": meta,
        "listing": listing(run),
    }


def cpu_key() -> str:
    """``"AuthenticAMD-AVX2"``: the CPU's vendor and the vector ISA torch's kernels use on it."""
    vendor = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            vendor = next(line.split(":")[1].strip() for line in f if line.startswith("vendor_id"))
    except (OSError, StopIteration):
        pass
    return f"{vendor}-{torch.backends.cpu.get_cpu_capability()}"


def reference_file() -> Path:
    return DATA / f"golden-{cpu_key()}.json"


@pytest.fixture(scope="module")
def reference() -> dict:
    path = reference_file()
    if not path.is_file():
        pytest.skip(f"no golden figures for this CPU ({path.name}): `python -m tests.test_golden`")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def golden_runs(tiny_dataset, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("golden")
    for model in STEPS:
        train_golden(model, tiny_dataset, root / model)
    return {model: root / model for model in STEPS}


def assert_rows_equal(got: list[dict], want: list[dict]) -> None:
    assert [r["step"] for r in got] == [r["step"] for r in want]
    for a, b in zip(got, want, strict=True):
        assert a.keys() == b.keys()
        for k, v in b.items():
            if isinstance(v, str):
                assert a[k] == v, (a["step"], k)
            elif v != v:
                assert a[k] != a[k], (a["step"], k)
            else:
                assert a[k] == pytest.approx(v, **TOLERANCE), (a["step"], k)


@pytest.mark.slow
@pytest.mark.parametrize("model", list(STEPS))
def test_losses_of_every_step_are_todays(model, golden_runs, reference):
    want = reference[model]
    got = measure(model, golden_runs[model])
    assert_rows_equal(got["rows"], want["rows"])
    assert got["generator"] == pytest.approx(want["generator"], rel=1e-5)
    assert got["generator_json"] == want["generator_json"]


@pytest.mark.slow
@pytest.mark.parametrize("model", list(STEPS))
def test_run_folder_holds_todays_files(model, golden_runs, reference):
    assert listing(golden_runs[model]) == reference[model]["listing"]


@pytest.mark.slow
def test_a_stopped_and_resumed_run_equals_a_straight_one(golden_runs, tiny_dataset, tmp_path):
    split = tmp_path / "split"
    train_golden("pgan", tiny_dataset, split, stop_at=STOP_AT)
    straight = golden_runs["pgan"]
    assert_rows_equal(computed_rows(split), computed_rows(straight))
    (g_a, meta), (g_b, _) = Run(straight).read_generator(), Run(split).read_generator()
    d_a = Run(straight).read_discriminator(meta["step"])
    d_b = Run(split).read_discriminator(meta["step"])
    for name, a, b in (("generator", g_a, g_b), ("discriminator", d_a, d_b)):
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), f"{name}: {k} differs after resume"


@pytest.fixture
def old_run(tmp_path) -> Path:
    run = tmp_path / "old"
    shutil.copytree(OLD_RUN, run)
    return run


@pytest.mark.slow
def test_a_run_of_the_previous_format_generates_todays_sound(old_run, reference):
    from gesturegan.generation import load

    gen = load(old_run)
    assert gen.categories == ("hit", "tone")
    wave = gen.sample("tone", seed=1)
    assert wave.shape == (16384,)
    assert wave_sums(wave) == pytest.approx(reference["old_run"]["tone_seed1"], rel=1e-4)


@pytest.mark.slow
def test_a_run_of_the_previous_format_resumes(old_run, tiny_dataset):
    from gesturegan.training import train

    saved = json.loads((old_run / "generator.json").read_text(encoding="utf-8"))["step"]
    result = train(
        old_run,
        resume=True,
        overrides={"steps": saved + 2, "data": str(tiny_dataset)},
        show_progress=False,
    )
    assert result.step == saved + 2 and not result.interrupted
    # Its next export is the one-file bundle: the previous layout's two other files are gone.
    assert Run(old_run).generator_meta()["step"] == saved + 2
    assert not (old_run / "generator.json").exists()
    assert not (old_run / "discriminator.safetensors").exists()


# ------------------------------------------------------------------------------- recording
def record(scratch: Path) -> None:
    """Write this CPU's ``tests/data/golden-<key>.json`` from the code as it is now
    (tests/data/run-v1 is kept)."""
    from gesturegan.dataset import prepare
    from gesturegan.generation import load

    from .conftest import write_tiny_sounds

    data = scratch / "data"
    prepare(write_tiny_sounds(scratch / "src"), data, labels_from_folders=True, workers=1)
    out = {}
    for model in STEPS:
        train_golden(model, data, scratch / model)
        out[model] = measure(model, scratch / model)
    split = scratch / "split"
    train_golden("pgan", data, split, stop_at=STOP_AT)
    assert_rows_equal(computed_rows(split), computed_rows(scratch / "pgan"))

    # The old-format run is never written again: today's trainer writes the one-file export
    # bundle, and run-v1 must stay in the layout of commit 2299d8e (three export files).
    if not OLD_RUN.exists():
        raise SystemExit(f"{OLD_RUN} is missing: restore it from git, it cannot be made today")
    out["old_run"] = {"tone_seed1": wave_sums(load(OLD_RUN).sample("tone", seed=1))}
    reference_file().write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")



if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        record(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp))
