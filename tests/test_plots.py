"""Report pictures: valid PNGs of sensible size, for one clip or many."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gesturegan import plots
from gesturegan.errors import UserError

SR = 8000


def clips(n: int, length: int = 4000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length) / SR
    hz = rng.uniform(200, 2000, size=(n, 1))
    return (0.5 * np.sin(2 * np.pi * hz * t) * np.exp(-t / 0.2)).astype(np.float32)


def assert_png(path: Path, min_w: int = 300, min_h: int = 150) -> tuple[int, int]:
    assert path.is_file()
    with Image.open(path) as image:
        assert image.format == "PNG"
        w, h = image.size
    assert min_w <= w <= 5000 and min_h <= h <= 5000
    assert not list(path.parent.glob(".*"))  # no temporary files left behind
    return w, h


def test_spectrogram_grid_one_clip(tmp_path):
    path = plots.spectrogram_grid({"trigger": clips(1)[0]}, SR, tmp_path / "one.png")
    assert path == tmp_path / "one.png"
    assert_png(path, min_w=200, min_h=100)


def test_spectrogram_grid_many_rows_capped_per_row(tmp_path):
    waves = {"trigger": clips(9), "a_rather_long_label_name": clips(2, seed=1), "x": clips(1)}
    w6, h = assert_png(plots.spectrogram_grid(waves, SR, tmp_path / "g.png", title="step 100"))
    w3, _ = assert_png(plots.spectrogram_grid(waves, SR, tmp_path / "g3.png", max_per_row=3))
    assert w6 > w3  # max_per_row limits the columns
    assert h > 300  # three rows


def test_morph_strip(tmp_path):
    labels = ["0.00", "0.33", "0.67", "1.00"]
    w4, _ = assert_png(plots.morph_strip(clips(4), SR, tmp_path / "m.png", labels=labels))
    w1, _ = assert_png(plots.morph_strip(clips(1)[0], SR, tmp_path / "m1.png"), min_w=150)
    assert w4 > w1
    with pytest.raises(ValueError, match="2 labels for 4 clips"):
        plots.morph_strip(clips(4), SR, tmp_path / "bad.png", labels=["a", "b"])


def test_envelope_plot_with_and_without_reference(tmp_path):
    generated = {"trigger": clips(5), "drone": clips(1, length=3000)[0]}
    reference = {"trigger": clips(8, seed=2), "other": clips(2)}
    assert_png(plots.envelope_plot(generated, SR, tmp_path / "e.png"))
    assert_png(plots.envelope_plot(generated, SR, tmp_path / "r.png", reference_by_label=reference))
    assert_png(plots.envelope_plot({"one": clips(1)[0]}, SR, tmp_path / "1.png"), min_w=200)


def rows_of(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_training_curves_skips_text_and_empty_cells(tmp_path):
    csv_path = tmp_path / "metrics.csv"
    lines = ["step,stage,d_loss,g_loss,r1"]
    lines += [f"{s},4x4,{1 / (1 + s):.4f},{s % 7},{'' if s % 4 else 0.5}" for s in range(120)]
    csv_path.write_text("\n".join(lines) + "\n")
    w_all, _ = assert_png(plots.training_curves(rows_of(csv_path), tmp_path / "all.png"))
    w_one, _ = assert_png(plots.training_curves(rows_of(csv_path), tmp_path / "one.png", columns=["r1"]))
    assert w_all > w_one  # three panels side by side against one
    with pytest.raises(UserError, match="no numeric column stage"):
        plots.training_curves(rows_of(csv_path), tmp_path / "x.png", columns=["stage"])


def test_training_curves_edge_cases(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("step,d_loss,g_loss\n")
    assert_png(plots.training_curves(rows_of(empty), tmp_path / "empty.png"))
    requested = plots.training_curves(rows_of(empty), tmp_path / "req.png", columns=["d_loss", "g_loss"])
    assert_png(requested)  # columns with no values yet get panels that say so
    nan_only = tmp_path / "nan.csv"
    nan_only.write_text("step,d_loss,r1\n0,1.0,nan\n1,0.9,nan\n")
    assert_png(plots.training_curves(rows_of(nan_only), tmp_path / "nan.png", columns=["d_loss", "r1"]))
    with pytest.raises(UserError, match="no numeric column d_real"):
        plots.training_curves(rows_of(nan_only), tmp_path / "x.png", columns=["d_real"])
    single = tmp_path / "single.csv"
    single.write_text("step,d_loss\n0,1.5\n")
    assert_png(plots.training_curves(rows_of(single), tmp_path / "single.png"))
    no_step = tmp_path / "no_step.csv"
    no_step.write_text("epoch,loss\n0,1\n")
    with pytest.raises(UserError, match="no 'step' column"):
        plots.training_curves(rows_of(no_step), tmp_path / "x.png")
