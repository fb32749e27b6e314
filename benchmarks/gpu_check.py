"""Everything only a CUDA GPU can show, in one run of under 8 minutes, summarised as one JSON object.

    python benchmarks/gpu_check.py            # on a machine with a CUDA GPU

1. the tests marked ``gpu`` (``tests/test_gpu.py``);
2. the training benchmark per growth stage on the GPU (``bench_train.device_main``): images/s and
   FLOP/s beside the same GPU's fp32 and bf16 matmul peaks measured in this run, and the 2-thread
   CPU's images/s for the same model at 128x128 (issue 33: ≥ 30x); at 128x128 the steps with
   ``--compile`` beside eager ones (``bench_train.compile_main``);
3. a 2-minute training on the GPU from the command line with ``--batch auto``, stopped with
   SIGINT (as Ctrl+C) and resumed to its end (the sizes it chose, before and after the resume),
   then ``generate --device cuda`` from it;
4. generation throughput (clips/s) on the GPU beside the CPU's.

The summary is printed as the last line and written to ``$OUT/gpu_check.json`` when ``$OUT`` is
set. Without CUDA it says so and exits 0 (nothing here can be measured on a CPU).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
TRAIN_MINUTES = 2.0
STOP_AFTER_S = 50.0  # the SIGINT comes this long after the training started


def finish(summary: dict) -> None:
    """Print the summary as one JSON line and write it under ``$OUT``."""
    line = json.dumps(summary)
    print(line, flush=True)
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "gpu_check.json").write_text(line + "\n", encoding="utf-8")


def gpu_tests() -> dict:
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
         str(ROOT / "tests" / "test_gpu.py")],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
    return {"passed": proc.returncode == 0, "s": round(time.monotonic() - t0, 1), "tail": tail}


def training_benchmark() -> dict:
    """GPU figures per stage (fp32 and bf16), and the 2-thread CPU's at 128x128."""
    import torch

    from bench_train import bench_step, compile_main, device_main, make_dataset, matmul_flops_per_s

    fp32 = device_main("cuda", "fp32")
    bf16 = device_main("cuda", "bf16", stages=(5,))
    compiled = compile_main("cuda", stages=(5,))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = make_dataset(Path(tmp), 16)
            peak = matmul_flops_per_s(3, "cpu")
            cpu = bench_step(data, Path(tmp) / "run", "pgan", "ns_r1", 5, False, 2, peak, "cpu")
    finally:
        torch.set_num_threads(threads)
    gpu_128 = next(x for x in fp32 if x["bench"] == "train_step_pgan_ns_r1_128x128")
    return {
        "fp32": fp32,
        "bf16": bf16,
        "cpu_2_threads_128x128": cpu,
        "speedup_128x128_vs_2_thread_cpu": round(gpu_128["images_per_s"] / cpu["images_per_s"], 2),
        "goal_speedup": 30,
        "wide_bf16_share_of_bf16_peak": bf16[-1]["ratio"],
        "goal_share": 0.25,
        "compile_128x128": compiled,
    }


def train_kill_resume_generate() -> dict:
    """A short run from the command line on the GPU: SIGINT mid-way, resume, generate."""
    from bench_train import make_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data, run, out = make_dataset(root, 16), root / "run", root / "gen"
        cli = [sys.executable, "-m", "gesturegan"]
        train = cli + ["train", "--data", str(data), "--out", str(run), "--device", "cuda",
                       "--minutes", str(TRAIN_MINUTES), "--batch", "auto"]  # fmt: skip
        t0 = time.monotonic()
        proc = subprocess.Popen(
            train, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            proc.wait(timeout=STOP_AFTER_S)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
        first = proc.communicate(timeout=120)[0]
        stopped = {
            "rc": proc.returncode,
            "s": round(time.monotonic() - t0, 1),
            "tail": first.strip().splitlines()[-3:],
        }
        chosen = batch_sizes(run)
        resumed = subprocess.run(
            cli + ["train", "--out", str(run), "--resume", "--device", "cuda"],
            env=ENV, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        gen = subprocess.run(
            cli + ["generate", str(run), "--out", str(out), "--n", "8", "--device", "cuda"],
            env=ENV, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        wavs = sorted(p.name for p in out.glob("*.wav")) if out.is_dir() else []
        steps = sum(1 for _ in (run / "logs" / "metrics.csv").open()) - 1 if run.is_dir() else 0
        return {
            "stopped": stopped,
            "resumed_rc": resumed.returncode,
            "resumed_tail": (resumed.stdout + resumed.stderr).strip().splitlines()[-3:],
            "generate_rc": gen.returncode,
            "generate_tail": (gen.stdout + gen.stderr).strip().splitlines()[-3:],
            "batch_auto": chosen,
            "batch_after_resume": batch_sizes(run),
            "wavs": len(wavs),
            "logged_rows": steps,
            "total_s": round(time.monotonic() - t0, 1),
        }


def batch_sizes(run: Path) -> list | None:
    """The per-stage batch sizes a run saved (``--batch auto``'s choice)."""
    from gesturegan.runs import Run

    return Run(run).read_config().get("batch_size")


def generation_throughput() -> dict:
    """Clips/s of ``Generator.samples`` on the GPU and on the CPU, for a fresh default model."""
    import torch

    from bench_train import make_dataset
    from gesturegan.device import synchronize
    from gesturegan.generation import load
    from gesturegan.training import train

    with tempfile.TemporaryDirectory() as tmp:
        data = make_dataset(Path(tmp), 8)
        run = Path(tmp) / "run"
        train(run, data=str(data), overrides={"steps": 2, "device": "cuda"}, show_progress=False)
        figures = {}
        for device, n in (("cuda", 256), ("cpu", 16)):
            gen = load(run, device)
            cat = gen.categories[0]
            gen.samples(cat, list(range(4)))  # warm-up
            synchronize(torch.device(device))
            t0 = time.perf_counter()
            gen.samples(cat, list(range(n)))
            figures[f"{device}_clips_per_s"] = round(n / (time.perf_counter() - t0), 2)
        figures["speedup"] = round(figures["cuda_clips_per_s"] / figures["cpu_clips_per_s"], 2)
        return figures


def main() -> None:
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU visible here; nothing to measure (run it on a GPU machine)")
        finish({"cuda": False, "torch": torch.__version__})
        return
    t0 = time.monotonic()
    summary: dict = {
        "cuda": True,
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cuda_version": torch.version.cuda,
    }
    for name, part in (
        ("gpu_tests", gpu_tests),
        ("train_benchmark", training_benchmark),
        ("train_kill_resume_generate", train_kill_resume_generate),
        ("generation", generation_throughput),
    ):
        start = time.monotonic()
        try:
            summary[name] = part()
        except Exception as exc:  # one part failing must not hide the others' figures
            summary[name] = {"error": f"{type(exc).__name__}: {exc}"}
        summary[name + "_s"] = round(time.monotonic() - start, 1)
        print(f"gpu_check: {name} done in {summary[name + '_s']} s", file=sys.stderr, flush=True)
    summary["total_s"] = round(time.monotonic() - t0, 1)
    finish(summary)


if __name__ == "__main__":
    main()
