"""A private pipeline (ingest with the demo page + one ``all`` worker, real subprocesses on the
``stack`` fixture) for the abuse tests, built from tests/support/procs.py.

Every session alerts (threshold 0), so reason codes can be checked on ``fraud-alerts`` too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cursorprint.stream.devtools.stack import free_port
from cursorprint.stream.records import topics
from cursorprint.stream.settings import Settings
from tests.support.procs import (
    pipeline_env,
    read_topic,
    settings_from_env,
    start,
    stop_all,
    tiny_model,
    wait_ready,
)

__all__ = ["AbusePipeline", "abuse_pipeline", "scores_and_alerts"]


@dataclass
class AbusePipeline:
    settings: Settings
    model: Path
    web: int

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingest.port}"


@contextmanager
def abuse_pipeline(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory,
                   **extra: Any) -> Iterator[AbusePipeline]:
    """Ingest (``--demo``) and an ``all`` worker with the replay check on; stopped at exit."""
    model = tiny_model(tmp_path_factory)
    home = tmp_path_factory.mktemp("abuse-pipeline")
    web = free_port()
    env = pipeline_env(stack_settings, home, model, CURSORPRINT_ALERT_THRESHOLD=0.0,
                       CURSORPRINT_REPLAY_CHECK="true", **extra)
    procs = [start(["ingest", "--demo"], env, home / "ingest.log"),
             start(["worker", "all", "--web-port", str(web)], env, home / "worker.log")]
    try:
        settings = settings_from_env(env)
        wait_ready(f"http://127.0.0.1:{settings.ingest.port}/readyz", procs[0], timeout=180)
        wait_ready(f"http://127.0.0.1:{web}/readyz", procs[1], timeout=180)
        yield AbusePipeline(settings, model, web)
    finally:
        stop_all(procs)


def scores_and_alerts(st: Settings, sids: set[str], timeout: float = 120.0
                      ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The final score and the final alert of each session in ``sids`` (waits for all)."""
    def finals(msgs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {m["session_id"]: m for m in msgs
                if m.get("session_id") in sids and m.get("part") == "final"}

    scores = finals(read_topic(st, topics.SESSION_SCORES,
                               lambda got: sids <= set(finals(got)), timeout=timeout))
    alerts = finals(read_topic(st, topics.FRAUD_ALERTS,
                               lambda got: sids <= set(finals(got)), timeout=timeout))
    assert sids <= set(scores), f"no final score for {sorted(sids - set(scores))}"
    assert sids <= set(alerts), f"no final alert for {sorted(sids - set(alerts))}"
    return scores, alerts
