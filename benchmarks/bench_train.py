"""One training step per model and growth stage: images/s and achieved FLOP/s against this
machine's matmul peak, measured in the same run; and peak memory against dataset size.

For every (model, stage) a ``Trainer`` takes full steps — one D update with its penalty (R1 or
WGAN-GP) and one G update, data loading and EMA included — on a corpus dataset. FLOPs of one step are
counted by ``torch.utils.flop_counter.FlopCounterMode`` (forward, backward and the penalty's double
backward); achieved FLOP/s = FLOPs / best step time. The reference is a plain float32 2048x2048
matmul, best of several repeats (the machines are noisy): ``ratio`` = achieved / matmul FLOP/s.
Target (issue 7): ≥ 0.5 at the 128x128 stage.

Memory: a child process trains a few steps on a dataset of N clips and one of 4N clips; its peak
RSS (``VmHWM``) must not grow with N (the dataset is memory-mapped).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import emit, peak_rss_mb, quick, timeit

MATMUL_N = 2048


def matmul_flops_per_s(repeat: int) -> float:
    import torch

    a, b = torch.randn(MATMUL_N, MATMUL_N), torch.randn(MATMUL_N, MATMUL_N)
    a @ b  # warm-up
    return 2 * MATMUL_N**3 / timeit(lambda: a @ b, repeat).best


def count_flops(fn) -> int:
    """FLOPs of the aten ops ``fn`` runs (torch's own per-op formulas: matmul, conv, ... forward
    and backward). ``FlopCounterMode`` itself cannot be used: its module hooks break
    ``autograd.grad(create_graph=True)``, which the R1 and gradient penalties need.

    oneDNN's fused convolution + activation (``mkldnn._convolution_pointwise``, which
    ``models.conv`` uses on CPU) has no formula there; it is counted as the convolution it is."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import conv_flop_count, flop_registry

    fused_conv = torch.ops.mkldnn._convolution_pointwise

    class Counter(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                Counter.total += formula(*args, **kwargs, out_val=out)
            elif func._overloadpacket is fused_conv:
                x, w = args[0], args[1]
                Counter.total += conv_flop_count(x.shape, w.shape, out.shape, transposed=False)
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


def trainer_for(data: Path, run: Path, model: str, loss: str, stage: int, wide: bool = False):
    from gesturegan.training import Trainer
    from gesturegan.training.config import make_config

    repr_name = "waveform" if model == "wavegan" else "logmel_gl"
    overrides = {"model": model, "repr": repr_name, "loss": loss, "steps": 10**9}
    cfg = make_config(str(data), overrides={**overrides, **(WIDE if wide else {})})
    trainer = Trainer(cfg, run)
    trainer.counters.stage = stage
    return trainer


def bench_step(
    data: Path, run: Path, model: str, loss: str, stage: int, wide: bool, steps: int, peak: float
):
    import torch

    from gesturegan.training.data import BatchLoader

    trainer = trainer_for(data, run, model, loss, stage, wide)
    loader = BatchLoader(trainer.dataset, trainer.rep, 0)
    try:
        trainer.step(loader)  # warm-up
        flops = count_flops(lambda: trainer.step(loader))
        best = timeit(lambda: trainer.step(loader), steps).best
    finally:
        loader.close()
    batch = trainer.cfg.batch_for_stage(stage)
    achieved = flops / best
    emit(
        f"train_step_{model}{'_wide' if wide else ''}_{loss}_{trainer.stages[stage]}",
        achieved,
        peak,
        "FLOP/s",
        images_per_s=batch / best,
        step_s=best,
        batch=batch,
        gflop_per_step=flops / 1e9,
        matmul_n=MATMUL_N,
        threads=torch.get_num_threads(),
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


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
