"""The decision service: ``POST /v1/decisions`` and ``POST /v1/feedback`` for sites' backends.

A service of its own (``cursorprint decide serve``), not routes on ingest: ingest faces every
browser on the internet and holds only what a page may know (page-token secrets, Kafka
produce rights on ``pointer-batches``); this one faces a few site backends and holds their API
keys, reads Redis and writes ``trusted-sessions``. Apart, neither can leak the other's
credentials, they scale on different signals (batches/s vs a site's logins), and a flood of
batches cannot slow a site's login decision.

Authentication: ``Authorization: Bearer <API key>`` of a site (``CURSORPRINT_DECIDE_SITES``);
the key names the site. It is never the page token, and browsers are refused outright: a
request that carries ``Origin`` or any ``Sec-Fetch-*`` header (every browser sends them on a
cross-site POST) gets 403 ``browser_not_allowed``, no CORS header is ever sent, and only
``application/json`` is accepted (a browser must preflight it). The user is given as the site's
own user id and turned into the same pseudonymous key ingest makes
(``CURSORPRINT_PSEUDONYM_SECRET``); nothing raw is kept.

Every refusal is a :class:`~cursorprint.stream.records.errors.Refusal` answered as JSON
``{"error": reason, "detail": ...}``; ``openapi/decisions.yaml`` lists every status and reason
(a test checks it against this module). Redis down -> 503 ``redis_unavailable``: never a stale
or default answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from cursorprint.stream import metrics as m
from cursorprint.stream.decide.credentials import ApiKeys, DecideSite
from cursorprint.stream.decide.feedback import check_owner, give_feedback
from cursorprint.stream.decide.kafka_io import KafkaTrustedIO, TrustedIO
from cursorprint.stream.decide.policy import decide
from cursorprint.stream.ingest.identity import user_key
from cursorprint.stream.metrics import REDIS_ERRORS
from cursorprint.stream.records.errors import Refusal, RejectedInput, Unavailable
from cursorprint.stream.records.wire import SID_RE
from cursorprint.stream.settings import Settings
from cursorprint.stream.stores.base import LiveScores
from cursorprint.stream.stores.client import REDIS_UNAVAILABLE
from cursorprint.stream.stores.live_scores import LABELS, RedisLiveScores

__all__ = ["create_app", "DecideService", "DECISIONS_PATH", "FEEDBACK_PATH", "SERVICE_KEY",
           "MAX_BODY_BYTES", "MAX_USER_CHARS", "REFUSALS"]

log = logging.getLogger(__name__)
DECISIONS_PATH = "/v1/decisions"
FEEDBACK_PATH = "/v1/feedback"
MAX_BODY_BYTES = 4096
MAX_USER_CHARS = 256
_BROWSER_HEADERS = ("Origin", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-Dest")

#: every (status, reason) the two calls can answer besides 200/202 (openapi/decisions.yaml)
REFUSALS: dict[str, int] = {
    "malformed_json": 400, "bad_encoding": 400,
    "api_key_missing": 401, "api_key_invalid": 401,
    "browser_not_allowed": 403, "session_of_another_site": 403, "session_of_another_user": 403,
    "not_found": 404, "method_not_allowed": 405, "label_conflict": 409,
    "body_too_large": 413, "unsupported_media_type": 415,
    "bad_field": 422, "unknown_field": 422, "missing_field": 422,
    "internal_error": 500, "redis_unavailable": 503, "kafka_unavailable": 503,
}


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None
          ) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _redis_down(exc: Unavailable) -> Unavailable:
    """The store's Unavailable, with the service's Retry-After."""
    REDIS_ERRORS.labels(service="decide").inc()
    return Unavailable(REDIS_UNAVAILABLE, exc.detail, headers={"Retry-After": "1"})


class DecideService:
    """One decision-service process: sites and keys, the live store, Kafka for feedback."""

    def __init__(self, settings: Settings, store: LiveScores | None = None,
                 io: TrustedIO | None = None, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.keys = ApiKeys(settings.decide.site_configs())
        self.pseudonym_secret = settings.ingest.pseudonym_secret
        self.timeout_s = settings.decide.redis_timeout_s
        self.store: LiveScores = store if store is not None else RedisLiveScores.from_url(
            settings.redis.url, timeout_s=self.timeout_s, ttl_s=settings.live.ttl_s,
            max_parts=settings.live.max_parts, labels_max=settings.decide.labels_max)
        self.io: TrustedIO = io if io is not None else KafkaTrustedIO(settings.kafka.bootstrap)
        self.clock = clock

    async def stop(self, app: web.Application) -> None:
        for thing in (self.io, self.store):
            close = getattr(thing, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception:  # noqa: BLE001, S110 - shutting down anyway
                    pass

    # ---- request checks, in order of cost
    def authenticate(self, request: web.Request) -> DecideSite:
        if any(h in request.headers for h in _BROWSER_HEADERS):
            raise RejectedInput("browser_not_allowed", "decisions and feedback are for the "
                                "site's backend, never a browser", status=403)
        auth = request.headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="cursorprint-decide"'}
        if scheme.lower() != "bearer" or not key.strip():
            raise RejectedInput("api_key_missing", "send Authorization: Bearer <site API key>",
                                status=401, headers=challenge)
        site = self.keys.site_for(key.strip())
        if site is None:
            raise RejectedInput("api_key_invalid", "unknown API key", status=401,
                                headers=challenge)
        return site

    async def body(self, request: web.Request, fields: dict[str, Callable[[object], bool]]
                   ) -> dict[str, str]:
        from cursorprint.stream.records.strict_json import loads_json

        if request.content_type != "application/json":
            raise RejectedInput("unsupported_media_type", f"Content-Type "
                                f"{request.content_type[:80]!r}: use application/json",
                                status=415)
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise RejectedInput("body_too_large", f"body is larger than {MAX_BODY_BYTES} bytes",
                                status=413)
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise RejectedInput("body_too_large", f"body is larger than {MAX_BODY_BYTES} bytes",
                                status=413)
        obj = loads_json(raw)
        if not isinstance(obj, dict):
            raise RejectedInput("malformed_json", "body must be a JSON object", status=400)
        unknown = sorted(set(obj) - set(fields))
        if unknown:
            raise RejectedInput("unknown_field", f"unknown field(s): {', '.join(unknown)[:200]}")
        out: dict[str, str] = {}
        for name, ok in fields.items():
            if name not in obj:
                raise RejectedInput("missing_field", f"{name} is required")
            if not ok(obj[name]):
                raise RejectedInput("bad_field", f"{name}: {_FIELD_RULES[name]}")
            out[name] = obj[name]
        return out

    # ---- handlers
    async def post_decision(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        site = self.authenticate(request)
        body = await self.body(request, {"sid": _sid_ok, "user": _user_ok})
        key = user_key(site.key, body["user"], self.pseudonym_secret)
        try:
            async with asyncio.timeout(self.timeout_s):
                state = await self.store.read(body["sid"])
        except TimeoutError:
            raise _redis_down(Unavailable(REDIS_UNAVAILABLE, "Redis did not answer in "
                                          f"{self.timeout_s:g} s")) from None
        except Unavailable as exc:
            raise _redis_down(exc) from None
        check_owner(state, site.key, key)
        decision = decide(state, site.policy, self.clock() * 1000.0)
        out = decision.to_dict()
        template = self.settings.decide.explain_url
        out["explanation_url"] = template.replace("{sid}", quote(body["sid"])) \
            if template and decision.score is not None else None
        m.DECISIONS.labels(site=site.key, decision=out["decision"]).inc()
        m.DECISION_SECONDS.observe(time.perf_counter() - started)
        return _json(200, out)

    async def post_feedback(self, request: web.Request) -> web.Response:
        site = self.authenticate(request)
        body = await self.body(request, {"sid": _sid_ok, "user": _user_ok, "label": _label_ok})
        key = user_key(site.key, body["user"], self.pseudonym_secret)
        live = self.settings.live
        try:
            res = await give_feedback(self.store, self.io, sid=body["sid"], site=site.key,
                                      user_key=key, label=body["label"], policy=site.policy,
                                      now_ms=self.clock() * 1000.0,
                                      min_trusted_seconds=live.min_trusted_seconds,
                                      max_trusted_parts=live.max_trusted_parts)
        except Unavailable as exc:
            if exc.reason == REDIS_UNAVAILABLE:
                raise _redis_down(exc) from None
            raise
        m.FEEDBACK.labels(site=site.key, label=body["label"]).inc()
        return _json(202, {"sid": body["sid"], **res.to_dict()})

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(self, request: web.Request) -> web.Response:
        return _json(200, {"ok": True})

    async def readyz(self, request: web.Request) -> web.Response:
        """Ready while Redis answers: without it every decision would be a 503."""
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.store.read("readiness-probe")
        except (TimeoutError, Unavailable) as exc:
            return _json(503, {"ok": False, "error": REDIS_UNAVAILABLE,
                               "detail": str(exc)[:200] or "timeout"})
        return _json(200, {"ok": True})


_FIELD_RULES = {"sid": "the collector's page-session id (8-64 of A-Z a-z 0-9 _ -)",
                "user": f"the site's user id, a non-empty string of at most {MAX_USER_CHARS} "
                        "characters",
                "label": f"one of {', '.join(LABELS)}"}


def _sid_ok(v: object) -> bool:
    return isinstance(v, str) and SID_RE.match(v) is not None


def _user_ok(v: object) -> bool:
    return isinstance(v, str) and 0 < len(v) <= MAX_USER_CHARS


def _label_ok(v: object) -> bool:
    return v in LABELS


SERVICE_KEY = web.AppKey("decide", DecideService)


@web.middleware
async def _errors(request: web.Request,
                  handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
    """JSON answers for every error (never a CORS header: browsers are not clients)."""
    try:
        return await handler(request)
    except Refusal as rej:
        return _json(rej.status, {"error": rej.reason, "detail": rej.detail}, rej.headers)
    except web.HTTPException as exc:      # the router's 404 and 405 (keeps ``Allow``)
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return _json(exc.status, {"error": exc.reason.lower().replace(" ", "_"),
                                  "detail": f"{request.method} {request.path[:200]}"}, headers)
    except Exception:
        log.exception("decide: unexpected error on %s %s", request.method, request.path[:200])
        return _json(500, {"error": "internal_error", "detail": "unexpected server error"})


def create_app(settings: Settings, *, store: LiveScores | None = None,
               io: TrustedIO | None = None, clock: Callable[[], float] = time.time
               ) -> web.Application:
    """The aiohttp application (``store`` and ``io`` default to Redis and Kafka)."""
    service = DecideService(settings, store, io, clock)
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY_BYTES)
    app[SERVICE_KEY] = service
    app.router.add_post(DECISIONS_PATH, service.post_decision)
    app.router.add_post(FEEDBACK_PATH, service.post_feedback)
    app.router.add_get("/metrics", service.metrics)
    app.router.add_get("/healthz", service.healthz)
    app.router.add_get("/readyz", service.readyz)
    app.on_cleanup.append(service.stop)
    return app
