"""Soak test: sustained load on ingest (and any extra services) on a private stack.

Posts ``--rate`` batches/s of ``--events`` pointer events, spread over many page sessions and users,
for ``--minutes`` minutes against ``cursorprint ingest`` (its own process) on a private Kafka +
Redis (stream.stack.Stack on free ports). It samples the RSS of every service process (ingest,
Kafka's JVM, redis-server and each ``--extra`` process) after a warm-up and at the end, and the
error counters of ingest's ``/metrics``, then prints the memory growth per service and whether
any error counter moved. Not a pass/fail test: run it and report what it prints.

    python bench/soak.py [--minutes 10] [--rate 50] [--events 60]
        [--extra 'sessionizer=cursorprint worker sessionizer' ...]

``--extra`` commands get the stack's CURSORPRINT_KAFKA_BOOTSTRAP / CURSORPRINT_REDIS_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

from cursorprint.stream.identity import mint_token
from cursorprint.stream.settings import load_settings
from cursorprint.stream.stack import Stack

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
SITE, SECRET, ORIGIN = "soak", "soak-secret-0123456", "https://soak.example"
# counters whose movement means something went wrong (outcomes other than accepted included)
ERROR_SERIES = ("cursorprint_kafka_errors_total", "cursorprint_redis_errors_total",
                "cursorprint_dead_letters_total")
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([0-9.eE+-]+|NaN)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """Resident set size of one process from /proc (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def error_counters(metrics_text: str) -> dict[str, float]:
    """The error series and the non-accepted ingest outcomes, by full sample name."""
    out: dict[str, float] = {}
    for line in metrics_text.splitlines():
        m = SAMPLE_RE.match(line.strip())
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        if name in ERROR_SERIES or (name == "cursorprint_ingest_requests_total"
                                    and 'outcome="accepted"' not in labels):
            out[name + labels] = float(value)
    return out


def batch_body(token: str, sid: str, seq: int, events: int, phase: float) -> bytes:
    ev = {"dt": [8.0 + (j % 3) for j in range(events)],
          "x": [round(400 + 300 * ((j + phase) % 50) / 50, 1) for j in range(events)],
          "y": [round(300 + 5 * (j % 7) + phase % 40, 1) for j in range(events)],
          "k": [0] * events, "b": [0] * events}
    return json.dumps({"v": 1, "site": SITE, "token": token, "sid": sid, "seq": seq,
                       "path": "/soak", "vp": [1280, 720], "scr": [1920, 1080], "dpr": 1,
                       "t0": time.time() * 1000.0, "final": seq % 20 == 19, "ev": ev}).encode()


async def load(base: str, minutes: float, rate: float, events: int,
               users: int) -> Counter[int]:
    """Post at a fixed rate (open loop: lateness is not made up with bursts)."""
    tokens = [mint_token(SITE, f"soak-user-{u}", SECRET, ttl_s=minutes * 60 + 3600)
              for u in range(users)]
    statuses: Counter[int] = Counter()
    headers = {"Content-Type": "text/plain", "Origin": ORIGIN}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
        async def post(i: int) -> None:
            session = i // 20
            body = batch_body(tokens[session % users], f"soak-sess-{session:08d}", i % 20, events,
                              float(i))
            try:
                async with http.post(f"{base}/v1/batches", data=body, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=30)) as r:
                    await r.read()
                    statuses[r.status] += 1
            except (aiohttp.ClientError, TimeoutError):
                statuses[0] += 1

        tasks: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        end = started + minutes * 60
        i = 0
        next_report = started + 60
        while time.monotonic() < end:
            due = started + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(post(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
            if time.monotonic() >= next_report:
                next_report += 60
                print(f"  {(time.monotonic() - started) / 60:4.1f} min: sent {i}, "
                      f"statuses {dict(statuses)}", flush=True)
        await asyncio.gather(*tasks)
    return statuses


def fetch(url: str) -> str:
    import urllib.request
    with urllib.request.urlopen(url, timeout=10) as r:
        return str(r.read().decode())


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    import urllib.error
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"ingest exited with {proc.returncode}")
        try:
            fetch(url)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise SystemExit(f"{url} not ready in {timeout:.0f}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=50.0, help="batches per second")
    ap.add_argument("--events", type=int, default=60, help="events per batch")
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--warmup", type=float, default=30.0, help="seconds before the first sample")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=COMMAND",
                    help="another service to run and measure (e.g. a worker)")
    args = ap.parse_args()
    for name, value in (("--minutes", args.minutes), ("--rate", args.rate),
                        ("--events", args.events), ("--users", args.users)):
        if value <= 0:
            print(f"soak: {name} {value}: must be > 0", file=sys.stderr)
            return 2
    extras: list[tuple[str, list[str]]] = []
    for spec in args.extra:
        name, sep, cmd = spec.partition("=")
        if not sep or not name or not cmd.strip():
            print(f"soak: --extra {spec!r}: expected NAME=COMMAND", file=sys.stderr)
            return 2
        extras.append((name, shlex.split(cmd)))

    tmp = tempfile.TemporaryDirectory(prefix="cp-soak-")
    kport, rport = free_port(), free_port()
    settings = load_settings(environ={}, home=Path(tmp.name),
                             kafka_jars=REPO / ".cursorprint" / "kafka-jars", kafka_port=kport,
                             kafka_controller_port=free_port(),
                             kafka_bootstrap=f"127.0.0.1:{kport}", redis_port=rport,
                             redis_url=f"redis://127.0.0.1:{rport}/0", topic_partitions=4)
    stack = Stack(settings)
    print("starting a private stack ...", flush=True)
    stack.up()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURSORPRINT_")}
    env.update(stack.connection_env())
    env.update({"CURSORPRINT_HOME": str(Path(tmp.name) / "svc"),
                "CURSORPRINT_SITES": f"{SITE}={SECRET}={ORIGIN}",
                "CURSORPRINT_INGEST_CLIENT_RATE": "100000",
                "CURSORPRINT_INGEST_CLIENT_BURST": "100000",
                "CURSORPRINT_LOG_LEVEL": "WARNING"})
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        procs["ingest"] = subprocess.Popen(
            [sys.executable, "-m", "cursorprint.stream.cli", "ingest", "--port", str(port)],
            env=env, cwd=REPO)
        for name, cmd in extras:
            procs[name] = subprocess.Popen(cmd, env=env, cwd=REPO)
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", procs["ingest"])
        pids = {name: p.pid for name, p in procs.items()}
        pids["kafka"] = int((stack.kafka_dir / "kafka.pid").read_text())
        pids["redis"] = int((stack.redis_dir / "redis.pid").read_text())
        print(f"load: {args.rate:g} batches/s x {args.events} events for {args.minutes:g} min "
              f"({args.rate * args.events:,.0f} events/s), {args.users} users", flush=True)

        async def run() -> tuple[Counter[int], dict[str, int], dict[str, float]]:
            task = asyncio.create_task(load(base, args.minutes, args.rate, args.events,
                                            args.users))
            await asyncio.sleep(min(args.warmup, args.minutes * 30))
            rss0 = {n: rss_bytes(p) for n, p in pids.items()}
            err0 = error_counters(await asyncio.to_thread(fetch, f"{base}/metrics"))
            return await task, rss0, err0

        t0 = time.monotonic()
        statuses, rss_start, err_start = asyncio.run(run())
        elapsed = time.monotonic() - t0
        rss_end = {n: rss_bytes(p) for n, p in pids.items()}
        err_end = error_counters(fetch(f"{base}/metrics"))
        alive = {n: p.poll() is None for n, p in procs.items()}
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        stack.down()
        tmp.cleanup()

    sent = sum(statuses.values())
    print(f"\nsent {sent} batches in {elapsed:.0f} s ({sent / elapsed:.1f}/s); statuses "
          f"{dict(sorted(statuses.items()))} (0 = connection error/timeout)")
    print(f"{'service':<14}{'RSS after warm-up':>18}{'RSS at end':>14}{'growth':>9}  alive")
    for name in rss_start:
        a, b = rss_start[name], rss_end[name]
        growth = (b - a) / a * 100 if a else float("nan")
        print(f"{name:<14}{a / 2**20:>15.1f} MB{b / 2**20:>11.1f} MB{growth:>8.1f}%  "
              f"{alive.get(name, 'n/a')}")
    moved = {k: err_end.get(k, 0.0) - err_start.get(k, 0.0)
             for k in set(err_start) | set(err_end)}
    moved = {k: v for k, v in moved.items() if v}
    print("error counters moved during the measured window:" if moved
          else "error counters moved during the measured window: none")
    for k, v in sorted(moved.items()):
        print(f"  {k}: +{v:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
