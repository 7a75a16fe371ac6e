"""Chaos run: real sessions through the whole pipeline while components are killed and paused.

SapiMouse sessions (``CURSORPRINT_DATA_DIR/sapimouse``) are played back through ``cursorprint
ingest`` -> ``sessionizer`` -> ``scorer`` (each its own process) on a private Kafka + Redis
(``stream.devtools.stack.Stack``), as the collector would send them (``playback.to_batches``,
paced at ``--speed`` times real time, ``--concurrent`` page sessions at once). The client
retries a batch like the collector (0.25 s doubling to 4 s on a refused connection, a timeout,
429 or 5xx) until it gets a 202. Meanwhile, every ``--fault-every`` seconds, one fault:

* ``ingest`` / ``sessionizer`` / ``scorer``: ``kill -9``, restarted at once;
* ``broker`` / ``redis``: ``kill -9`` of the broker's JVM / redis-server, restarted at once
  (same data directory);
* ``sessionizer_twice`` / ``scorer_twice``: ``kill -9``, restart, and ``kill -9`` again
  ``--twice-gap`` seconds later, while the group still waits for the first one (its session
  timeout is 10 s), then restart;
* ``sessionizer_stop`` / ``scorer_stop``: ``SIGSTOP`` for ``--stop-s`` seconds (past the
  consumer session timeout, so the group evicts it), then ``SIGCONT``.

The first faults go through every kind once (shuffled), then kinds are drawn at random
(``--seed``). After each fault a probe session (one final batch of real movement) is posted; the
fault's **recovery time** is from the end of the fault (kill and restart issued; for the broker
and Redis, the launcher's restart returned, which waits until they answer; or SIGCONT) until
the probe's score is on ``session-scores``. The next fault waits for that.

At the end the load finishes its open sessions, the run waits up to ``--drain-s`` for their
scores, and reports: accepted sessions (every batch 202) without a final score (goal 0),
missing events (events accepted minus events in the final score; goal 0), workers left dead
(exited) or wedged (stopped, or /readyz not 200), Faust agent crashes in the logs, and the
recovery times (p50/p99, and each). Exit status 0 when all goals are met.

    nice -n 10 python -m bench.chaos [--minutes 10] [--fault-every 40] [--seed 16]
        [--faults KIND,KIND,...] [--speed 3] [--concurrent 6] [--data DIR] [--model DIR]
        [--json FILE]

The same code runs the short CI version (``tests/pipeline/test_chaos.py``) on the test stack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.data.datasets import read_sapimouse_session
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.stream.devtools.playback import to_batches
from cursorprint.stream.devtools.processes import (
    alive,
    free_port,
    read_pid,
    signal_group,
    wait_gone,
)
from cursorprint.stream.devtools.readiness import NotReady, wait_ready
from cursorprint.stream.devtools.stack import Stack, private_settings
from cursorprint.stream.ingest.identity import mint_token
from cursorprint.stream.records import topics
from cursorprint.stream.records.events import BUTTON_KINDS
from cursorprint.stream.settings import load_settings

__all__ = ["ChaosConfig", "ChaosReport", "FAULTS", "run_chaos", "load_sessions", "main"]

REPO = Path(__file__).resolve().parent.parent
SITE, SECRET, ORIGIN = "chaos", "chaos-site-secret-0123456789abcdef", "https://chaos.example"
WORKERS = ("sessionizer", "scorer")
FAULTS = ("ingest", "sessionizer", "scorer", "broker", "redis", "sessionizer_twice",
          "scorer_twice", "sessionizer_stop", "scorer_stop")
CRASH_MARK = "Crashed reason="          # what Faust logs when an agent raises


@dataclass
class ChaosConfig:
    minutes: float = 10.0
    fault_every_s: float = 40.0
    faults: tuple[str, ...] = FAULTS      # kinds to draw from
    seed: int = 16
    speed: float = 3.0                    # playback speed (x real time)
    concurrent: int = 6                   # page sessions open at once
    twice_gap_s: float = 3.0
    stop_s: float = 15.0                  # SIGSTOP length (consumer session timeout: 10 s)
    recovery_timeout_s: float = 240.0
    drain_s: float = 300.0
    max_faults: int | None = None         # stop injecting after this many (the CI version)


@dataclass
class FaultResult:
    kind: str
    at_s: float                           # since the start of the load
    recovery_s: float | None              # None: the probe was not scored in time


@dataclass
class ChaosReport:
    duration_s: float = 0.0
    sessions_accepted: int = 0
    given_up: dict[str, str] = field(default_factory=dict)   # a batch never got its 202
    events_accepted: int = 0
    unscored: list[str] = field(default_factory=list)
    missing_events: int = 0
    extra_events: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    faults: list[FaultResult] = field(default_factory=list)
    dead_or_wedged: list[str] = field(default_factory=list)
    agent_crashes: list[str] = field(default_factory=list)

    def recovery(self) -> dict[str, float | None]:
        times = [f.recovery_s for f in self.faults if f.recovery_s is not None]
        if not times:
            return {"p50_s": None, "p99_s": None, "max_s": None}
        return {"p50_s": round(float(np.percentile(times, 50)), 1),
                "p99_s": round(float(np.percentile(times, 99)), 1),
                "max_s": round(max(times), 1)}

    def ok(self) -> bool:
        return (not self.unscored and self.missing_events == 0 and not self.dead_or_wedged
                and not self.agent_crashes and not self.given_up
                and all(f.recovery_s is not None for f in self.faults))

    def summary(self) -> dict[str, Any]:
        return {"duration_s": round(self.duration_s), "sessions_accepted": self.sessions_accepted,
                "sessions_given_up": self.given_up,
                "events_accepted": self.events_accepted,
                "accepted_without_score": len(self.unscored),
                "missing_events": self.missing_events, "extra_events": self.extra_events,
                "statuses": self.statuses, "dead_or_wedged": self.dead_or_wedged,
                "agent_crashes": len(self.agent_crashes), "recovery": self.recovery(),
                "faults": [asdict(f) for f in self.faults], "pass": self.ok()}


def load_sessions(data: Path, limit: int | None = None) -> list[tuple[str, Trajectory]]:
    """(user, trajectory) of the SapiMouse one-minute sessions, sorted by folder.

    A few recordings hold a press or release without a button, which no collector sends and
    ingest refuses (422): those sessions are left out, so every refusal in the run is news."""
    files = sorted(data.glob("user*/session_1min.csv"))
    if not files:
        raise SystemExit(f"chaos: {data}: no user*/session_1min.csv (the SapiMouse set)")
    out = []
    for f in files:
        traj = read_sapimouse_session(f, f.parent.name)
        if not np.any(np.isin(traj.kind, list(BUTTON_KINDS)) & (traj.button == 0)):
            out.append((f.parent.name.split(".")[0], traj))
    return out[:limit]


class Service:
    """One ``cursorprint`` process of the run: started, killed and restarted the same way."""

    def __init__(self, name: str, args: list[str], ready_url: str, env: dict[str, str],
                 logs: Path) -> None:
        self.name, self.args, self.ready_url, self.env, self.logs = name, args, ready_url, env, logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.logs / f"{self.name}.{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen([sys.executable, "-m", "cursorprint.stream.cli",
                                          *self.args], env=self.env, cwd=REPO, stdout=fh,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 300.0) -> None:
        assert self.proc is not None
        wait_ready(self.ready_url, self.proc, timeout)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        signal_group(self.proc.pid, sig)

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.proc is not None
        wait_gone(self.proc.pid, 30.0)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGCONT)          # a paused process cannot handle SIGTERM
            self.signal(signal.SIGTERM)
            if not wait_gone(self.proc.pid, 30.0):
                self.kill9()

    def health(self) -> str | None:
        """None when running and ready; else what is wrong."""
        if self.proc is None or self.proc.poll() is not None:
            return f"{self.name}: exited ({None if self.proc is None else self.proc.returncode})"
        try:
            state = Path(f"/proc/{self.proc.pid}/stat").read_text().split(") ", 1)[1][0]
        except OSError:
            state = "?"
        if state == "T":
            return f"{self.name}: stopped"
        try:
            wait_ready(self.ready_url, self.proc, 60.0)
        except NotReady as exc:
            return f"{self.name}: not ready ({exc})"
        return None


class Scores:
    """Final scores on ``session-scores`` as they arrive (a background reader, which outlives
    broker restarts: the client reconnects)."""

    def __init__(self, bootstrap: list[str]) -> None:
        self.bootstrap = bootstrap
        self.final: dict[str, tuple[float, dict[str, Any]]] = {}   # sid -> (arrival, record)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(topics.SESSION_SCORES, bootstrap_servers=self.bootstrap,
                                 group_id=None, auto_offset_reset="earliest",
                                 enable_auto_commit=False)
        try:
            while not self._stop.is_set():
                for msgs in consumer.poll(timeout_ms=500).values():
                    for msg in msgs:
                        obj = json.loads(msg.value)
                        if obj.get("part") == "final":
                            self.final.setdefault(obj["session_id"], (time.monotonic(), obj))
        finally:
            consumer.close()

    def wait_for(self, sids: set[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while sids - set(self.final):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.25)
        return True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


class Load:
    """The playback: page sessions posted as the collector would, each batch retried until 202."""

    def __init__(self, url: str, sessions: list[tuple[str, Trajectory]], cfg: ChaosConfig
                 ) -> None:
        self.url, self.sessions, self.cfg = url + "/v1/batches", sessions, cfg
        self.accepted: dict[str, int] = {}        # sid -> events accepted (all batches 202)
        self.given_up: dict[str, str] = {}       # sid -> the last answer of the batch
        self.statuses: dict[str, int] = {}
        self._lock = threading.Lock()           # the load and the probes count from two threads
        self.stopping = threading.Event()
        self.tokens = {u: mint_token(SITE, u, SECRET, ttl_s=24 * 3600)
                       for u in {u for u, _ in sessions}}

    async def post(self, http: Any, batch: dict[str, Any], deadline: float) -> str | None:
        """None once the batch got its 202; else the last answer (refused, or out of time)."""
        import aiohttp

        body = json.dumps(batch, separators=(",", ":"))
        delay = 0.25
        last = "no attempt"
        while time.monotonic() < deadline:
            try:
                async with http.post(self.url, data=body, headers={
                        "Content-Type": "text/plain", "Origin": ORIGIN},
                        timeout=aiohttp.ClientTimeout(total=20)) as resp:
                    status = resp.status
                    last = f"{status} {(await resp.read())[:200]!r}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                status, last = 0, f"0 {type(exc).__name__}: {exc}"
            with self._lock:
                self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            if status == 202:
                return None
            if status not in (0, 429) and status < 500:
                return last                           # refused for good: a bug, reported
            await asyncio.sleep(delay)
            delay = min(delay * 2, 4.0)
        return f"gave up at the deadline; last answer {last}"

    async def session(self, http: Any, n: int, sid: str) -> None:
        user, traj = self.sessions[n % len(self.sessions)]
        batches = to_batches(traj, site=SITE, token=self.tokens[user], sid=sid,
                             start_ms=int(time.time() * 1000), path="/chaos")
        t_start = time.monotonic()
        for batch in batches:
            due = t_start + (batch["t0"] - batches[0]["t0"] + sum(batch["ev"]["dt"])) \
                / 1000.0 / self.cfg.speed
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            failed = await self.post(http, batch, time.monotonic() + self.cfg.recovery_timeout_s)
            if failed is not None:
                self.given_up[sid] = f"seq {batch['seq']}: {failed}"
                return
        self.accepted[sid] = sum(len(b["ev"]["dt"]) for b in batches)

    async def run(self, run_id: str) -> None:
        import aiohttp

        counter = iter(range(10**9))

        async def lane() -> None:
            while not self.stopping.is_set():
                n = next(counter)
                await self.session(http, n, f"chaos-{run_id}-{n:06d}")

        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(lane() for _ in range(self.cfg.concurrent)))

    async def probe(self, sid: str) -> str | None:
        """One final batch of real movement (the first 400 events of a session)."""
        import aiohttp

        user, traj = self.sessions[len(sid) % len(self.sessions)]
        part = traj.slice(0, min(400, len(traj)))
        batch = to_batches(part, site=SITE, token=self.tokens[user], sid=sid,
                           start_ms=int(time.time() * 1000), path="/chaos-probe",
                           flush_s=1e9, max_batch_events=10_000)[0]
        async with aiohttp.ClientSession() as http:
            return await self.post(http, batch, time.monotonic() + self.cfg.recovery_timeout_s)


def agent_crashes(logs: Path) -> list[str]:
    out = []
    for log in sorted(logs.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if CRASH_MARK in line and "CancelledError" not in line:
                out.append(f"{log.name}: {line[:300]}")
    return out


def run_chaos(stack: Stack, model: Path, sessions: list[tuple[str, Trajectory]],
              cfg: ChaosConfig, home: Path, say: Callable[[str], None] = print) -> ChaosReport:
    """The chaos run on ``stack`` (running); services' logs under ``home/logs``."""
    for kind in cfg.faults:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r} (use {', '.join(FAULTS)})")
    st = stack.settings
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    ports = {"ingest": free_port(), "sessionizer": free_port(), "scorer": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURSORPRINT_")}
    env.update(stack.connection_env())
    env.update({"CURSORPRINT_HOME": str(home / "svc"), "CURSORPRINT_MODEL_DIR": str(model),
                "CURSORPRINT_TOPIC_PARTITIONS": str(st.topics.partitions),
                "CURSORPRINT_SITES": f"{SITE}={SECRET}={ORIGIN}",
                "CURSORPRINT_INGEST_PORT": str(ports["ingest"]),
                "CURSORPRINT_INGEST_CLIENT_RATE": "100000",
                "CURSORPRINT_INGEST_CLIENT_BURST": "100000",
                # sessions close on their final batch; the idle timeout only has to outlast a
                # fault (a paused or restarting worker) so a live session is never cut
                "CURSORPRINT_SESSION_IDLE_S": "120",
                "CURSORPRINT_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    services = {
        "ingest": Service("ingest", ["ingest"], f"http://127.0.0.1:{ports['ingest']}/readyz",
                          env, logs),
        **{w: Service(w, ["worker", w, "--web-port", str(ports[w])],
                      f"http://127.0.0.1:{ports[w]}/readyz", env, logs) for w in WORKERS}}
    report = ChaosReport()
    scores = Scores(st.kafka.bootstrap_list)
    load = Load(f"http://127.0.0.1:{ports['ingest']}", sessions, cfg)
    rng = random.Random(cfg.seed)
    run_id = f"{cfg.seed}-{int(time.time())}"
    try:
        for svc in services.values():
            svc.start()
        for svc in services.values():
            svc.wait_ready()
        scores.start()
        t0 = time.monotonic()
        loop_thread = threading.Thread(target=lambda: asyncio.run(load.run(run_id)), daemon=True)
        loop_thread.start()
        say(f"load: {cfg.concurrent} SapiMouse sessions at once at {cfg.speed:g}x; faults every "
            f"{cfg.fault_every_s:g} s for {cfg.minutes:g} min")

        plan = rng.sample(list(cfg.faults), len(cfg.faults))
        n = 0
        while time.monotonic() - t0 < cfg.minutes * 60 and (cfg.max_faults is None
                                                           or n < cfg.max_faults):
            time.sleep(max(0.0, t0 + (n + 1) * cfg.fault_every_s - time.monotonic()))
            if time.monotonic() - t0 >= cfg.minutes * 60:
                break
            kind = plan[n] if n < len(plan) else rng.choice(cfg.faults)
            at = time.monotonic() - t0
            inject(kind, stack, services, cfg)
            ended = time.monotonic()
            probe = f"chaos-probe-{run_id}-{n:03d}"
            failed = asyncio.run(load.probe(probe))
            recovered = failed is None and scores.wait_for({probe}, cfg.recovery_timeout_s
                                               - (time.monotonic() - ended))
            rec = scores.final[probe][0] - ended if recovered else None
            report.faults.append(FaultResult(kind, round(at, 1),
                                             None if rec is None else round(rec, 1)))
            say(f"  {at:6.0f} s  {kind:<18} recovery "
                + (f"{rec:.1f} s" if rec is not None else "NONE (probe not scored)")
                + f"; {len(load.accepted)} sessions accepted, {len(scores.final)} scored")
            n += 1

        # let the load finish the sessions it has open, then wait for their scores
        while time.monotonic() - t0 < cfg.minutes * 60:
            time.sleep(1.0)
        load.stopping.set()
        loop_thread.join(cfg.recovery_timeout_s + 600)
        report.duration_s = time.monotonic() - t0
        scores.wait_for(set(load.accepted), cfg.drain_s)
        report.sessions_accepted = len(load.accepted)
        report.given_up = dict(load.given_up)
        report.events_accepted = sum(load.accepted.values())
        report.statuses = dict(sorted(load.statuses.items()))
        for sid, events in load.accepted.items():
            if sid not in scores.final:
                report.unscored.append(sid)
                continue
            scored = int(scores.final[sid][1]["n_events"])
            report.missing_events += max(0, events - scored)
            report.extra_events += max(0, scored - events)
        report.dead_or_wedged = [h for h in (s.health() for s in services.values()) if h]
        report.agent_crashes = agent_crashes(logs)
    finally:
        load.stopping.set()
        scores.stop()
        for svc in services.values():
            svc.stop()
    return report


def inject(kind: str, stack: Stack, services: dict[str, Service], cfg: ChaosConfig) -> None:
    """One fault; returns once the component is restarted (or resumed)."""
    if kind in ("ingest", *WORKERS):
        services[kind].kill9()
        services[kind].start()
    elif kind.endswith("_twice"):
        svc = services[kind.removesuffix("_twice")]
        svc.kill9()
        svc.start()
        time.sleep(cfg.twice_gap_s)           # still within the first kill's rebalance
        svc.kill9()
        svc.start()
    elif kind.endswith("_stop"):
        svc = services[kind.removesuffix("_stop")]
        svc.signal(signal.SIGSTOP)
        time.sleep(cfg.stop_s)
        svc.signal(signal.SIGCONT)
    elif kind == "broker":
        stack.stop_kafka(hard=True)
        stack.start_kafka()
    elif kind == "redis":
        pid = read_pid(stack.redis_dir / "redis.pid")
        if alive(pid):
            assert pid is not None
            signal_group(pid, signal.SIGKILL)
            wait_gone(pid, 30.0)
        stack.start_redis()
    else:
        raise ValueError(f"unknown fault {kind!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--fault-every", type=float, default=40.0, help="seconds between faults")
    ap.add_argument("--faults", default=",".join(FAULTS), help="kinds to draw from")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--speed", type=float, default=3.0, help="playback speed, x real time")
    ap.add_argument("--concurrent", type=int, default=6, help="page sessions open at once")
    ap.add_argument("--sessions", type=int, default=None, help="SapiMouse sessions to use")
    ap.add_argument("--data", type=Path, default=None,
                    help="the SapiMouse folder (default: CURSORPRINT_DATA_DIR/sapimouse)")
    ap.add_argument("--model", type=Path, default=None, metavar="DIR",
                    help="model directory (default: bench/soak.py's small synthetic model)")
    ap.add_argument("--json", type=Path, default=None, help="write the report here")
    args = ap.parse_args(argv)
    if not args.minutes > 0 or not args.fault_every > 0 or not args.speed > 0:
        print("chaos: --minutes, --fault-every and --speed must be > 0", file=sys.stderr)
        return 2
    cfg = ChaosConfig(minutes=args.minutes, fault_every_s=args.fault_every, seed=args.seed,
                      faults=tuple(k.strip() for k in args.faults.split(",") if k.strip()),
                      speed=args.speed, concurrent=args.concurrent)
    data = args.data or load_settings(sections=("general",)).general.dataset("sapimouse")
    sessions = load_sessions(data, args.sessions)
    from bench.soak import soak_model
    model = soak_model(args.model)
    with tempfile.TemporaryDirectory(prefix="cp-chaos-") as tmp:
        settings = private_settings(Path(tmp), REPO / ".cursorprint" / "kafka-jars")
        stack = Stack(settings)
        print("starting a private stack ...", flush=True)
        stack.up()
        try:
            report = run_chaos(stack, model, sessions, cfg, Path(tmp),
                               say=lambda s: print(s, flush=True))
        finally:
            stack.down()
    summary = report.summary()
    print(json.dumps(summary, indent=1))
    if report.unscored:
        print(f"accepted without a score: {report.unscored[:10]}")
    for line in report.agent_crashes[:10]:
        print(line)
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1))
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
