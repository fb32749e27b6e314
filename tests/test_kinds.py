"""Kinds of gesture within a class: found from the labeler's rules, picked by the latent."""

import math

import numpy as np
import torch

from gesturegan import gestures
from gesturegan.models import pgan
from gesturegan.training import kinds

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
