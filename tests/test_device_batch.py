"""``--batch auto``: the search for the largest batch that fits (a pure function, driven here by
functions that say which sizes fit), its caps, the trial step that leaves the run untouched, and
the sizes a run records and keeps on resume. On the CPU ``auto`` keeps the configured sizes; the
CUDA probe itself is in ``test_gpu.py``."""

from __future__ import annotations

import types

import pytest
import torch

from gesturegan.errors import UserError
from gesturegan.runs import Run, load_checkpoint
from gesturegan.training import batching

from .conftest import tiny_overrides


def fits_up_to(limit: int, calls: list[int] | None = None):
    def fits(b: int) -> bool:
        if calls is not None:
            calls.append(b)
        return b <= limit

    return fits


@pytest.mark.parametrize(
    ("start", "limit", "largest", "want"),
    [
        (32, 100, 256, 64),  # doubles while it fits
        (4, 1000, 256, 256),  # up to the cap
        (128, 40, 256, 32),  # halves until it fits
        (24, 100, 256, 64),  # a start that is no power of two rounds down first
        (512, 1000, 64, 64),  # a start above the cap starts at the cap
    ],
)
def test_the_search_finds_the_largest_power_of_two_that_fits(start, limit, largest, want):
    assert batching.largest_fitting(fits_up_to(limit), start, 2, largest) == want


def test_the_search_stops_at_the_first_size_that_does_not_fit():
    calls: list[int] = []
    assert batching.largest_fitting(fits_up_to(100, calls), 32, 2, 256) == 64
    assert calls == [32, 64, 128]  # never 256: a step that did not fit at 128 would not at 256
    calls.clear()
    assert batching.largest_fitting(fits_up_to(20, calls), 64, 2, 256) == 16
    assert calls == [64, 32, 16]


def test_the_search_says_none_when_not_even_the_smallest_fits():
    assert batching.largest_fitting(fits_up_to(1), 32, 2, 256) is None


@pytest.mark.parametrize(
    ("batch_max", "clips", "ranks", "want"),
    [(256, 1000, 1, 256), (256, 100, 1, 64), (256, 100, 4, 16), (256, 3, 2, 2), (48, 1000, 1, 32)],
)
def test_the_cap_is_a_power_of_two_within_batch_max_and_the_clips_per_process(
    batch_max, clips, ranks, want
):
    assert batching.batch_cap(batch_max, clips, ranks) == want


def fake_trial(batch_size=(32,), batch_memory=0.8):
    cfg = types.SimpleNamespace(
        batch_memory=batch_memory,
        batch_for_stage=lambda s: batch_size[min(s, len(batch_size) - 1)],
    )
    return types.SimpleNamespace(cfg=cfg)


def test_probe_gives_each_stage_the_largest_size_its_memory_allows():
    # A step's memory ∝ batch x pixels: 4x4 ... 128x128 within 2**16 "bytes".
    stages = ("4x4", "8x8", "16x16", "32x32", "64x64", "128x128")
    fits = lambda trial, s, b: b * 4 ** (s + 2) <= 2**16  # noqa: E731
    sizes = batching.probe(fake_trial(), stages, 256, fits)
    assert sizes == (256, 256, 256, 64, 16, 4)


def test_probe_refuses_in_one_line_when_not_even_two_fit():
    with pytest.raises(UserError, match=r"not even a batch of 2 fits in 80% .* stage 8x8"):
        batching.probe(fake_trial(), ("4x4", "8x8"), 256, lambda t, s, b: s == 0)


@pytest.mark.slow
def test_on_the_cpu_auto_keeps_the_configured_sizes_one_per_stage(tiny_dataset, tmp_path):
    from gesturegan.training import train

    run = tmp_path / "run"
    opts = tiny_overrides(2, batch="auto", batch_size=[4, 2])
    train(run, data=str(tiny_dataset), overrides=opts, show_progress=False)
    saved = Run(run).read_config()
    assert saved["batch"] == "auto"
    assert saved["batch_size"] == [4, 2, 2, 2, 2, 2]  # recorded per stage


@pytest.mark.slow
def test_the_chosen_sizes_are_saved_and_a_resume_keeps_them_without_probing(
    tiny_dataset, tmp_path, monkeypatch
):
    from gesturegan.training import train

    chosen = (8, 8, 4, 4, 2, 2)
    calls = []

    def choose(trial, stages, n_clips, world):
        calls.append((len(stages), n_clips))
        return chosen, "probed (fake)"

    monkeypatch.setattr(batching, "choose", choose)
    run = tmp_path / "run"
    opts = tiny_overrides(3, batch="auto", log_every_steps=1)
    train(run, data=str(tiny_dataset), overrides=opts, show_progress=False)
    assert calls == [(6, 12)]  # the 12 training clips of the tiny dataset
    assert Run(run).read_config()["batch_size"] == list(chosen)
    # The loop trained on them: the images seen, from the stage of every (logged) step.
    names = Run(run).read_generator()[1]["stages"]
    trained = sum(chosen[names.index(r["stage"])] for r in Run(run).metrics_rows())
    assert load_checkpoint(run / "checkpoints" / "latest.pt")["state"]["nimg"] == trained

    def must_not_probe(*args):
        raise AssertionError("a resume probed again")

    monkeypatch.setattr(batching, "choose", must_not_probe)
    train(run, resume=True, overrides={"steps": 6, "device": "cpu"}, show_progress=False)
    assert Run(run).read_config()["batch_size"] == list(chosen)


@pytest.mark.slow
def test_a_trial_step_leaves_the_run_and_the_random_streams_untouched(tiny_dataset, tmp_path):
    from gesturegan.training import Trainer
    from gesturegan.training.config import make_config

    cfg = make_config(str(tiny_dataset), overrides=tiny_overrides(10, augment="ada"))
    trainer = Trainer(cfg, tmp_path / "run")
    before = {k: v.clone() for k, v in trainer.nets.G.state_dict().items()}
    before_d = {k: v.clone() for k, v in trainer.nets.D.state_dict().items()}
    rng = torch.get_rng_state()
    trial = batching.Trial(
        trainer.nets, cfg, trainer.rep.shape, len(trainer.stages), 2, trainer.cond, trainer.device
    )
    for stage in (0, 2):
        trial.step(stage, 4)
    assert torch.equal(torch.get_rng_state(), rng)
    for k, v in trainer.nets.G.state_dict().items():
        assert torch.equal(v, before[k]), k
    for k, v in trainer.nets.D.state_dict().items():
        assert torch.equal(v, before_d[k]), k
    assert not trainer.nets.opt_g.state and not trainer.nets.opt_d.state


def test_batch_auto_and_compile_are_flags_of_train():
    from gesturegan.cli import build_parser
    from gesturegan.config import overrides_from
    from gesturegan.training.config import make_config

    args = build_parser().parse_args(["train", "--out", "run", "--batch", "auto", "--compile"])
    cfg = make_config("data", None, overrides_from(args))
    assert (cfg.batch, cfg.compile, cfg.batch_max, cfg.batch_memory) == ("auto", True, 256, 0.8)
    args = build_parser().parse_args(["train", "--out", "run", "--compile", "false"])
    assert make_config("data", None, overrides_from(args)).compile is False
    with pytest.raises(UserError, match="batch: must be one of fixed, auto, got 'big'"):
        make_config("data", None, {"batch": "big"})
