"""Property through the real agents: anything ingest accepts, every agent processes.

Hypothesis draws hostile wire batches (the strategy of
``tests/stream/ingest/test_accepted_is_processable.py``: lone surrogates, control and
bidirectional characters, ids and queries in the path, huge and tiny numbers, empty columns,
optional ``pt``/``smp`` valid or not) with a fixed seed (``derandomize``), each its own page
session. They are posted to a real ``cursorprint ingest`` on the ``stack`` fixture's broker while
a real ``sessionizer`` and a real ``scorer`` worker (subprocesses) run. Then:

* every answer is a 202 or a 4xx with a reason, never a 5xx;
* every accepted page session reaches ``session-scores`` (its final part) or ``dead-letter``
  with an error text, within a generous deadline (the only wait; no sleeps);
* no agent crashed: every worker is still running and no log holds Faust's
  ``Crashed reason=`` (an agent that raises is restarted by Faust, so liveness alone would not
  show it).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kafka import KafkaConsumer

from cursorprint.stream.devtools.stack import Stack, free_port
from cursorprint.stream.ingest.identity import mint_token
from cursorprint.stream.records import topics
from cursorprint.stream.settings import Settings
from tests.stream.ingest.test_accepted_is_processable import draw_examples
from tests.support.procs import (
    Proc,
    pipeline_env,
    settings_from_env,
    start,
    tiny_model,
    wait_ready,
)

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("ACCEPTED_AGENTS_EXAMPLES", "60"))
SECRET = "agents-prop-secret-0123456789abcdef"
ORIGIN = "https://agents-prop.example"
SITES = f"agentsprop={SECRET}={ORIGIN}"
CRASH_MARK = "Crashed reason="


def agent_crashes(log: Path) -> list[str]:
    """Faust's crash lines of a worker log (a rebalance's CancelledError is not a crash)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines()
            if CRASH_MARK in line and "CancelledError" not in line]


def outcomes(bootstrap: list[str], want: set[str], timeout: float
             ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Final scores and dead letters of the page sessions ``want``, read from the first offset
    until every one has either, or ``timeout``."""
    consumer = KafkaConsumer(topics.SESSION_SCORES, topics.DEAD_LETTER,
                             bootstrap_servers=bootstrap, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    scored: dict[str, dict[str, Any]] = {}
    dead: dict[str, dict[str, Any]] = {}
    try:
        deadline = time.monotonic() + timeout
        while want - set(scored) - set(dead) and time.monotonic() < deadline:
            for tp, msgs in consumer.poll(timeout_ms=500).items():
                for msg in msgs:
                    obj = json.loads(msg.value)
                    if tp.topic == topics.SESSION_SCORES:
                        if obj.get("session_id") in want and obj.get("part") == "final":
                            scored[obj["session_id"]] = obj
                        continue
                    sid = _dead_letter_sid(obj)
                    if sid in want:
                        dead[sid] = obj
    finally:
        consumer.close()
    return scored, dead


def _dead_letter_sid(obj: dict[str, Any]) -> str | None:
    """The page session a dead letter is about (a pointer batch's ``sid``, a session record's
    ``session_id``), from the original record it carries."""
    try:
        original = json.loads(obj.get("value") or "")
    except ValueError:
        return None
    if not isinstance(original, dict):
        return None
    sid = original.get("sid", original.get("session_id"))
    return sid if isinstance(sid, str) else None


async def _post_all(base: str, batches: list[dict[str, Any]]
                    ) -> dict[str, tuple[int, dict[str, Any]]]:
    answers: dict[str, tuple[int, dict[str, Any]]] = {}
    gate = asyncio.Semaphore(8)

    async def post(http: aiohttp.ClientSession, batch: dict[str, Any]) -> None:
        async with gate, http.post(f"{base}/v1/batches", data=json.dumps(batch).encode(),
                                   headers={"Content-Type": "text/plain", "Origin": ORIGIN},
                                   timeout=aiohttp.ClientTimeout(total=60)) as resp:
            answers[batch["sid"]] = (resp.status, await resp.json(content_type=None))

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(post(http, b) for b in batches))
    return answers


def test_anything_ingest_accepts_every_agent_processes(
        stack: Stack, stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    # the same batches on every run: CI must not depend on luck
    batches = draw_examples(EXAMPLES, derandomize=True)
    assert len(batches) == EXAMPLES
    model = tiny_model(tmp_path_factory)
    home = tmp_path_factory.mktemp("accepted-agents")
    env = pipeline_env(stack_settings, home, model, CURSORPRINT_SITES=SITES,
                       CURSORPRINT_INGEST_SITE_RATE="100000",
                       CURSORPRINT_INGEST_SITE_BURST="100000")
    st = settings_from_env(env)
    web_s, web_c = free_port(), free_port()
    logs = {"ingest": home / "ingest.log", "sessionizer": home / "sessionizer.log",
            "scorer": home / "scorer.log"}
    procs: dict[str, Proc] = {}
    try:
        procs["ingest"] = start(["ingest"], env, logs["ingest"])
        procs["sessionizer"] = start(["worker", "sessionizer", "--web-port", str(web_s)], env,
                                     logs["sessionizer"])
        procs["scorer"] = start(["worker", "scorer", "--web-port", str(web_c)], env,
                                logs["scorer"])
        wait_ready(f"http://127.0.0.1:{st.ingest.port}/readyz", procs["ingest"])
        wait_ready(f"http://127.0.0.1:{web_s}/readyz", procs["sessionizer"])
        wait_ready(f"http://127.0.0.1:{web_c}/readyz", procs["scorer"])

        token = mint_token("agentsprop", "agents-prop-user", SECRET, ttl_s=3600)
        run = uuid.uuid4().hex[:8]
        for i, batch in enumerate(batches):
            batch.update(site="agentsprop", token=token, sid=f"agp{run}{i:05d}")
        answers = asyncio.run(_post_all(f"http://127.0.0.1:{st.ingest.port}", batches))

        by_sid = {b["sid"]: b for b in batches}
        for sid, (status, body) in answers.items():
            assert status == 202 or (400 <= status < 500 and body.get("error")), \
                (status, body, ascii(by_sid[sid])[:1500])
        accepted = {sid for sid, (status, _) in answers.items() if status == 202}
        assert len(accepted) >= EXAMPLES // 3, f"only {len(accepted)} of {EXAMPLES} accepted"

        # non-final sessions close after CURSORPRINT_SESSION_IDLE_S (3 s); the deadline is for
        # a slow, shared CI machine, not a timing claim
        scored, dead = outcomes(st.kafka.bootstrap_list, accepted, timeout=240)
        missing = sorted(accepted - set(scored) - set(dead))
        assert missing == [], (
            f"{len(missing)} of {len(accepted)} accepted sessions neither scored nor "
            f"dead-lettered, e.g. {ascii(by_sid[missing[0]])[:1500]}\n"
            f"sessionizer: {procs['sessionizer'].tail()}\nscorer: {procs['scorer'].tail()}")
        assert all(d.get("error") for d in dead.values()), \
            [d for d in dead.values() if not d.get("error")]
        for sid, score in scored.items():
            assert score["n_events"] == len(by_sid[sid]["ev"]["dt"]), (sid, score)

        for name, proc in procs.items():
            assert proc.p.poll() is None, f"{name} exited ({proc.p.returncode}):\n{proc.tail()}"
        crashes = {name: agent_crashes(log) for name, log in logs.items()}
        assert not any(crashes.values()), crashes
    finally:
        for proc in procs.values():
            proc.stop()
