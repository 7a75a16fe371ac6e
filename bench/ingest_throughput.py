"""Ingest throughput on loopback, as a ratio to producing the same batches straight to Kafka.

Both sides use the same client (aiokafka, acks=all, idempotent) and the same concurrency. The ingest
service runs as its own process (``cursorprint ingest``); this process generates the load over HTTP.
Starts a private stack (stream.stack.Stack on free ports) unless CURSORPRINT_KAFKA_BOOTSTRAP is set.

    python bench/ingest_throughput.py [--batches 3000] [--events 200] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from cursorprint.stream.devtools.stack import Stack, free_port, private_settings
from cursorprint.stream.ingest.identity import mint_token, user_key
from cursorprint.stream.records.topics import POINTER_BATCHES
from cursorprint.stream.records.wire import PointerBatchRecord, parse_wire_batch
from cursorprint.stream.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789abcdef-0123"
ORIGIN = "https://bench.example"




def make_batches(n: int, events: int) -> list[bytes]:
    token = mint_token("bench", "user-1", SECRET, 7200)
    t0 = time.time() * 1000
    out = []
    for i in range(n):
        ev = {"dt": [8.0 + (j % 3) * 0.5 for j in range(events)],
              "x": [100 + (i + j) % 700 + 0.25 for j in range(events)],
              "y": [200 + (i * j) % 500 + 0.5 for j in range(events)],
              "k": [0] * events, "b": [0] * events}
        out.append(json.dumps({"v": 1, "site": "bench", "token": token, "sid": f"bench_{i // 10:06d}",
                               "seq": i % 10, "path": "/bench", "vp": [1280, 720],
                               "scr": [1920, 1080], "dpr": 1, "t0": t0, "final": False,
                               "ev": ev}).encode())
    return out


async def run_concurrently(items: list[bytes], concurrency: int, send: object) -> float:
    queue = list(reversed(items))

    async def worker() -> None:
        while queue:
            await send(queue.pop())  # type: ignore[operator]

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def direct(settings: Settings, bodies: list[bytes], concurrency: int) -> float:
    from aiokafka import AIOKafkaProducer

    now = time.time() * 1000
    records = [PointerBatchRecord.from_wire(parse_wire_batch(json.loads(b), now),
                                            user_key("bench", "user-1", SECRET), now)
               for b in bodies]
    values = [(r.key, r.to_bytes()) for r in records]
    by_value = dict(zip(bodies, values, strict=True))
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=1)
    await producer.start()
    try:
        async def send(body: bytes) -> None:
            key, value = by_value[body]
            await (await producer.send(POINTER_BATCHES, value, key=key))
        return await run_concurrently(bodies, concurrency, send)
    finally:
        await producer.stop()


async def via_ingest(base: str, bodies: list[bytes], concurrency: int) -> float:
    headers = {"Content-Type": "text/plain", "Origin": ORIGIN}
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as http:
        for _ in range(600):
            try:
                async with http.get(f"{base}/readyz") as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
        else:
            raise SystemExit("ingest did not become ready")

        async def send(body: bytes) -> None:
            async with http.post(f"{base}/v1/batches", data=body, headers=headers) as r:
                if r.status != 202:
                    raise SystemExit(f"ingest answered {r.status}: {await r.text()}")
        await run_concurrently(bodies[:200], concurrency, send)   # warm-up
        return await run_concurrently(bodies, concurrency, send)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=3000)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    env_stack = "CURSORPRINT_KAFKA_BOOTSTRAP" in os.environ
    tmp = tempfile.TemporaryDirectory(prefix="cp-bench-")
    stack = None
    if env_stack:
        settings = load_settings()
    else:
        settings = private_settings(Path(tmp.name), REPO / ".cursorprint" / "kafka-jars",
                                    partitions=4)
        stack = Stack(settings)
        print("starting a private stack ...", flush=True)
        stack.up()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURSORPRINT_")}
    env.update({"CURSORPRINT_KAFKA_BOOTSTRAP": settings.kafka.bootstrap,
                "CURSORPRINT_SITES": f"bench={SECRET}={ORIGIN}",
                "CURSORPRINT_INGEST_CLIENT_RATE": "1000000", "CURSORPRINT_INGEST_CLIENT_BURST": "1000000",
                "CURSORPRINT_INGEST_SITE_RATE": "1000000", "CURSORPRINT_INGEST_SITE_BURST": "1000000",
                "CURSORPRINT_LOG_LEVEL": "WARNING"})
    server = subprocess.Popen([sys.executable, "-m", "cursorprint.stream.cli", "ingest",
                               "--port", str(port)], env=env)
    try:
        bodies = make_batches(args.batches, args.events)
        n_events = args.batches * args.events
        t_direct = asyncio.run(direct(settings, bodies, args.concurrency))
        t_ingest = asyncio.run(via_ingest(f"http://127.0.0.1:{port}", bodies, args.concurrency))
    finally:
        server.terminate()
        server.wait(30)
        if stack is not None:
            stack.down()
        tmp.cleanup()
    direct_eps, ingest_eps = n_events / t_direct, n_events / t_ingest
    print(f"batches={args.batches} events/batch={args.events} concurrency={args.concurrency} "
          f"body≈{len(bodies[0])} bytes")
    print(f"direct aiokafka : {direct_eps:12,.0f} events/s ({args.batches / t_direct:,.0f} batches/s)")
    print(f"via ingest HTTP : {ingest_eps:12,.0f} events/s ({args.batches / t_ingest:,.0f} batches/s)")
    print(f"ratio ingest/direct = {ingest_eps / direct_eps:.2f} (goal >= 0.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
