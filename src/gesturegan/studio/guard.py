"""Who may drive the studio: a Host allowlist and a session token, checked before any route runs.

A web page the user happens to visit can reach ``127.0.0.1`` too: by DNS rebinding (its own name
resolving to the loopback address, so its requests carry ``Host: evil.example``) or by plain
cross-site requests. So every request must

- name an allowed host in its ``Host`` header (loopback names by default, more with
  ``--allow-host``), and its ``Origin``, when it sends one, must be such a host too;
- carry the session token: ``X-Studio-Token: <token>`` or the cookie the page gets when it is opened
  with ``/?token=<token>`` (the URL ``gesturegan studio`` prints). That request is answered with a
  redirect to ``/`` setting an ``HttpOnly``, ``SameSite=Strict`` cookie, so the token leaves the
  address bar, and the page's own requests (``fetch``, ``<img>``, ``<audio>``, links) carry it.

Only ``/static/`` (the page's own HTML, CSS and JS, no data) is served without the token, and a
participant's link ``/?survey=<id>&key=<key>`` opens the page for taking that one survey: its key
(``X-Survey-Key`` header or ``key`` query) reaches that survey's order, stimuli and answer routes
and nothing else, so a participant never sees the answers, the ground truth or other surveys. A
key is an HMAC of the survey id under a secret kept in the studio's state folder, so participant
links outlive a restart while the session token does not.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
TOKEN_HEADER = "x-studio-token"
TOKEN_QUERY = "token"
SURVEY_KEY_HEADER = "x-survey-key"
PUBLIC_PREFIX = "/static/"
# What a participant's key reaches: the order, stimuli and answers of its own survey.
_PARTICIPANT_ROUTES = re.compile(
    r"/api/surveys/([^/]+)/(?:order|answers|stimuli/[^/]+\.(?:wav|webm))"
)


def new_token() -> str:
    """A random session token (32 bytes from ``secrets``, URL-safe)."""
    return secrets.token_urlsafe(32)


def load_secret(path: Path) -> bytes:
    """The studio's participant-key secret at ``path``, made (32 random bytes) on first use."""
    from ..atomic import write_bytes

    if not path.is_file():
        write_bytes(path, secrets.token_bytes(32))
    return path.read_bytes()


def participant_key(secret: bytes, survey_id: str) -> str:
    """The key of survey ``survey_id``'s participant link: HMAC-SHA256, 32 hex digits."""
    return hmac.new(secret, survey_id.encode(), hashlib.sha256).hexdigest()[:32]


def host_name(value: str | None) -> str | None:
    """The host of a ``Host`` header or an ``Origin`` URL, lower case, without port or brackets."""
    if not value:
        return None
    netloc = urlsplit(value).netloc if "://" in value else value
    match = _HOST_PORT.fullmatch(netloc)
    return match.group(1).strip("[]").lower() if match else None


# A name or IPv4 address, or an IPv6 address in brackets, then an optional numeric port.
_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?")


class Guard:
    """ASGI middleware refusing requests from other hosts (403) or without the token (401).

    Parameters
    ----------
    app : the studio app.
    token : the session token.
    hosts : allowed host names besides the loopback ones (``--allow-host``).
    secret : the participant-key secret (``load_secret``); None: no participant links.
    """

    def __init__(
        self, app: ASGIApp, token: str, hosts: Iterable[str] = (), secret: bytes | None = None
    ):
        self.app = app
        self.token = token
        self.secret = secret
        self.hosts = frozenset(h.lower().strip("[]") for h in (*LOOPBACK_HOSTS, *hosts))
        # Cookies are per host, not per port: a name of its own keeps two studios apart.
        self.cookie = "studio_" + hashlib.sha256(token.encode()).hexdigest()[:12]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.check(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check(self, request: Request) -> Response | None:
        """The response refusing ``request`` (or the redirect that sets the cookie), or None."""
        headers = Headers(scope=request.scope)
        host = host_name(headers.get("host"))
        if host not in self.hosts:
            return _refuse(403, f"host {host or '(none)'!r} is not allowed; start the studio "
                           "with --allow-host NAME to serve it under another name")  # fmt: skip
        origin = headers.get("origin")
        if origin is not None and host_name(origin) not in self.hosts:
            return _refuse(403, "requests from other sites are not allowed")
        path = request.url.path
        if path.startswith(PUBLIC_PREFIX):
            return None
        offered = request.query_params.get(TOKEN_QUERY)
        if path == "/" and offered is not None and self._valid(offered):
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict")
            return response
        if self._valid(headers.get(TOKEN_HEADER)) or self._valid(request.cookies.get(self.cookie)):
            return None
        if self._participant(request, headers):
            return None
        if path == "/":
            return HTMLResponse(_NO_TOKEN_PAGE, status_code=401)
        return _refuse(401, "this studio needs its session token: open the URL that "
                       "'gesturegan studio' printed (it ends in ?token=...)")  # fmt: skip

    def _valid(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.token.encode())

    def _participant(self, request: Request, headers: Headers) -> bool:
        """True for a participant's request: the page, or its own survey's taking routes."""
        if self.secret is None:
            return False
        path = request.url.path
        if path == "/":
            survey = request.query_params.get("survey")
        else:
            match = _PARTICIPANT_ROUTES.fullmatch(path)
            survey = match.group(1) if match else None
        offered = headers.get(SURVEY_KEY_HEADER) or request.query_params.get("key")
        if survey is None or offered is None:
            return False
        expected = participant_key(self.secret, survey)
        return hmac.compare_digest(offered.encode(), expected.encode())


def _refuse(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status)


_NO_TOKEN_PAGE = """<!doctype html><meta charset="utf-8"><title>gesturegan studio</title>
<p>This studio needs its session token. Open the URL that <code>gesturegan studio</code> printed
when it started (it ends in <code>?token=…</code>).</p>
"""
