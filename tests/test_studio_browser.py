"""The studio page in a real browser (Debian's chromium driven by Playwright): every view opens,
clips play, the morph slider brings new audio, a score renders, a 3-clip survey is completed and its
answers come back in the CSV export.

``GESTUREGAN_SCREENSHOTS=1`` also saves a screenshot of each view to ``docs/img/studio-*.png``;
``GESTUREGAN_STUDIO_RUNS`` / ``GESTUREGAN_STUDIO_DATA`` point the test at other folders than the tiny
fixtures (the screenshots in docs/commands.md come from the demo run this way).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("GESTUREGAN_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "img"
TOKEN = "browser-test-token"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).is_file() and shutil.which("chromium") is None,
        reason="chromium is not installed (make test installs it)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_run, tiny_dataset, tmp_path_factory):
    import uvicorn

    from gesturegan.studio import create_app

    runs = os.environ.get("GESTUREGAN_STUDIO_RUNS", tiny_run.parent)
    data = os.environ.get("GESTUREGAN_STUDIO_DATA", tiny_dataset)
    app = create_app(runs, data, tmp_path_factory.mktemp("studio-browser"), token=TOKEN)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "studio server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium"),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        pg = browser.new_page(viewport={"width": 1280, "height": 860})
        pg.set_default_timeout(30_000)
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.goto(server + "/?token=" + TOKEN + "#generate")
        yield pg
        browser.close()
        assert not errors, errors


def _shot(page, name: str) -> None:
    if os.environ.get("GESTUREGAN_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"studio-{name}.png"))


def _has_duration(page, selector: str) -> None:
    """Wait until the audio or video element has loaded a clip and knows its length."""
    page.wait_for_function(
        "sel => { const a = document.querySelector(sel); return a && a.duration > 0 }", arg=selector
    )


@pytest.fixture(scope="module")
def cats(page, server) -> list[str]:
    """The first run's categories (the tiny run's: hit, tone)."""
    return page.request.get(f"{server}/api/state").json()["runs"][0]["categories"]


def test_the_page_opened_with_the_token_drops_it_from_the_address(page, server):
    assert "token" not in page.url  # redirected to / with the session cookie
    assert page.request.get(f"{server}/api/state").ok  # the page's context carries the cookie


def test_generate_and_morph(page, cats):
    page.goto(page.url.split("#")[0] + "#generate")
    page.select_option("#gen-category", cats[1])
    page.fill("#gen-seed", "2")
    page.click("#gen-play")
    _has_duration(page, "#gen-audio")
    assert f"category={cats[1]}" in page.get_attribute("#gen-download", "href")

    page.select_option("#morph-from", cats[0])
    page.select_option("#morph-to", cats[1])
    with page.expect_response(lambda r: "morph.wav" in r.url and "position=24" in r.url) as resp:
        page.fill("#morph-slider", "24")
    assert resp.value.status == 200 and resp.value.headers["content-type"] == "audio/wav"
    page.wait_for_function("document.querySelector('#morph-audio').src.includes('position=24')")
    _has_duration(page, "#morph-audio")
    first = page.eval_on_selector("#morph-audio", "a => a.src")
    page.fill("#morph-slider", "8")
    page.wait_for_function("document.querySelector('#morph-audio').src.includes('position=8')")
    _has_duration(page, "#morph-audio")
    assert page.eval_on_selector("#morph-audio", "a => a.src") != first
    _shot(page, "generate")


def test_library(page, cats):
    page.goto(page.url.split("#")[0] + "#library")
    page.wait_for_selector("#lib-grid .clip")
    page.select_option("#lib-label", cats[0])
    page.wait_for_function(
        "c => [...document.querySelectorAll('#lib-grid .clip strong')].every(s => s.textContent === c)",
        arg=cats[0],
    )
    card = page.locator("#lib-grid .clip").first
    card.locator("img").click()
    page.wait_for_function(
        "document.querySelector('#lib-grid .clip .features').textContent.includes('heard as')"
    )
    card.locator("audio").evaluate("a => { a.preload = 'auto'; a.load(); }")
    _has_duration(page, "#lib-grid .clip audio")
    _shot(page, "library")


def test_runs(page):
    page.goto(page.url.split("#")[0] + "#runs")
    page.wait_for_selector("#runs-table tbody tr")
    page.wait_for_selector("#run-detail:not([hidden])")
    page.wait_for_function("document.querySelector('#run-status').textContent.includes('step')")
    assert page.locator("#run-grids .stage-grid").count() >= 1
    _shot(page, "runs")


def test_compose(page):
    page.goto(page.url.split("#")[0] + "#compose")
    page.wait_for_function("document.querySelector('#score-msg').textContent.includes('valid')")
    good = page.input_value("#score")
    page.fill("#score", good.replace("pan: -0.5", "pan: -5"))
    page.wait_for_function("document.querySelector('#score-msg').textContent.includes('pan')")
    assert "error" in page.get_attribute("#score-msg", "class")
    page.fill("#score", good)
    page.click("#score-render")
    page.wait_for_function("document.querySelector('#score-msg').textContent.includes('rendered')")
    _has_duration(page, "#score-audio")
    assert page.locator("#score-events tr").count() == 4  # header + 3 events
    _shot(page, "compose")


def test_survey(page, server, cats):
    page.goto(page.url.split("#")[0] + "#survey")
    page.fill("#sv-real", "1")
    page.fill("#sv-generated", "1")
    page.fill("#sv-morphs", "1")
    page.click("#sv-build")
    page.wait_for_function("document.querySelector('#sv-build-msg').textContent.includes('built')")
    survey_id = page.text_content("#sv-build-msg").split()[1]
    row = page.locator(f"#sv-list tr[data-survey='{survey_id}']")
    row.locator(".sv-take").click()
    page.fill("#sv-participant", "tester")
    page.click("#sv-start")
    answers = [("real", cats[0], "4"), ("generated", cats[1], "2"), ("real", cats[1], "5")]
    for i, (real, category, rating) in enumerate(answers):
        page.wait_for_function(
            f"document.querySelector('#sv-progress').textContent === 'Clip {i + 1} of 3'"
        )
        _has_duration(page, "#sv-video")
        page.check(f"input[name=sv-real][value={real}]")
        page.select_option("#sv-category", category)
        page.check(f"input[name=sv-rating][value='{rating}']")
        if i == 0:
            _shot(page, "survey")
        page.click("#sv-next")
    page.wait_for_selector("#sv-done:not([hidden])")

    csv_text = page.request.get(f"{server}/api/surveys/{survey_id}/answers.csv").text()
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert len(rows) == 3 and {r["participant"] for r in rows} == {"tester"}
    got = sorted((r["answered_real"], r["answered_category"], r["rating"]) for r in rows)
    assert got == sorted(answers)

    row.locator(".sv-results").click()
    page.wait_for_selector("#sv-results table")
    assert "3 answers" in page.text_content("#sv-results")
    _shot(page, "survey-results")


def test_a_participant_link_opens_the_survey_alone(page, server):
    runs = page.request.get(f"{server}/api/state").json()
    body = {"run": runs["runs"][0]["name"], "dataset": runs["datasets"][0], "real": 1,
            "generated": 1, "morphs": 0}  # fmt: skip
    built = page.request.post(f"{server}/api/surveys", data=body).json()["id"]
    survey = next(s for s in page.request.get(f"{server}/api/surveys").json() if s["id"] == built)
    context = page.context.browser.new_context()  # another browser: no session cookie
    try:
        guest = context.new_page()
        guest.goto(server + survey["participant_url"])
        guest.wait_for_selector("#sv-join:not([hidden])")
        assert not guest.is_visible("nav") and not guest.is_visible("#sv-list")
        guest.fill("#sv-participant", "guest")
        guest.click("#sv-start")
        _has_duration(guest, "#sv-video")
        csv_url = f"{server}/api/surveys/{survey['id']}/answers.csv"
        assert guest.request.get(csv_url).status == 401
    finally:
        context.close()
