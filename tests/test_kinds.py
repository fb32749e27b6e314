"""Kinds of gesture within a class: found from the labeler's rules, picked by the latent."""

import math
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from gesturegan import gestures
from gesturegan.dataset import prepare
from gesturegan.exporting import export
from gesturegan.generation import load
from gesturegan.models import pgan
from gesturegan.runs import Run, load_checkpoint
from gesturegan.training import kinds, train

from .conftest import LENGTH, SR, TINY_MODEL, tiny_overrides, write_tiny_sounds

TABLE = [
    {"class": 0, "rule": "pulses", "share": 0.5},
    {"class": 0, "rule": "steady", "share": 0.3},
    {"class": 0, "rule": "modulation", "share": 0.2},
    {"class": 1, "rule": "short", "share": 1.0},
]


def test_select_picks_kinds_in_the_data_shares_and_keeps_one_hot():
    select = pgan.KindSelect(TABLE, n_classes=2)
    z = torch.randn(20000, 128, generator=torch.Generator().manual_seed(0))
    c = torch.zeros(20000, 2)
    c[:, 0] = 1.0
    k = select(z, c)
    assert torch.all(k.sum(1) == 1.0) and torch.all(k.max(1).values == 1.0)
    shares = k.mean(0).numpy()
    assert np.allclose(shares[:3], [0.5, 0.3, 0.2], atol=0.015) and shares[3] == 0.0
    # a scaled latent (what the generator sees is its direction) keeps its kind
    assert torch.equal(select(0.5 * z, c), k)


def test_select_mixes_the_kinds_of_mixed_classes():
    select = pgan.KindSelect(TABLE, n_classes=2)
    z = torch.randn(8, 128, generator=torch.Generator().manual_seed(1))
    c = torch.tensor([[0.25, 0.75]]).repeat(8, 1)
    k = select(z, c)
    assert torch.allclose(k[:, :3].sum(1), torch.full((8,), 0.25))
    assert torch.allclose(k[:, 3], torch.full((8,), 0.75))


def test_rule_names_the_category_label_gives():
    sr = 22050
    t = np.arange(16384) / sr
    hit = np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.01)
    pulses = np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 8 * t) > 0.6)
    for wave, name in ((hit, "short"), (pulses, "pulses")):
        category, feats = gestures.label(wave, sr)
        assert gestures.rule(feats) == name and gestures.RULE_CATEGORY[name] == category


def test_small_rules_join_their_class_largest_kind():
    rules = ["pulses"] * 20 + ["steady"] * 10 + ["swell"] * 2 + ["short"] * 5
    labels = np.array([0] * 32 + [1] * 5)
    table = kinds._table(rules, labels, 2)
    assert [(k["class"], k["rule"]) for k in table] == [(0, "pulses"), (0, "steady"), (1, "short")]
    assert math.isclose(table[0]["share"], 22 / 32) and math.isclose(table[1]["share"], 10 / 32)


@pytest.fixture(scope="module")
def kinds_run(tmp_path_factory):
    """A tiny kinds run: class ``loop`` holds 8 steady tones and 8 pulse trains, ``hit`` 8 hits.
    Its decoder is the inverse STFT, so that the export's comparison is exact (see test_export)."""
    root = tmp_path_factory.mktemp("kinds")
    write_tiny_sounds(root / "src", per_class=8, names=("hit", "loop"))
    rng = np.random.default_rng(1)
    t = np.arange(LENGTH) / SR
    for i in range(8):
        tone = np.sin(2 * np.pi * rng.uniform(200, 2000) * t)
        pulses = tone * (np.sin(2 * np.pi * rng.uniform(6, 10) * t) > 0.6)
        sf.write(root / "src" / "loop" / f"pulses_{i}.wav", (0.8 * pulses).astype(np.float32), SR)
    prepare(root / "src", root / "data", labels_from_folders=True, workers=1)
    overrides = tiny_overrides(12, repr="stft_ifreq", pgan={**TINY_MODEL, "kinds": True})
    train(root / "run", str(root / "data"), overrides=overrides, show_progress=False)
    return root / "run"


KINDS_OF_RUN = [("hit", "short", 1.0), ("loop", "pulses", 0.5), ("loop", "steady", 0.5)]


def _named(table: list[dict], names: list[str]) -> list[tuple[str, str, float]]:
    return [(names[k["class"]], k["rule"], k["share"]) for k in table]


def test_a_kinds_run_saves_its_kinds_and_resumes_with_them(kinds_run, tmp_path):
    meta = Run(kinds_run).generator_meta()
    assert _named(meta["kinds"], meta["label_names"]) == KINDS_OF_RUN
    run = tmp_path / "run"
    shutil.copytree(kinds_run, run)
    assert train(run, overrides={"steps": 16}, resume=True, show_progress=False).step == 16
    ckpt = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert ckpt["kinds"] == meta["kinds"] and ckpt["state"]["step"] == 16


def test_a_kinds_model_draws_every_kind_of_a_class_and_exports_equal(kinds_run, tmp_path):
    gen = load(kinds_run)
    seeds = list(range(64))
    assert np.array_equal(gen.samples("loop", seeds[:4]), gen.samples("loop", seeds[:4]))
    net = gen.synthesizer().net
    c = gen.condition("loop", len(seeds))
    picked = net.select(gen.latents(seeds), c).sum(0)  # clips per kind: [hit short, loop ×2]
    assert picked[0] == 0 and picked[1] > 16 and picked[2] > 16 and picked.sum() == 64
    done = export(kinds_run, "torchscript", out=tmp_path / "g.pt")
    assert done.max_abs_diff <= 1e-3
