"""Helpers of the pipeline integration tests: a tiny model, and ingest + Faust workers started
as real subprocesses (``cursorprint ingest`` / ``cursorprint worker``) on the fixture's stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cursorprint.stream.devtools import readiness
from cursorprint.stream.devtools.stack import free_port
from cursorprint.stream.settings import Settings, load_settings

__all__ = ["tiny_model", "Proc", "pipeline_env", "start", "wait_ready", "read_topic", "read_to_end",
           "settings_from_env"]


def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic model (seconds to train), shared by the pipeline test modules."""
    out = tmp_path_factory.getbasetemp() / "pipeline-model"
    if not (out / "model.json").is_file():
        from cursorprint.model.data.synthetic import synth_users
        from cursorprint.model.training.train import SYNTHETIC_CONFIG, train_model

        # motion statistics on, so the stream's scorer and enrollment use that path
        cfg = replace(SYNTHETIC_CONFIG, epochs=1, seed=3, progress=False,
                      max_windows_per_user=60, head_windows_per_user=60, motion_features=True)
        train_model(synth_users(3, 2, 1500, seed=3), out, cfg)
    return out


def pipeline_env(st: Settings, home: Path, model: Path, **extra: Any) -> dict[str, str]:
    """CURSORPRINT_* variables pointing subprocesses at the test stack with short timeouts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURSORPRINT_")}
    env.update({
        "CURSORPRINT_KAFKA_BOOTSTRAP": st.kafka.bootstrap, "CURSORPRINT_REDIS_URL": st.redis.url,
        "CURSORPRINT_TOPIC_PARTITIONS": str(st.topics.partitions),
        "CURSORPRINT_HOME": str(home), "CURSORPRINT_MODEL_DIR": str(model),
        "CURSORPRINT_INGEST_PORT": str(free_port()),
        "CURSORPRINT_INGEST_CLIENT_RATE": "100000", "CURSORPRINT_INGEST_CLIENT_BURST": "100000",
        "CURSORPRINT_SESSION_IDLE_S": "3", "CURSORPRINT_SESSION_TICK_S": "0.5",
        "CURSORPRINT_SCORER_BATCH_WITHIN_S": "0.2", "CURSORPRINT_HEAD_CACHE_TTL_S": "1",
        "CURSORPRINT_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def settings_from_env(env: dict[str, str]) -> Settings:
    return load_settings(environ={k: v for k, v in env.items() if k.startswith("CURSORPRINT_")})


class Proc:
    """A started ``cursorprint`` subprocess with its log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args = args
        self.log = log
        self._fh = open(log, "ab")
        self.p = subprocess.Popen([sys.executable, "-m", "cursorprint.stream.cli", *args],
                                  env=env, stdout=self._fh, stderr=subprocess.STDOUT,
                                  start_new_session=True)

    def kill9(self) -> None:
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(10)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        self._fh.close()

    def tail(self, n: int = 3000) -> str:
        return self.log.read_bytes()[-n:].decode(errors="replace")


def start(args: list[str], env: dict[str, str], log: Path) -> Proc:
    return Proc(args, env, log)


def stop_all(procs: Iterable[Proc]) -> None:
    """Stop every process, then show the log tail of each that logged a traceback (pytest
    prints it with the failing test, so a crashed service explains the failure)."""
    procs = list(procs)
    for p in procs:
        p.stop()
    for p in procs:
        if "Traceback" in p.tail(20000):
            print(f"--- {p.log.name}\n{p.tail(4000)}", file=sys.stderr)


def wait_ready(url: str, proc: Proc, timeout: float = 120.0) -> None:
    """Poll ``url`` (a /readyz) until it answers 200; fail with the service's log tail."""
    try:
        readiness.wait_ready(url, proc.p, timeout)
    except readiness.NotReady as exc:
        raise AssertionError(f"{exc}:\n{proc.tail()}") from None


def _json_object(message: Any) -> dict[str, Any] | None:
    try:
        obj = json.loads(message.value.decode("utf-8"))
    except (AttributeError, UnicodeDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def read_topic(st: Settings, topic: str, until: Any, timeout: float = 60.0,
               ) -> list[dict[str, Any]]:
    """Every JSON object message of ``topic`` from the start, polled until ``until(messages)``.
    Other values are left out: the test session's stack is shared, and some tests plant poison
    records (not UTF-8, not JSON) on purpose."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=st.kafka.bootstrap_list, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    got: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msgs in consumer.poll(timeout_ms=500).values():
                got.extend(obj for obj in map(_json_object, msgs) if obj is not None)
            if until(got):
                break
    finally:
        consumer.close()
    return got


def read_to_end(bootstrap: str | list[str], topics: Iterable[str], timeout: float = 60.0
                ) -> list[Any]:
    """Every record of ``topics`` from the first offset to the end offsets taken now (kafka-python
    ``ConsumerRecord``s); fails when a topic is missing or the end is not reached in time."""
    from kafka import KafkaConsumer, TopicPartition

    wanted = list(topics)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             group_id=None)
    try:
        parts = [TopicPartition(t, p) for t in wanted
                 for p in sorted(consumer.partitions_for_topic(t) or ())]
        assert {p.topic for p in parts} == set(wanted), "some topics are missing"
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(p) < end[p] for p in parts):
            assert time.monotonic() < deadline, f"could not read {wanted} to the end"
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def ids(messages: Iterable[dict[str, Any]], key: str) -> set[str]:
    return {str(m[key]) for m in messages}
