"""The Faust application of one worker role: wiring only.

``create_app(settings, role)`` builds one app per worker role (``sessionizer``, ``scorer`` or
``all``); each role is its own consumer group (``cursorprint-<role>``), so run either the two
roles or ``all``, not both.

Delivery: at-least-once. Faust commits an offset after its event was processed; every agent
publishes its outputs and waits for the broker's acknowledgement before it moves on (and the
sessionizer before it updates its table), so a crash re-processes instead of losing. Outputs
carry stable ids (score id, alert id = hash of session id + part + model version), so
consumers de-duplicate. Faust's exactly-once mode is not used.
"""

from __future__ import annotations

import logging
from pathlib import Path

import faust

from cursorprint.stream import metrics as m
from cursorprint.stream.enroll.agent import add_enroller
from cursorprint.stream.records import topics
from cursorprint.stream.records.dead_letter import dead_letter_value
from cursorprint.stream.score.agent import add_scorer
from cursorprint.stream.score.runtime import ModelRuntime
from cursorprint.stream.sessionize.agent import add_sessionizer
from cursorprint.stream.sessionize.faust_internals import consumer_lag
from cursorprint.stream.settings import Settings
from cursorprint.stream.worker.web import RecentScores, add_web

__all__ = ["create_app", "ROLES"]

log = logging.getLogger(__name__)
ROLES = ("sessionizer", "scorer", "all")
LAG_INTERVAL_S = 5.0


def create_app(settings: Settings, role: str, *, model_dir: Path | None = None) -> faust.App:
    """The Faust app of one worker role, configured from ``settings``."""
    if role not in ROLES:
        raise ValueError(f"unknown worker role {role!r} (use one of {', '.join(ROLES)})")
    app_id = topics.app_id(role)
    datadir = Path(settings.home) / "faust" / role
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=[f"kafka://{b}" for b in settings.kafka.bootstrap_list],
        store="memory://",
        datadir=str(datadir),
        web_port=settings.worker.web_port,
        web_enabled=True,
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=1,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=10.0,      # a killed worker's partitions move on within ~10 s
        broker_heartbeat_interval=2.0,
        stream_recovery_delay=0.5,
        producer_max_request_size=4 * 1024 * 1024,
        key_serializer="raw",
        value_serializer="raw",
    )
    dlq = app.topic(topics.DEAD_LETTER, key_serializer="raw", value_serializer="raw")

    async def send_dead(source: str, error: str, value: bytes, partition: int | None = None,
                        offset: int | None = None) -> None:
        m.DEAD_LETTERS.labels(source=source).inc()
        log.warning("dead letter from %s: %s", source, error)
        fut = await dlq.send(key=source.encode(),
                             value=dead_letter_value(source, error, value, partition, offset))
        await fut

    ready: dict[str, bool] = {}
    recent = RecentScores(settings.scorer.threshold_for)
    runtime = None
    if role in ("sessionizer", "all"):
        add_sessionizer(app, settings, ready, send_dead)
    if role in ("scorer", "all"):
        runtime = ModelRuntime.for_worker(settings, model_dir or settings.scorer.model_dir)
        add_scorer(app, settings, runtime, ready, send_dead, recent.note)
        add_enroller(app, runtime, send_dead)
    add_web(app, settings, ready, recent, runtime)

    @app.timer(interval=LAG_INTERVAL_S)
    async def report_consumer_lag() -> None:
        try:
            per_topic = consumer_lag(app.consumer)
        except Exception:  # noqa: BLE001 - lag is best effort (not readable during rebalances)
            return
        for topic, lag in per_topic.items():
            m.CONSUMER_LAG.labels(topic=topic).set(lag)

    return app
