"""Decision latency under concurrent calls while the pipeline runs, as a ratio to a bare Redis
read of the same key in the same run.

Starts a private stack (Kafka + Redis), then ``cursorprint ingest``, ``cursorprint worker all``
and ``cursorprint decide serve`` as subprocesses; plays one synthetic session so a page session
has live scores; then, while a background thread keeps posting synthetic sessions through
ingest (the pipeline busy: sessionizer, scorer, live-score writes), alternates rounds of

* ``--concurrency`` clients calling ``POST /v1/decisions`` on that page session over keep-alive
  HTTP (aiohttp), and
* the same number of clients reading the same Redis key bare (``HGETALL``: the key is a hash,
  so this is its one-command GET; ``redis.asyncio``),

and reports p50/p99 of each and their ratios. Goal: decision p99 <= 20 ms on loopback.

    python bench/decision_latency.py [--concurrency 16] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np

from cursorprint.model.data.synthetic import random_style, synth_session
from cursorprint.stream.devtools.playback import PlaybackSession, play_sessions
from cursorprint.stream.devtools.readiness import wait_ready
from cursorprint.stream.devtools.stack import Stack, free_port, private_settings
from cursorprint.stream.settings import load_settings
from cursorprint.stream.stores.keys import live_key
from cursorprint.stream.stores.live_scores import session_digest

REPO = Path(__file__).resolve().parent.parent
API_KEY = "bench-decide-key-0123456789"


def tiny_model(out: Path) -> Path:
    from cursorprint.model.data.synthetic import synth_users
    from cursorprint.model.training.train import SYNTHETIC_CONFIG, train_model

    cfg = replace(SYNTHETIC_CONFIG, epochs=1, seed=3, progress=False, max_windows_per_user=60,
                  head_windows_per_user=60, motion_features=True)
    train_model(synth_users(3, 2, 1500, seed=3), out, cfg)
    return out


def percentiles(xs: list[float]) -> tuple[float, float]:
    a = np.asarray(xs) * 1000.0
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


async def decision_round(base: str, sid: str, user: str, conc: int, seconds: float
                         ) -> list[float]:
    import aiohttp

    lat: list[float] = []
    body = json.dumps({"sid": sid, "user": user}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    stop = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as http:
        async def client() -> None:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                async with http.post(f"{base}/v1/decisions", data=body, headers=headers) as r:
                    await r.read()
                    assert r.status == 200, r.status
                lat.append(time.perf_counter() - t)
        await asyncio.gather(*(client() for _ in range(conc)))
    return lat


async def redis_round(url: str, key: str, conc: int, seconds: float) -> list[float]:
    import redis.asyncio

    r = redis.asyncio.Redis.from_url(url, max_connections=conc)
    lat: list[float] = []
    stop = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < stop:
            t = time.perf_counter()
            got = await r.hgetall(key)
            assert got
            lat.append(time.perf_counter() - t)
    try:
        await asyncio.gather(*(client() for _ in range(conc)))
    finally:
        await r.aclose()
    return lat


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="cp-decide-bench-") as tmp:
        home = Path(tmp)
        st = private_settings(home / "stack", REPO / ".cursorprint" / "kafka-jars")
        stack = Stack(st)
        stack.up()
        procs: list[subprocess.Popen[bytes]] = []
        stop_load = threading.Event()
        try:
            print("training a tiny model ...", flush=True)
            model = tiny_model(home / "model")
            web, port = free_port(), free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("CURSORPRINT_")}
            env.update({"CURSORPRINT_KAFKA_BOOTSTRAP": st.kafka.bootstrap,
                        "CURSORPRINT_REDIS_URL": st.redis.url,
                        "CURSORPRINT_TOPIC_PARTITIONS": "2", "CURSORPRINT_HOME": str(home),
                        "CURSORPRINT_MODEL_DIR": str(model),
                        "CURSORPRINT_INGEST_PORT": str(free_port()),
                        "CURSORPRINT_INGEST_CLIENT_RATE": "100000",
                        "CURSORPRINT_INGEST_CLIENT_BURST": "100000",
                        "CURSORPRINT_DECIDE_PORT": str(port),
                        "CURSORPRINT_DECIDE_SITES": f"demo={API_KEY}",
                        "CURSORPRINT_LOG_LEVEL": "WARNING"})
            settings = load_settings(environ={k: v for k, v in env.items()
                                              if k.startswith("CURSORPRINT_")})
            for args_ in (["ingest"], ["worker", "all", "--web-port", str(web)],
                          ["decide", "serve"]):
                log = open(home / f"{args_[0]}.log", "ab")  # noqa: SIM115 - closed with the dir
                procs.append(subprocess.Popen([sys.executable, "-m", "cursorprint.stream.cli",
                                               *args_], env=env, stdout=log,
                                              stderr=subprocess.STDOUT))
            for url, p in ((f"http://127.0.0.1:{settings.ingest.port}/readyz", procs[0]),
                           (f"http://127.0.0.1:{web}/readyz", procs[1]),
                           (f"http://127.0.0.1:{port}/readyz", procs[2])):
                wait_ready(url, p, 180)
            ingest_url = f"http://127.0.0.1:{settings.ingest.port}"
            rng = np.random.default_rng(5)
            user = f"bench-{uuid.uuid4().hex[:6]}"
            s = PlaybackSession("bench", user, synth_session(rng, random_style(rng), 1500))
            play_sessions(settings, [s], ingest_url=ingest_url, timeout_s=120)
            key = live_key(session_digest(s.sid))

            def load() -> None:
                lrng = np.random.default_rng(6)
                n = 0
                while not stop_load.is_set():
                    batch = [PlaybackSession(f"load{n}-{i}", f"load-user-{i}",
                                             synth_session(lrng, random_style(lrng), 1200))
                             for i in range(4)]
                    try:
                        play_sessions(settings, batch, ingest_url=ingest_url, speed=1.0,
                                      timeout_s=120)
                    except Exception:  # noqa: BLE001 - the services stop under it at the end
                        if stop_load.is_set():
                            return
                        raise
                    n += 1
            loader = threading.Thread(target=load, daemon=True)
            loader.start()
            time.sleep(3)
            base = f"http://127.0.0.1:{port}"
            dec: list[float] = []
            bare: list[float] = []
            for rnd in range(args.rounds):
                d = asyncio.run(decision_round(base, s.sid, user, args.concurrency,
                                               args.seconds))
                b = asyncio.run(redis_round(st.redis.url, key, args.concurrency, args.seconds))
                dec += d
                bare += b
                print(f"round {rnd + 1}: decisions {len(d)} (p50 {percentiles(d)[0]:.2f} ms, "
                      f"p99 {percentiles(d)[1]:.2f} ms); bare HGETALL {len(b)} "
                      f"(p50 {percentiles(b)[0]:.2f} ms, p99 {percentiles(b)[1]:.2f} ms)",
                      flush=True)
            stop_load.set()
            (d50, d99), (b50, b99) = percentiles(dec), percentiles(bare)
            result = {"concurrency": args.concurrency, "decisions": len(dec),
                      "decisions_per_s": round(len(dec) / (args.rounds * args.seconds), 1),
                      "decision_p50_ms": round(d50, 2), "decision_p99_ms": round(d99, 2),
                      "bare_reads": len(bare), "bare_p50_ms": round(b50, 3),
                      "bare_p99_ms": round(b99, 3), "ratio_p50": round(d50 / b50, 2),
                      "ratio_p99": round(d99 / b99, 2), "goal_p99_le_20ms": d99 <= 20.0}
            print(json.dumps(result, indent=2))
        finally:
            stop_load.set()
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
            stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
