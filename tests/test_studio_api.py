"""Studio API: files only from the configured folders, scores validated with the field named,
generated and morphed audio as WAV, and survey answers that are never lost."""

from __future__ import annotations

import csv
import io
import math
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from gesturegan.cli import main
from gesturegan.studio import app as app_mod
from gesturegan.studio import create_app
from gesturegan.studio.paths import UnsafePath, safe_join
from gesturegan.survey import loudness
from gesturegan.survey.stats import mean_ci


def studio_client(app) -> TestClient:
    """A client that talks to ``app`` as its user does: a loopback host and the session token."""
    return TestClient(
        app, base_url="http://127.0.0.1:7860", headers={"x-studio-token": app.state.token}
    )


@pytest.fixture(scope="module")
def state(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("studio-state")


@pytest.fixture(scope="module")
def client(tiny_run, tiny_dataset, state) -> TestClient:
    return studio_client(create_app(tiny_run.parent, tiny_dataset, state))


def _wav(response) -> tuple[np.ndarray, int]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    wave, sr = sf.read(io.BytesIO(response.content), dtype="float32")
    return wave, sr


def test_state_lists_the_run_and_the_dataset(client, tiny_run):
    s = client.get("/api/state").json()
    assert [r["name"] for r in s["runs"]] == [tiny_run.name]
    assert s["runs"][0]["categories"] == ["hit", "tone"]
    assert s["datasets"] == ["data"]
    assert client.get("/").status_code == 200


def test_run_view_serves_each_stages_latest_snapshot_and_is_not_live_after_training(
    client, tiny_run
):
    view = client.get(f"/api/runs/{tiny_run.name}").json()
    assert not view["live"] and view["step"] == 10  # the last logged row (every 10 steps)
    assert [g["stage"] for g in view["grids"]][0] == view["stages"][0]
    for grid in view["grids"]:
        assert client.get(f"/api/files/runs/{grid['png']}").status_code == 200
        assert len(grid["audio"]) == 2  # one clip per class of the stage's latest snapshot
        for clip in grid["audio"]:
            assert client.get(f"/api/files/runs/{clip}").status_code == 200
    assert client.get(f"/api/files/runs/{view['progress_gif']}").status_code == 200
    rows = client.get(f"/api/runs/{tiny_run.name}/metrics?since=1").json()["rows"]
    assert rows and all(r["step"] > 1 for r in rows) and rows[0]["probe_fd"] is None


# ---------------------------------------------------------------------------------- safety
@pytest.mark.parametrize(
    "url",
    [
        "/api/files/runs/..%2F..%2F..%2Fetc%2Fpasswd",  # URL-encoded ../
        "/api/files/runs/%2e%2e/%2e%2e/%2e%2e/etc/passwd",  # encoded dots
        "/api/files/runs/run/%252e%252e/%252e%252e/etc/passwd",  # double-encoded
        "/api/files/runs/%2Fetc%2Fpasswd",  # absolute, encoded
        "/api/files/runs//etc/passwd",  # absolute
        "/api/files/data/..%5C..%5Cetc%5Cpasswd",  # backslashes
        "/api/files/runs/run/checkpoints/latest.pt",  # not a kind of file the page shows
        "/api/files/runs/.studio/survey.sqlite",  # the studio's own state
        "/api/mixes/..%2Fsurvey.sqlite",
        "/api/mixes/%2Fetc%2Fpasswd",
    ],
)
def test_path_traversal_is_refused(client, url):
    r = client.get(url)
    assert r.status_code in (403, 404), (url, r.status_code)
    assert b"root:" not in r.content


def test_raw_dot_dot_is_refused(client):
    # httpx would normalise "/../" away, so send the raw path through the ASGI app.
    r = client.get("/api/files/runs/run/../../../../etc/passwd")
    assert r.status_code in (403, 404)
    assert b"root:" not in r.content


def test_files_inside_the_roots_are_served(client, tiny_run):
    r = client.get(f"/api/files/runs/{tiny_run.name}/config.yaml")
    assert r.status_code == 200 and b"model" in r.content


def test_safe_join_refuses_every_escape(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    (root / "a" / "link.txt").symlink_to(outside)
    assert safe_join(root, "a/ok.wav") == (root / "a" / "ok.wav").resolve()
    for bad in ["../secret.txt", "a/../../secret.txt", "/etc/passwd.txt", "a\\..\\x.txt",
                "%2e%2e/secret.txt", ".hidden/x.txt", "a/link.txt", "", "~/x.txt", "a/x.exe"]:  # fmt: skip
        with pytest.raises(UnsafePath):
            safe_join(root, bad)


def test_uploads_are_limited_and_checked(client, monkeypatch):
    wave = np.zeros(2205, np.float32)
    buf = io.BytesIO()
    sf.write(buf, wave, 22050, format="WAV")
    assert client.put("/api/uploads/bell.wav", content=buf.getvalue()).status_code == 200
    assert "bell.wav" in client.get("/api/uploads").json()
    assert client.put("/api/uploads/..%2Fescape.wav", content=buf.getvalue()).status_code == 403
    assert client.put("/api/uploads/notes.txt", content=b"hello").status_code == 403
    r = client.put("/api/uploads/fake.wav", content=b"not audio at all")
    assert r.status_code == 422 and "not readable audio" in r.json()["detail"]
    monkeypatch.setattr(app_mod, "MAX_UPLOAD_BYTES", 1000)
    assert client.put("/api/uploads/big.wav", content=buf.getvalue()).status_code == 413
    assert "big.wav" not in client.get("/api/uploads").json()


def test_no_run_gives_a_clear_page(tmp_path):
    empty = studio_client(create_app(tmp_path, tmp_path, tmp_path / "state"))
    s = empty.get("/api/state").json()
    assert s["runs"] == [] and s["datasets"] == []
    assert "No training run here yet" in empty.get("/").text
    r = empty.get("/api/runs/nothing/sample.wav")
    assert r.status_code == 422 and "no run named 'nothing'" in r.json()["detail"]


def test_cli_refuses_a_missing_folder(tmp_path, capsys):
    assert main(["studio", "--runs", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- generate
def test_generate_and_morph_return_wav(client, tiny_run):
    run = tiny_run.name
    wave, sr = _wav(client.get(f"/api/runs/{run}/sample.wav?category=hit&seed=3"))
    assert sr == 22050 and wave.shape == (16384,) and np.abs(wave).max() > 0
    start, _ = _wav(client.get(f"/api/runs/{run}/morph.wav?from=hit&to=tone&position=0&seed=3"))
    end, _ = _wav(client.get(f"/api/runs/{run}/morph.wav?from=hit&to=tone&position=32&seed=3"))
    # position 0 of a class morph is the start class itself (same latent, same conditioning)
    np.testing.assert_allclose(start, wave, atol=2e-4)
    assert not np.allclose(start, end)
    engine = client.app.state.engine
    hits = engine.clips.hits
    client.get(f"/api/runs/{run}/morph.wav?from=hit&to=tone&position=32&seed=3")
    assert engine.clips.hits == hits + 1  # the slider coming back is served from the cache
    png = client.get(f"/api/runs/{run}/morph.png?from=hit&to=tone&position=5&seed=3")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    dl = client.get(f"/api/runs/{run}/sample.wav?category=hit&seed=3&download=true")
    assert dl.headers["content-disposition"].startswith("attachment")


def test_generate_errors_name_the_field(client, tiny_run):
    r = client.get(f"/api/runs/{tiny_run.name}/sample.wav?category=nope")
    assert r.status_code == 422 and "unknown class 'nope'" in r.json()["detail"]
    r = client.get(f"/api/runs/{tiny_run.name}/morph.wav?from=hit&to=tone&position=99")
    assert r.status_code == 422 and "position" in r.json()["detail"]
    for url in ["sample.wav?category=hit&seed=100000000000000000000000",
                "sample.png?category=hit&seed=4294967296", "sample.wav?category=hit&seed=-1",
                "morph.wav?from=hit&to=tone&seed=18446744073709551616"]:  # fmt: skip
        r = client.get(f"/api/runs/{tiny_run.name}/{url}")
        assert r.status_code == 422 and "seed" in str(r.json()["detail"]), url
    body = {"run": tiny_run.name, "dataset": "data", "seed": 10**23}
    assert client.post("/api/surveys", json=body).status_code == 422


# ---------------------------------------------------------------------------------- compose
@pytest.mark.parametrize(
    ("score", "named"),
    [
        ("run: run\nevents:\n  - {at: 0.0, gesture: hit, pan: 3}\n", "pan"),
        ("run: run\nevents:\n  - {at: 0.0, gesture: hit, gian_db: -3}\n", "gian_db"),
        ("run: run\nevents:\n  - {at: -1, gesture: hit}\n", "at must be"),
        ("run: run\nevents:\n  - {at: 0.0, gesture: hti}\n", "unknown category 'hti'"),
        ("run: run\nevents:\n  - {at: 0, morph: {from: hit, to: tone, steps: 1}}\n", "steps"),
        ("run: nowhere\nevents:\n  - {at: 0.0, gesture: hit}\n", "run:"),
        ("run: run\nevents:\n  - {at: 0.0, file: ../../etc/passwd.wav}\n", "file"),
        ("run: run\nevents: [ {at: 0.0\n", "not valid YAML"),
        ("run: run\n", "events"),
        ("run: run\nevents:\n  - {at: 0.0, gesture: hit, gain_db: 7000}\n", "gain_db must be"),
        ("run: run\nevents:\n  - {at: 0, gesture: hit, seed: 100000000000000000000000}\n", "seed"),
        ("run: run\nsr: 2000000000\nevents:\n  - {at: 0.0, gesture: hit}\n", "sr must be"),
        ("run: run\nevents:\n  - {at: 3600, gesture: hit}\n", "at most 16777216 frames"),
    ],
)
def test_malformed_score_names_the_field(client, score, named):
    for endpoint in ("/api/compose/validate", "/api/compose"):
        r = client.post(endpoint, json={"score": score})
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert named in detail and detail.startswith("score.yaml"), detail
        assert ".score-" not in detail  # the temporary name never leaks into messages


def test_oversized_score_is_refused(client):
    r = client.post("/api/compose/validate", json={"score": "#" * (app_mod.MAX_SCORE_CHARS + 1)})
    assert r.status_code == 422


def test_compose_renders_a_stereo_mix(client):
    score = (
        "run: run\nevents:\n  - {at: 0.0, gesture: hit, seed: 1, pan: -0.5}\n"
        "  - {at: 0.3, morph: {from: hit, to: tone, steps: 2, every: 0.2}}\n"
    )
    assert client.post("/api/compose/validate", json={"score": score}).json()["ok"]
    r = client.post("/api/compose", json={"score": score})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [e["kind"] for e in body["events"]] == ["gesture", "morph"]
    wave, sr = _wav(client.get(body["wav"]))
    assert wave.ndim == 2 and wave.shape[1] == 2
    assert math.isclose(len(wave) / sr, body["duration_s"], abs_tol=1e-3)


# ---------------------------------------------------------------------------------- survey
@pytest.fixture(scope="module")
def survey_id(client, tiny_run) -> str:
    body = {"run": tiny_run.name, "dataset": "data", "real": 2, "generated": 2, "morphs": 1}
    r = client.post("/api/surveys", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["n_stimuli"] == 5
    return r.json()["id"]


def test_survey_is_blind_and_randomised(client, survey_id):
    a = client.get(f"/api/surveys/{survey_id}/order?participant=a").json()
    b = client.get(f"/api/surveys/{survey_id}/order?participant=b").json()
    assert sorted(a["stimuli"]) == sorted(b["stimuli"]) and len(a["stimuli"]) == 5
    assert a == client.get(f"/api/surveys/{survey_id}/order?participant=a").json()  # stable
    orders = {tuple(client.get(f"/api/surveys/{survey_id}/order?participant=p{i}").json()["stimuli"])
              for i in range(8)}  # fmt: skip
    assert len(orders) > 1
    text = str(a)
    assert "real" not in text and "generated" not in text and "morph" not in text
    # levelled: one integrated loudness (BS.1770) for all, no sample above -1 dBFS
    levels = []
    for token in a["stimuli"]:
        wave, sr = _wav(client.get(f"/api/surveys/{survey_id}/stimuli/{token}.wav"))
        levels.append(loudness.integrated_lufs(wave, sr))
        assert loudness.peak_db(wave) <= loudness.PEAK_CEILING_DB + 0.01
    assert max(levels) - min(levels) < 0.05


def test_answers_are_validated(client, survey_id):
    token = client.get(f"/api/surveys/{survey_id}/order?participant=x").json()["stimuli"][0]
    base = {"participant": "x", "stimulus": token, "real": True, "category": "hit", "rating": 3}
    url = f"/api/surveys/{survey_id}/answers"
    for field, value in [("rating", 7), ("category", "drone"), ("stimulus", "nope"),
                         ("participant", " ")]:  # fmt: skip
        r = client.post(url, json={**base, field: value})
        assert r.status_code == 422 and r.json()["detail"].startswith(field), r.text


def test_concurrent_submissions_are_all_stored(client, survey_id, tiny_run, tiny_dataset, state):
    order = client.get(f"/api/surveys/{survey_id}/order?participant=c0").json()["stimuli"]
    jobs = [
        {"participant": f"c{i}", "stimulus": order[i % len(order)], "real": i % 2 == 0,
         "category": ("hit", "tone")[i % 2], "rating": 1 + i % 5}
        for i in range(24)
    ]  # fmt: skip

    def submit(job):
        return client.post(f"/api/surveys/{survey_id}/answers", json=job).status_code

    with ThreadPoolExecutor(max_workers=24) as pool:
        codes = list(pool.map(submit, jobs))
    assert codes == [200] * 24
    rows = list(
        csv.DictReader(io.StringIO(client.get(f"/api/surveys/{survey_id}/answers.csv").text))
    )
    mine = {
        (r["participant"], r["stimulus"], r["rating"]) for r in rows if r["participant"][0] == "c"
    }
    assert mine == {(j["participant"], j["stimulus"], str(j["rating"])) for j in jobs}

    # a restart (a new app on the same folders) still has every answer
    again = studio_client(create_app(tiny_run.parent, tiny_dataset, state))
    rows_after = list(
        csv.DictReader(io.StringIO(again.get(f"/api/surveys/{survey_id}/answers.csv").text))
    )
    assert rows_after == rows
    with sqlite3.connect(state / "survey.sqlite") as db:
        n = db.execute("SELECT COUNT(*) FROM answers WHERE participant LIKE 'c%'").fetchone()[0]
    assert n == 24


def test_summary_reports_accuracy_and_intervals(client, survey_id):
    s = client.get(f"/api/surveys/{survey_id}/summary").json()
    assert s["answers"] >= 24 and s["participants"] >= 24
    assert set(s["by_category"]) <= {"hit", "tone"}
    for v in s["by_kind"].values():
        r = v["rating"]
        assert 1 <= r["mean"] <= 5 and (r["low"] is None or r["low"] <= r["mean"] <= r["high"])
    acc = s["overall"]["real_or_generated"]
    assert 0 <= acc["mean"] <= 1


def test_mean_ci_matches_student_t():
    m = mean_ci([1.0, 2.0, 3.0])
    assert m["mean"] == 2.0
    assert math.isclose(m["high"] - 2.0, 4.302653 / math.sqrt(3), rel_tol=1e-5)
    assert mean_ci([4.0])["low"] is None
