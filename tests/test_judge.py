"""The independent judge (``gesturegan.judge``): distances, degradations, sets, the CLI verb."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from gesturegan.cli import main
from gesturegan.errors import UserError
from gesturegan.judge import clips, degrade, distances, sfx
from gesturegan.judge.compare import (
    ALL,
    Embedder,
    compare,
    compare_embedded,
    compare_waves,
    noise_like,
)
from gesturegan.judge.config import JudgeConfig

SR = 16000
FAST = JudgeConfig(sr=SR, rounds=6, net_seeds=(0, 1))


def sounds(n: int, seed: int, length_s: float = 0.5, sr: int = SR) -> list[np.ndarray]:
    """``n`` varied one-shots: decaying harmonic tones, band-passed noise hits, swelling glides."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(length_s * sr)) / sr
    out = []
    for i in range(n):
        kind = i % 3
        attack = rng.uniform(0.002, 0.15) if kind == 2 else 0.003
        env = np.exp(-t * rng.uniform(2, 15)) * np.minimum(t / attack, 1)
        if kind == 0:
            f0 = rng.uniform(100, 1200)
            w = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) * rng.uniform(0.1, 1) / h
                    for h in range(1, 8))  # fmt: skip
        elif kind == 1:
            band = [rng.uniform(200, 1000), rng.uniform(2000, 0.45 * sr)]
            w = scipy.signal.sosfilt(scipy.signal.butter(2, band, "bandpass", fs=sr, output="sos"),
                                     rng.standard_normal(len(t)))  # fmt: skip
        else:
            f = rng.uniform(200, 600)
            w = np.sin(2 * np.pi * f * t * (1 + rng.uniform(-0.3, 0.3) * t))
        w = w * env
        out.append((rng.uniform(0.2, 0.9) * w / np.abs(w).max()).astype(np.float32))
    return out


@pytest.fixture(scope="module")
def embedder():
    return Embedder(FAST)


@pytest.fixture(scope="module")
def real():
    return clips.from_arrays(sounds(48, 0), SR, name="real")


@pytest.fixture(scope="module")
def real_embedded(real, embedder):
    """``real`` with its embedding and its noise set's, taken once for every comparison."""
    return real, embedder(real), embedder(noise_like(real, FAST.seed))


@pytest.fixture(scope="module")
def other_real():
    return clips.from_arrays(sounds(48, 1), SR, name="other")


def kad_of(result, space: str, s: str = "a_vs_b") -> dict:
    return result.figures[ALL][space]["kad"][s]


# --- distances -----------------------------------------------------------------------------------


def test_frechet_matches_the_matrix_square_root_formula():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((300, 8)), 1.3 * rng.standard_normal((200, 8)) + 0.2
    import scipy.linalg

    cx, cy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    textbook = ((x.mean(0) - y.mean(0)) ** 2).sum() + np.trace(
        cx + cy - 2 * scipy.linalg.sqrtm(cx @ cy).real
    )
    assert distances.frechet(x, y) == pytest.approx(textbook, rel=1e-5)
    assert distances.frechet(x, x) == pytest.approx(0.0, abs=1e-9)


def test_kad_is_unbiased_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5))
    same = [distances.kad(*rng.standard_normal((2, 200, 5))) for _ in range(20)]
    assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(20) + 1e-3  # expectation 0
    shifts = [distances.kad(x, rng.standard_normal((200, 5)) + d) for d in (0.25, 0.5, 1.0)]
    assert 0 < shifts[0] < shifts[1] < shifts[2]


def test_prdc_tells_fidelity_from_diversity():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((300, 4))
    good = distances.prdc(real, rng.standard_normal((300, 4)))
    collapsed = distances.prdc(real, 0.05 * rng.standard_normal((300, 4)))  # faithful, not diverse
    far = distances.prdc(real, rng.standard_normal((300, 4)) + 10)
    assert good["precision"] > 0.9 and good["recall"] > 0.9 and good["coverage"] > 0.9
    assert collapsed["precision"] > 0.9 and collapsed["recall"] < 0.3 and collapsed["coverage"] < 0.3
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


# --- the judge on generated test signals ---------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(degrade.DEGRADATIONS))
def test_distances_grow_with_degradation_severity(name, real_embedded, other_real, embedder):
    fn = degrade.DEGRADATIONS[name]
    results = []
    for severity in (0.0, 0.25, 0.5, 1.0):
        b = clips.from_arrays([fn(w, SR, severity) for w in other_real.waves], SR, name="b")
        results.append(compare_embedded(*real_embedded, b, embedder(b), FAST))
    for space in ("features", "randnet"):
        kads = [kad_of(r, space)["median"] for r in results]
        fds = [r.figures[ALL][space]["frechet"]["a_vs_b"]["median"] for r in results]
        assert kads == sorted(kads) and kads[0] < kads[1], (space, kads)
        if name != "noise":  # FD falls as noise swamps the set: noisy clips all look alike (docs)
            assert fds == sorted(fds), (space, fds)


def test_same_distribution_reads_as_real(real, other_real, embedder):
    # The judge's own 20 rounds: the interval of FAST's 6 is a min-max that misses 0 by chance.
    result = compare(real, other_real, replace(FAST, rounds=20), embedder)
    for space in ("features", "randnet"):
        for s in ("a_vs_b", "real_vs_real"):
            fig = kad_of(result, space, s)
            assert fig["lo"] <= 0.0 <= fig["hi"], (space, s, fig)
        noise = kad_of(result, space, "real_vs_noise")
        assert noise["lo"] > kad_of(result, space, "real_vs_real")["hi"]
        assert abs(result.position[ALL][space]["kad"]) < 0.1


def test_identical_sets_give_zero(real, embedder):
    result = compare(real, real, FAST, embedder)
    for space in ("features", "randnet"):
        fig = kad_of(result, space)
        assert fig["lo"] <= 0.0 <= fig["hi"]
        assert abs(fig["median"]) < 0.05 * kad_of(result, space, "real_vs_noise")["median"]


def test_real_vs_real_below_real_vs_noise_per_class(embedder):
    a = sounds(48, 2)
    b = sounds(48, 3)
    labels = ["tone", "noise", "glide"] * 16
    a, b = clips.from_arrays(a, SR, labels, "a"), clips.from_arrays(b, SR, labels, "b")
    result = compare(a, b, FAST, embedder)
    assert set(result.figures) == {ALL, "tone", "noise", "glide"}
    for group, figures in result.figures.items():
        for space, metrics in figures.items():
            for metric in ("kad", "frechet"):
                rr, rn = metrics[metric]["real_vs_real"], metrics[metric]["real_vs_noise"]
                assert rr["median"] < rn["median"], (group, space, metric)


def test_sets_at_any_rate_and_length_embed_alike(tmp_path):
    for i, (sr, length_s) in enumerate([(8000, 0.05), (44100, 2.0), (48000, 0.7)]):
        (tmp_path / "c").mkdir(exist_ok=True)
        sf.write(tmp_path / "c" / f"{i}.wav", sounds(1, i, length_s, sr)[0], sr)
    cfg = JudgeConfig(sr=SR, rounds=2, net_seeds=(0,))
    got = clips.load(tmp_path, cfg.sr)
    assert got.labels == ["c"] * 3 and got.sr == SR
    emb = Embedder(cfg)(got)
    assert {k: [v.shape for v in views] for k, views in emb.items()} == {
        "features": [(3, emb["features"][0].shape[1])], "randnet": [(3, 480)]}
    assert all(np.isfinite(v).all() for views in emb.values() for v in views)


# --- bad input -----------------------------------------------------------------------------------


def test_judge_settings_out_of_range_are_one_line_errors():
    with pytest.raises(UserError, match="mix must be one of matched, uniform, got 'random'"):
        JudgeConfig(mix="random")
    with pytest.raises(UserError, match="floor_db must be from -200 up to 0 dB, got 6"):
        JudgeConfig(floor_db=6)
    assert JudgeConfig(floor_db=None).floor_db is None


def test_empty_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no readable audio clip"):
        clips.load(tmp_path, SR)


def test_unreadable_files_are_listed_and_skipped(tmp_path):
    sf.write(tmp_path / "good.wav", sounds(1, 0)[0], SR)
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    got = clips.load(tmp_path, SR)
    assert len(got) == 1 and len(got.skipped) == 1 and "bad.wav" in got.skipped[0]
    (tmp_path / "good.wav").unlink()
    with pytest.raises(UserError, match="1 file\\(s\\) skipped.*bad.wav"):
        clips.load(tmp_path, SR)


def test_compare_cli_json_and_one_line_errors(tmp_path, capsys):
    for name, seed in (("a", 0), ("b", 1)):
        for i, w in enumerate(sounds(12, seed)):
            (tmp_path / name / ["x", "y"][i % 2]).mkdir(parents=True, exist_ok=True)
            sf.write(tmp_path / name / ["x", "y"][i % 2] / f"{i}.wav", w, SR)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--rounds", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["figures"]) == {ALL, "x", "y"} and out["n_a"] == 12
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing" in err


# --- the optional aisfx embedding ----------------------------------------------------------------


@pytest.mark.skipif(not sfx.available(), reason=f"aisfx weights not installed ({sfx.INSTALL})")
def test_sfx_embedding_loads_the_aisfx_weights():
    net = sfx.load_net()
    waves = sounds(4, 0, length_s=1.0, sr=44100)
    emb = sfx.embed(net, waves + [np.tile(waves[0], 4)], 44100)
    assert emb.shape == (5, 512) and np.isfinite(emb).all()
    assert np.array_equal(emb, sfx.embed(net, waves + [np.tile(waves[0], 4)], 44100))
    assert np.abs(emb[0] - emb[1]).max() > 0


def test_a_prepared_dataset_is_a_set_with_its_labels(tiny_dataset):
    got = clips.load(tiny_dataset, SR)
    assert got.classes == ["hit", "tone"] and len(got) == 12 and got.sr == SR
    assert all(len(w) == round(16384 * SR / 22050) for w in got.waves)


def test_b_made_of_a_few_files_of_a_still_compares(real, embedder):
    result = compare(real, real.subset([0, 1]), FAST, embedder)
    assert result.groups[ALL]["n"] == 2 and np.isfinite(kad_of(result, "randnet")["median"])


def test_changed_copies_of_the_reference_half_are_not_drawn():
    """``compare_waves(..., same_clips=True)``: B is A changed clip by clip (a decoder's round
    trip), so B's copies of A's reference half stay out and unchanged copies read as real-vs-real;
    without it the copies of the reference clips are drawn and read closer than real-vs-real."""
    waves = np.stack(sounds(24, 2))
    labels = ["x"] * len(waves)
    ratio = {}
    for same in (True, False):
        result = compare_waves(waves, labels, waves, labels, SR, FAST, same_clips=same)
        frechet = result.figures[ALL]["features"]["frechet"]
        ratio[same] = frechet["a_vs_b"]["median"] / frechet["real_vs_real"]["median"]
    assert ratio[True] == pytest.approx(1.0)
    assert ratio[False] < 0.9


@pytest.mark.parametrize("floor_db", [-96.0, None])
def test_what_lies_under_the_floor_is_not_heard(floor_db):
    """One-shots over a 16-bit file's quantisation noise, against the same with every STFT
    coefficient under -100 dB (re a full-scale sine) set to zero, as a representation that keeps
    110 dB decodes them: alike with the floor (``floor_db`` -96); without it the judge heard the
    difference, as it did on real drum hits (1.9x real-vs-real for the same round trip)."""
    rng = np.random.default_rng(0)
    waves = np.stack(sounds(24, 2, 1.5)) + rng.uniform(-0.5, 0.5, (24, 3 * SR // 2)) / 2**15
    _, _, spec = scipy.signal.stft(waves, nperseg=256, noverlap=192)  # a full-scale sine: 0.5
    spec[np.abs(spec) < 0.5 * 10 ** (-100 / 20)] = 0
    gated = scipy.signal.istft(spec, nperseg=256, noverlap=192)[1][:, : waves.shape[1]]
    labels = ["x"] * len(waves)
    cfg = JudgeConfig(sr=SR, rounds=6, net_seeds=(0, 1), floor_db=floor_db)
    result = compare_waves(waves.astype(np.float32), labels, gated.astype(np.float32), labels, SR,
                           cfg, same_clips=True)  # fmt: skip
    frechet = result.figures[ALL]["features"]["frechet"]
    ratio = frechet["a_vs_b"]["median"] / frechet["real_vs_real"]["median"]
    if floor_db is None:
        assert ratio > 1.3
    else:
        assert ratio == pytest.approx(1.0, abs=0.02)


def test_overall_draws_follow_the_reference_mix_of_classes():
    """B holds the same kinds of sound as A in another mix (A: 44 noise hits and 4 tones; B: 24 of
    each, as from a generator asked for as many clips of every class): overall B reads like A's
    halves, as each class does, because B is drawn in A's mix; unlabelled (or with ``mix``
    "uniform") the same B is drawn uniformly and reads far from A: its mix, not its sounds."""

    def pick(waves, n_noise, n_tone):  # sounds() cycles tone, noise hit, glide
        noises, tones = waves[1::3][:n_noise], waves[0::3][:n_tone]
        return noises + tones, ["noise"] * n_noise + ["tone"] * n_tone

    a_waves, a_labels = pick(sounds(150, 4), 44, 4)
    a = clips.from_arrays(a_waves, SR, a_labels, "a")
    b_waves, b_labels = pick(sounds(90, 5), 24, 24)
    cfg = replace(FAST, rounds=20)
    embedder = Embedder(cfg)
    ratio = {}
    for name, labels, mix in (("labelled", b_labels, "matched"), ("unlabelled", None, "matched"),
                              ("uniform", b_labels, "uniform")):  # fmt: skip
        b = clips.from_arrays(b_waves, SR, labels, "b")
        result = compare(a, b, replace(cfg, mix=mix), embedder)
        frechet = result.figures[ALL]["features"]["frechet"]
        ratio[name] = frechet["a_vs_b"]["median"] / frechet["real_vs_real"]["median"]
    assert ratio["labelled"] < 1.4 and min(ratio["unlabelled"], ratio["uniform"]) > 2.5, ratio
