"""``--compile``: G and D through ``torch.compile`` for the step's passes that differentiate once.

What is compiled is the forward of each network (``torch.compile(module)``); the modules
themselves stay as they are, so the checkpoint's weights are the plain modules' (no
``_orig_mod.`` prefix) and the EMA G, the probes and the snapshots use them uncompiled. The
passes that differentiate through D twice — R1 on the real images and WGAN-GP's penalty — run
through the plain D: AOTAutograd cannot differentiate a compiled graph with ``create_graph``.

Each growth stage, and the fade-in within it, is a new graph (``stage`` and ``alpha < 1`` pick
other layers), compiled when first met — 167 s at 16x16 and 293 s at 128x128 on the loaded 2-core
development machine — once per stage and again after a resume. Shapes are static
(``dynamic=False``): one batch size per stage. On that CPU the compiled steps were slower than the
eager ones (0.62–0.80x, ``benchmarks/bench_train.py --compile``); on a GPU not yet measured.
"""

from __future__ import annotations

import torch

from ..errors import UserError
from ..models.pgan import fading_in

# Room for graphs per network and stage: twice what a stage makes (D: with and without gradients
# for its parameters, on real and generated images, whose layouts differ; G: with and without
# ``no_grad``; each while fading in and after).
GRAPHS_PER_STAGE = 16


def check_available(device: torch.device) -> None:
    """Compile and run a one-line function on ``device``; a ``UserError`` in one line when
    ``torch.compile`` cannot work here (no C++ compiler for the CPU, no Triton for CUDA, a
    Python or platform that torch.compile does not support)."""
    try:
        double = torch.compile(lambda x: x * 2.0 + 1.0, dynamic=False)
        double(torch.ones(4, device=device))
    except Exception as exc:  # any failure means the same to the user: not here
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UserError(
            f"--compile: torch.compile does not work here ({type(exc).__name__}: {first}); "
            "train without --compile"
        ) from exc


class Compiled:
    """``module(x, c, stage, alpha, ...)`` through ``torch.compile`` (static shapes), sharing the
    module's parameters. A fade-in's ``alpha`` goes in as a 0-d tensor on the device
    (``models.pgan.fading_in``): as a Python number each new value would be a new graph."""

    def __init__(self, module: torch.nn.Module, n_stages: int):
        limit = GRAPHS_PER_STAGE * n_stages  # before dynamo gives up and runs the module eagerly
        config = torch._dynamo.config
        config.recompile_limit = max(config.recompile_limit, limit)
        config.accumulated_recompile_limit = max(config.accumulated_recompile_limit, 4 * limit)
        self.forward = torch.compile(module, dynamic=False)

    def __call__(
        self, x: torch.Tensor, c: torch.Tensor | None, stage: int, alpha: float, *rest
    ) -> torch.Tensor:
        if fading_in(stage, alpha):
            alpha = torch.tensor(alpha, dtype=torch.float32, device=x.device)
        return self.forward(x, c, stage, alpha, *rest)
