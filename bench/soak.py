"""Soak test: sustained load through the whole pipeline on a private stack.

Starts a private Kafka + Redis (stream.stack.Stack on free ports), ``cursorprint ingest``, a
``sessionizer`` worker and a ``scorer`` worker (each its own process, with a small synthetic model
trained once by ``train_synthetic`` and cached), then posts ``--rate`` batches/s of ``--events``
pointer events for ``--minutes`` minutes. The batches come from ``--concurrent`` page sessions
open at once (round robin, so each session sends about one batch per ``concurrent / rate``
seconds, like the collector's flush), each a fresh synthetic person (``synth_session``) of
``--batches`` batches, the last one final, so sessions keep closing and being scored.

It samples the RSS of every service (ingest, both workers, Kafka's JVM, redis-server and any
``--extra`` process) and every error counter of every service's ``/metrics``: Kafka and Redis
client errors, dead letters, batches the sessionizer dropped, ingest requests not accepted, and
load requests that failed. The first sample is taken after ``--warmup`` seconds (model loaded,
JVM heap grown, consumer groups settled), then every ``--every`` seconds, and at the end.

Pass rule: every service's RSS at the end is less than 10 % above its RSS after the warm-up, and
no error counter moved between the end of the warm-up and the end. Exit status 0 on pass, 1 on
fail. The machine is usually shared: run it with ``nice``.

    nice -n 10 python bench/soak.py [--minutes 10] [--rate 50] [--events 60] [--concurrent 50]
        [--warmup 120] [--model DIR] [--extra 'NAME=COMMAND' ...]

Kafka's JVM grows its heap from ``-Xms`` towards ``-Xmx`` under load, which shows as RSS growth
that is heap sizing, not a leak; the soak prints the heap the JVM has committed and uses
(``jcmd GC.heap_info``) next to its RSS. The stack's default heap is ``-Xms768m -Xmx768m
-XX:+AlwaysPreTouch`` (the usual production setting, Xms = Xmx): the whole heap is resident from
the start, so the broker's RSS growth is what is left; ``--kafka-heap`` runs another setting.

The replay check keeps a fingerprint of every session in Redis for ``CURSORPRINT_REPLAY_TTL_S``
(a week by default); the soak sets ``--replay-ttl`` (default 30 s, a quarter of the default
warm-up) so what Redis holds is in its steady state when memory is measured: growth beyond that
would be a leak, not the designed retention.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np

from cursorprint.model.data.synthetic import random_style, synth_session
from cursorprint.stream.devtools.playback import publish_model_heads, to_batches
from cursorprint.stream.devtools.stack import KAFKA_HEAP_DEFAULT, Stack, free_port, private_settings
from cursorprint.stream.ingest.identity import mint_token

__all__ = ["main", "error_counters", "SoakSample"]

REPO = Path(__file__).resolve().parent.parent
SITE, SECRET, ORIGIN = "soak", "soak-secret-0123456", "https://soak.example"
# counters whose movement means something went wrong
ERROR_SERIES = ("cursorprint_kafka_errors_total", "cursorprint_redis_errors_total",
                "cursorprint_dead_letters_total", "cursorprint_batches_dropped_total")
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([0-9.eE+-]+|NaN)$")
GROWTH_LIMIT = 0.10




def rss_bytes(pid: int) -> int:
    """Resident set size of one process from /proc (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def metric_values(metrics_text: str, names: tuple[str, ...]) -> dict[str, float]:
    """Samples of the named series, by full sample name (labels included)."""
    out: dict[str, float] = {}
    for line in metrics_text.splitlines():
        m = SAMPLE_RE.match(line.strip())
        if m and m.group(1) in names:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def error_counters(metrics_text: str) -> dict[str, float]:
    """The error series and the non-accepted ingest outcomes, by full sample name."""
    out = metric_values(metrics_text, ERROR_SERIES)
    for name, value in metric_values(metrics_text,
                                     ("cursorprint_ingest_requests_total",)).items():
        if 'outcome="accepted"' not in name:
            out[name] = value
    return out


@dataclass
class LoadStats:
    statuses: Counter[int] = field(default_factory=Counter)
    sessions_started: int = 0
    sessions_finished: int = 0      # final batch accepted


@dataclass
class SoakSample:
    at_s: float
    rss: dict[str, int]
    errors: dict[str, float]        # "service: series{labels}" -> value
    progress: dict[str, float]      # sessions scored, consumer lag, ...
    jvm_heap: tuple[int, int] | None = None   # Kafka's committed and used heap, bytes


def session_batches(rng: np.random.Generator, token: str, sid: str, events: int,
                    batches: int) -> list[bytes]:
    """A fresh synthetic person's page session as ``batches`` wire batches of ``events`` each."""
    import json

    traj = synth_session(rng, random_style(rng), events * batches)
    out = to_batches(traj, site=SITE, token=token, sid=sid, path="/soak",
                     start_ms=int(time.time() * 1000), flush_s=1e9, max_batch_events=events)
    return [json.dumps(b).encode() for b in out]


async def load(base: str, minutes: float, rate: float, events: int, batches: int,
               concurrent: int, tokens: list[str], stats: LoadStats) -> None:
    """Post at a fixed rate (open loop: lateness is not made up with bursts), round robin over
    ``concurrent`` open sessions; a finished session is replaced by a new one."""
    rng = np.random.default_rng(2026)
    headers = {"Content-Type": "text/plain", "Origin": ORIGIN}
    slots: list[list[bytes]] = [[] for _ in range(concurrent)]

    def next_body(slot: int) -> tuple[bytes, bool]:
        if not slots[slot]:
            sid = f"soak-{stats.sessions_started:08d}-{rng.integers(1 << 30):08x}"
            slots[slot] = session_batches(rng, tokens[stats.sessions_started % len(tokens)],
                                          sid, events, batches)
            stats.sessions_started += 1
        body = slots[slot].pop(0)
        return body, not slots[slot]

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
        async def post(body: bytes, final: bool) -> None:
            try:
                async with http.post(f"{base}/v1/batches", data=body, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=30)) as r:
                    await r.read()
                    stats.statuses[r.status] += 1
                    if final and r.status == 202:
                        stats.sessions_finished += 1
            except (aiohttp.ClientError, TimeoutError):
                stats.statuses[0] += 1

        tasks: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        end = started + minutes * 60
        i = 0
        while time.monotonic() < end:
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(post(*next_body(i % concurrent)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        await asyncio.gather(*tasks)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return str(r.read().decode())


def wait_ready(url: str, name: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"soak: {name} exited with {proc.returncode}")
        try:
            fetch(url)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise SystemExit(f"soak: {name}: {url} not ready in {timeout:.0f}s")


def soak_model(path: Path | None) -> Path:
    """The given model directory, or a small synthetic one trained once and cached."""
    if path is not None:
        if not (path / "model.json").is_file():
            raise SystemExit(f"soak: --model {path}: no model.json there")
        return path
    out = REPO / ".cursorprint" / "soak-model"
    if not (out / "model.json").is_file():
        from cursorprint.model.training.train import train_synthetic

        print(f"training a small synthetic model into {out} (once) ...", flush=True)
        train_synthetic(out, n_users=4, sessions=2, events=3000, seed=7, progress=False)
    return out


HEAP_RE = re.compile(r"heap\s+total\s+(\d+)K,\s+used\s+(\d+)K")


def jvm_heap(pid: int) -> tuple[int, int] | None:
    """(committed, used) heap of a JVM from ``jcmd PID GC.heap_info`` (None without jcmd)."""
    try:
        out = subprocess.run(["jcmd", str(pid), "GC.heap_info"], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = HEAP_RE.search(out)
    return (int(m.group(1)) * 1024, int(m.group(2)) * 1024) if m else None


def sample(t0: float, pids: dict[str, int], metrics_urls: dict[str, str]) -> SoakSample:
    errors: dict[str, float] = {}
    progress: dict[str, float] = {}
    for name, url in metrics_urls.items():
        try:
            text = fetch(url)
        except (urllib.error.URLError, OSError) as exc:
            errors[f"{name}: /metrics unreachable ({type(exc).__name__})"] = 1.0
            continue
        errors.update({f"{name}: {k}": v for k, v in error_counters(text).items()})
        for k, v in metric_values(text, ("cursorprint_scored_sessions_total",
                                         "cursorprint_sessions_closed_total",
                                         "cursorprint_consumer_lag",
                                         "cursorprint_open_sessions")).items():
            progress[f"{name}: {k}"] = v
    return SoakSample(time.monotonic() - t0, {n: rss_bytes(p) for n, p in pids.items()},
                      errors, progress, jvm_heap(pids["kafka"]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=50.0, help="batches per second")
    ap.add_argument("--events", type=int, default=60, help="events per batch")
    ap.add_argument("--batches", type=int, default=20, help="batches per page session")
    ap.add_argument("--concurrent", type=int, default=50, help="page sessions open at once")
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--warmup", type=float, default=120.0, help="seconds before the first sample")
    ap.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    ap.add_argument("--replay-ttl", type=float, default=30.0,
                    help="CURSORPRINT_REPLAY_TTL_S of the scorer")
    ap.add_argument("--kafka-heap", default=None, metavar="OPTS",
                    help="KAFKA_HEAP_OPTS of the broker (default: the stack's "
                         f"{KAFKA_HEAP_DEFAULT})")
    ap.add_argument("--model", type=Path, default=None, metavar="DIR",
                    help="model directory (default: a small synthetic one, trained once)")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=COMMAND",
                    help="another service to run and measure")
    args = ap.parse_args()
    for name, value in (("--minutes", args.minutes), ("--rate", args.rate),
                        ("--events", args.events), ("--batches", args.batches),
                        ("--concurrent", args.concurrent), ("--users", args.users),
                        ("--every", args.every), ("--replay-ttl", args.replay_ttl)):
        if not value > 0:
            print(f"soak: {name} {value}: must be > 0", file=sys.stderr)
            return 2
    if not 0 <= args.warmup < args.minutes * 60:
        print(f"soak: --warmup {args.warmup}: must be >= 0 and shorter than the run",
              file=sys.stderr)
        return 2
    extras: list[tuple[str, list[str]]] = []
    for spec in args.extra:
        name, sep, cmd = spec.partition("=")
        if not sep or not name or not cmd.strip():
            print(f"soak: --extra {spec!r}: expected NAME=COMMAND", file=sys.stderr)
            return 2
        extras.append((name, shlex.split(cmd)))
    model = soak_model(args.model)

    tmp = tempfile.TemporaryDirectory(prefix="cp-soak-")
    settings = private_settings(Path(tmp.name), REPO / ".cursorprint" / "kafka-jars",
                                partitions=4, sites=f"{SITE}={SECRET}={ORIGIN}")
    if args.kafka_heap is not None:
        os.environ["KAFKA_HEAP_OPTS"] = args.kafka_heap      # read by Stack.start_kafka
    stack = Stack(settings)
    print(f"starting a private stack (KAFKA_HEAP_OPTS: "
          f"{os.environ.get('KAFKA_HEAP_OPTS', 'the default')}) ...", flush=True)
    stack.up()
    ports = {"ingest": free_port(), "sessionizer": free_port(), "scorer": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURSORPRINT_")}
    env.update(stack.connection_env())
    env.update({"CURSORPRINT_HOME": str(Path(tmp.name) / "svc"),
                "CURSORPRINT_TOPIC_PARTITIONS": str(settings.topics.partitions),
                "CURSORPRINT_SITES": settings.ingest.sites, "CURSORPRINT_MODEL_DIR": str(model),
                "CURSORPRINT_INGEST_PORT": str(ports["ingest"]),
                "CURSORPRINT_INGEST_CLIENT_RATE": "100000",
                "CURSORPRINT_INGEST_CLIENT_BURST": "100000",
                "CURSORPRINT_REPLAY_TTL_S": str(args.replay_ttl),
                "CURSORPRINT_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    cli = [sys.executable, "-m", "cursorprint.stream.cli"]
    commands = {"ingest": [*cli, "ingest"],
                "sessionizer": [*cli, "worker", "sessionizer", "--web-port",
                                str(ports["sessionizer"])],
                "scorer": [*cli, "worker", "scorer", "--web-port", str(ports["scorer"])]}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = Path(tmp.name) / "logs"
    logs.mkdir()
    samples: list[SoakSample] = []
    stats = LoadStats()
    try:
        for name, cmd in [*commands.items(), *extras]:
            with open(logs / f"{name}.log", "wb") as fh:
                procs[name] = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=fh,
                                               stderr=subprocess.STDOUT)
        urls = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
        for name, url in urls.items():
            wait_ready(f"{url}/readyz", name, procs[name])
        heads = publish_model_heads(settings, model, SITE)
        from cursorprint.model.nets.modeldir import read_heads
        users = [*read_heads(model), *(f"soak-user-{u}" for u in range(args.users))]
        tokens = [mint_token(SITE, u, SECRET, ttl_s=args.minutes * 60 + 3600) for u in users]
        pids = {name: p.pid for name, p in procs.items()}
        pids["kafka"] = int((stack.kafka_dir / "kafka.pid").read_text())
        pids["redis"] = int((stack.redis_dir / "redis.pid").read_text())
        metrics_urls = {n: f"{u}/metrics" for n, u in urls.items()}
        print(f"load: {args.rate:g} batches/s x {args.events} events for {args.minutes:g} min "
              f"({args.rate * args.events:,.0f} events/s), {args.concurrent} sessions open at "
              f"once, {args.batches} batches ({args.batches * args.events} events) per session, "
              f"{len(users)} users ({heads} with a head); warm-up {args.warmup:g} s", flush=True)

        async def run() -> None:
            t0 = time.monotonic()
            task = asyncio.create_task(load(urls["ingest"], args.minutes, args.rate, args.events,
                                            args.batches, args.concurrent, tokens, stats))
            next_at = args.warmup
            while not task.done():
                await asyncio.wait({task}, timeout=max(0.0, next_at - (time.monotonic() - t0)))
                if not task.done():
                    s = await asyncio.to_thread(sample, t0, pids, metrics_urls)
                    samples.append(s)
                    scored = sum(v for k, v in s.progress.items() if "scored_sessions" in k)
                    lag = sum(v for k, v in s.progress.items() if "consumer_lag" in k)
                    print(f"  {s.at_s / 60:4.1f} min: RSS "
                          + ", ".join(f"{n} {b / 2**20:.0f} MB" for n, b in s.rss.items())
                          + (f" (kafka heap {s.jvm_heap[0] / 2**20:.0f} MB committed, "
                             f"{s.jvm_heap[1] / 2**20:.0f} MB used)" if s.jvm_heap else "")
                          + f"; sessions sent {stats.sessions_finished}, scored {scored:.0f}, "
                          f"consumer lag {lag:.0f}; statuses {dict(stats.statuses)}",
                          flush=True)
                    next_at += args.every
            await task
            samples.append(await asyncio.to_thread(sample, t0, pids, metrics_urls))

        t_run = time.monotonic()
        asyncio.run(run())
        elapsed = time.monotonic() - t_run
        # the last sessions: give the workers a little time to score what was sent
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            drained = sample(t_run, pids, metrics_urls)
            if sum(v for k, v in drained.progress.items()
                   if "scored_sessions" in k) >= stats.sessions_finished:
                break
            time.sleep(2)
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
    return report(samples, drained, stats, elapsed, alive)


def report(samples: list[SoakSample], drained: SoakSample, stats: LoadStats, elapsed: float,
           alive: dict[str, bool]) -> int:
    sent = sum(stats.statuses.values())
    first, last = samples[0], samples[-1]
    scored = sum(v for k, v in drained.progress.items() if "scored_sessions" in k)
    print(f"\nsent {sent} batches in {elapsed:.0f} s ({sent / elapsed:.1f}/s); statuses "
          f"{dict(sorted(stats.statuses.items()))} (0 = connection error/timeout)")
    print(f"sessions: {stats.sessions_finished} completed by the load, {scored:.0f} scored "
          "(after up to 60 s to drain)")
    print(f"RSS after warm-up ({first.at_s:.0f} s) vs end ({last.at_s:.0f} s); samples in MB:")
    ok = True
    for name in first.rss:
        a, b = first.rss[name], last.rss[name]
        growth = (b - a) / a if a else float("nan")
        ok &= growth < GROWTH_LIMIT and alive.get(name, True)
        trail = " ".join(f"{s.rss[name] / 2**20:.0f}" for s in samples)
        print(f"  {name:<12}{a / 2**20:8.1f} -> {b / 2**20:8.1f} MB {growth * 100:+6.1f}%  "
              f"alive={alive.get(name, 'n/a')}  [{trail}]")
    heaps = [s.jvm_heap for s in samples if s.jvm_heap is not None]
    if heaps:
        print("  kafka heap committed/used, MB: "
              + " ".join(f"{c / 2**20:.0f}/{u / 2**20:.0f}" for c, u in heaps))
    moved = {k: last.errors.get(k, 0.0) - first.errors.get(k, 0.0)
             for k in set(first.errors) | set(last.errors)}
    moved = {k: v for k, v in moved.items() if v}
    before = {k: v for k, v in first.errors.items() if v}
    print("error counters already non-zero at the end of the warm-up: "
          + (", ".join(f"{k} = {v:g}" for k, v in sorted(before.items())) or "none"))
    print("error counters moved after the warm-up: " + ("" if moved else "none"))
    for k, v in sorted(moved.items()):
        print(f"  {k}: {v:+g}")
    failed_load = stats.statuses[0]
    ok &= not moved and failed_load == 0
    print(f"PASS rule (RSS growth < {GROWTH_LIMIT:.0%} per service after warm-up -> end, no error "
          f"counter moved after warm-up, no failed request): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
