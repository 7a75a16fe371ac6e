"""The real ingest app with an in-memory producer, serving the test pages of the real-page
collector tests (single-page app, touch, beacon budget) under a strict CSP.

Everything a batch goes through is the product's own ingest (schema, origin, token, pseudonym);
only Kafka is replaced by a list, so these browser tests need no broker and every wait is on
an explicit condition: a driver polls ``GET /_t/got`` until the batches it expects arrived.
``POST /_t/stall?on=1`` makes ingest answer 503 to every batch (the collector's queue then
fills up) until ``on=0``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from cursorprint.stream.devtools.stack import free_port
from cursorprint.stream.ingest.service import BATCH_PATH, SERVICE_KEY, create_app
from cursorprint.stream.records.wire import PointerBatchRecord
from cursorprint.stream.settings import load_settings
from cursorprint.stream.testing import MemoryProducer

__all__ = ["PageServer", "serving_pages", "SITE", "SECRET", "NONCE", "CSP"]

SITE = "pages"
SECRET = "pages-secret-for-browser-tests-0123456789"
NONCE = "cp-test-nonce"
# what a strict site serves: no eval, no inline script without the nonce, no workers, no styles
# but the nonced one, batches only to this origin
CSP = (f"default-src 'none'; script-src 'self' 'nonce-{NONCE}'; style-src 'nonce-{NONCE}'; "
       "connect-src 'self'; worker-src 'none'; frame-src 'self'; base-uri 'none'")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style nonce="{nonce}">html, body {{ margin: 0; height: 100%; touch-action: none; }}</style>
<script nonce="{nonce}">
  window.__csp = [];
  document.addEventListener("securitypolicyviolation",
    (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
</script>
</head><body><p>{title}</p>
<script src="/collector/cursorprint.min.js"></script>
<script nonce="{nonce}">
  window.__cp = cursorprint.start({config});
</script>
</body></html>
"""


@dataclass
class PageServer:
    base: str
    records: list[bytes] = field(default_factory=list)
    stalled: list[bool] = field(default_factory=lambda: [False])

    def batches(self) -> list[PointerBatchRecord]:
        """Every accepted batch, decoded by the record decoder the sessionizer uses."""
        return [PointerBatchRecord.from_bytes(raw) for raw in self.records]

    def by_sid(self) -> dict[str, list[PointerBatchRecord]]:
        """Accepted batches per page view, by seq (a resent copy counted once)."""
        out: dict[str, dict[int, PointerBatchRecord]] = {}
        for rec in self.batches():
            out.setdefault(rec.sid, {}).setdefault(rec.seq, rec)
        return {sid: [seqs[s] for s in sorted(seqs)] for sid, seqs in out.items()}


@asynccontextmanager
async def serving_pages(configs: dict[str, dict[str, Any]]) -> AsyncIterator[PageServer]:
    """Serve ``/t/{name}`` for each page config (collector options; ``endpoint`` and ``site``
    are filled in), ``/t/bye``, the built collector, ingest and the ``/_t`` controls."""
    port = free_port()
    settings = load_settings({}, sections=("ingest", "kafka"), ingest_port=port,
                             sites=f"{SITE}={SECRET}=http://127.0.0.1:{port}",
                             ingest_client_rate=1e6, ingest_client_burst=1e6,
                             ingest_site_rate=1e6, ingest_site_burst=1e6,
                             kafka_bootstrap=f"127.0.0.1:{free_port()}")
    app = create_app(settings, demo=True)
    app.on_startup.clear()                       # no Kafka
    server = PageServer(base=f"http://127.0.0.1:{port}")
    app[SERVICE_KEY].producer = MemoryProducer(server.records)

    @web.middleware
    async def stall(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        if server.stalled[0] and request.path == BATCH_PATH and request.method == "POST":
            await request.read()
            return web.json_response({"error": "kafka_unavailable", "detail": "stalled"},
                                     status=503, headers={"Retry-After": "1"})
        return await handler(request)

    app.middlewares.append(stall)

    async def page(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "bye":
            return web.Response(text="<!doctype html><title>bye</title><p>bye</p>",
                                content_type="text/html", headers={"Content-Security-Policy": CSP})
        if name not in configs:
            raise web.HTTPNotFound()
        config = {"endpoint": BATCH_PATH, "site": SITE, **configs[name]}
        html = _PAGE.format(title=name, nonce=NONCE,
                            config=json.dumps(config).replace("<", "\\u003c"))
        return web.Response(text=html, content_type="text/html",
                            headers={"Content-Security-Policy": CSP})

    async def got(request: web.Request) -> web.Response:
        return web.json_response([
            {"sid": r.sid, "seq": r.seq, "final": r.final, "pt": r.pt, "n": r.n_events,
             "path": r.path} for r in server.batches()])

    async def set_stall(request: web.Request) -> web.Response:
        server.stalled[0] = request.query.get("on") == "1"
        return web.json_response({"stalled": server.stalled[0]})

    app.router.add_get("/t/{name:[a-z]+}{rest:(?:/.*)?}", page)
    app.router.add_get("/_t/got", got)
    app.router.add_post("/_t/stall", set_stall)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield server
    finally:
        await runner.cleanup()
