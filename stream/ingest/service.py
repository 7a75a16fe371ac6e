"""The ingest HTTP service: browser batches in, one acknowledged Kafka message per batch out.

``POST /v1/batches`` checks, in order of cost, the client's rate, content type, body size and time,
JSON, the v1 schema, the site key, the page origin, the site's rate and the signed user token; it
then swaps the user id for the pseudonymous key and produces the batch (key = page-session id,
acks=all, idempotent producer). It answers 202 only after the broker acknowledged, a 4xx JSON
``{"error": reason, "detail": ...}`` for every bad request, and 503 when the broker does not
acknowledge in time. ``/metrics``, ``/healthz`` and ``/readyz`` serve operations; ``--demo`` adds a
local page with the collector for trying it out (and for the browser tests).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from cursorprint.stream.ingest.identity import TokenError, mint_token, user_key, verify_token
from cursorprint.stream.ingest.ratelimit import TokenBuckets
from cursorprint.stream.metrics import (
    INGEST_BATCH_EVENTS,
    INGEST_BODY_BYTES,
    INGEST_EVENTS,
    INGEST_REQUESTS,
    KAFKA_ERRORS,
    KAFKA_PRODUCE_SECONDS,
)
from cursorprint.stream.records.topics import POINTER_BATCHES
from cursorprint.stream.records.wire import (
    PointerBatchRecord,
    WireError,
    WireLimits,
    loads_json,
    parse_wire_batch,
)
from cursorprint.stream.settings import Settings

__all__ = ["create_app", "IngestService", "Rejection", "BATCH_PATH", "SERVICE_KEY"]

log = logging.getLogger(__name__)
READY_PROBE_TIMEOUT_S = 2.0   # /readyz: how long a broker may take to answer metadata
BATCH_PATH = "/v1/batches"
STATIC = Path(__file__).resolve().parents[1] / "static"
COLLECTOR_DIR = Path(__file__).resolve().parents[2] / "collector_js"
_CONTENT_TYPES = frozenset({"text/plain", "application/json"})
_STATUS_BY_WIRE_REASON = {"malformed_json": 400, "bad_encoding": 400, "token_missing": 401}
_STATUS_BY_TOKEN_REASON = {"token_wrong_site": 403}
_COLLECTOR_FILES = {"cursorprint.min.js", "cursorprint.esm.js"}


class Rejection(Exception):
    """A request refused with ``status`` and a short ``reason`` code (becomes the JSON answer)."""

    def __init__(self, status: int, reason: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status, self.reason, self.detail = status, reason, detail
        self.headers = headers or {}


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


class IngestService:
    """State of one ingest process: settings, site table, rate limits and the Kafka producer."""

    def __init__(self, settings: Settings, collector_dir: Path = COLLECTOR_DIR) -> None:
        self.settings = settings
        self.sites = settings.ingest.site_configs()
        self.limits = WireLimits(max_events=settings.ingest.max_events)
        self.client_buckets = TokenBuckets(settings.ingest.client_rate, settings.ingest.client_burst)
        self.site_buckets = TokenBuckets(settings.ingest.site_rate, settings.ingest.site_burst)
        self.collector_dir = collector_dir
        self.producer: Any = None
        self._connector: asyncio.Task[None] | None = None

    # -- producer lifecycle -------------------------------------------------------------------
    async def start(self, app: web.Application) -> None:
        self._connector = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        """Start the producer, retrying with backoff, so the service comes up before Kafka."""
        from aiokafka import AIOKafkaProducer

        delay = 0.5
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka.bootstrap, acks="all",
                enable_idempotence=True, linger_ms=1, client_id="cursorprint-ingest",
                request_timeout_ms=int(max(1.0, self.settings.ingest.produce_timeout_s) * 1000) + 1000)
            try:
                await producer.start()
            except Exception as exc:  # noqa: BLE001 - any connection failure means retry
                KAFKA_ERRORS.labels(service="ingest").inc()
                log.warning("ingest: Kafka not reachable (%s); retrying in %.1fs", exc, delay)
                await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.producer = producer
            log.info("ingest: producer connected to %s", self.settings.kafka.bootstrap)
            return

    async def stop(self, app: web.Application) -> None:
        if self._connector is not None:
            self._connector.cancel()
            try:
                await self._connector
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None

    async def produce(self, record: PointerBatchRecord) -> None:
        """Send one batch and wait for the broker's acknowledgement, or raise 503."""
        if self.producer is None:
            raise Rejection(503, "kafka_unavailable", "not connected to Kafka yet",
                            {"Retry-After": "2"})
        started = time.perf_counter()
        producer = self.producer
        try:
            async with asyncio.timeout(self.settings.ingest.produce_timeout_s):
                future = await producer.send(POINTER_BATCHES, record.to_bytes(), key=record.key)
                await future
        except Exception as exc:  # noqa: BLE001 - timeouts and every client error alike
            KAFKA_ERRORS.labels(service="ingest").inc()
            log.warning("ingest: produce failed: %r", exc)
            self._replace_if_dead(producer, exc)
            raise Rejection(503, "kafka_unavailable", "the broker did not acknowledge in time",
                            {"Retry-After": "2"}) from None
        KAFKA_PRODUCE_SECONDS.observe(time.perf_counter() - started)

    def _replace_if_dead(self, producer: Any, exc: Exception) -> None:
        """Start a new producer when ``producer`` can never deliver again.

        After a broker restart with batches in flight, aiokafka's idempotent producer answers
        OutOfOrderSequenceNumber to every later send on that partition (its sequence numbers
        stay out of step) or its sender task dies; a fresh producer (new producer id) recovers.
        Found by tests/integration/test_faults.py.
        """
        from aiokafka.errors import (
            InvalidProducerEpoch,
            OutOfOrderSequenceNumber,
            ProducerFenced,
            UnknownProducerId,
        )

        fatal = (OutOfOrderSequenceNumber, UnknownProducerId, ProducerFenced, InvalidProducerEpoch)
        sender = getattr(getattr(producer, "_sender", None), "sender_task", None)
        dead = sender is not None and sender.done()
        if producer is not self.producer or not (dead or isinstance(exc, fatal)):
            return
        log.warning("ingest: Kafka producer failed for good; starting a new one")
        self.producer = None
        asyncio.get_running_loop().create_task(producer.stop())
        self._connector = asyncio.create_task(self._connect())

    # -- helpers ------------------------------------------------------------------------------
    def client_address(self, request: web.Request) -> str:
        if self.settings.ingest.trust_proxy:
            forwarded = request.headers.get("X-Forwarded-For", "")
            first = forwarded.split(",")[0].strip()
            if first:
                return first[:64]
        return request.remote or "unknown"

    def origin_allowed_anywhere(self, origin: str | None) -> bool:
        return any(site.allows_origin(origin) for site in self.sites.values())

    async def read_body(self, request: web.Request) -> bytes:
        limit = self.settings.ingest.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise Rejection(413, "body_too_large", f"body is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.settings.ingest.body_timeout_s):
                while True:
                    chunk = await request.content.readany()
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > limit:
                        raise Rejection(413, "body_too_large", f"body is larger than {limit} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise Rejection(408, "body_timeout", "the request body did not arrive in "
                            f"{self.settings.ingest.body_timeout_s:g} s") from None
        return b"".join(chunks)

    # -- handlers -----------------------------------------------------------------------------
    async def post_batch(self, request: web.Request) -> web.Response:
        wait = self.client_buckets.take(self.client_address(request))
        if wait:
            raise Rejection(429, "rate_limited_client", "too many batches from this client",
                            {"Retry-After": str(max(1, round(wait)))})
        if request.content_type not in _CONTENT_TYPES:
            raise Rejection(415, "unsupported_media_type",
                            f"Content-Type {request.content_type!r}: use text/plain or "
                            "application/json")
        body = await self.read_body(request)
        INGEST_BODY_BYTES.observe(len(body))
        now_ms = time.time() * 1000.0
        try:
            batch = parse_wire_batch(loads_json(body), now_ms, self.limits)
        except WireError as exc:
            raise Rejection(_STATUS_BY_WIRE_REASON.get(exc.reason, 422), exc.reason,
                            exc.detail) from None
        site = self.sites.get(batch.site)
        if site is None:
            raise Rejection(403, "unknown_site", f"site {batch.site!r} is not configured")
        origin = request.headers.get("Origin")
        if not site.allows_origin(origin):
            raise Rejection(403, "origin_not_allowed",
                            f"origin {origin!r} is not allowed for site {site.key!r}")
        wait = self.site_buckets.take(site.key)
        if wait:
            raise Rejection(429, "rate_limited_site", "too many batches for this site",
                            {"Retry-After": str(max(1, round(wait)))})
        try:
            user_id = verify_token(batch.token, site.key, site.secret, now=now_ms / 1000.0)
        except TokenError as exc:
            raise Rejection(_STATUS_BY_TOKEN_REASON.get(exc.reason, 401), exc.reason,
                            exc.detail) from None
        record = PointerBatchRecord.from_wire(
            batch, user_key(site.key, user_id, self.settings.ingest.pseudonym_secret), recv=now_ms)
        await self.produce(record)
        INGEST_REQUESTS.labels(outcome="accepted").inc()
        INGEST_EVENTS.labels(site=site.key).inc(batch.n_events)
        INGEST_BATCH_EVENTS.observe(batch.n_events)
        return _json(202, {"ok": True, "bid": record.bid})

    async def options_batch(self, request: web.Request) -> web.Response:
        if not self.origin_allowed_anywhere(request.headers.get("Origin")):
            raise Rejection(403, "origin_not_allowed", "origin is not allowed for any site")
        return web.Response(status=204, headers={
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600"})

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(self, request: web.Request) -> web.Response:
        return _json(200, {"ok": True})

    async def readyz(self, request: web.Request) -> web.Response:
        """Ready only while a broker answers a metadata request now, so a load balancer stops
        sending batches that could only get 503 (a connected producer says nothing about a
        broker that died later)."""
        producer = self.producer
        if producer is None:
            return _json(503, {"ok": False, "error": "kafka_unavailable",
                               "detail": "producer not connected"})
        try:
            async with asyncio.timeout(READY_PROBE_TIMEOUT_S):
                await producer.client.fetch_all_metadata()
        except Exception as exc:  # noqa: BLE001 - timeouts and every client error alike
            return _json(503, {"ok": False, "error": "kafka_unavailable",
                               "detail": f"no broker answered: {type(exc).__name__}"})
        return _json(200, {"ok": True})

    async def demo_page(self, request: web.Request) -> web.Response:
        """A local page with the collector, a token minted for ``?user=`` on the demo site."""
        site = self.sites.get("demo")
        if site is None:
            raise Rejection(404, "no_demo_site", "configure a site called 'demo' for the demo page")
        user = request.query.get("user", "demo-user")[:128]
        config = {"endpoint": BATCH_PATH, "site": site.key,
                  "token": mint_token(site.key, user, site.secret, ttl_s=3600)}
        html = (STATIC / "demo.html").read_text().replace(
            "__CONFIG__", json.dumps(config).replace("<", "\\u003c"))
        return web.Response(text=html, content_type="text/html")

    async def bye_page(self, request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>bye</title><p>bye</p>",
                            content_type="text/html")

    async def collector_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        path = self.collector_dir / "dist" / name
        if name not in _COLLECTOR_FILES or not path.is_file():
            raise Rejection(404, "not_found", f"{name}: not built (run `npm run build` in "
                            "collector_js)")
        return web.Response(body=path.read_bytes(), content_type="text/javascript")


SERVICE_KEY = web.AppKey("service", IngestService)


def _middleware(service: IngestService) -> Callable[..., Awaitable[web.StreamResponse]]:
    """JSON answers for every error, CORS headers for allowlisted origins, outcome counting."""

    @web.middleware
    async def middleware(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        is_batch = request.path == BATCH_PATH
        try:
            response = await handler(request)
        except Rejection as rej:
            response = _json(rej.status, {"error": rej.reason, "detail": rej.detail}, rej.headers)
            if rej.status in (408, 413):
                response.force_close()     # the rest of the body is never read
            if is_batch and request.method == "POST":
                INGEST_REQUESTS.labels(outcome=rej.reason).inc()
        except web.HTTPException as exc:
            response = _json(exc.status, {"error": exc.reason.lower().replace(" ", "_"),
                                          "detail": f"{request.method} {request.path}"})
        except Exception:
            log.exception("ingest: unexpected error on %s %s", request.method, request.path)
            if is_batch and request.method == "POST":
                INGEST_REQUESTS.labels(outcome="internal_error").inc()
            response = _json(500, {"error": "internal_error", "detail": "unexpected server error"})
        if is_batch:
            origin = request.headers.get("Origin")
            if origin and service.origin_allowed_anywhere(origin):
                response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    return middleware


def create_app(settings: Settings, *, demo: bool = False,
               collector_dir: Path = COLLECTOR_DIR) -> web.Application:
    """The aiohttp application; the producer connects in the background at start-up."""
    service = IngestService(settings, collector_dir)
    app = web.Application(middlewares=[_middleware(service)],
                          client_max_size=settings.ingest.max_body_bytes)
    app[SERVICE_KEY] = service
    app.router.add_post(BATCH_PATH, service.post_batch)
    app.router.add_route("OPTIONS", BATCH_PATH, service.options_batch)
    app.router.add_get("/metrics", service.metrics)
    app.router.add_get("/healthz", service.healthz)
    app.router.add_get("/readyz", service.readyz)
    if demo:
        app.router.add_get("/demo", service.demo_page)
        app.router.add_get("/demo/bye", service.bye_page)
        app.router.add_get("/collector/{name}", service.collector_file)
    app.on_startup.append(service.start)
    app.on_cleanup.append(service.stop)
    return app
