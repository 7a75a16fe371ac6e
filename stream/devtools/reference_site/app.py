"""A reference site's backend: a two-step login that asks cursorprint for a decision.

What a site that embeds the collector does at login time, end to end and in the open:

1. ``/login`` asks who is logging in; the backend then mints the collector's page token for that
   user (a plain HS256 JWT with the site's page-token secret: any JWT library does this).
2. ``/login/password`` runs the collector while the person types. On submit the page puts the
   collector's page-session id (``sid``) in the form and stops the collector, which sends the
   final batch (the session closes as ``exit``).
3. The backend checks the password, then calls ``POST /v1/decisions`` with ``{sid, user}``:
   ``allow`` lets the person in; ``step_up`` and ``not_enough_data`` ask for a (simulated)
   second factor; ``deny`` refuses. When the decision service cannot answer, the site fails
   closed to the second factor.
4. Passing the second factor sends ``POST /v1/feedback`` ``owner_confirmed``: the owner's
   confirmed sessions enroll them, so a new user needs no operator step to get a head.

The scores of the last part arrive a moment after the submit (final batch -> sessionizer ->
scorer), so the backend waits up to ``evidence_wait_s`` while the decision service says the
evidence is still missing. Accounts and logins live in memory: this is a demonstration of the
two calls, not an authentication system. It uses no cursorprint module on purpose (only the
HTTP contract of ``openapi/decisions.yaml`` and a JWT library), so it reads like a site's code.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import secrets
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from aiohttp import web

__all__ = ["SiteConfig", "create_app", "DEMO_PASSWORD"]

PAGES = Path(__file__).resolve().parent / "pages"
DEMO_PASSWORD = "demo"
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
LOGIN_COOKIE, SESSION_COOKIE = "login", "session"
# Decision codes that say "the evidence may still be on its way": worth asking again.
STILL_ARRIVING = frozenset({"session_unknown", "not_enough_windows", "not_enough_movement"})
PAGE_TOKEN_TTL_S = 600


@dataclass(frozen=True)
class SiteConfig:
    site: str                  # the site key in CURSORPRINT_SITES / CURSORPRINT_DECIDE_SITES
    page_token_secret: str     # signs the collector's page tokens (lives in the browser)
    api_key: str               # authenticates this backend to the decision service
    ingest_url: str            # where the collector posts, and where it is loaded from
    decide_url: str
    evidence_wait_s: float = 5.0
    password: str = DEMO_PASSWORD


@dataclass
class Login:
    user: str
    sid: str = ""
    decision: dict[str, Any] = field(default_factory=dict)
    otp: str = ""
    via: str = ""              # "behaviour" or "second factor" once logged in


TITLES = {"login": "log in", "password": "log in", "otp": "second factor", "welcome": "welcome",
          "refused": "refused"}


def _page(name: str, **values: Any) -> web.Response:
    """``pages/<name>.html`` inside ``pages/layout.html``. Every value is HTML-escaped except
    ``config`` (JSON inside a ``type="application/json"`` script, ``<`` escaped so it cannot
    end the element)."""
    subs = {k: (v if k == "config" else html.escape(str(v))) for k, v in values.items()}
    body = string.Template((PAGES / f"{name}.html").read_text()).substitute(subs)
    # the body goes in last, so no "$" it may hold is read as a placeholder
    text = string.Template((PAGES / "layout.html").read_text()).substitute(
        title=TITLES[name], page=name, body="\0body\0").replace("\0body\0", body)
    return web.Response(text=text, content_type="text/html")


class ReferenceSite:
    def __init__(self, config: SiteConfig) -> None:
        self.config = config
        self.logins: dict[str, Login] = {}      # login cookie -> login in progress or done
        self.http: aiohttp.ClientSession | None = None

    async def start(self, app: web.Application) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0))

    async def stop(self, app: web.Application) -> None:
        if self.http is not None:
            await self.http.close()

    # ---- the calls to cursorprint

    def page_token(self, user: str) -> str:
        now = int(time.time())
        return jwt.encode({"sub": user, "aud": self.config.site, "iat": now,
                           "exp": now + PAGE_TOKEN_TTL_S},
                          self.config.page_token_secret, algorithm="HS256")

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        assert self.http is not None
        async with self.http.post(f"{self.config.decide_url}{path}", json=body, headers={
                "Authorization": f"Bearer {self.config.api_key}"}) as resp:
            return resp.status, await resp.json(content_type=None)

    async def decision(self, sid: str, user: str) -> dict[str, Any]:
        """The decision service's answer; waits while it says the evidence is still arriving.
        Fails closed: an error becomes a ``step_up`` with the reason."""
        deadline = time.monotonic() + self.config.evidence_wait_s
        while True:
            try:
                status, body = await self._post("/v1/decisions", {"sid": sid, "user": user})
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                return {"decision": "step_up", "reasons": ["decision_unavailable"],
                        "error": f"{type(exc).__name__}: {exc}"}
            if status != 200:
                return {"decision": "step_up", "reasons": ["decision_unavailable"],
                        "error": f"HTTP {status}: {body.get('reason', body)}"}
            waiting = (body.get("decision") == "not_enough_data"
                       and bool(STILL_ARRIVING & set(body.get("reasons", []))))
            if not waiting or time.monotonic() >= deadline:
                return body
            await asyncio.sleep(0.25)

    async def owner_confirmed(self, login: Login) -> None:
        try:
            status, body = await self._post("/v1/feedback", {
                "sid": login.sid, "user": login.user, "label": "owner_confirmed"})
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            # the person did pass the second factor: log them in, lose only the enrolment
            login.decision["feedback_error"] = f"{type(exc).__name__}: {exc}"
            return
        if status >= 300:
            login.decision["feedback_error"] = f"HTTP {status}: {body.get('reason', body)}"

    # ---- pages

    def _login(self, request: web.Request) -> Login:
        login = self.logins.get(request.cookies.get(LOGIN_COOKIE, ""))
        if login is None:
            raise web.HTTPSeeOther("/login")
        return login

    async def get_login(self, request: web.Request) -> web.Response:
        return _page("login", error="")

    async def post_login(self, request: web.Request) -> web.Response:
        user = str((await request.post()).get("user", "")).strip()
        if not USERNAME_RE.match(user):
            return _page("login", error="A username is 1-64 letters, digits or _ . @ -")
        cookie = secrets.token_urlsafe(18)
        self.logins[cookie] = Login(user)
        resp = web.HTTPSeeOther("/login/password")
        resp.set_cookie(LOGIN_COOKIE, cookie, httponly=True, samesite="Lax")
        raise resp

    async def get_password(self, request: web.Request) -> web.Response:
        login = self._login(request)
        config = {"endpoint": f"{self.config.ingest_url}/v1/batches", "site": self.config.site,
                  "token": self.page_token(login.user)}
        error = "Wrong password." if request.query.get("wrong") else ""
        return _page("password", user=login.user, error=error, ingest=self.config.ingest_url,
                     config=json.dumps(config).replace("<", "\\u003c"))

    async def post_password(self, request: web.Request) -> web.Response:
        login = self._login(request)
        form = await request.post()
        if not secrets.compare_digest(str(form.get("password", "")), self.config.password):
            # a new page view: a new page session, the old one closed with the final batch
            raise web.HTTPSeeOther("/login/password?wrong=1")
        login.sid = str(form.get("sid", ""))
        login.decision = await self.decision(login.sid, login.user)
        verdict = login.decision.get("decision")
        if verdict == "allow":
            login.via = "behaviour"
            raise web.HTTPSeeOther("/welcome")
        if verdict == "deny":
            raise web.HTTPSeeOther("/login/refused")
        login.otp = f"{secrets.randbelow(10**6):06d}"
        raise web.HTTPSeeOther("/login/otp")

    async def get_otp(self, request: web.Request) -> web.Response:
        login = self._login(request)
        if not login.otp:
            raise web.HTTPSeeOther("/login")
        return _page("otp", user=login.user, code=login.otp, error="",
                     **_shown(login.decision))

    async def post_otp(self, request: web.Request) -> web.Response:
        login = self._login(request)
        code = str((await request.post()).get("code", ""))
        if not login.otp or not secrets.compare_digest(code, login.otp):
            return _page("otp", user=login.user, code=login.otp,
                         error="That is not the code.", **_shown(login.decision))
        login.otp = ""
        login.via = "second factor"
        await self.owner_confirmed(login)
        raise web.HTTPSeeOther("/welcome")

    async def get_welcome(self, request: web.Request) -> web.Response:
        login = self._login(request)
        if not login.via:
            raise web.HTTPSeeOther("/login")
        return _page("welcome", user=login.user, via=login.via, **_shown(login.decision))

    async def get_refused(self, request: web.Request) -> web.Response:
        login = self._login(request)
        return _page("refused", user=login.user, **_shown(login.decision))

    async def get_decision(self, request: web.Request) -> web.Response:
        """The decision of this browser's login, as JSON (for the driver and for curious people)."""
        login = self._login(request)
        return web.json_response({"user": login.user, "sid": login.sid, "via": login.via,
                                  **login.decision})


def _shown(decision: dict[str, Any]) -> dict[str, str]:
    score = decision.get("score")
    return {"decision": str(decision.get("decision", "")),
            "score": "none" if score is None else f"{score:.3f}",
            "reasons": ", ".join(decision.get("reasons", [])) or "none",
            "seconds": f"{decision.get('seconds_of_movement') or 0:.1f}"}


def create_app(config: SiteConfig) -> web.Application:
    site = ReferenceSite(config)
    app = web.Application()
    app.on_startup.append(site.start)
    app.on_cleanup.append(site.stop)

    async def root(request: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/login")

    async def readyz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def no_icon(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app.router.add_get("/", root)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/login", site.get_login)
    app.router.add_post("/login", site.post_login)
    app.router.add_get("/login/password", site.get_password)
    app.router.add_post("/login/password", site.post_password)
    app.router.add_get("/login/otp", site.get_otp)
    app.router.add_post("/login/otp", site.post_otp)
    app.router.add_get("/login/refused", site.get_refused)
    app.router.add_get("/login/decision", site.get_decision)
    app.router.add_get("/welcome", site.get_welcome)
    return app
