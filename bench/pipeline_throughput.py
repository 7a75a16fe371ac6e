"""Pipeline throughput and close-to-score latency, as ratios measured in one run.

* events/s through the agents (pointer-batches -> sessionizer -> sessions -> scorer ->
  session-scores, workers as real ``cursorprint worker`` subprocesses) divided by the bare
  broker's produce+consume events/s for the SAME pointer-batch messages (same client, same
  partitions);
* p50/p99 from a session's close (``closed_at``, sessionizer) to its score on the topic (the
  score message's broker timestamp), at saturation and at a light stated load.

Messages are real Balabit test sessions cut into collector batches (stream.replay.to_batches).
Starts a private stack unless CURSORPRINT_KAFKA_BOOTSTRAP is set; uses CURSORPRINT_MODEL_DIR if
it holds a model, else trains a tiny synthetic one.

    python bench/pipeline_throughput.py [--sessions 60] [--light 12] [--py-spy PATH --profile-out F]

``--py-spy`` samples the sessionizer worker with that py-spy binary during the saturation run
(``py-spy record --pid``, raw collapsed stacks in ``--profile-out``); summarise them with
``python bench/profile_top.py F``.
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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.stream.devtools.playback import load_balabit_sessions, to_batches
from cursorprint.stream.devtools.readiness import wait_ready
from cursorprint.stream.devtools.stack import Stack, free_port
from cursorprint.stream.ingest.identity import user_key
from cursorprint.stream.records.topics import POINTER_BATCHES, SESSION_SCORES
from cursorprint.stream.records.wire import PointerBatchRecord, parse_wire_batch
from cursorprint.stream.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "datasets" / "balabit"




def records(settings: Settings, sessions: list[Any], run: str) -> tuple[list[list[tuple[bytes, bytes]]], int]:
    """Pointer-batch messages (key, value) per session, and the number of events."""
    now = time.time() * 1000
    out, n = [], 0
    for i, s in enumerate(sessions):
        sid = f"bench-{run}-{i:05d}"
        msgs = []
        for b in to_batches(s.traj, site="demo", token="t.t", sid=sid, start_ms=int(now)):
            rec = PointerBatchRecord.from_wire(parse_wire_batch(b, now),
                                               user_key("demo", s.user, settings.ingest.pseudonym_secret),
                                               now)
            msgs.append((rec.key, rec.to_bytes()))
            n += len(b["ev"]["dt"])
        out.append(msgs)
    return out, n


async def produce(settings: Settings, topic: str, per_session: list[list[tuple[bytes, bytes]]],
                  gap_s: float = 0.0) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all",
                                linger_ms=5, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        futures = []
        for msgs in per_session:
            for key, value in msgs:
                futures.append(await producer.send(topic, value, key=key))
            if gap_s:
                await asyncio.sleep(gap_s)
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def consume_until(settings: Settings, topic: str, done: Any, start_at_end: bool,
                        timeout: float = 600.0) -> list[Any]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka.bootstrap,
                                group_id=None, enable_auto_commit=False,
                                auto_offset_reset="latest" if start_at_end else "earliest",
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    got: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while not done(got):
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting on {topic} ({len(got)} messages)")
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                got.extend(msgs)
    finally:
        await consumer.stop()
    return got


async def bare(settings: Settings, per_session: list[list[tuple[bytes, bytes]]]) -> float:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"bench-bare-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, settings.topics.partitions, 1)])
    await admin.close()
    total = sum(len(m) for m in per_session)
    t0 = time.perf_counter()
    consumer = asyncio.create_task(consume_until(settings, topic, lambda g: len(g) >= total,
                                                 start_at_end=False))
    await produce(settings, topic, per_session)
    await consumer
    return time.perf_counter() - t0


async def through_pipeline(settings: Settings, per_session: list[list[tuple[bytes, bytes]]],
                           sids: set[str], gap_s: float = 0.0) -> tuple[float, list[float]]:
    def done(got: list[Any]) -> bool:
        return sids <= {json.loads(m.value)["session_id"] for m in got
                        if json.loads(m.value)["part"] == "final"}
    consumer = asyncio.create_task(consume_until(settings, SESSION_SCORES, done,
                                                 start_at_end=True))
    await asyncio.sleep(3.0)        # the consumer is positioned at the end
    t0 = time.perf_counter()
    await produce(settings, POINTER_BATCHES, per_session, gap_s)
    got = await consumer
    took = time.perf_counter() - t0
    lat = []
    for m in got:
        v = json.loads(m.value)
        if v["session_id"] in sids and v["part"] == "final":
            lat.append((m.timestamp - v["closed_at"]) / 1000.0)
    return took, lat


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=60)
    ap.add_argument("--light", type=int, default=12, help="sessions of the light-load run")
    ap.add_argument("--light-gap", type=float, default=1.0, help="seconds between sessions")
    ap.add_argument("--py-spy", type=Path, default=None,
                    help="py-spy binary: profile the sessionizer worker with it")
    ap.add_argument("--profile-out", type=Path, default=Path("sessionizer-profile.txt"),
                    help="raw collapsed stacks of the sessionizer worker (with --py-spy)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="cp-bench-")
    stack = None
    if "CURSORPRINT_KAFKA_BOOTSTRAP" in os.environ:
        settings = load_settings()
    else:
        kport, rport = free_port(), free_port()
        settings = load_settings(environ={}, home=Path(tmp.name),
                                 kafka_jars=REPO / ".cursorprint" / "kafka-jars",
                                 kafka_port=kport, kafka_controller_port=free_port(),
                                 kafka_bootstrap=f"127.0.0.1:{kport}", redis_port=rport,
                                 redis_url=f"redis://127.0.0.1:{rport}/0", topic_partitions=4)
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
                "CURSORPRINT_HOME": tmp.name, "CURSORPRINT_MODEL_DIR": str(model),
                "CURSORPRINT_LOG_LEVEL": "WARNING"})
    web_s, web_c = free_port(), free_port()
    cli = [sys.executable, "-m", "cursorprint.stream.cli", "worker"]
    procs = [subprocess.Popen([*cli, "sessionizer", "--web-port", str(web_s)], env=env),
             subprocess.Popen([*cli, "scorer", "--web-port", str(web_c)], env=env)]
    try:
        wait_ready(f"http://127.0.0.1:{web_s}/readyz", procs[0], 180)
        wait_ready(f"http://127.0.0.1:{web_c}/readyz", procs[1], 180)
        sessions = load_balabit_sessions(DATA, DATA / "labels_dev.csv",
                                         args.sessions + args.light + 2)
        run = uuid.uuid4().hex[:6]
        warm, _ = records(settings, sessions[:2], run + "w")
        main_set, n_events = records(settings, sessions[2:2 + args.sessions], run)
        light, _ = records(settings, sessions[2 + args.sessions:], run + "l")
        n_msgs = sum(len(m) for m in main_set)
        asyncio.run(through_pipeline(settings, warm, {f"bench-{run}w-{i:05d}" for i in range(2)}))
        t_bare = asyncio.run(bare(settings, main_set))
        sids = {f"bench-{run}-{i:05d}" for i in range(len(main_set))}
        spy = None if args.py_spy is None else subprocess.Popen(
            [str(args.py_spy), "record", "--pid", str(procs[0].pid), "--rate", "250",
             "--nonblocking", "--format", "raw", "-o", str(args.profile_out)])
        t_pipe, lat = asyncio.run(through_pipeline(settings, main_set, sids))
        if spy is not None:            # the profile covers the saturation run only
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        lsids = {f"bench-{run}l-{i:05d}" for i in range(len(light))}
        _, light_lat = asyncio.run(through_pipeline(settings, light, lsids, args.light_gap))
    finally:
        for p in procs:
            p.terminate()
            p.wait(30)
        if stack is not None:
            stack.down()
        tmp.cleanup()
    bare_eps, pipe_eps = n_events / t_bare, n_events / t_pipe
    print(f"{len(main_set)} Balabit sessions, {n_msgs} pointer batches, {n_events} events, "
          f"{settings.topics.partitions} partitions, model {model}")
    print(f"bare broker produce+consume : {bare_eps:10,.0f} events/s ({t_bare:.2f} s)")
    print(f"pipeline (sessionize+score) : {pipe_eps:10,.0f} events/s ({t_pipe:.2f} s)")
    print(f"ratio pipeline/bare = {pipe_eps / bare_eps:.3f}")
    q = np.percentile(lat, [50, 99])
    print(f"close->score at saturation ({pipe_eps:,.0f} events/s): p50 {q[0]:.3f} s, "
          f"p99 {q[1]:.3f} s")
    ql = np.percentile(light_lat, [50, 99])
    print(f"close->score at light load (one session every {args.light_gap:g} s, "
          f"{len(light_lat)} sessions): p50 {ql[0]:.3f} s, p99 {ql[1]:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
