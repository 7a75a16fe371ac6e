"""The ingest HTTP service: browser batches in, one acknowledged Kafka message per batch out.

``POST /v1/batches`` runs :class:`~cursorprint.stream.ingest.checks.BatchChecks` and produces the
batch through :class:`~cursorprint.stream.ingest.producer.BatchProducer`; it answers 202 only
after the broker acknowledged. Every refusal is a
:class:`~cursorprint.stream.records.errors.Refusal` carrying its own status, answered as JSON
``{"error": reason, "detail": ...}``; so are aiohttp's own 404 and 405 (with ``Allow``).
``/metrics``, ``/healthz`` and ``/readyz`` serve operations; ``--demo`` adds the pages of
:mod:`cursorprint.stream.ingest.demo`. ``openapi/ingest.yaml`` is the contract; a test checks
that it lists every status and reason this package can answer.

Slow and idle connections: a connection must deliver a complete request head within
``CURSORPRINT_INGEST_IDLE_TIMEOUT_S`` of being opened or of its previous answer, or it is closed. aiohttp has no
separate header timeout; its ``keepalive_timeout`` (given to every connection through the
application's ``handler_args``, so ``web.run_app`` and ``AppRunner`` both use it) starts when a
connection is made and after each answer, and closes the connection if no complete request
head has arrived by then, which covers both a client trickling its headers and an idle
keep-alive socket. The body then has ``CURSORPRINT_INGEST_BODY_TIMEOUT_S`` (408).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from cursorprint.stream.ingest.checks import BatchChecks
from cursorprint.stream.ingest.demo import add_demo_routes, collector_dist
from cursorprint.stream.ingest.producer import BatchProducer
from cursorprint.stream.metrics import INGEST_BATCH_EVENTS, INGEST_EVENTS, INGEST_REQUESTS
from cursorprint.stream.records.errors import Refusal, RejectedInput
from cursorprint.stream.settings import Settings

__all__ = ["create_app", "IngestService", "BATCH_PATH", "SERVICE_KEY", "COLLECTOR_DIR"]

log = logging.getLogger(__name__)
BATCH_PATH = "/v1/batches"
# the checkout's collector sources (dev tools run node from there); what ingest serves is
# demo.collector_dist(), which an installed wheel carries as package data
COLLECTOR_DIR = Path(__file__).resolve().parents[2] / "collector_js"
_CLOSE_AFTER = frozenset({408, 413})   # the rest of the body is never read


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


class IngestService:
    """One ingest process: the request checks, the Kafka producer and the handlers."""

    def __init__(self, settings: Settings, collector_dir: Path | None = None) -> None:
        self.settings = settings
        self.checks = BatchChecks(settings)
        self.sites = self.checks.sites
        self.kafka = BatchProducer(settings.kafka.bootstrap, settings.ingest.produce_timeout_s)
        self.collector_dir = collector_dir or collector_dist()   # the built collector files

    @property
    def producer(self) -> Any:
        """The aiokafka producer (``None`` until connected); a tool may set a stand-in."""
        return self.kafka.client

    @producer.setter
    def producer(self, client: Any) -> None:
        self.kafka.client = client

    async def start(self, app: web.Application) -> None:
        await self.kafka.start()

    async def stop(self, app: web.Application) -> None:
        await self.kafka.stop()

    async def post_batch(self, request: web.Request) -> web.Response:
        record = await self.checks.admit(request)
        await self.kafka.produce(record)
        INGEST_REQUESTS.labels(outcome="accepted").inc()
        INGEST_EVENTS.labels(site=record.site).inc(record.n_events)
        INGEST_BATCH_EVENTS.observe(record.n_events)
        return _json(202, {"ok": True, "bid": record.bid})

    async def options_batch(self, request: web.Request) -> web.Response:
        if not self.checks.origin_allowed_anywhere(request.headers.get("Origin")):
            raise RejectedInput("origin_not_allowed", "origin is not allowed for any site",
                                status=403)
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
        """Ready only while a broker answers now, so a load balancer stops sending batches
        that could only get 503."""
        why = await self.kafka.ready()
        if why is not None:
            return _json(503, {"ok": False, "error": "kafka_unavailable", "detail": why})
        return _json(200, {"ok": True})


SERVICE_KEY = web.AppKey("service", IngestService)


def _middleware(service: IngestService) -> Callable[..., Awaitable[web.StreamResponse]]:
    """JSON answers for every error, CORS headers for allowlisted origins, outcome counting."""

    @web.middleware
    async def middleware(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        is_batch = request.path == BATCH_PATH
        counted = is_batch and request.method == "POST"
        try:
            response = await handler(request)
        except Refusal as rej:
            response = _json(rej.status, {"error": rej.reason, "detail": rej.detail}, rej.headers)
            if rej.status in _CLOSE_AFTER:
                response.force_close()
            if counted:
                INGEST_REQUESTS.labels(outcome=rej.reason).inc()
        except web.HTTPException as exc:      # the router's 404 and 405 (keeps ``Allow``)
            headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
            response = _json(exc.status, {"error": exc.reason.lower().replace(" ", "_"),
                                          "detail": f"{request.method} {request.path[:200]}"},
                             headers)
        except Exception:
            log.exception("ingest: unexpected error on %s %s", request.method, request.path[:200])
            if counted:
                INGEST_REQUESTS.labels(outcome="internal_error").inc()
            response = _json(500, {"error": "internal_error", "detail": "unexpected server error"})
        if is_batch:
            origin = request.headers.get("Origin")
            if origin and service.checks.origin_allowed_anywhere(origin):
                response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    return middleware


def create_app(settings: Settings, *, demo: bool = False, collector_dir: Path | None = None,
               idle_timeout_s: float | None = None) -> web.Application:
    """The aiohttp application; the producer connects in the background at start-up.
    ``idle_timeout_s`` overrides the setting (tests)."""
    if idle_timeout_s is None:
        idle_timeout_s = settings.ingest.idle_timeout_s
    if not idle_timeout_s > 0:
        raise ValueError(f"idle_timeout_s must be > 0, got {idle_timeout_s}")
    service = IngestService(settings, collector_dir)
    app = web.Application(middlewares=[_middleware(service)],
                          client_max_size=settings.ingest.max_body_bytes,
                          handler_args={"keepalive_timeout": idle_timeout_s})
    app[SERVICE_KEY] = service
    app.router.add_post(BATCH_PATH, service.post_batch)
    app.router.add_route("OPTIONS", BATCH_PATH, service.options_batch)
    app.router.add_get("/metrics", service.metrics)
    app.router.add_get("/healthz", service.healthz)
    app.router.add_get("/readyz", service.readyz)
    if demo:
        add_demo_routes(app, service.sites, BATCH_PATH, service.collector_dir)
    app.on_startup.append(service.start)
    app.on_cleanup.append(service.stop)
    return app
