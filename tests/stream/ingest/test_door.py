"""Ingest's door without a broker: what is refused before anything is produced, and the
connection timeouts. In-process (the app on a loopback port, no Kafka: a batch that passed
every check would get 503, so each refusal here is proven to come first)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web

from cursorprint.stream.devtools.stack import free_port
from cursorprint.stream.ingest.identity import mint_token
from cursorprint.stream.ingest.service import SERVICE_KEY, create_app
from cursorprint.stream.settings import load_settings

SECRET = "door-secret-for-tests-0123456789abcdef"
ORIGIN = "https://door.example"
SITES = f"door={SECRET}={ORIGIN}"


@asynccontextmanager
async def serving(idle_timeout_s: float = 15.0,
                  **runner_args: Any) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    settings = load_settings({}, sections=("ingest", "kafka"), sites=SITES, ingest_port=port,
                             ingest_client_rate=1e6, ingest_client_burst=1e6,
                             kafka_bootstrap=f"127.0.0.1:{free_port()}")
    app = create_app(settings, idle_timeout_s=idle_timeout_s)
    app.on_startup.clear()         # no broker: the producer stays unconnected
    runner = web.AppRunner(app, access_log=None, **runner_args)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        await runner.cleanup()


def wire(**changes: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "v": 1, "site": "door", "sid": "sid_door_0001", "seq": 0, "path": "/checkout",
        "token": mint_token("door", "alice", SECRET, 600), "vp": [1280, 720],
        "scr": [1920, 1080], "dpr": 1, "t0": time.time() * 1000 - 900, "final": False,
        "ev": {"dt": [0, 8], "x": [10, 20], "y": [5, 6], "k": [0, 0], "b": [0, 0]}}
    b.update(changes)
    return b


async def post_raw(base: str, data: bytes) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{base}/v1/batches", data=data,
            headers={"Content-Type": "text/plain", "Origin": ORIGIN}) as resp:
        return resp.status, await resp.json(content_type=None)


def with_literal(field: str, literal: str) -> bytes:
    return json.dumps(wire(**{field: "@@"})).replace('"@@"', literal).encode()


async def test_a_batch_that_passes_every_check_gets_503_without_a_broker() -> None:
    async with serving() as (base, _):
        status, body = await post_raw(base, json.dumps(wire()).encode())
    assert (status, body["error"]) == (503, "kafka_unavailable")


@pytest.mark.parametrize(("field", "literal"), [
    ("dpr", "9" * 400), ("t0", "9" * 400), ("seq", "9" * 5000), ("dpr", "1e999"),
    ("t0", "-1e400"), ("seq", str(2**53 + 1)), ("vp", f"[{'9' * 400}, 1]"),
    ("ev", '{"dt": [1e999], "x": [0], "y": [0], "k": [0], "b": [0]}'),
    ("ev", f'{{"dt": [0], "x": [{"9" * 400}], "y": [0], "k": [0], "b": [0]}}'),
    ("ev", f'{{"dt": [0], "x": [0], "y": [0], "k": [{"9" * 400}], "b": [0]}}'),
])
async def test_numbers_of_any_size_get_422_with_a_reason(field: str, literal: str) -> None:
    async with serving() as (base, _):
        status, body = await post_raw(base, with_literal(field, literal))
    assert status == 422 and body["error"] == "number_out_of_range", body


async def test_lone_surrogate_path_gets_422() -> None:
    async with serving() as (base, _):
        status, body = await post_raw(base, json.dumps(wire(path="/\ud800")).encode())
    assert (status, body["error"]) == (422, "invalid_field") and "surrogate" in body["detail"]


def _b64(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _hs256(header: bytes, payload: bytes) -> str:
    import hashlib
    import hmac

    head = f"{_b64(header)}.{_b64(payload)}"
    return f"{head}.{_b64(hmac.new(SECRET.encode(), head.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize(("token", "reason"), [
    # the pre-JWT format, correctly signed: refused with its own reason
    (_b64(b'{"u":"a","s":"door","exp":99999999999}') + ".c2ln", "token_legacy_format"),
    (_hs256(b'{"alg":"HS256"}', b'{"sub":"a","aud":"door","iat":1,"exp":NaN}'),
     "token_malformed"),
    (_hs256(b'{"alg":"none"}', b'{"sub":"a","aud":"door","iat":1,"exp":99999999999}'),
     "token_algorithm_not_allowed"),
    (jwt.encode({"sub": "a", "aud": "door", "iat": 1, "exp": 2}, SECRET, algorithm="HS256"),
     "token_expired"),
])
async def test_refused_tokens_get_401_before_kafka(token: str, reason: str) -> None:
    async with serving() as (base, _):
        status, body = await post_raw(base, json.dumps(wire(token=token)).encode())
    assert (status, body["error"]) == (401, reason)


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/v1/batches", {"POST", "OPTIONS"}), ("PUT", "/v1/batches", {"POST", "OPTIONS"}),
    ("POST", "/healthz", {"GET", "HEAD"}), ("DELETE", "/metrics", {"GET", "HEAD"}),
    ("POST", "/readyz", {"GET", "HEAD"})])
async def test_other_methods_get_a_json_405_with_allow(method: str, path: str,
                                                       allow: set[str]) -> None:
    async with serving() as (base, _), aiohttp.ClientSession() as http, \
            http.request(method, base + path) as resp:
        assert resp.status == 405
        assert set(resp.headers["Allow"].replace(" ", "").split(",")) == allow
        assert (await resp.json())["error"] == "method_not_allowed"


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    """Seconds until the server closed the connection (reads until EOF)."""
    started = time.monotonic()
    async with asyncio.timeout(seconds):
        while await reader.read(1024):
            pass
    return time.monotonic() - started


async def test_headers_trickling_in_are_cut_off() -> None:
    async with serving(idle_timeout_s=1.0) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                b"Origin: https://door.example\r\nX-Pad: " + b"a" * 200)

        async def trickle() -> None:
            try:
                for i in range(0, len(head), 2):      # 2 bytes every 0.1 s: never complete
                    writer.write(head[i:i + 2])
                    await writer.drain()
                    await asyncio.sleep(0.1)
            except (ConnectionError, OSError):
                pass

        trickler = asyncio.create_task(trickle())
        took = await _closed_within(reader, 8.0)
        trickler.cancel()
        writer.close()
    assert took < 4.0


async def test_idle_connections_are_closed() -> None:
    # keepalive_timeout=75 is what web.run_app passes by default: the app's own value wins
    async with serving(idle_timeout_s=1.0, keepalive_timeout=75.0) as (base, port):
        # never a byte sent
        silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(50)]
        # one answered request, then idle on keep-alive
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        took = await asyncio.gather(_closed_within(reader, 8.0),
                                    *(_closed_within(r, 8.0) for r, _ in silent))
        for _, w in [*silent, (reader, writer)]:
            w.close()
        assert max(took) < 4.0
        # the service still answers afterwards
        async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as resp:
            assert resp.status == 200


def test_the_idle_timeout_must_be_positive() -> None:
    settings = load_settings({}, sections=("ingest", "kafka"), sites=SITES)
    assert create_app(settings)[SERVICE_KEY].sites.keys() == {"door"}
    with pytest.raises(ValueError):
        create_app(settings, idle_timeout_s=0)
