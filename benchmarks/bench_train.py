"""One training step per model and growth stage: images/s and achieved FLOP/s against this
machine's matmul peak, measured in the same run; and peak memory against dataset size.

For every (model, stage) a ``Trainer`` takes full steps — one D update with its penalty (R1 or
WGAN-GP) and one G update, data loading and EMA included — on a corpus dataset. FLOPs of one step are
counted by ``torch.utils.flop_counter.FlopCounterMode`` (forward, backward and the penalty's double
backward); achieved FLOP/s = FLOPs / best step time. The reference is a plain float32 2048x2048
matmul, best of several repeats (the machines are noisy): ``ratio`` = achieved / matmul FLOP/s.
Target (issue 7): ≥ 0.5 at the 128x128 stage.

``--device cuda`` (``--precision bf16``...) runs the steps on a GPU, timed with the device
synchronised after each; its references are the same GPU's fp32 and bf16 matmul peaks (8192x8192),
measured in the same run (``benchmarks/gpu_check.py`` runs it beside the 2-thread CPU figure).

``--compile [--device cuda]``: images/s at 16x16 and 128x128 with G and D through
``torch.compile`` beside the same steps eager, in the same run, and the compilation's seconds.

Memory: a child process trains a few steps on a dataset of N clips and one of 4N clips; its peak
RSS (``VmHWM``) must not grow with N (the dataset is memory-mapped).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import emit, load_1m, peak_rss_mb, quick, timeit

MATMUL_N = 2048
GPU_MATMUL_N = 8192  # a GPU needs a large product to reach its peak


def matmul_flops_per_s(repeat: int, device: str = "cpu", dtype: str = "fp32") -> float:
    """Best FLOP/s of a square matmul on ``device`` in ``dtype`` (fp32 runs as TF32 where the
    device allows it, as training does)."""
    import torch

    from gesturegan.device import prepare, resolve, synchronize

    where = resolve(device)
    prepare(where)
    n = GPU_MATMUL_N if where.type != "cpu" else MATMUL_N
    kind = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    a = torch.randn(n, n, device=where, dtype=kind)
    b = torch.randn(n, n, device=where, dtype=kind)

    def product() -> None:
        a @ b
        synchronize(where)

    product()  # warm-up
    return 2 * n**3 / timeit(product, repeat).best


def count_flops(fn) -> int:
    """FLOPs of the aten ops ``fn`` runs (torch's own per-op formulas: matmul, conv, ... forward
    and backward). ``FlopCounterMode`` itself cannot be used: its module hooks break
    ``autograd.grad(create_graph=True)``, which the R1 and gradient penalties need.

    oneDNN's fused convolution + activation (``mkldnn._convolution_pointwise`` and
    ``_convolution_transpose_pointwise``, which ``models.conv`` uses on CPU) has no formula there;
    it is counted as the convolution it is."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import conv_flop_count, flop_registry

    fused = {
        torch.ops.mkldnn._convolution_pointwise: False,
        torch.ops.mkldnn._convolution_transpose_pointwise: True,  # the value: transposed
    }

    class Counter(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                Counter.total += formula(*args, **kwargs, out_val=out)
            elif func._overloadpacket in fused:
                x, w, transposed = args[0], args[1], fused[func._overloadpacket]
                Counter.total += conv_flop_count(x.shape, w.shape, out.shape, transposed=transposed)
            return out

    with Counter():
        fn()
    return Counter.total


def make_dataset(root: Path, per_class: int) -> Path:
    """A prepared built-in corpus of ``4 * per_class`` clips under ``root``."""
    from gesturegan.corpus import write_corpus
    from gesturegan.dataset import prepare

    corpus = write_corpus(root / f"corpus{per_class}", per_class=per_class, seed=0)
    out = root / f"data{per_class}"
    prepare(corpus.out, out, labels_csv=corpus.labels_csv, workers=1)
    return out


# "wide": a GPU-sized progressive GAN (64 channels at 128x128 instead of the CPU default's 16), at
# batch 4 so a step stays short on two cores; FLOP efficiency hardly depends on batch at 128x128.
WIDE = {"pgan": {"channel_base": 8192, "channel_max": 128}, "batch_size": [4]}


def trainer_for(
    data: Path,
    run: Path,
    model: str,
    loss: str,
    stage: int,
    wide: bool | dict = False,
    device: str = "cpu",
    precision: str = "fp32",
):
    from gesturegan.training import Trainer
    from gesturegan.training.config import make_config

    repr_name = "waveform" if model == "wavegan" else "logmel_gl"
    overrides = {
        "model": model, "repr": repr_name, "loss": loss, "steps": 10**9, "device": device,
        "precision": precision,
    }  # fmt: skip
    sized = wide if isinstance(wide, dict) else (WIDE if wide else {})  # a dict: its own sizes
    cfg = make_config(str(data), overrides={**overrides, **sized})
    trainer = Trainer(cfg, run)
    trainer.counters.stage = stage
    return trainer


def bench_step(
    data: Path,
    run: Path,
    model: str,
    loss: str,
    stage: int,
    wide: bool | dict,
    steps: int,
    peak: float,
    device: str = "cpu",
    precision: str = "fp32",
    **extra,
) -> dict:
    """Time full training steps of one case; emit and return its JSON figures."""
    import torch

    from gesturegan.device import synchronize
    from gesturegan.training.data import BatchLoader

    trainer = trainer_for(data, run, model, loss, stage, wide, device, precision)
    pin = trainer.device.type == "cuda"
    loader = BatchLoader(trainer.dataset, trainer.rep, 0, pin=pin)

    def step() -> None:
        trainer.step(loader)
        synchronize(trainer.device)

    try:
        step()  # warm-up (cuDNN picks its kernels here)
        flops = count_flops(lambda: trainer.step(loader))
        best = timeit(step, steps).best
    finally:
        loader.close()
    batch = trainer.cfg.batch_for_stage(stage)
    achieved = flops / best
    return emit(
        f"train_step_{model}{'_wide' if wide else ''}_{loss}_{trainer.stages[stage]}",
        achieved,
        peak,
        "FLOP/s",
        images_per_s=batch / best,
        step_s=best,
        batch=batch,
        gflop_per_step=flops / 1e9,
        device=str(trainer.device),
        precision=precision,
        threads=torch.get_num_threads(),
        **extra,
    )


def memory_child(data: str, steps: int) -> None:
    """Child mode: train ``steps`` steps on ``data`` at the last stage, print peak RSS (MiB)."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = trainer_for(Path(data), Path(tmp), "pgan", "ns_r1", 5)
        from gesturegan.training.data import BatchLoader

        loader = BatchLoader(trainer.dataset, trainer.rep, 0)
        for _ in range(steps):
            trainer.step(loader)
        loader.close()
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}))


def child_peak(data: Path, steps: int) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(data), str(steps)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"]


def main() -> None:
    repeat, steps = (3, 2) if quick() else (7, 4)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n_small = 8 if quick() else 16
        small = make_dataset(root, n_small)
        cases = [("pgan", "ns_r1", 0), ("pgan", "ns_r1", 5), ("pgan", "wgan_gp", 5)]
        if not quick():
            cases[1:1] = [("pgan", "ns_r1", s) for s in (2, 3, 4)]
            cases += [("dcgan", "ns_r1", 0), ("wavegan", "wgan_gp", 0)]
        cases = [(*case, False) for case in cases] + [("pgan", "ns_r1", 5, True)]
        for model, loss, stage, wide in cases:
            peak = matmul_flops_per_s(repeat)  # re-measured beside each case: the load drifts
            bench_step(small, root / "run", model, loss, stage, wide, steps, peak)

        big = make_dataset(root, 4 * n_small)
        mem_small, mem_big = child_peak(small, steps), child_peak(big, steps)
        emit(
            "train_peak_rss_vs_dataset_size",
            mem_big,
            mem_small,
            "MiB",
            better="lower",
            clips=[4 * n_small, 16 * n_small],
            note="ours = peak RSS on 4N clips, reference = on N clips; ratio ≈ 1 means no growth",
        )


# The GPU cases: every growth stage of the default model, and the GPU-sized model at 128x128 at a
# GPU-sized batch (issue 33's goals: ≥ 30x the 2-thread CPU at 128x128, ≥ 25 % of bf16 peak wide).
GPU_WIDE = {"pgan": {"channel_base": 16384, "channel_max": 256}, "batch_size": [64]}


def device_main(device: str, precision: str, stages: tuple[int, ...] = (0, 1, 2, 3, 4, 5)) -> list:
    """The training benchmark on ``device`` (``--device cuda``): per stage, images/s and FLOP/s
    beside the device's fp32 and bf16 matmul peaks from the same run. Returns the lines."""
    repeat, steps = 5, 10
    peak32 = matmul_flops_per_s(repeat, device, "fp32")
    peak16 = matmul_flops_per_s(repeat, device, "bf16")
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = make_dataset(root, 16)
        for stage in stages:
            lines.append(
                bench_step(
                    data, root / "run", "pgan", "ns_r1", stage, False, steps, peak32, device,
                    precision, bf16_peak=peak16,
                )  # fmt: skip
            )
        lines.append(
            bench_step(
                data, root / "run", "pgan", "ns_r1", 5, GPU_WIDE, steps, peak16, device, precision,
                fp32_peak=peak32, note="reference = bf16 matmul peak",
            )  # fmt: skip
        )
    return lines


def time_steps(trainer, loader, n: int) -> float:
    """Seconds of ``n`` consecutive training steps (the step counter advancing, so R1 comes every
    ``r1_every``), the device synchronised at the end."""
    from gesturegan.device import synchronize

    t0 = time.perf_counter()
    for _ in range(n):
        trainer.step(loader)
        trainer.counters.step += 1
    synchronize(trainer.device)
    return time.perf_counter() - t0


def compile_main(device: str = "cpu", stages: tuple[int, ...] = (2, 5), windows: int = 3) -> list:
    """``--compile``: per stage, images/s of the default model's training steps with G and D
    compiled (``TrainConfig.compile``) beside the same steps eager, from the same run, windows of
    ``r1_every`` steps (one R1 step each) interleaved, best window of each; the compiled trainer's
    first ``r1_every + 1`` steps (its compilation: R1 and plain steps) as ``compile_s``."""
    from gesturegan.training.data import BatchLoader

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = make_dataset(root, 16)
        for stage in stages:
            trainers = {
                compiled: trainer_for(
                    data, root / f"run{compiled}", "pgan", "ns_r1", stage, {"compile": compiled},
                    device,
                )  # fmt: skip
                for compiled in (False, True)
            }
            loaders = {
                k: BatchLoader(t.dataset, t.rep, 0, pin=t.device.type == "cuda")
                for k, t in trainers.items()
            }
            every = trainers[True].cfg.r1_every
            try:
                time_steps(trainers[False], loaders[False], 1)  # warm-up
                compile_s = time_steps(trainers[True], loaders[True], every + 1)
                best = {False: math.inf, True: math.inf}
                for _ in range(windows):
                    for k in (False, True):
                        best[k] = min(best[k], time_steps(trainers[k], loaders[k], every))
            finally:
                for loader in loaders.values():
                    loader.close()
            batch = trainers[True].cfg.batch_for_stage(stage)
            lines.append(
                emit(
                    f"train_compile_pgan_ns_r1_{trainers[True].stages[stage]}",
                    batch * every / best[True],
                    batch * every / best[False],
                    "images/s",
                    compile_s=compile_s,
                    batch=batch,
                    device=device,
                    load_1m=load_1m(),
                    note="ours = G and D compiled, reference = eager, same run",
                )
            )
    return lines


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], int(sys.argv[3]))
    elif "--compile" in sys.argv:
        where = sys.argv[sys.argv.index("--device") + 1] if "--device" in sys.argv else "cpu"
        compile_main(where)
    elif "--device" in sys.argv and sys.argv[sys.argv.index("--device") + 1] != "cpu":
        args = sys.argv
        prec = args[args.index("--precision") + 1] if "--precision" in args else "fp32"
        device_main(args[args.index("--device") + 1], prec)
    else:
        main()
