"""The ingest service on a real port against the real broker: the happy path and one test per
kind of hostile request (each answered with a 4xx JSON reason, never a 5xx or a hang)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.ingest.identity import mint_token, user_key
from cursorprint.stream.settings import Settings
from tests.support.ingest_server import consume_batches, running_ingest

pytestmark = pytest.mark.integration
DEMO_SECRET = "demo-secret-for-tests-0123456789abcdef"
SITES = (f"demo={DEMO_SECRET}=http://127.0.0.1:*|https://demo.example;"
         "shop=shop-secret-for-tests-0123456789abcdef=https://shop.example")
ORIGIN = "https://demo.example"
FAST = {"sites": SITES, "ingest_client_rate": 1000.0, "ingest_client_burst": 1000.0}


def wire(sid: str = "sid_integration_1", seq: int = 0, token: str | None = None,
         **changes: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "v": 1, "site": "demo", "sid": sid, "seq": seq, "path": "/checkout",
        "token": token or mint_token("demo", "alice", DEMO_SECRET, 600),
        "vp": [1280, 720], "scr": [1920, 1080], "dpr": 1, "t0": time.time() * 1000 - 900,
        "final": False, "ev": {"dt": [0, 8, 8, 8], "x": [10, 20, 30, 30], "y": [5, 6, 7, 7],
                               "k": [0, 0, 1, 2], "b": [0, 0, 1, 1]}}
    b.update(changes)
    return b


async def post(base: str, body: Any, origin: str | None = ORIGIN,
               content_type: str = "text/plain;charset=UTF-8") -> tuple[int, dict[str, Any], Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type}
    if origin:
        headers["Origin"] = origin
    async with aiohttp.ClientSession() as http, \
            http.post(f"{base}/v1/batches", data=data, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers


async def test_accepted_batch_lands_on_kafka_pseudonymised(stack: Stack,
                                                           stack_settings: Settings) -> None:
    async with running_ingest(stack_settings, **FAST) as base:
        status, body, headers = await post(base, wire(sid="sid_accept_01", seq=3))
        assert (status, body["bid"]) == (202, "sid_accept_01:3")
        assert headers["Access-Control-Allow-Origin"] == ORIGIN
        async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as resp:
            metrics = await resp.text()
        assert 'cursorprint_ingest_requests_total{outcome="accepted"}' in metrics
        assert 'cursorprint_ingest_events_total{site="demo"}' in metrics
    (rec,) = await consume_batches(stack_settings.kafka.bootstrap, "sid_accept_01",
                                   until_final=False, count=1)
    assert rec["user"] == user_key("demo", "alice", stack_settings.ingest.pseudonym_secret)
    assert "token" not in rec and "alice" not in json.dumps(rec)
    assert rec["bid"] == "sid_accept_01:3" and rec["ev"]["k"] == [0, 0, 1, 2]


@pytest.mark.parametrize(("token", "status", "reason"), [
    ("eyJ1IjoiYSJ9.forgedsignature", 401, "token_legacy_format"),
    (mint_token("demo", "alice", DEMO_SECRET, 3600)[:-4] + "AAAA", 401, "token_bad_signature"),
    (mint_token("demo", "alice", "not-the-secret-0123456789abcdef-xyz", 3600), 401,
     "token_bad_signature"),
    (mint_token("demo", "alice", DEMO_SECRET, 1, now=time.time() - 3600), 401, "token_expired"),
    (mint_token("shop", "alice", "shop-secret-for-tests-0123456789abcdef", 3600), 401,
     "token_bad_signature"),
    (mint_token("shop", "alice", DEMO_SECRET, 3600), 403, "token_wrong_site"),
    ("garbage", 401, "token_malformed"),
])
async def test_bad_tokens(stack: Stack, stack_settings: Settings, token: str, status: int,
                          reason: str) -> None:
    async with running_ingest(stack_settings, **FAST) as base:
        got, body, _ = await post(base, wire(token=token))
    assert (got, body["error"]) == (status, reason)


async def test_origin_content_type_json_site_and_size(stack: Stack,
                                                      stack_settings: Settings) -> None:
    async with running_ingest(stack_settings, ingest_max_body_bytes=4096, **FAST) as base:
        assert (await post(base, wire(), origin="https://evil.example"))[:2] == \
            (403, {"error": "origin_not_allowed",
                   "detail": "origin 'https://evil.example' is not allowed for site 'demo'"})
        status, body, _ = await post(base, wire(), origin=None)
        assert (status, body["error"]) == (403, "origin_not_allowed")
        status, body, _ = await post(base, wire(), origin="https://shop.example")
        assert (status, body["error"]) == (403, "origin_not_allowed")
        status, body, _ = await post(base, wire(), content_type="application/x-www-form-urlencoded")
        assert (status, body["error"]) == (415, "unsupported_media_type")
        status, body, _ = await post(base, b'{"v": 1, "site": ', content_type="application/json")
        assert (status, body["error"]) == (400, "malformed_json")
        status, body, _ = await post(base, wire(site="nosuchsite"))
        assert (status, body["error"]) == (403, "unknown_site")
        status, body, _ = await post(base, wire(seq=-5))
        assert (status, body["error"]) == (422, "invalid_field") and "seq" in body["detail"]
        big = wire(ev={c: [0] * 3000 for c in ("dt", "x", "y", "k", "b")})
        status, body, _ = await post(base, big)
        assert (status, body["error"]) == (413, "body_too_large")
        async with aiohttp.ClientSession() as http:   # chunked, no Content-Length
            async def chunks() -> Any:
                for _ in range(10):
                    yield b"x" * 1000
            async with http.post(f"{base}/v1/batches", data=chunks(),
                                 headers={"Content-Type": "text/plain", "Origin": ORIGIN}) as r:
                assert r.status == 413 and (await r.json())["error"] == "body_too_large"
            async with http.get(f"{base}/nope") as r:
                assert r.status == 404 and (await r.json())["error"] == "not_found"
            async with http.options(f"{base}/v1/batches", headers={"Origin": ORIGIN}) as r:
                assert r.status == 204
                assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
            async with http.options(f"{base}/v1/batches",
                                    headers={"Origin": "https://evil.example"}) as r:
                assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers


async def test_slow_body_times_out_with_408_and_server_stays_responsive(
        stack: Stack, stack_settings: Settings) -> None:
    async with running_ingest(stack_settings, ingest_body_timeout_s=1.0, **FAST) as base:
        port = int(base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                     b"Origin: https://demo.example\r\nContent-Length: 5000\r\n\r\n{")
        await writer.drain()

        async def trickle() -> None:
            try:
                for _ in range(40):
                    await asyncio.sleep(0.2)
                    writer.write(b" ")
                    await writer.drain()
            except (ConnectionError, OSError):
                pass

        trickler = asyncio.create_task(trickle())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        assert head.startswith(b"HTTP/1.1 408")
        trickler.cancel()
        writer.close()
        # meanwhile and afterwards ordinary requests are answered
        status, body, _ = await post(base, wire(sid="sid_after_slow"))
        assert status == 202, body


async def test_flood_from_one_client_is_rate_limited(stack: Stack,
                                                     stack_settings: Settings) -> None:
    async with running_ingest(stack_settings, sites=SITES, ingest_client_rate=0.5,
                              ingest_client_burst=3.0) as base:
        answers = [await post(base, wire(sid="sid_flood_0001", seq=i)) for i in range(8)]
    statuses = [a[0] for a in answers]
    assert statuses[:3] == [202, 202, 202]
    assert statuses[3:] == [429] * 5
    assert answers[-1][1]["error"] == "rate_limited_client"
    assert int(answers[-1][2]["Retry-After"]) >= 1


async def test_kafka_unreachable_answers_503_quickly(stack_settings: Settings) -> None:
    from cursorprint.stream.devtools.stack import free_port

    async with running_ingest(stack_settings, wait_ready=False,
                              kafka_bootstrap=f"127.0.0.1:{free_port()}",
                              ingest_produce_timeout_s=1.0, **FAST) as base:
        started = time.monotonic()
        status, body, headers = await post(base, wire())
        assert (status, body["error"]) == (503, "kafka_unavailable")
        assert "Retry-After" in headers
        assert time.monotonic() - started < 10
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/readyz") as r:
                assert r.status == 503
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200


async def test_readyz_follows_the_broker(stack: Stack, stack_settings: Settings) -> None:
    """Not ready while the broker is down (even with a connected producer), ready again after."""
    async def readyz(base: str) -> tuple[int, dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz") as resp:
            return resp.status, await resp.json()

    async def wait_for(base: str, status: int) -> dict[str, Any]:
        deadline = time.monotonic() + 90
        while True:
            got, body = await readyz(base)
            if got == status or time.monotonic() > deadline:
                assert got == status, body
                return body
            await asyncio.sleep(0.5)

    async with running_ingest(stack_settings, **FAST) as base:
        await wait_for(base, 200)
        await asyncio.to_thread(stack.stop_kafka)
        try:
            body = await wait_for(base, 503)
            assert body["error"] == "kafka_unavailable" and body["detail"]
            got, answer, _ = await post(base, wire(sid="sid_readyz_down"))
            assert (got, answer["error"]) == (503, "kafka_unavailable")
        finally:
            await asyncio.to_thread(stack.start_kafka)
        await wait_for(base, 200)
