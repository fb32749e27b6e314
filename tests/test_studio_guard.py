"""The studio is driven by its user only: a Host allowlist and a session token guard every route;
the mix cache is keyed by content and bounded; concurrent composes all succeed; a run linked from
outside the runs folder is refused alike everywhere; no message shows an absolute path."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from gesturegan.studio import app as app_mod
from gesturegan.studio import create_app
from gesturegan.studio.guard import host_name
from gesturegan.studio.paths import without_roots

TOKEN = "t0ken-for-tests"
LOOPBACK = "http://127.0.0.1:7860"


@pytest.fixture(scope="module")
def app(tiny_run, tiny_dataset, tmp_path_factory):
    return create_app(
        tiny_run.parent, tiny_dataset, tmp_path_factory.mktemp("guard-state"), token=TOKEN,
        allow_hosts=["studio.lan"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def user(app) -> TestClient:
    return TestClient(app, base_url=LOOPBACK, headers={"x-studio-token": TOKEN})


def _wav_bytes(value: float = 0.1, n: int = 2205) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.full(n, value, np.float32), 22050, format="WAV")
    return buf.getvalue()


# Every kind of route: reading state, audio, survey truth, and writing.
ROUTES = [
    ("GET", "/api/state"),
    ("GET", "/api/runs/run"),
    ("GET", "/api/runs/run/sample.wav?category=hit"),
    ("GET", "/api/datasets/data/clips"),
    ("GET", "/api/uploads"),
    ("PUT", "/api/uploads/x.wav"),
    ("POST", "/api/compose"),
    ("POST", "/api/surveys"),
    ("GET", "/api/surveys"),
    ("GET", "/api/surveys/any/answers.csv"),
    ("GET", "/api/surveys/any/summary"),
    ("POST", "/api/surveys/any/answers"),
    ("GET", "/api/docs"),
    ("GET", "/api/openapi.json"),
    ("GET", "/"),
]


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_a_request_without_the_token_is_refused(app, method, url):
    for headers in ({}, {"x-studio-token": "wrong"}, {"cookie": "studio_x=" + TOKEN}):
        r = TestClient(app, base_url=LOOPBACK).request(method, url, headers=headers, json={})
        assert r.status_code == 401, (url, headers, r.status_code)
        assert "token" in r.text and "hit" not in r.text


@pytest.mark.parametrize(("method", "url"), ROUTES)
@pytest.mark.parametrize("host", ["evil.example", "evil.example:7860", "127.0.0.1.evil.example"])
def test_a_foreign_host_is_refused_even_with_the_token(app, method, url, host):
    # DNS rebinding: the attacker's name resolves to 127.0.0.1, the Host header still says it.
    client = TestClient(app, base_url=f"http://{host}", headers={"x-studio-token": TOKEN})
    r = client.request(method, url, json={})
    assert r.status_code == 403 and "not allowed" in r.json()["detail"], (url, host)


def test_a_foreign_origin_is_refused(user):
    r = user.post("/api/surveys", json={}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    assert user.get("/api/state", headers={"origin": LOOPBACK}).status_code == 200


def test_allowed_hosts(app, user):
    assert user.get("/api/state").status_code == 200
    for host in ["localhost:7860", "[::1]:7860", "studio.lan", "STUDIO.LAN:80"]:
        client = TestClient(app, base_url=f"http://{host}", headers={"x-studio-token": TOKEN})
        assert client.get("/api/state").status_code == 200, host
    assert host_name("[::1]:7860") == "::1" and host_name("http://a.b:1") == "a.b"
    assert host_name("a:b:c") is None


def test_opening_the_printed_url_sets_a_strict_cookie_and_drops_the_token(app):
    browser = TestClient(app, base_url=LOOPBACK, follow_redirects=False)
    assert browser.get(f"/?token={TOKEN}x").status_code == 401
    r = browser.get(f"/?token={TOKEN}")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and TOKEN.lower() in cookie
    assert browser.get("/").status_code == 200  # the cookie now carries the session
    assert browser.get("/api/surveys").status_code == 200
    assert TestClient(app, base_url=LOOPBACK).get("/static/app.js").status_code == 200


def test_survey_truth_needs_the_token(app, user, tiny_run):
    body = {"run": tiny_run.name, "dataset": "data", "real": 1, "generated": 1, "morphs": 0}
    survey = user.post("/api/surveys", json=body).json()["id"]
    assert user.get(f"/api/surveys/{survey}/answers.csv").status_code == 200
    stranger = TestClient(app, base_url=LOOPBACK)
    for url in (f"/api/surveys/{survey}/answers.csv", f"/api/surveys/{survey}/summary"):
        assert stranger.get(url).status_code == 401


def test_each_start_has_its_own_token(tiny_run, tmp_path):
    a, b = (create_app(tiny_run.parent, None, tmp_path / "s") for _ in range(2))
    assert a.state.token != b.state.token and len(a.state.token) >= 40


# ---------------------------------------------------------------------------------- mixes
def test_many_composes_at_once_all_succeed_and_identical_scores_render_once(user, app):
    assert user.put("/api/uploads/tick.wav", content=_wav_bytes()).status_code == 200
    scores = [
        f"events:\n  - {{at: {i * 0.01:.2f}, file: tick.wav, pan: {(i % 5 - 2) / 2}}}\n"
        for i in range(12)
    ] + ["run: run\nevents:\n  - {at: 0, gesture: hit, seed: 1}\n"]
    jobs = [scores[i % len(scores)] for i in range(60)]

    def compose(score):
        r = user.post("/api/compose", json={"score": score})
        return r.status_code, r.json().get("wav")

    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(compose, jobs))
    assert [code for code, _ in results] == [200] * len(jobs)
    urls = {score: {wav for (_, wav), s in zip(results, jobs, strict=True) if s == score}
            for score in scores}  # fmt: skip
    assert all(len(u) == 1 for u in urls.values())  # one mix per score content
    assert len({next(iter(u)) for u in urls.values()}) == len(scores)
    for u in urls.values():
        assert user.get(next(iter(u))).status_code == 200


def test_a_replaced_upload_renders_anew(user):
    score = "events:\n  - {at: 0, file: swap.wav}\n"
    user.put("/api/uploads/swap.wav", content=_wav_bytes(0.1))
    first = user.post("/api/compose", json={"score": score}).json()["wav"]
    assert user.post("/api/compose", json={"score": score}).json()["wav"] == first
    user.put("/api/uploads/swap.wav", content=_wav_bytes(0.2))
    second = user.post("/api/compose", json={"score": score}).json()["wav"]
    assert second != first


def test_the_mix_cache_is_bounded(user, app):
    user.put("/api/uploads/long.wav", content=_wav_bytes(0.1, n=22050))
    mixes = []
    for i in range(6):
        r = user.post("/api/compose", json={"score": f"events:\n  - {{at: {i}, file: long.wav}}\n"})
        mixes.append(r.json()["wav"])
    folder = app.state.mixes.folder
    total = sum(p.stat().st_size for p in folder.glob("*.wav"))
    bound, before = total // 2, app.state.mixes.max_bytes
    app.state.mixes.max_bytes = bound
    try:
        last = user.post("/api/compose", json={"score": "events:\n  - {at: 7, file: long.wav}\n"})
        assert last.status_code == 200
        wavs = list(folder.glob("*.wav"))
        assert sum(p.stat().st_size for p in wavs) <= bound
        assert user.get(last.json()["wav"]).status_code == 200  # the newest is kept
        assert user.get(mixes[0]).status_code == 404  # the least recently used went first
        assert all(p.with_name(p.name + ".json").is_file() for p in wavs)
    finally:
        app.state.mixes.max_bytes = before


def test_uploads_are_bounded_together(user, monkeypatch):
    monkeypatch.setattr(app_mod, "MAX_UPLOADS_BYTES", 3 * len(_wav_bytes()))
    for name in ("one.wav", "two.wav", "three.wav", "four.wav"):
        user.delete(f"/api/uploads/{name}")
    names = set(user.get("/api/uploads").json())
    for name in sorted(names):
        user.delete(f"/api/uploads/{name}")
    assert user.get("/api/uploads").json() == []
    for name in ("one.wav", "two.wav", "three.wav"):
        assert user.put(f"/api/uploads/{name}", content=_wav_bytes()).status_code == 200
    r = user.put("/api/uploads/four.wav", content=_wav_bytes())
    assert r.status_code == 413 and "delete some" in r.json()["detail"]
    assert user.put("/api/uploads/one.wav", content=_wav_bytes(0.3)).status_code == 200  # replace
    assert user.delete("/api/uploads/two.wav").status_code == 200
    assert user.put("/api/uploads/four.wav", content=_wav_bytes()).status_code == 200


# ---------------------------------------------------------------------------------- folders
def test_a_run_linked_from_outside_is_refused_on_every_route(tiny_run, tiny_dataset, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "linked").symlink_to(tiny_run.resolve(), target_is_directory=True)
    app = create_app(runs, tiny_dataset, tmp_path / "state", token=TOKEN)
    client = TestClient(app, base_url=LOOPBACK, headers={"x-studio-token": TOKEN})
    assert client.get("/api/state").json()["runs"] == []
    for url in ["/api/runs/linked", "/api/runs/linked/metrics",
                "/api/runs/linked/sample.wav?category=hit",
                "/api/runs/linked/morph.wav?from=hit&to=tone"]:  # fmt: skip
        r = client.get(url)
        assert r.status_code == 422 and "no run named 'linked'" in r.json()["detail"], url
    assert client.get("/api/files/runs/linked/config.yaml").status_code == 403
    r = client.post("/api/compose", json={"score": "run: linked\nevents: [{at: 0, gesture: hit}]"})
    assert r.status_code == 422 and "no run named 'linked'" in r.json()["detail"]
    body = {"run": "linked", "dataset": "data"}
    assert client.post("/api/surveys", json=body).status_code == 422


def test_no_message_shows_an_absolute_path(user, tiny_run, tiny_dataset):
    details = [
        user.put("/api/uploads/noise.wav", content=b"not audio").json()["detail"],
        user.get("/api/runs/nothing").json()["detail"],
        user.get("/api/datasets/nothing/clips").json()["detail"],
        user.post("/api/compose", json={"score": "events: [{at: 0, file: gone.wav}]"}).json()[
            "detail"
        ],
        user.post("/api/compose", json={"score": "run: nothing\nevents: [{at: 0, gesture: a}]"})
        .json()["detail"],
        user.get("/api/surveys/nothing/summary").json()["detail"],
    ]
    roots = {str(Path(p).resolve()) for p in (tiny_run, tiny_dataset)} | {"/tmp", "/work", "/root"}
    for detail in details:
        assert not any(root in detail for root in roots), detail
        assert ": /" not in detail and " /" not in detail, detail


def test_messages_name_folders_by_role(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    roots = {"<runs>": Path("runs"), "<state>": tmp_path / "runs" / ".studio"}
    message = f"cannot read {tmp_path}/runs/.studio/x and {tmp_path.resolve()}/runs/r/g.json"
    assert without_roots(message, roots) == "cannot read <state>/x and <runs>/r/g.json"


def test_a_participant_link_reaches_its_survey_and_nothing_else(app, user, tiny_run, tmp_path):
    body = {"run": tiny_run.name, "dataset": "data", "real": 1, "generated": 1, "morphs": 0}
    mine, other = (user.post("/api/surveys", json=body).json()["id"] for _ in range(2))
    links = {s["id"]: s["participant_url"] for s in user.get("/api/surveys").json()}
    key = links[mine].split("key=")[1].split("#")[0]
    assert links[mine] == f"/?survey={mine}&key={key}"
    participant = TestClient(app, base_url=LOOPBACK, headers={"x-survey-key": key})
    assert participant.get(links[mine]).status_code == 200  # the page opens
    order = participant.get(f"/api/surveys/{mine}/order?participant=p1").json()["stimuli"]
    stranger = TestClient(app, base_url=LOOPBACK)
    wav = f"/api/surveys/{mine}/stimuli/{order[0]}.wav"
    assert stranger.get(f"{wav}?key={key}").status_code == 200  # an <audio> src carries the key
    assert stranger.get(wav).status_code == 401
    answer = {"participant": "p1", "stimulus": order[0], "real": True, "category": "hit",
              "rating": 4}  # fmt: skip
    assert participant.post(f"/api/surveys/{mine}/answers", json=answer).status_code == 200
    for url in [f"/api/surveys/{mine}/answers.csv", f"/api/surveys/{mine}/summary", "/api/surveys",
                "/api/state", f"/api/surveys/{other}/order?participant=p1", "/api/uploads",
                f"/?survey={other}"]:  # fmt: skip
        assert participant.get(url).status_code == 401, url
    wrong = TestClient(
        app, base_url=LOOPBACK, headers={"x-survey-key": key[:-1] + ("1" if key[-1] == "0" else "0")}
    )
    assert wrong.get(f"/api/surveys/{mine}/order?participant=p1").status_code == 401
    # the same state folder after a restart: the same links still work
    again = create_app(tiny_run.parent, None, app.state.mixes.folder.parent, token="other")
    assert (
        TestClient(again, base_url=LOOPBACK, headers={"x-survey-key": key})
        .get(f"/api/surveys/{mine}/order?participant=p1")
        .status_code
        == 200
    )
