"""The labeler's thresholds chosen leave-one-library-out, the hand-labelled reference, and the
labeler at any rate, length and channel count."""

import csv
import json
import os
from collections import Counter
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gesturegan import gestures
from gesturegan.errors import UserError
from gesturegan.gestures import fit

SOUNDS = Path(os.environ.get("GESTUREGAN_REAL_SOUNDS", "/work/data/real/sounds"))


def example(lib: str, label: str, **feats: float) -> fit.Example:
    """An example whose features are a silent-free template with ``feats`` overriding."""
    base = gestures.features(np.sin(np.arange(22050) / 5.0) * 0.5, 22050)
    return fit.Example(f"{lib}/{label}/{len(feats)}", lib, label, {**base, **feats})


def spans(lib: str, short: list[float], long: list[float]) -> list[fit.Example]:
    """Triggers (``span_20_s`` in ``short``) and ringing sounds (in ``long``) of library ``lib``."""
    ring = dict(attack_s=0.0, decay_corr=-0.99, late_level_db=-40.0, span_40_s=2.0, end_level_db=-60.0)
    ring.update(duration_s=2.0, onset_count=1.0, periodicity=0.0, steady_fraction=0.1)
    out = [example(lib, "trigger", span_20_s=s, **ring) for s in short]
    return out + [example(lib, "trigger_continuous", span_20_s=s, **ring) for s in long]


# --- Fitting ------------------------------------------------------------------------------------


def test_fit_moves_a_threshold_to_where_the_classes_part():
    exs = spans("a", [0.05, 0.1, 0.17, 0.19], [0.3, 0.5, 0.8])
    assert fit.score(exs, fit.START).accuracy < 1.0  # 0.17 and 0.19 are past START's 0.15
    th = fit.fit(exs)
    assert th.trigger_max_span_s in (0.2, 0.25)
    assert fit.score(exs, th).accuracy == 1.0


def test_fit_keeps_the_start_when_nothing_is_gained():
    exs = spans("a", [0.05, 0.1], [0.5, 0.8])
    assert fit.fit(exs) == fit.START


def test_the_guard_stops_a_threshold_that_breaks_the_clips_it_guards():
    exs = spans("a", [0.05, 0.17, 0.19], [0.5])
    guard = spans("corpus", [], [0.17, 0.19])  # rings that a 0.2 s limit would call triggers
    assert fit.fit(exs).trigger_max_span_s >= 0.2
    th = fit.fit(exs, guard=guard)
    assert th.trigger_max_span_s < 0.17
    assert min(fit.score(guard, th).recall.values()) >= fit.GUARD_MIN_RECALL


def test_leave_one_library_out_never_fits_on_the_library_it_scores(monkeypatch):
    exs = spans("a", [0.1], [0.5]) + spans("b", [0.12], [0.6]) + spans("c", [0.05], [0.9])
    seen = []
    real_fit = fit.fit

    def spy(train, *args, **kw):
        seen.append({e.library for e in train})
        return real_fit(train, *args, **kw)

    monkeypatch.setattr(fit, "fit", spy)
    folds = fit.leave_one_library_out(exs)
    assert [f.library for f in folds] == ["a", "b", "c"]
    assert seen == [{"b", "c"}, {"a", "c"}, {"a", "b"}]
    for f in folds:
        assert f.held_out.n == 2 and f.train.n == 4


def test_pooled_scores_count_each_file_once_by_the_fold_that_left_it_out():
    exs = spans("a", [0.05, 0.19], [0.5]) + spans("b", [0.05], [0.5, 0.6])
    folds = fit.leave_one_library_out(exs)
    p = fit.pooled(folds)
    assert p.n == len(exs)
    assert np.sum(p.confusion) == len(exs)
    assert p.support == {"trigger": 3, "trigger_continuous": 3}
    table = fit.table(folds)
    assert "| a | 3 |" in table and "all, held out" in table


def test_every_threshold_has_candidates_and_the_shipped_values_are_among_them():
    for f in fields(gestures.Thresholds):
        assert getattr(fit.START, f.name) in fit.GRID[f.name], f.name
        assert getattr(gestures.THRESHOLDS, f.name) in fit.GRID[f.name], f.name


def test_rules_take_thresholds_as_an_argument():
    f = spans("a", [0.17], [])[0].feats
    assert gestures.decide(f) == "trigger_continuous"
    assert gestures.decide(f, replace(gestures.THRESHOLDS, trigger_max_span_s=0.2)) == "trigger"


def test_corpus_examples_are_labelled_by_their_category():
    exs = fit.corpus_examples(seeds=(5,), per_class=2)
    assert Counter(e.label for e in exs) == {c: 2 for c in gestures.CATEGORIES}
    assert {e.library for e in exs} == {"corpus"}


# --- The reference ------------------------------------------------------------------------------


def test_the_shipped_reference_covers_seven_libraries_with_reasons():
    rows = fit.read_reference()
    assert len(rows) >= 500
    libs = Counter(r["library"] for r in rows)
    assert len(libs) >= 4 and all(n >= 30 for n in libs.values()), libs
    assert len({r["file"] for r in rows}) == len(rows)
    for r in rows:
        assert r["file"].split("/")[0] == r["library"]
        assert r["ambiguous"] in ("yes", "no")
        assert r["why"].strip()
    clear = Counter(r["label"] for r in rows if r["ambiguous"] == "no")
    assert set(clear) == set(gestures.CATEGORIES)
    assert set(fit.TEST_LIBRARIES) < set(libs) and len(set(libs) - set(fit.TEST_LIBRARIES)) >= 4


def test_a_reference_with_an_unknown_label_is_a_user_error(tmp_path):
    p = tmp_path / "ref.csv"
    p.write_text("file,library,label,ambiguous,why\na/x.wav,a,loop,no,because\n")
    with pytest.raises(UserError, match="unknown label 'loop'"):
        fit.read_reference(p)
    p.write_text("file,label\na/x.wav,trigger\n")
    with pytest.raises(UserError, match="needs the columns"):
        fit.read_reference(p)


@pytest.mark.slow
@pytest.mark.skipif(not SOUNDS.is_dir(), reason="real sample libraries not fetched")
def test_the_shipped_thresholds_are_the_fit_on_every_library_that_chooses():
    rows = [r for r in fit.read_reference() if r["library"] not in fit.TEST_LIBRARIES]
    if not all((SOUNDS / r["file"]).exists() for r in rows):
        pytest.skip("some reference files are missing")
    exs = fit.examples(rows, SOUNDS)
    assert fit.fit(exs, fit.START, fit.corpus_examples()) == gestures.THRESHOLDS


# --- Any rate, length and channel count ---------------------------------------------------------


def gesture(kind: str, sr: int, seconds: float = 1.5) -> np.ndarray:
    """A hit, a ring, a swell and a loop of pulses, rendered at ``sr``."""
    t = np.arange(int(seconds * sr)) / sr
    tone = np.sin(2 * np.pi * 330 * t)
    if kind == "hit":
        return 0.8 * tone * np.exp(-t / 0.015)
    if kind == "ring":
        return 0.8 * tone * np.exp(-t / 0.25)
    if kind == "swell":
        return 0.8 * tone * np.sin(np.pi * t / seconds) ** 2
    return 0.8 * tone * np.exp(-((t % 0.25) / 0.03))  # a pulse every 0.25 s


@pytest.mark.parametrize("sr", [8000, 44100, 48000])
def test_labels_and_times_agree_at_any_sample_rate(sr):
    for kind in ("hit", "ring", "swell", "loop"):
        ref_cat, ref = gestures.label(gesture(kind, 22050), 22050)
        cat, f = gestures.label(gesture(kind, sr), sr)
        assert cat == ref_cat, (kind, sr)
        for key in ("attack_s", "decay_20_s", "span_20_s", "period_s"):
            assert f[key] == pytest.approx(ref[key], abs=2 * gestures.HOP_S), (kind, sr, key)


@pytest.mark.parametrize(
    ("seconds", "expected"), [(0.05, "trigger"), (30.0, "continuous_repetition")]
)
def test_clips_from_50_ms_to_30_s_get_a_label(seconds, expected):
    sr = 44100
    x = gesture("hit" if seconds < 1 else "loop", sr, seconds)
    cat, f = gestures.label(x, sr)
    assert cat == expected
    assert f["duration_s"] == pytest.approx(seconds, abs=1e-3)


def test_a_stereo_file_is_labelled_as_its_mono_mix(tmp_path):
    sr = 48000
    ring = gesture("ring", sr)
    stereo = np.stack([ring, 0.5 * ring], axis=1)
    sf.write(tmp_path / "s.wav", stereo, sr, subtype="FLOAT")
    cat, f = gestures.label_file(tmp_path / "s.wav")
    assert cat == gestures.label(stereo.mean(axis=1), sr)[0] == "trigger_continuous"
    assert f == pytest.approx(gestures.features(stereo.mean(axis=1), sr))


def test_reference_files_read_back_as_rows(tmp_path):
    p = tmp_path / "r.csv"
    with open(p, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "library", "label", "ambiguous", "why"])
        w.writerow(["a/x.wav", "a", "trigger", "no", "a click"])
        w.writerow(["a/y.wav", "a", "trigger", "yes", "a click or a ring"])
    assert [r["file"] for r in fit.read_reference(p)] == ["a/x.wav", "a/y.wav"]


# --- The command --------------------------------------------------------------------------------


def test_the_command_prints_the_table_and_each_held_out_error(tmp_path, monkeypatch, capsys):
    sr = 22050
    rows = [["file", "library", "label", "ambiguous", "why"]]
    for lib in ("a", "b"):
        (tmp_path / lib).mkdir()
        for kind, label in (("hit", "trigger"), ("ring", "trigger_continuous"), ("loop", "trigger")):
            sf.write(tmp_path / lib / f"{kind}.wav", gesture(kind, sr), sr)
            rows.append([f"{lib}/{kind}.wav", lib, label, "no", "made up"])
    ref = tmp_path / "ref.csv"
    with open(ref, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    monkeypatch.setattr(fit, "corpus_examples", lambda: [])
    fit.main([str(tmp_path), "--reference", str(ref)])
    out = capsys.readouterr().out
    assert "| a | 3 |" in out and "| b | 3 |" in out
    # The loop was labelled a trigger on purpose: each library's copy is a held-out error.
    errors = [line for line in out.splitlines() if line.endswith(".") and "\t" in line]
    assert [e.split("\t")[:4] for e in errors] == [
        [lib, f"{lib}/loop.wav", "trigger", "continuous_repetition"] for lib in ("a", "b")
    ]
    assert all(e.split("\t")[4].startswith("continuous_repetition: ") for e in errors)


def test_a_test_library_chooses_nothing_and_is_judged_by_the_fit_on_the_others(
    tmp_path, monkeypatch, capsys
):
    sr = 22050
    rows = [["file", "library", "label", "ambiguous", "why"]]
    # Library a asks for nothing; the test library's 0.19 s hits would ask for a longer span.
    for lib, spans_s in (("a", (0.01, 0.02)), ("t", (0.19, 0.19))):
        (tmp_path / lib).mkdir()
        for i, tau in enumerate(spans_s):
            t = np.arange(sr) / sr
            hit = 0.8 * np.sin(2 * np.pi * 330 * t) * np.exp(-t / (tau / 2.3))
            sf.write(tmp_path / lib / f"hit{i}.wav", hit, sr)
            rows.append([f"{lib}/hit{i}.wav", lib, "trigger", "no", "made up"])
        sf.write(tmp_path / lib / "ring.wav", gesture("ring", sr), sr)
        rows.append([f"{lib}/ring.wav", lib, "trigger_continuous", "no", "made up"])
    ref = tmp_path / "ref.csv"
    with open(ref, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    monkeypatch.setattr(fit, "corpus_examples", lambda: [])
    monkeypatch.setattr(fit, "TEST_LIBRARIES", ("t",))
    fit.main([str(tmp_path), "--reference", str(ref), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert [f["library"] for f in out["folds"]] == ["a"]  # the test library is never a fold
    assert out["all_libraries"]["thresholds"] == asdict(fit.START)  # nor fit on
    assert out["all_libraries"]["score"]["n"] == 3
    t = out["test_libraries"]["t"]
    assert t["n"] == 3 and t["recall"]["trigger"] == 0.0  # judged by a fit that never saw it


def test_the_command_says_in_one_line_when_the_sounds_are_missing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        fit.main([str(tmp_path / "nowhere")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'nowhere'}: not a folder (fetch the libraries first)"
