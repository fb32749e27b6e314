"""``gesturegan survey serve``: the participant pages of one survey, for participants anywhere.

The app has only these routes, all under an invitation token (``store.invite``):

- ``GET /i/{token}``: the page (``static/take.html``; its script and style under ``/static/``);
- ``GET /i/{token}/order``: the categories and the stimuli in this participant's order, with the
  ones already answered (so a participant who comes back goes on where they stopped);
- ``GET /i/{token}/stimuli/{stimulus}.webm``: a stimulus video;
- ``POST /i/{token}/answers``: one answer, stored for the participant the token invites.

No studio route, no file path from the request, no API docs. A token that does not invite to this
survey (unknown, or invited to another one) is 404, like any other unknown address. Request bodies
are at most ``MAX_BODY_BYTES`` (413); each client address gets ``RATE_PER_MINUTE`` requests a
minute (429 beyond). Put it behind a TLS reverse proxy (docs/studio.md); it trusts the proxy's
``X-Forwarded-For`` only from loopback.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import defaultdict, deque
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import UserError
from .store import SurveyStore

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 4096  # an answer is a few dozen bytes
RATE_PER_MINUTE = 600  # per client address: a page, its videos (range requests) and answers
_MAX_CLIENTS = 10_000  # addresses remembered by the rate limit before quiet ones are dropped
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the address: never send it onwards
    "Cache-Control": "no-store",
    # only this server's own script, style and videos; never inside another site's frame
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'",
}


class AnswerBody(BaseModel):
    stimulus: str = Field(max_length=64)
    real: bool
    category: str = Field(max_length=200)
    rating: int


class Limits:
    """ASGI middleware: 413 for a body over ``max_body`` bytes, 429 past ``per_minute`` requests
    from one client address in the last 60 s. Sets the privacy headers on every answer."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES, per_minute: int = RATE_PER_MINUTE):
        self.app, self.max_body, self.per_minute = app, max_body, per_minute
        self.seen: dict[str, deque[float]] = defaultdict(deque)
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        now = time.monotonic()
        with self.lock:
            if len(self.seen) > _MAX_CLIENTS:  # forget addresses quiet for a minute
                for quiet in [c for c, t in self.seen.items() if t[-1] < now - 60.0]:
                    del self.seen[quiet]
            times = self.seen[client]
            while times and times[0] < now - 60.0:
                times.popleft()
            times.append(now)
            busy = len(times) > self.per_minute
        if busy:
            await _plain(429, "too many requests; wait a minute")(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _plain(413, "request too large")(scope, receive, send)
            return
        received = 0

        async def bounded_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise HTTPException(413, "request too large")
            return message

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in _HEADERS.items()]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, bounded_receive, send_with_headers)


def _plain(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=_HEADERS)


def create_survey_app(
    store: SurveyStore, survey_id: str, max_body: int = MAX_BODY_BYTES,
    per_minute: int = RATE_PER_MINUTE,
) -> FastAPI:  # fmt: skip
    """The participant app of survey ``survey_id`` in ``store`` (see the module docstring)."""
    info = store.survey(survey_id)
    app = FastAPI(title="listening survey", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(Limits, max_body=max_body, per_minute=per_minute)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def participant(token: str) -> str:
        who = store.invited(survey_id, token)
        if who is None:
            raise HTTPException(404, "this invitation link is not valid")
        return who

    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.get("/i/{token}")
    def page(token: str) -> FileResponse:
        participant(token)
        return FileResponse(STATIC / "take.html")

    @app.get("/i/{token}/order")
    def order(token: str) -> dict:
        who = participant(token)
        return {
            "categories": info["categories"],
            "stimuli": store.order_for(survey_id, who),
            "answered": store.answered(survey_id, who),
        }

    @app.get("/i/{token}/stimuli/{stimulus}.webm")
    def stimulus(token: str, stimulus: str) -> FileResponse:
        participant(token)
        return FileResponse(store.stimulus_video(survey_id, stimulus), media_type="video/webm")

    @app.post("/i/{token}/answers")
    def answer(token: str, body: AnswerBody) -> dict:
        who = participant(token)
        store.answer(survey_id, who, body.stimulus, body.real, body.category, body.rating)
        return {"stored": True}

    return app


def prepare(store: SurveyStore, survey_id: str) -> int:
    """Encode every stimulus video of ``survey_id`` not made yet (so no participant waits for
    one); returns how many stimuli there are."""
    stimuli = store.stimuli(survey_id)
    for s in stimuli:
        store.stimulus_video(survey_id, s.token)
    return len(stimuli)


def serve(store: SurveyStore, survey_id: str, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve survey ``survey_id`` to invited participants until interrupted (uvicorn)."""
    import uvicorn

    app = create_survey_app(store, survey_id)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving plain HTTP on {host}: put a TLS reverse proxy in front "
              "(docs/studio.md#remote-survey), or the links' tokens travel in clear", file=sys.stderr)  # fmt: skip
    uvicorn.run(
        app, host=host, port=port, log_level="warning", proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )  # fmt: skip
