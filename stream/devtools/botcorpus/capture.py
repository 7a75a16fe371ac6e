"""The real ingest app with an in-memory sink instead of Kafka, plus the task pages.

Why not the private Kafka stack: on a 2-core machine shared with other work, a broker (768 MB
JVM heap) for a few hundred short recordings costs more than it tells. Everything the browser's
batches go through is still the product's own code: :func:`cursorprint.stream.ingest.service
.create_app` (body limits, ``parse_wire_batch`` schema checks, site and origin checks, rate
limits, token verification, pseudonymous keys) turns each POST into the exact
``PointerBatchRecord`` bytes it would produce to ``pointer-batches``; only the producer is a
stand-in that keeps them. :func:`sessions_from_records` then runs the real sessionizer logic
(``stream.sessionize.logic.Sessionizer``) over them, so a corpus session is what the scorer
would receive from the ``sessions`` topic.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from cursorprint.stream.devtools.botcorpus.pages import BLANK_PAGE, TASKS, task_page
from cursorprint.stream.devtools.stack import free_port
from cursorprint.stream.ingest.identity import mint_token
from cursorprint.stream.ingest.service import BATCH_PATH, SERVICE_KEY, create_app
from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.records.wire import PointerBatchRecord
from cursorprint.stream.settings import load_settings
from cursorprint.stream.testing import MemoryProducer

__all__ = ["CaptureIngest", "sessions_from_records"]


@dataclass
class CaptureIngest:
    """Serves ingest + task pages on a loopback port in a background thread."""

    records: list[bytes] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _app(self) -> web.Application:
        self.port = self.port or free_port()
        settings = load_settings(sections=("ingest",), ingest_port=self.port,
                                 ingest_client_rate=1000.0, ingest_client_burst=1000.0)
        app = create_app(settings, demo=True)
        service = app[SERVICE_KEY]
        service.producer = MemoryProducer(self.records)
        app.on_startup.clear()      # no Kafka connection attempts
        site = service.sites["demo"]

        async def page(request: web.Request) -> web.Response:
            task = request.match_info["task"]
            if task == "blank":
                return web.Response(text=BLANK_PAGE, content_type="text/html")
            if task not in TASKS:
                raise web.HTTPNotFound()
            user = request.query.get("user", "bot")[:128]
            config = {"endpoint": BATCH_PATH, "site": site.key,
                      "token": mint_token(site.key, user, site.secret, ttl_s=3600)}
            return web.Response(text=task_page(task, config), content_type="text/html")

        app.router.add_get("/bots/{task}", page)
        return app

    def start(self) -> CaptureIngest:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._runner = web.AppRunner(self._app(), access_log=None)
                loop.run_until_complete(self._runner.setup())
                loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="botcorpus-ingest", daemon=True)
        self._thread.start()
        ready.wait(30)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> CaptureIngest:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def sessions_from_records(raw: Iterable[bytes]) -> list[SessionRecord]:
    """Run the sessionizer logic over captured ``pointer-batches`` values (in arrival order);
    sessions without a final batch are closed as idle at the end."""
    from cursorprint.stream.sessionize.logic import DELETE, Sessionizer, SessionizerConfig

    store: dict[str, Any] = {}
    sz = Sessionizer(store, SessionizerConfig(window_events=0))
    out_records: list[SessionRecord] = []
    last_ms = 0.0

    def apply(out: Any) -> None:
        for k, v in out.writes.items():
            if v is DELETE:
                store.pop(k, None)
            else:
                store[k] = v
        sz.note_writes(out)
        out_records.extend(r for r in out.records if r.cause != "window")

    for value in raw:
        rec = PointerBatchRecord.from_bytes(value)
        last_ms = max(last_ms, rec.recv)
        apply(sz.on_batch(rec, 0, rec.recv))
    apply(sz.on_tick(0, last_ms + 1e9, close_idle=True))
    return out_records
