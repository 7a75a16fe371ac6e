"""Run the real ingest app on a free loopback port inside the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web

from cursorprint.stream.devtools.stack import free_port
from cursorprint.stream.ingest.service import create_app
from cursorprint.stream.settings import Settings

__all__ = ["running_ingest", "consume_batches"]




@asynccontextmanager
async def running_ingest(settings: Settings, demo: bool = False, wait_ready: bool = True,
                         **overrides: Any) -> AsyncIterator[str]:
    """Serve ingest with ``overrides`` applied to ``settings``; yields its base URL."""
    port = free_port()
    app = create_app(settings.replace(ingest_port=port, **overrides), demo=demo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    base = f"http://127.0.0.1:{port}"
    try:
        if wait_ready:
            async with aiohttp.ClientSession() as http:
                for _ in range(300):
                    async with http.get(f"{base}/readyz") as resp:
                        if resp.status == 200:
                            break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("ingest never became ready (Kafka producer)")
        yield base
    finally:
        await runner.cleanup()


async def consume_batches(bootstrap: str, sid: str, until_final: bool = True,
                          count: int | None = None, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Values (decoded JSON) of ``pointer-batches`` messages keyed by ``sid``, read from the start,
    until a final batch (or ``count`` batches) arrived."""
    import json

    from aiokafka import AIOKafkaConsumer

    from cursorprint.stream.records.topics import POINTER_BATCHES

    consumer = AIOKafkaConsumer(POINTER_BATCHES, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                group_id=None)
    await consumer.start()
    got: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    got.extend(json.loads(r.value) for r in records if r.key == sid.encode())
                if until_final and any(b["final"] for b in got):
                    return got
                if count is not None and len(got) >= count:
                    return got
    except TimeoutError:
        raise AssertionError(f"only {len(got)} batches of {sid} arrived in {timeout}s") from None
    finally:
        await consumer.stop()
