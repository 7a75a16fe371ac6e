"""Pipeline throughput, scale-out and close-to-score latency, as ratios measured in one run.

* events/s through the agents (pointer-batches -> sessionizer -> sessions -> scorer ->
  session-scores, workers as real ``cursorprint worker`` subprocesses) divided by the bare
  broker's produce+consume events/s for the SAME pointer-batch messages (same client, same
  partitions), for two workloads:

  - **Balabit**: real Balabit test sessions cut into collector batches (sparse: ~8 events a
    one-second batch);
  - **SapiMouse-rate**: SapiMouse one-minute recordings (browser mousemove at ~60 Hz, 16-17 ms
    apart) cut by the collector's own rules (``playback.to_batches``: one batch per second of
    recording, the "Other" button left out as the collector does): ~35 events a batch;

  each also as page sessions/s and pointer batches/s (one moving page session sends about one
  batch a second, so batches/s is also how many moving page sessions the workers keep up with);
* p50/p99 from a session's close (``closed_at``, sessionizer) to its score on the topic (the
  score message's broker timestamp): at saturation, at 80 % of the saturation batch rate just
  measured (Balabit batches sent evenly paced), and at a light stated load;
* CPU seconds each worker role used per 1000 events in each saturation run (from
  ``/proc/PID/stat``): on a machine shared with other work this, not wall time, is what a change
  to a worker's code moves; 1000 / that is the events/s one core of that role sustains;
* scale-out: the Balabit saturation run again after a second sessionizer and a second scorer
  joined (2 + 2 processes on the partitions) against the 1 + 1 figure of the same run.

Starts a private stack (4 partitions) unless CURSORPRINT_KAFKA_BOOTSTRAP is set; uses
CURSORPRINT_MODEL_DIR if it holds a model, else trains a tiny synthetic one.

    python -m bench.pipeline_throughput [--sessions 60] [--sapi-sessions 12] [--light 12]
        [--no-scale-out] [--py-spy PATH [--profile-role scorer] --profile-out F]
    python -m bench.pipeline_throughput --baseline-commit COMMIT [--rounds 2] [--sessions 20]

``--baseline-commit`` compares code instead: the workers of an older commit (its ``stream`` and
``model`` folders, ``git archive``-d into the temporary folder and put first on the workers'
``PYTHONPATH``) and the workers of this tree take turns on the same stack, ``--rounds`` times
each, on the same Balabit and SapiMouse-rate sessions (new ids each time), so both see the same
machine load. The bench's own code (message building, clients) is this tree's in both.

``--py-spy`` samples the first worker of ``--profile-role`` (sessionizer or scorer) with that
py-spy binary during the Balabit saturation run (``py-spy record --pid``, raw collapsed stacks
in ``--profile-out``); summarise them with ``python bench/profile_top.py F``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.data.datasets import read_sapimouse_session
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.stream.devtools.playback import load_balabit_sessions, to_batches
from cursorprint.stream.devtools.readiness import wait_ready
from cursorprint.stream.devtools.stack import Stack, free_port, private_settings
from cursorprint.stream.ingest.identity import user_key
from cursorprint.stream.records.topics import POINTER_BATCHES, SESSION_SCORES
from cursorprint.stream.records.wire import PointerBatchRecord, parse_wire_batch
from cursorprint.stream.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "datasets" / "balabit"
SAPI = REPO.parent / "shared" / "datasets" / "sapimouse"
Messages = list[list[tuple[bytes, bytes]]]       # (key, value) per session


@dataclass
class Workload:
    """Pointer-batch messages of some page sessions, ready to send."""

    name: str
    per_session: Messages
    sids: set[str]
    events: int

    @property
    def batches(self) -> int:
        return sum(len(m) for m in self.per_session)


def records(settings: Settings, sessions: list[tuple[str, Trajectory]], name: str,
            run: str) -> Workload:
    """The collector batches of each ``(user, trajectory)`` as pointer-batch messages."""
    now = time.time() * 1000
    out, sids, n = [], set(), 0
    for i, (user, traj) in enumerate(sessions):
        sid = f"bench-{run}-{i:05d}"
        sids.add(sid)
        msgs = []
        for b in to_batches(traj, site="demo", token="t.t", sid=sid, start_ms=int(now)):
            rec = PointerBatchRecord.from_wire(
                parse_wire_batch(b, now),
                user_key("demo", user, settings.ingest.pseudonym_secret), now)
            msgs.append((rec.key, rec.to_bytes()))
            n += len(b["ev"]["dt"])
        out.append(msgs)
    return Workload(name, out, sids, n)


def sapimouse_sessions(n: int, root: Path = SAPI) -> list[tuple[str, Trajectory]]:
    """The one-minute recordings of the first ``n`` SapiMouse users (by folder name)."""
    files = sorted(root.glob("user*/session_1min.csv"))[:n]
    if len(files) < n:
        raise SystemExit(f"{root}: {len(files)} one-minute recordings, {n} wanted")
    return [(f.parent.name, read_sapimouse_session(f, f.parent.name)) for f in files]


def interleave(per_session: Messages, open_at_once: int) -> Messages:
    """The messages of all sessions as one sequence in which ``open_at_once`` page sessions are
    open together, as a site's concurrent visitors are: one batch of each open session in
    turn, each session's batches in their order, and the next session starting when one
    ends. ``open_at_once`` 1 sends one session after the other."""
    waiting = [list(msgs) for msgs in reversed(per_session)]
    open_now: list[list[tuple[bytes, bytes]]] = []
    out: list[tuple[bytes, bytes]] = []
    while waiting or open_now:
        while waiting and len(open_now) < open_at_once:
            open_now.append(waiting.pop())
        for msgs in open_now:
            out.append(msgs.pop(0))
        open_now = [msgs for msgs in open_now if msgs]
    return [out]


async def produce(settings: Settings, topic: str, per_session: Messages,
                  gap_s: float = 0.0, rate: float | None = None) -> None:
    """Send every message; ``gap_s`` between sessions, or ``rate`` messages/s evenly paced."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all",
                                linger_ms=5, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        futures = []
        t0, sent = time.perf_counter(), 0
        for msgs in per_session:
            for key, value in msgs:
                if rate is not None:
                    ahead = t0 + sent / rate - time.perf_counter()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                futures.append(await producer.send(topic, value, key=key))
                sent += 1
            if gap_s:
                await asyncio.sleep(gap_s)
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def consume_until(settings: Settings, topic: str, take: Callable[[Any], bool],
                        start_at_end: bool, timeout: float = 900.0) -> None:
    """Read ``topic`` until ``take(message)`` says it was the last one wanted."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka.bootstrap,
                                group_id=None, enable_auto_commit=False,
                                auto_offset_reset="latest" if start_at_end else "earliest",
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting on {topic}")
            batch = await consumer.getmany(timeout_ms=200)
            if any(take(m) for msgs in batch.values() for m in msgs):
                return
    finally:
        await consumer.stop()


async def bare(settings: Settings, work: Workload) -> float:
    """Seconds to produce and consume ``work`` on a fresh topic (no agents), timed as the
    pipeline run is: from the first send, with the reading consumer already started."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"bench-bare-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, settings.topics.partitions, 1)])
    await admin.close()
    left = [work.batches]

    def take(_: Any) -> bool:
        left[0] -= 1
        return left[0] <= 0
    consumer = asyncio.create_task(consume_until(settings, topic, take, start_at_end=False))
    await asyncio.sleep(3.0)        # the consumer has joined and fetches, as in through_pipeline
    t0 = time.perf_counter()
    await produce(settings, topic, work.per_session)
    await consumer
    return time.perf_counter() - t0


async def through_pipeline(settings: Settings, work: Workload, gap_s: float = 0.0,
                           rate: float | None = None
                           ) -> tuple[float, list[float], list[float]]:
    """Seconds from the first batch sent to the last session's final score; each final score's
    delay after its session closed (s, to the score's broker timestamp); and of that delay
    the part before the scorer's micro-batch began (s, to ``scored_at``)."""
    waiting, lat, queued = set(work.sids), [], []

    def take(m: Any) -> bool:
        v = json.loads(m.value)
        if v["part"] == "final" and v["session_id"] in waiting:
            waiting.discard(v["session_id"])
            lat.append((m.timestamp - v["closed_at"]) / 1000.0)
            queued.append((v["scored_at"] - v["closed_at"]) / 1000.0)
        return not waiting
    consumer = asyncio.create_task(consume_until(settings, SESSION_SCORES, take,
                                                 start_at_end=True))
    await asyncio.sleep(3.0)        # the consumer is positioned at the end
    t0 = time.perf_counter()
    await produce(settings, POINTER_BATCHES, work.per_session, gap_s, rate)
    await consumer
    return time.perf_counter() - t0, lat, queued


# the scorer's metric samples the bench reports, by the name it reports them under
_SCORER_SAMPLES = {"cursorprint_scored_sessions_total": "parts",
                   "cursorprint_scorer_batch_images_count": "micro-batches",
                   "cursorprint_scorer_batch_images_sum": "images",
                   "cursorprint_inference_seconds_sum": "s"}


class Workers:
    """``cursorprint worker`` subprocesses, each with a home (Faust data dir) of its own."""

    def __init__(self, env: dict[str, str], home: Path) -> None:
        self.env, self.home = env, home
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.ports: list[tuple[str, int]] = []        # each worker's web port (metrics)
        self.watched: list[tuple[str, int]] = []      # other processes whose CPU is reported

    def start(self, *roles: str) -> None:
        cli = [sys.executable, "-m", "cursorprint.stream.cli", "worker"]
        started = []
        for role in roles:
            port = free_port()
            home = self.home / f"{role}-{len(self.procs)}"
            proc = subprocess.Popen([*cli, role, "--web-port", str(port)],
                                    env={**self.env, "CURSORPRINT_HOME": str(home)})
            self.procs.append((role, proc))
            self.ports.append((role, port))
            started.append((port, proc))
        for port, proc in started:
            wait_ready(f"http://127.0.0.1:{port}/readyz", proc, 180)

    def watch(self, name: str, pid: int) -> None:
        """Report the CPU of another process (the private stack's broker, Redis) too."""
        self.watched.append((name, pid))

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds (user + system, all threads) used so far by each role's processes
        together: unlike wall time, this does not grow when other work shares the cores."""
        tick = os.sysconf("SC_CLK_TCK")
        out: dict[str, float] = {}
        for role, pid in [*((r, p.pid) for r, p in self.procs), *self.watched]:
            # /proc/PID/stat: utime and stime are fields 14 and 15, after "(comm)"
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            out[role] = out.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        return out

    def scorer_work(self) -> dict[str, float]:
        """What the scorers did so far, from their ``/metrics``: parts scored, micro-batches
        and images, and the model thread's seconds per stage."""
        from urllib.request import urlopen

        from prometheus_client.parser import text_string_to_metric_families

        out: dict[str, float] = {}
        for role, port in self.ports:
            if role != "scorer":
                continue
            with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
                text = resp.read().decode()
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    name = _SCORER_SAMPLES.get(sample.name)
                    if name == "s":                  # model-thread seconds, per stage
                        name = "s " + sample.labels.get("stage", "")
                    if name is not None:
                        out[name] = out.get(name, 0.0) + sample.value
        return out

    def first(self, role: str) -> subprocess.Popen[bytes]:
        return next(p for r, p in self.procs if r == role)

    def stop(self) -> None:
        for _, p in self.procs:
            p.terminate()
        for _, p in self.procs:
            p.wait(30)


@dataclass
class Saturation:
    work: Workload
    bare_s: float
    pipe_s: float
    lat: list[float]
    cpu_s: dict[str, float]       # CPU seconds each role used during the pipeline run
    scorer: dict[str, float]      # what the scorers did in it (Workers.scorer_work)
    bare_cpu_s: dict[str, float]  # CPU seconds each process used during the bare run

    def lines(self) -> list[str]:
        w, n = self.work, len(self.work.per_session)
        bare_eps, pipe_eps = w.events / self.bare_s, w.events / self.pipe_s
        q = np.percentile(self.lat, [50, 99])
        return [
            f"{w.name}: {n} page sessions, {w.batches} pointer batches, {w.events} events "
            f"({w.events / w.batches:.1f} events a batch)",
            f"  bare broker produce+consume : {bare_eps:10,.0f} events/s ({self.bare_s:.2f} s)",
            f"  pipeline (sessionize+score) : {pipe_eps:10,.0f} events/s, "
            f"{w.batches / self.pipe_s:,.0f} batches/s, {n / self.pipe_s:.2f} page sessions/s "
            f"({self.pipe_s:.2f} s)",
            f"  ratio pipeline/bare = {pipe_eps / bare_eps:.3f}",
            f"  close->score at saturation: p50 {q[0]:.3f} s, p99 {q[1]:.3f} s",
            *(f"  {role} CPU: {1e6 * cpu / w.events:.1f} ms per 1000 events, "
              f"{1e3 * cpu / w.batches:.2f} ms per batch ({100 * cpu / self.pipe_s:.0f} % of "
              f"one core; at 100 %: {w.events / cpu:,.0f} events/s; in the bare run "
              f"{1e6 * self.bare_cpu_s.get(role, 0.0) / w.events:.1f} ms per 1000 events)"
              for role, cpu in sorted(self.cpu_s.items())),
            *self.scorer_lines()]

    def scorer_lines(self) -> list[str]:
        sc, n = self.scorer, max(self.scorer.get("micro-batches", 0.0), 1.0)
        if not sc.get("parts"):
            return []
        stages = ", ".join(f"{k[2:]} {sc[k]:.2f} s ({1e3 * sc[k] / n:.0f} ms each)"
                           for k in ("s raster", "s backbone", "s head") if k in sc)
        parts, images = sc["parts"], sc.get("images", 0.0)
        per_session = parts / len(self.work.per_session)
        per_1000 = 1e3 * images / self.work.events
        return [f"  scorer: {parts:.0f} parts scored ({per_session:.1f} per page session), "
                f"{sc.get('micro-batches', 0.0):.0f} micro-batches, {images:.0f} images "
                f"({per_1000:.0f} per 1000 events); model thread: {stages}"]


def saturate(settings: Settings, workers: Workers, work: Workload,
             spy: Callable[[], Any] | None = None) -> Saturation:
    """The bare broker, then the pipeline, on the same messages (``spy`` profiles the latter;
    it returns a function that stops the profiler)."""
    cpu_b = workers.cpu_s()
    bare_s = asyncio.run(bare(settings, work))
    cpu0 = workers.cpu_s()
    stop = spy() if spy is not None else None
    work0 = workers.scorer_work()
    pipe_s, lat, _ = asyncio.run(through_pipeline(settings, work))
    cpu1, work1 = workers.cpu_s(), workers.scorer_work()
    if stop is not None:
        stop()
    return Saturation(work, bare_s, pipe_s, lat,
                      {role: cpu1[role] - cpu0.get(role, 0.0) for role in cpu1},
                      {k: v - work0.get(k, 0.0) for k, v in work1.items()},
                      {role: cpu0[role] - cpu_b.get(role, 0.0) for role in cpu0})


def baseline_tree(commit: str, into: Path) -> Path:
    """A ``PYTHONPATH`` folder whose ``cursorprint`` package is ``commit``'s code."""
    src, pkg = into / "src", into / "pkg" / "cursorprint"
    src.mkdir(parents=True)
    pkg.mkdir(parents=True)
    tar = subprocess.run(["git", "-C", str(REPO), "archive", commit, "stream", "model"],
                         check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=tar, check=True)
    for name in ("stream", "model"):
        (pkg / name).symlink_to(src / name)
    return pkg.parent


def compare_code(settings: Settings, env: dict[str, str], home: Path, baseline: Path,
                 label: str, balabit: list[tuple[str, Trajectory]],
                 sapi: list[tuple[str, Trajectory]], rounds: int) -> list[str]:
    """Baseline and this tree's workers in turns; a line per saturation run, then the means."""
    path = os.pathsep.join(p for p in (str(baseline), env.get("PYTHONPATH", "")) if p)
    trees = [(label, {**env, "PYTHONPATH": path}), ("this tree", env)]
    got: dict[tuple[str, str], list[Saturation]] = {}
    out = []
    for r in range(rounds):
        for i, (name, tree_env) in enumerate(trees):
            workers = Workers(tree_env, home / f"round{r}-{i}")
            try:
                workers.start("sessionizer", "scorer")
                run = f"{uuid.uuid4().hex[:6]}"
                asyncio.run(through_pipeline(settings, records(settings, balabit[:2], "warm",
                                                               run + "w")))
                for work_name, sessions in (("Balabit", balabit[2:]), ("SapiMouse-rate", sapi)):
                    if not sessions:
                        continue
                    sat = saturate(settings, workers, records(
                        settings, sessions, f"{work_name}, {name}, round {r + 1}",
                        run + work_name[0]))
                    got.setdefault((work_name, name), []).append(sat)
                    print("\n".join(sat.lines()), flush=True)
                    out += sat.lines()
            finally:
                workers.stop()
    out.append(f"means over {rounds} rounds:")
    for (work_name, name), sats in got.items():
        ratio = np.mean([s.work.events / s.pipe_s / (s.work.events / s.bare_s) for s in sats])
        eps = np.mean([s.work.events / s.pipe_s for s in sats])
        cpu = {role: np.mean([1e6 * s.cpu_s[role] / s.work.events for s in sats])
               for role in sats[0].cpu_s}
        out.append(f"  {work_name}, {name}: ratio pipeline/bare {ratio:.3f}, pipeline "
                   f"{eps:,.0f} events/s, CPU per 1000 events: " +
                   ", ".join(f"{role} {v:.1f} ms" for role, v in sorted(cpu.items())))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=60, help="Balabit sessions")
    ap.add_argument("--sapi-sessions", type=int, default=12,
                    help="SapiMouse one-minute sessions (0: leave that workload out)")
    ap.add_argument("--light", type=int, default=12, help="sessions of the light-load run")
    ap.add_argument("--light-gap", type=float, default=1.0, help="seconds between sessions")
    ap.add_argument("--load", default="0.8",
                    help="paced runs at these shares of the Balabit saturation batch rate, "
                         "comma-separated (0: none)")
    ap.add_argument("--open-sessions", type=int, default=8,
                    help="page sessions open at once in the paced runs (1: one after another)")
    ap.add_argument("--no-scale-out", action="store_true",
                    help="leave out the 2 sessionizer + 2 scorer run")
    ap.add_argument("--baseline-commit", default=None,
                    help="compare the workers of this commit with this tree's (only that)")
    ap.add_argument("--rounds", type=int, default=2, help="turns each (--baseline-commit)")
    ap.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                    help="a setting for the workers, e.g. CURSORPRINT_SCORER_BATCH_SIZE=64 "
                         "(repeatable)")
    ap.add_argument("--py-spy", type=Path, default=None,
                    help="py-spy binary: profile a worker with it")
    ap.add_argument("--profile-role", choices=("sessionizer", "scorer"), default="sessionizer",
                    help="the worker role --py-spy profiles")
    ap.add_argument("--profile-out", type=Path, default=Path("worker-profile.txt"),
                    help="raw collapsed stacks of the profiled worker (with --py-spy)")
    args = ap.parse_args()
    try:
        loads = [float(x) for x in args.load.split(",") if float(x) > 0]
    except ValueError:
        raise SystemExit(f"--load {args.load!r}: expected shares like 0.5,0.8") from None
    if args.open_sessions < 1:
        raise SystemExit(f"--open-sessions {args.open_sessions}: must be at least 1")
    print(f"load average at start: {os.getloadavg()}", flush=True)
    tmp = tempfile.TemporaryDirectory(prefix="cp-bench-")
    stack = None
    if "CURSORPRINT_KAFKA_BOOTSTRAP" in os.environ:
        settings = load_settings()
    else:
        settings = private_settings(Path(tmp.name), REPO / ".cursorprint" / "kafka-jars",
                                    partitions=4)
        stack = Stack(settings)
        print("starting a private stack ...", flush=True)
        stack.up()
    model = Path(settings.scorer.model_dir)
    if not (model / "model.json").is_file():
        from cursorprint.model.data.synthetic import synth_users
        from cursorprint.model.training.train import SYNTHETIC_CONFIG, train_model
        model = Path(tmp.name) / "model"
        print("training a tiny synthetic model ...", flush=True)
        train_model(synth_users(3, 2, 1500, seed=3), model,
                    replace(SYNTHETIC_CONFIG, epochs=1, progress=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURSORPRINT_")}
    env.update({"CURSORPRINT_KAFKA_BOOTSTRAP": settings.kafka.bootstrap,
                "CURSORPRINT_REDIS_URL": settings.redis.url,
                "CURSORPRINT_TOPIC_PARTITIONS": str(settings.topics.partitions),
                "CURSORPRINT_MODEL_DIR": str(model.resolve()),
                "CURSORPRINT_LOG_LEVEL": "WARNING"})
    for item in args.worker_env:
        name, eq, value = item.partition("=")
        if not eq or not name.startswith("CURSORPRINT_"):
            raise SystemExit(f"--worker-env {item!r}: expected CURSORPRINT_NAME=VALUE")
        env[name] = value
    workers = Workers(env, Path(tmp.name))
    workers.watch("bench (load + reader)", os.getpid())
    if stack is not None:
        for service in stack.status():
            if service.pid is not None:
                workers.watch(f"{service.name} (stack)", service.pid)
    out: list[str] = []
    try:
        if args.baseline_commit is not None:
            balabit = [(s.user, s.traj) for s in
                       load_balabit_sessions(DATA, DATA / "labels_dev.csv", args.sessions + 2)]
            sapi_s = sapimouse_sessions(args.sapi_sessions) if args.sapi_sessions else []
            base = baseline_tree(args.baseline_commit, Path(tmp.name) / "baseline")
            out = compare_code(settings, env, Path(tmp.name), base,
                               f"commit {args.baseline_commit}", balabit, sapi_s, args.rounds)
        else:
            workers.start("sessionizer", "scorer")
            balabit = [(s.user, s.traj) for s in
                       load_balabit_sessions(DATA, DATA / "labels_dev.csv", args.sessions + 8)]
            main_s, warm_s = balabit[:args.sessions], balabit[args.sessions:]
            run = uuid.uuid4().hex[:6]
            asyncio.run(through_pipeline(settings, records(settings, warm_s[:2], "warm", run + "w")))

            def spy() -> Callable[[], Any]:
                proc = subprocess.Popen(
                    [str(args.py_spy), "record", "--pid", str(workers.first(args.profile_role).pid),
                     "--rate", "250", "--nonblocking", "--format", "raw", "-o",
                     str(args.profile_out)])

                def stop() -> None:
                    proc.send_signal(signal.SIGINT)
                    proc.wait(60)
                return stop
            sat = saturate(settings, workers, records(settings, main_s, "Balabit", run),
                           spy if args.py_spy is not None else None)
            out += sat.lines()
            print("\n".join(sat.lines()), flush=True)
            if args.sapi_sessions:
                sapi_work = records(settings, sapimouse_sessions(args.sapi_sessions),
                                    "SapiMouse-rate", run + "s")
                sapi = saturate(settings, workers, sapi_work)
                out += sapi.lines()
                print("\n".join(sapi.lines()), flush=True)
            for i, load in enumerate(loads):
                rate = load * sat.work.batches / sat.pipe_s
                paced = records(settings, main_s, "Balabit paced", f"{run}p{i}")
                paced.per_session = interleave(paced.per_session, args.open_sessions)
                took, lat, queued = asyncio.run(through_pipeline(settings, paced, rate=rate))
                q, qq = np.percentile(lat, [50, 99]), np.percentile(queued, [50, 99])
                line = (f"close->score at {100 * load:.0f} % of the saturation rate "
                        f"({rate:,.0f} batches/s = {paced.events / took:,.0f} events/s sent evenly, "
                        f"{args.open_sessions} page sessions open at once, {len(lat)} sessions): "
                        f"p50 {q[0]:.3f} s, p99 {q[1]:.3f} s (close -> its micro-batch began: "
                        f"p50 {qq[0]:.3f} s, p99 {qq[1]:.3f} s)")
                out.append(line)
                print(line, flush=True)
            if args.light:
                light = records(settings, balabit[:args.light], "light", run + "l")
                _, light_lat, _ = asyncio.run(through_pipeline(settings, light, args.light_gap))
                ql = np.percentile(light_lat, [50, 99])
                line = (f"close->score at light load (one session every {args.light_gap:g} s, "
                        f"{len(light_lat)} sessions): p50 {ql[0]:.3f} s, p99 {ql[1]:.3f} s")
                out.append(line)
                print(line, flush=True)
            if not args.no_scale_out:
                workers.start("sessionizer", "scorer")
                # the group rebalances onto 2 + 2: wait until sessions flow on every partition
                asyncio.run(through_pipeline(settings, records(settings, warm_s, "warm",
                                                               run + "x")))
                two = saturate(settings, workers,
                               records(settings, main_s, "Balabit, 2 + 2", run + "2"))
                one_eps, two_eps = sat.work.events / sat.pipe_s, two.work.events / two.pipe_s
                out += [*two.lines(),
                        f"scale-out: 2 sessionizers + 2 scorers {two_eps:,.0f} events/s vs 1 + 1 "
                        f"{one_eps:,.0f} events/s on {settings.topics.partitions} partitions: "
                        f"x{two_eps / one_eps:.2f}"]
    finally:
        workers.stop()
        if stack is not None:
            stack.down()
        tmp.cleanup()
    print(f"\n== model {model}, {settings.topics.partitions} partitions, load average at end: "
          f"{os.getloadavg()}")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
