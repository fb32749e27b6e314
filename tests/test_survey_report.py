"""The report's figures on an answer set with known truth, against values worked out by hand.

Two categories (a, b); five clips: real a, real b, generated a, generated b, one morph. Participant
"oracle" answers every question right (real clips rated 5, generated 3, the morph 4); "guesser"
always says real, category a, rating 3.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from PIL import Image

from gesturegan.survey import report, stats
from gesturegan.survey.store import CSV_COLUMNS

CLIPS = [("r1", "real", "a"), ("r2", "real", "b"), ("g1", "generated", "a"),
         ("g2", "generated", "b"), ("m1", "morph", "")]  # fmt: skip


def answers_csv() -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for token, kind, cat in CLIPS:
        oracle_real = "real" if kind == "real" else "generated"
        rating = {"real": 5, "generated": 3, "morph": 4}[kind]
        for who, said_real, said_cat, r in (("oracle", oracle_real, cat or "a", rating),
                                            ("guesser", "real", "a", 3)):  # fmt: skip
            w.writerow(["s", who, token, kind, cat, "", said_real, said_cat, r,
                        int((said_real == "real") == (kind == "real")),
                        "" if not cat else int(said_cat == cat), "2026-01-01T00:00:00"])  # fmt: skip
    return buf.getvalue()


@pytest.fixture
def figures():
    return report.figures(report.read_csv(answers_csv()), ["a", "b"])


def test_counts(figures):
    assert (figures["participants"], figures["answers"], figures["clips"]) == (2, 10, 5)


def test_real_or_generated_share_interval_and_d_prime(figures):
    a = figures["discrimination"]["a"]
    # a: oracle right twice, guesser right on the real clip only: 3 of 4
    assert (a["k"], a["n"], a["hits"], a["real"], a["false_alarms"], a["generated"]) == (
        3, 4, 2, 2, 1, 2)  # fmt: skip
    # Wilson 95 % for 3/4 (z = 1.959964): centre 0.6275, half-width 0.3269
    assert (a["low"], a["high"]) == pytest.approx((0.3006, 0.9544), abs=1e-4)
    # d' = z((2 + .5) / 3) - z((1 + .5) / 3) = z(0.8333) - z(0.5) = 0.9674
    assert a["d_prime"] == pytest.approx(0.9674, abs=1e-4)
    everything = figures["discrimination"]["all"]
    assert (everything["k"], everything["n"]) == (6, 8)
    # hits 4/4, false alarms 2/4: z(4.5/5) - z(2.5/5) = 1.2816
    assert everything["d_prime"] == pytest.approx(1.2816, abs=1e-4)


def test_confusion_matrix_and_identification(figures):
    # true a: both answer a on r1 and g1; true b: oracle b twice, guesser a twice
    assert figures["confusion"] == [[4, 0], [2, 2]]
    assert (figures["identification"]["k"], figures["identification"]["n"]) == (6, 8)


def test_mean_opinion_scores_with_t_intervals(figures):
    real = figures["mos_by_kind"]["real"]  # 5, 5, 3, 3: mean 4, sd 1.1547, t(0.975, 3) = 3.1824
    assert (real["mean"], real["low"], real["high"]) == pytest.approx((4.0, 2.1626, 5.8374), abs=1e-4)
    generated = figures["mos_by_kind"]["generated"]  # 3, 3, 3, 3: no spread
    assert (generated["mean"], generated["low"], generated["high"]) == (3.0, 3.0, 3.0)
    morph = figures["mos_by_kind"]["morph"]  # 4, 3: mean 3.5, sd 0.7071, t(0.975, 1) = 12.706
    assert (morph["low"], morph["high"]) == pytest.approx((-2.8531, 9.8531), abs=1e-4)
    assert figures["mos_by_category"]["a (real)"]["mean"] == 4.0


def test_krippendorff_alpha_by_hand(figures):
    # real-or-generated values per clip: r1 (R, R), r2 (R, R), g1 (G, R), g2 (G, R), m1 (G, R).
    # Coincidences: RR 4, RG 3, GR 3 → n = 10, n_R = 7, n_G = 3;
    # D_o = 6 / 10, D_e = (7*3 + 3*7) / (10 * 9) → alpha = 1 - 0.6 / 0.4667 = -2/7
    assert figures["agreement"]["real_or_generated"] == pytest.approx(-2 / 7)
    # categories: r1 (a, a), g1 (a, a), r2 (b, a), g2 (b, a): aa 4, ab 2, ba 2 → n 8, n_a 6, n_b 2
    # D_o = 4/8, D_e = 24/56 → alpha = 1 - 0.5 / 0.428571 = -1/6
    assert figures["agreement"]["category"] == pytest.approx(-1 / 6)


def test_each_participant(figures):
    oracle, guesser = figures["by_participant"]["oracle"], figures["by_participant"]["guesser"]
    assert oracle["answers"] == guesser["answers"] == 5
    assert (oracle["real_or_generated"]["k"], oracle["real_or_generated"]["n"]) == (4, 4)
    assert (guesser["real_or_generated"]["k"], guesser["category"]["k"]) == (2, 2)  # of 4


def test_alpha_is_one_for_perfect_agreement_and_none_without_pairs():
    assert stats.krippendorff_alpha({"x": ["a", "a"], "y": ["b", "b"]}) == 1.0
    assert stats.krippendorff_alpha({"x": ["a"], "y": ["b"]}) is None
    # interval alpha, two raters, values (1, 2) and (3, 3): coincidences 1-2, 2-1, 3-3 (x2);
    # D_o = 2 * 1 / 4, D_e = sum n_c n_k (c-k)^2 / (4 * 3) = (1*1*1*2 + 1*2*4*2 + 1*2*1*2) / 12
    expected = 1 - (2 / 4) / ((2 + 16 + 4) / 12)
    assert stats.krippendorff_alpha({"x": [1, 2], "y": [3, 3]}, stats.interval) == pytest.approx(
        expected)


def test_wilson_edges():
    assert stats.wilson(0, 0)["share"] is None
    w = stats.wilson(10, 10)
    assert w["high"] == pytest.approx(1.0) and w["low"] == pytest.approx(0.7225, abs=1e-4)


def test_write_report_makes_markdown_figures_and_the_csv(tmp_path):
    text = answers_csv()
    path = report.write_report(text, ["a", "b"], tmp_path, "Test survey")
    md = path.read_text()
    assert "2 participants, 10 answers, 5 clips" in md
    assert "| a | 4 | 75 % | 30 % – 95 % | 2/2 | 1/2 | 0.97 |" in md
    assert "| b | 2 | 2 |" in md  # the confusion row of b
    assert "| guesser | 5 | 50 % | 50 % |" in md and "| oracle | 5 | 100 % | 100 % |" in md
    assert (tmp_path / "answers.csv").read_bytes() == text.encode()
    for name in ("discrimination", "confusion", "mos"):
        assert f"({name}.png)" in md
        with Image.open(tmp_path / f"{name}.png") as img:
            assert img.size[0] > 200 and np.asarray(img).std() > 0


def test_a_survey_without_answers_reports_so(tmp_path):
    path = report.write_report(",".join(CSV_COLUMNS) + "\n", ["a", "b"], tmp_path, "Empty")
    assert "0 participants, 0 answers, 0 clips" in path.read_text()
    assert (tmp_path / "discrimination.png").is_file()
