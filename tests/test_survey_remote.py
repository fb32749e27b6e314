"""Remote participants: invitations, the participant-only server, and its bounds.

The server of one survey reaches that survey's pages for a valid invitation token and nothing
else: an unknown token, a token of another survey, any studio route or file is 404; bodies and
request rates are bounded; every answer is committed at once and survives a restart.
"""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from gesturegan.cli import main
from gesturegan.survey.server import create_survey_app
from gesturegan.survey.store import SurveyStore

SR = 16000
pytest.importorskip("av")


def clip(f: float) -> np.ndarray:
    t = np.arange(SR // 2) / SR
    return (0.3 * np.sin(2 * np.pi * f * t) * np.exp(-4 * t)).astype(np.float32)


def new_survey(store: SurveyStore) -> str:
    clips = [("real", "hit", "clip 0", clip(300)), ("generated", "tone", "seed 1", clip(600)),
             ("morph", "", "hit -> tone", clip(900))]  # fmt: skip
    return store.create("run", "data", ["hit", "tone"], clips, SR)


@pytest.fixture
def setup(tmp_path):
    store = SurveyStore(tmp_path / "state" / "survey.sqlite", tmp_path / "state" / "surveys")
    sid, other = new_survey(store), new_survey(store)
    return tmp_path, store, sid, other


def answer(client, token, stimulus, **extra):
    body = {"stimulus": stimulus, "real": True, "category": "hit", "rating": 4, **extra}
    return client.post(f"/i/{token}/answers", json=body)


def test_invitations_are_random_numbered_and_durable(setup):
    tmp_path, store, sid, _ = setup
    first = store.invite(sid, 3)
    assert [p for p, _ in first] == ["P001", "P002", "P003"]
    assert len({t for _, t in first}) == 3 and all(len(t) >= 22 for _, t in first)
    assert [p for p, _ in store.invite(sid, 2)] == ["P004", "P005"]
    again = SurveyStore(tmp_path / "state" / "survey.sqlite", tmp_path / "state" / "surveys")
    assert again.invitations(sid) == [*first, *again.invitations(sid)[3:]]
    assert again.invited(sid, first[0][1]) == "P001"


def test_an_invited_participant_takes_the_survey_and_answers_survive_a_restart(setup):
    tmp_path, store, sid, _ = setup
    (who, token), (_, token2) = store.invite(sid, 2)
    client = TestClient(create_survey_app(store, sid))
    page = client.get(f"/i/{token}")
    assert page.status_code == 200 and "Listening survey" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    order = client.get(f"/i/{token}/order").json()
    assert order["categories"] == ["hit", "tone"] and len(order["stimuli"]) == 3
    assert order["answered"] == []
    assert order["stimuli"] == store.order_for(sid, who)
    video = client.get(f"/i/{token}/stimuli/{order['stimuli'][0]}.webm")
    assert video.status_code == 200 and video.headers["content-type"] == "video/webm"
    # the body cannot choose who answers: the token does
    assert answer(client, token, order["stimuli"][0], participant="P002").status_code == 200
    assert answer(client, token, order["stimuli"][0], rating=2).status_code == 200  # replaces
    assert answer(client, token2, order["stimuli"][1]).status_code == 200
    assert client.get(f"/i/{token}/order").json()["answered"] == [order["stimuli"][0]]
    restarted = SurveyStore(tmp_path / "state" / "survey.sqlite", tmp_path / "state" / "surveys")
    rows = sorted((a["participant"], a["token"], a["rating"]) for a in restarted.answers(sid))
    assert rows == sorted([("P001", order["stimuli"][0], 2), ("P002", order["stimuli"][1], 4)])
    bad = answer(client, token, order["stimuli"][1], rating=9)
    assert bad.status_code == 422 and "rating" in bad.json()["detail"]


def test_an_invalid_or_reused_elsewhere_token_is_refused(setup):
    _, store, sid, other = setup
    store.invite(sid, 1)
    ((_, foreign),) = store.invite(other, 1)  # valid, but for the other survey
    stimulus = store.stimuli(sid)[0].token
    client = TestClient(create_survey_app(store, sid))
    for token in ("not-a-token", foreign, "", "%2e%2e"):
        for path in (f"/i/{token}", f"/i/{token}/order", f"/i/{token}/stimuli/{stimulus}.webm"):
            assert client.get(path).status_code == 404, path
        assert answer(client, token, stimulus).status_code in (404, 405)
    assert store.answers(sid) == [] and store.answers(other) == []


@pytest.mark.parametrize("path", [
    "/", "/?token=x", "/api/state", "/api/surveys", "/api/docs", "/api/openapi.json", "/docs",
    "/openapi.json", "/api/runs/run", "/api/files/runs/x.wav", "/static/../survey.sqlite",
    "/static/app.js", "/survey.sqlite", "/surveys",
])  # fmt: skip
def test_no_studio_route_or_file_is_reachable(setup, path):
    _, store, sid, _ = setup
    client = TestClient(create_survey_app(store, sid))
    assert client.get(path).status_code == 404
    csv_path = f"/api/surveys/{sid}/answers.csv"
    assert client.get(csv_path).status_code == 404


def test_bodies_and_rates_are_bounded(setup):
    _, store, sid, _ = setup
    ((_, token),) = store.invite(sid, 1)
    stimulus = store.stimuli(sid)[0].token
    client = TestClient(create_survey_app(store, sid))
    big = client.post(f"/i/{token}/answers", content=b"{" + b" " * 10_000 + b"}",
                      headers={"content-type": "application/json"})  # fmt: skip
    assert big.status_code == 413
    chunked = client.post(f"/i/{token}/answers", content=iter([b"{" + b" " * 3000] * 3),
                          headers={"content-type": "application/json"})  # no Content-Length
    assert chunked.status_code == 413
    limited = TestClient(create_survey_app(store, sid, per_minute=5))
    codes = [answer(limited, token, stimulus).status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2


def test_survey_cli_lists_invites_and_reports(setup, capsys):
    tmp_path, store, sid, _ = setup
    state = str(tmp_path / "state")
    assert main(["survey", "invite", sid, "--n", "2", "--state", state,
                 "--url", "https://survey.example.org/"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["P001", "P002"]
    assert all(line.split()[1].startswith("https://survey.example.org/i/") for line in lines)
    token = lines[0].split("/i/")[1]
    assert store.invited(sid, token) == "P001"
    assert main(["survey", "list", "--state", state]) == 0
    assert sid in capsys.readouterr().out
    answer(TestClient(create_survey_app(store, sid)), token, store.stimuli(sid)[0].token)
    assert main(["survey", "report", sid, "--state", state, "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "report.md").is_file() and (tmp_path / "r" / "answers.csv").is_file()
    assert main(["survey", "invite", "nope", "--state", state]) == 2
    assert main(["survey", "list", "--state", str(tmp_path / "empty")]) == 2


def test_parallel_participants_all_stored_and_kept_after_a_restart(setup):
    from concurrent.futures import ThreadPoolExecutor

    tmp_path, store, sid, _ = setup
    invites = store.invite(sid, 8)
    stimuli = [s.token for s in store.stimuli(sid)]
    client = TestClient(create_survey_app(store, sid))
    jobs = [(token, s) for _, token in invites for s in stimuli]  # 24 answers at once
    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(lambda job: answer(client, *job).status_code, jobs))
    assert codes == [200] * len(jobs)
    again = SurveyStore(tmp_path / "state" / "survey.sqlite", tmp_path / "state" / "surveys")
    stored = {(a["participant"], a["token"]) for a in again.answers(sid)}
    assert stored == {(who, s) for who, _ in invites for s in stimuli}


def test_a_revoked_invitation_stops_at_once_and_its_answers_stay(setup, capsys):
    tmp_path, store, sid, _ = setup
    (_, token), _ = store.invite(sid, 2)
    client = TestClient(create_survey_app(store, sid))
    stimulus = store.stimuli(sid)[0].token
    assert answer(client, token, stimulus).status_code == 200
    assert main(["survey", "revoke", sid, "P001", "--state", str(tmp_path / "state")]) == 0
    assert client.get(f"/i/{token}/order").status_code == 404
    assert answer(client, token, stimulus, rating=1).status_code == 404
    assert [(a["participant"], a["rating"]) for a in store.answers(sid)] == [("P001", 4)]
    assert main(["survey", "revoke", sid, "P002", "--state", str(tmp_path / "state")]) == 0
    assert [p for p, _ in store.invite(sid, 1)] == ["P003"]  # no id is given twice
    assert [p for p, _ in store.invitations(sid)] == ["P003"]
    assert main(["survey", "revoke", sid, "P001", "--state", str(tmp_path / "state")]) == 2
