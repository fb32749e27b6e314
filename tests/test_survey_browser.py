"""A remote participant in a real browser (Debian's chromium driven by Playwright): the invitation
link opens the survey, each stimulus video (VP9 + Opus in WebM) plays, the answers are stored, and
the studio's routes are not there.

``GESTUREGAN_SCREENSHOTS=1`` saves the participant page to ``docs/img/survey-participant.png``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = os.environ.get("GESTUREGAN_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "img"
SR = 22050

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).is_file() and shutil.which("chromium") is None,
        reason="chromium is not installed (make test installs it)",
    ),
]
pytest.importorskip("av")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clip(f: float, seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.4 * np.sin(2 * np.pi * f * t * (1 + t)) * np.exp(-1.5 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    import uvicorn

    from gesturegan.survey.server import create_survey_app, prepare
    from gesturegan.survey.store import SurveyStore

    state = tmp_path_factory.mktemp("survey-browser")
    store = SurveyStore(state / "survey.sqlite", state / "surveys")
    clips = [("real", "hit", "clip 0", _clip(300)), ("generated", "tone", "seed 1", _clip(700)),
             ("morph", "", "hit -> tone", _clip(500))]  # fmt: skip
    sid = store.create("run", "data", ["hit", "tone"], clips, SR)
    prepare(store, sid)
    ((who, token),) = store.invite(sid, 1)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_survey_app(store, sid), host="127.0.0.1",
                                           port=port, log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "survey server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store, sid, who, token
    server.should_exit = True
    thread.join(timeout=10)


def test_participant_watches_and_answers_every_clip(survey):
    from playwright.sync_api import sync_playwright

    base, store, sid, who, token = survey
    # The page runs under its Content-Security-Policy (no eval): the waits below pass functions.
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium"),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--autoplay-policy=no-user-gesture-required"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 760, "height": 900})
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # a policy violation or a failed load of the page's own code shows on the console
        page.on("console", lambda m: errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        page.goto(f"{base}/i/{token}")
        for i in range(3):
            page.wait_for_function(f"() => document.querySelector('#progress').textContent"
                                   f".startsWith('Clip {i + 1} of 3')")  # fmt: skip
            page.wait_for_function("() => document.querySelector('#video').readyState >= 2")
            assert page.evaluate("document.querySelector('#video').videoWidth") == 640
            # the browser reads the clip's duration from the file (1.5 s, whole frames of 40 ms)
            assert page.evaluate("document.querySelector('#video').duration") == pytest.approx(
                1.5, abs=0.045)
            page.evaluate("document.querySelector('#video').play()")
            # the video plays: its clock advances
            page.wait_for_function("() => document.querySelector('#video').currentTime > 0.3")
            assert page.evaluate("document.querySelector('#video').error") is None
            # and its sound is decoded too (Chromium's own counter)
            page.wait_for_function("() => document.querySelector('#video').webkitAudioDecodedByteCount > 0")
            if i == 0 and os.environ.get("GESTUREGAN_SCREENSHOTS"):
                page.evaluate("document.querySelector('#video').pause()")
                page.check("input[name=real][value=false]")
                page.select_option("#category", "tone")
                page.check("input[name=rating][value='4']")
                page.screenshot(path=str(SHOTS / "survey-participant.png"))
            page.check("input[name=real][value=true]" if i % 2 else "input[name=real][value=false]")
            page.select_option("#category", "tone")
            page.check(f"input[name=rating][value='{i + 2}']")
            page.click("#next")
        page.wait_for_selector("#done:not([hidden])")
        rows = store.answers(sid)
        assert len(rows) == 3 and {r["participant"] for r in rows} == {who}
        assert sorted(r["rating"] for r in rows) == [2, 3, 4]
        # coming back: the page goes on where it stopped (here: done)
        page.goto(f"{base}/i/{token}")
        page.wait_for_selector("#done:not([hidden])")
        taking_errors = list(errors)
        # the studio is not there, nor another link
        for path in ("/", "/?token=x", "/api/state", f"/api/surveys/{sid}/answers.csv",
                     "/api/docs", "/i/not-a-token"):  # fmt: skip
            assert page.goto(base + path).status == 404, path
        browser.close()
    assert not taking_errors, taking_errors
