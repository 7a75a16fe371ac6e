"""The sessionizer worker (``cursorprint worker sessionizer``, a real subprocess) on the real
broker: ``pointer-batches`` records of touch, mixed and mouse page sessions come out as
``sessions`` records naming their pointer type, and the first rolling window comes early."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from kafka import KafkaProducer

from cursorprint.stream.devtools.stack import Stack, free_port
from cursorprint.stream.records import topics
from cursorprint.stream.records.session import POINTER_MIXED
from cursorprint.stream.records.wire import PointerBatchRecord
from cursorprint.stream.settings import Settings
from tests.stream.sessionize.test_logic import batch
from tests.support.procs import pipeline_env, read_topic, settings_from_env, start, wait_ready

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sessionizer(stack: Stack, stack_settings: Settings,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("sessionizer-pointer")
    web = free_port()
    # the sessionizer loads no model; sessions here close on their exit batch only
    env = pipeline_env(stack_settings, home, home / "no-model", CURSORPRINT_SESSION_IDLE_S=3600,
                       CURSORPRINT_SESSION_WINDOW_EVENTS=2048,
                       CURSORPRINT_SESSION_FIRST_WINDOW_EVENTS=25)
    proc = start(["worker", "sessionizer", "--web-port", str(web)], env, home / "worker.log")
    try:
        wait_ready(f"http://127.0.0.1:{web}/readyz", proc)
        yield settings_from_env(env)
    finally:
        proc.stop()


def session_batches(sid: str, pointers: list[str]) -> list[PointerBatchRecord]:
    """One batch of 10 events per entry of ``pointers`` (its pointer type), the last final."""
    now = time.time() * 1000.0
    return [replace(batch(i, sid=sid, final=i == len(pointers) - 1, t0=now), pt=pt)
            for i, pt in enumerate(pointers)]


def test_sessions_name_their_pointer_type_and_the_first_window_comes_early(
        sessionizer: Settings) -> None:
    run = f"{time.time_ns():x}"[-10:]
    cases = {f"touch-{run}": ["touch"] * 4,
             f"mixed-{run}": ["mouse", "touch", "mouse", "mouse"],
             f"mouse-{run}": ["mouse"] * 4}
    producer = KafkaProducer(bootstrap_servers=sessionizer.kafka.bootstrap_list, acks="all")
    try:
        for sid, pointers in cases.items():
            for rec in session_batches(sid, pointers):
                producer.send(topics.POINTER_BATCHES, key=rec.key, value=rec.to_bytes())
        producer.flush()
    finally:
        producer.close()
    # the topic is shared with other tests, some of which plant records of other shapes
    def ours(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m for m in msgs if m.get("session_id") in cases]

    got = read_topic(sessionizer, topics.SESSIONS, lambda msgs: {
        m["session_id"] for m in ours(msgs) if m["part"] == "final"} >= set(cases), timeout=90)
    mine = ours(got)
    finals = {m["session_id"]: (m["cause"], m["pointer"], len(m["t"]))
              for m in mine if m["part"] == "final"}
    assert finals == {f"touch-{run}": ("exit", "touch", 40),
                      f"mixed-{run}": ("exit", POINTER_MIXED, 40),
                      f"mouse-{run}": ("exit", "mouse", 40)}
    # the first window at 25 events (after the third batch, while the session is open): each
    # session had its early window, of its own type
    windows = {m["session_id"]: (m["part"], m["pointer"], len(m["t"]))
               for m in mine if m["cause"] == "window"}
    assert windows == {f"touch-{run}": (0, "touch", 25),
                       f"mixed-{run}": (0, POINTER_MIXED, 25),
                       f"mouse-{run}": (0, "mouse", 25)}
