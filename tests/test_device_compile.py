"""``--compile``: a fade-in's alpha given as a tensor is the same model, torch.compile missing is
one line, and compiled training computes what eager training does, with checkpoints an
uncompiled run reads (no ``_orig_mod.`` keys)."""

from __future__ import annotations

import pytest
import torch

from gesturegan.errors import UserError

from .conftest import TINY_MODEL, tiny_overrides


def test_a_fade_in_alpha_as_a_tensor_gives_what_the_number_gives():
    from gesturegan.models.pgan import PGANConfig, ProgressiveDiscriminator, ProgressiveGenerator

    torch.manual_seed(0)
    cfg = PGANConfig(**TINY_MODEL, d_level=True)
    G = ProgressiveGenerator(cfg, (1, 16, 16), 2)
    D = ProgressiveDiscriminator(cfg, (1, 16, 16), 2)
    z, c = torch.randn(4, cfg.z_dim), torch.eye(2)[[0, 1, 0, 1]]
    for stage in (1, 2):
        a = G(z, c, stage, 0.3)
        b = G(z, c, stage, torch.tensor(0.3))
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(D(a, c, stage, 0.3), D(a, c, stage, torch.tensor(0.3)))


@pytest.mark.slow
def test_compile_where_torch_compile_cannot_work_is_one_line(tiny_dataset, tmp_path, monkeypatch):
    from gesturegan.training import train

    def broken(*args, **kwargs):
        raise RuntimeError("Dynamo is not supported on this Python\nmore details")

    monkeypatch.setattr(torch, "compile", broken)
    run = tmp_path / "run"
    with pytest.raises(UserError) as err:
        train(run, data=str(tiny_dataset), overrides=tiny_overrides(2, compile=True))
    assert "\n" not in str(err.value)
    assert "--compile: torch.compile does not work here (RuntimeError: Dynamo is not" in str(
        err.value
    )
    assert not run.exists()  # refused before the run folder was made


@pytest.mark.slow
@pytest.mark.parametrize("g_pad", ["zeros", "replicate"])
def test_compiled_steps_equal_eager_ones_and_the_checkpoint_loads_uncompiled(
    tiny_dataset, tmp_path, g_pad
):
    """Two steps at the first stage — an R1 step (the real pass eager) and a plain one (all
    compiled) — from the same seed as an eager trainer; then the compiled run's checkpoint goes
    into an uncompiled trainer as it is."""
    from gesturegan.training import Trainer
    from gesturegan.training.config import make_config
    from gesturegan.training.data import BatchLoader
    from gesturegan.training.state import weights

    def trainer(compiled: bool) -> Trainer:
        options = tiny_overrides(10, compile=compiled, pgan={**TINY_MODEL, "g_pad": g_pad})
        cfg = make_config(str(tiny_dataset), overrides=options)
        return Trainer(cfg, tmp_path / f"run{compiled}")

    from torch._dynamo.utils import counters

    figures = {}
    runs = {}
    counters.clear()
    for compiled in (False, True):
        t = trainer(compiled)
        loader = BatchLoader(t.dataset, t.rep, 0)
        try:
            rows = []
            for step in range(2):
                t.counters.step = step
                rows.append({k: float(v) for k, v in t.step(loader).items() if k in KEYS})
        finally:
            loader.close()
        figures[compiled], runs[compiled] = rows, t
    assert counters["stats"]["unique_graphs"] >= 2  # G and D did run compiled
    assert not counters["graph_break"]  # whole: the convolutions' plain path while compiling
    for eager, fast in zip(figures[False], figures[True], strict=True):
        for k in KEYS:
            assert fast[k] == pytest.approx(eager[k], rel=1e-3, abs=1e-4), k

    ckpt = runs[True].checkpoint()
    for net in ("G", "D", "G_ema"):
        assert not any("_orig_mod" in k for k in ckpt[net]), net
        assert ckpt[net].keys() == weights(runs[False].nets)[net].keys()
    plain = trainer(False)
    plain.restore(ckpt)  # strict loads
    for k, v in plain.nets.G.state_dict().items():
        assert torch.equal(v, runs[True].nets.G.state_dict()[k]), k


KEYS = ("d_loss", "g_loss", "d_real", "d_fake")
