"""Generation speed per representation: batched generator + decoder as a real-time factor, and the
generator's achieved FLOP/s beside a plain matmul's, measured in the same run.

For every registered representation the default model for it (``pgan`` with its default config for
image representations, ``wavegan`` for ``waveform``; weights as initialised — speed does not
depend on training) renders a batch of default clips (22050 Hz, 16384 samples) under
``torch.no_grad()``, and the representation decodes them. One line per representation:

- ``ours`` = real-time factor (seconds of audio made per second of wall time, generator + decoder),
  ``reference`` = 1.0 (real time) — the audio synthesisers one would compare with on PyPI (RAVE,
  Vocos, DAC) all need torchaudio, which has no CPU build here, so the hardware is the reference;
- ``generator_flops_per_s`` and ``matmul_flops_per_s`` (2048², best of several) and their ratio;
- ``decode_share``: the decoder's share of the time — which side dominates.

Targets (issue 8): ≥ 50x real time with waveform / rgb16 / IF representations, generator FLOP/s ≥
60% of the matmul peak.
"""

from __future__ import annotations

from common import emit, quick, timeit

SR, LENGTH = 22050, 16384


def measure(g, rep, z, c, repeat: int) -> tuple[int, float, float]:
    """FLOPs of one generator call, best generator time of ``3 · repeat`` calls (a fraction of a
    second each: more calls, a steadier best), best decode time of ``repeat`` (s)."""
    import torch

    from bench_train import count_flops

    with torch.no_grad():
        g.render(z, c)  # warm-up
        images = g.render(z, c)
        flops = count_flops(lambda: g.render(z, c))
        t_gen = timeit(lambda: g.render(z, c), 3 * repeat).best
        rep.decode(images)
        t_dec = timeit(lambda: rep.decode(images), repeat).best
    return flops, t_gen, t_dec


def main() -> None:
    import torch

    from bench_train import matmul_flops_per_s
    from gesturegan import representations
    from gesturegan.allocator import keep_freed_memory
    from gesturegan.models import MODEL_CONFIGS, build, use_fast_layout

    batch = 16 if quick() else 64
    repeat = 2 if quick() else 3
    n_classes = 4
    keep_freed_memory()  # as gesturegan.generation does
    for name in representations.names():
        rep = representations.get(name, sr=SR, length=LENGTH)
        model = "wavegan" if len(rep.shape) == 2 else "pgan"
        g, _ = build(model, MODEL_CONFIGS[model](), rep.shape, n_classes)
        use_fast_layout(g.eval())
        z = torch.randn(batch, g.cfg.z_dim)
        c = torch.eye(n_classes)[torch.arange(batch) % n_classes]
        flops, t_gen, t_dec = measure(g, rep, z, c, repeat)
        peak = matmul_flops_per_s(5)
        audio_s = batch * LENGTH / SR
        emit(
            f"generate_{model}_{name}",
            audio_s / (t_gen + t_dec),
            1.0,
            "x real time",
            batch=batch,
            generator_s=t_gen,
            decode_s=t_dec,
            decode_share=t_dec / (t_gen + t_dec),
            generator_flops_per_s=flops / t_gen,
            matmul_flops_per_s=peak,
            generator_vs_matmul=flops / t_gen / peak,
            threads=torch.get_num_threads(),
        )


if __name__ == "__main__":
    main()
