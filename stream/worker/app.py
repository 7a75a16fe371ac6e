"""The Faust application: sessionizer, scorer and enrollment agents, timers and web views.

``create_app(settings, role)`` builds one app per worker role (``sessionizer``, ``scorer`` or
``all``); each role is its own consumer group (``cursorprint-<role>``), so run either the two
roles or ``all``, not both.

Delivery: at-least-once. Faust commits an offset after its event was processed; every agent
publishes its outputs and waits for the broker's acknowledgement before it moves on (and the
sessionizer before it updates its table), so a crash re-processes instead of losing. Outputs
carry stable ids (score id, alert id = hash of session id + part + model version), so
consumers de-duplicate. Faust's exactly-once mode is not used.

The sessionizer's table uses Faust's in-memory store with a changelog topic (no RocksDB): the
state per open session is bounded (length cap, out-of-order limit), it is rebuilt from the
changelog at start-up, and rocksdict would be one more native dependency for no gain here.
Idle sessions are closed by a timer that sends a tick to every partition of a private
co-partitioned topic; the tick agent then closes sessions *inside* a stream event, which is
what Faust requires to write a changelogged table.

Model calls (rasterizing, the backbone, heads, enrollment) run on ONE executor thread per
model, never on the event loop, and never per item: one backbone call per micro-batch.

The scorer also runs the abuse checks of stream/score/abuse.py on that thread: scripted movement, and
(``CURSORPRINT_REPLAY_CHECK``) the replayed-recording check against fingerprints kept in the
same Redis as the heads. While that Redis fails, sessions are still scored, with the reason
``replay_check_unavailable``, ``cursorprint_redis_errors_total{service="scorer"}`` counting and
``cursorprint_degraded{dependency="replay_store"}`` at 1 until a check succeeds again.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cursorprint.stream import metrics as m
from cursorprint.stream.records import topics
from cursorprint.stream.records.session import SessionRecord, SessionRecordError
from cursorprint.stream.records.wire import PointerBatchRecord, WireError
from cursorprint.stream.score.abuse import REASON_REPLAY_UNCHECKED, ReplayDetector
from cursorprint.stream.score.microbatch import BatchResult, DeadLetter, MicroBatchScorer
from cursorprint.stream.sessionize.kafka_read import read_range
from cursorprint.stream.sessionize.logic import Outcome, Sessionizer, SessionizerConfig
from cursorprint.stream.settings import Settings

__all__ = ["create_app", "ROLES", "dead_letter_value", "replay_detector"]

log = logging.getLogger(__name__)
ROLES = ("sessionizer", "scorer", "all")

# The sessionizer's changelog: every batch is written once and deleted when its session closes,
# so almost all of it is dead weight that a restart would read back. Kafka compacts only closed
# segments (1 GB by default): roll one every 10 minutes and drop tombstones after an hour, so
# recovery reads about the open sessions, not the history (a local stack that had replayed
# Balabit twice spent 61 s recovering 240,000 records before this).
CHANGELOG_CONFIGS = {"segment.ms": "600000", "min.cleanable.dirty.ratio": "0.1",
                     "delete.retention.ms": "3600000"}


def _now_ms() -> float:
    return time.time() * 1000.0


def dead_letter_value(source: str, error: str, value: bytes, partition: int | None = None,
                      offset: int | None = None) -> bytes:
    """The dead-letter message: where it came from, the error, and the original bytes."""
    try:
        text: str | None = value.decode("utf-8")[:100_000]
        b64 = None
    except UnicodeDecodeError:
        text, b64 = None, base64.b64encode(value[:100_000]).decode()
    return json.dumps({"v": 1, "source": source, "partition": partition, "offset": offset,
                       "error": error[:2000], "value": text, "value_b64": b64,
                       "time": _now_ms()}, separators=(",", ":")).encode()


class _State:
    """What /readyz reports and what the agents share."""

    def __init__(self) -> None:
        self.ready: dict[str, bool] = {}
        self.model: Any = None          # the loaded SessionScorer (explanations use it)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self.recent: OrderedDict[str, dict[str, Any]] = OrderedDict()   # sid -> last score
        # the last scored ``sessions`` records (raw), newest last, for /v1/explain (demo only)
        self.recent_records: deque[bytes] = deque(maxlen=64)
        self.replay_degraded = False     # the replay check's Redis failed on the last try

    def remember(self, score: dict[str, Any]) -> None:
        """Keep the latest score of the last 2000 sessions for the demo page."""
        self.recent[score["session_id"]] = score
        self.recent.move_to_end(score["session_id"])
        while len(self.recent) > 2000:
            self.recent.popitem(last=False)


def create_app(settings: Settings, role: str, *, model_dir: Path | None = None) -> faust.App:
    """The Faust app of one worker role, configured from ``settings``."""
    if role not in ROLES:
        raise ValueError(f"unknown worker role {role!r} (use one of {', '.join(ROLES)})")
    app_id = f"cursorprint-{role}"
    datadir = Path(settings.home) / "faust" / role
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=[f"kafka://{b}" for b in settings.kafka_bootstrap_list],
        store="memory://",
        datadir=str(datadir),
        web_port=settings.worker_web_port,
        web_enabled=True,
        topic_partitions=settings.topic_partitions,
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
    state = _State()
    dlq = app.topic(topics.DEAD_LETTER, key_serializer="raw", value_serializer="raw")

    async def send_dead(source: str, error: str, value: bytes, partition: int | None = None,
                        offset: int | None = None) -> None:
        m.DEAD_LETTERS.labels(source=source).inc()
        log.warning("dead letter from %s: %s", source, error)
        fut = await dlq.send(key=source.encode(),
                             value=dead_letter_value(source, error, value, partition, offset))
        await fut

    if role in ("sessionizer", "all"):
        _add_sessionizer(app, settings, state, send_dead)
    if role in ("scorer", "all"):
        _add_scorer(app, settings, state, send_dead, model_dir or settings.model_dir)
    _add_web(app, state, settings)
    _add_lag_timer(app)
    return app


def _add_sessionizer(app: faust.App, settings: Settings, state: _State, send_dead: Any) -> None:
    batches = app.topic(topics.POINTER_BATCHES, key_serializer="raw", value_serializer="raw")
    sessions = app.topic(topics.SESSIONS, key_serializer="raw", value_serializer="raw")
    ticks = app.topic(f"{app.conf.id}-ticks", partitions=settings.topic_partitions,
                      internal=True, key_serializer="raw", value_serializer="raw",
                      retention=3600.0)
    table = app.Table("sessionizer-state", default=None, partitions=settings.topic_partitions,
                      schema=faust.Schema(key_serializer="json", value_serializer="json"),
                      extra_topic_configs=CHANGELOG_CONFIGS)
    cfg = SessionizerConfig(idle_s=settings.session_idle_s,
                            max_events=settings.session_max_events,
                            window_events=settings.session_window_events,
                            max_pending=settings.session_max_pending)
    state.ready["sessionizer"] = False

    sz = Sessionizer(table, cfg)     # shared by both agents (one event loop)
    processed: dict[int, int] = {}   # partition -> last pointer-batches offset the agent handled

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # called (app, revoked, signal=)
    async def forget_processed(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Offsets handled before a rebalance say nothing once the partition comes back."""
        for tp in (args[0] if args else kwargs.get("revoked", ())):
            if tp.topic == topics.POINTER_BATCHES:
                processed.pop(tp.partition, None)

    async def write_state(writes: dict[str, Any]) -> None:
        """Apply ``writes`` to the table, each change handed to the Kafka producer before the
        event is acknowledged.

        ``table[key] = value`` only queues the changelog record in Faust's producer buffer, and
        the flush Faust runs before committing offsets gives up after 0.1 s without a send
        (faust/transport/producer.py ``flush_atmost``). On a loaded machine an offset was then
        committed while its changelog records still sat in that buffer, and a kill -9 lost
        accepted batches from the restored state. Sending the changelog record directly puts it
        in the aiokafka producer, whose flush before the commit waits for the broker. (The
        memory store keeps no persisted changelog offset, so Faust's sent-callback is not needed.)
        """
        changelog = table.changelog_topic
        for key, value in writes.items():
            if value is None:
                table.data.pop(key, None)
            else:
                table.data[key] = value
            # a deletion is a tombstone (a null value), as Faust's own ``del table[key]`` sends
            await changelog.send(key=key, value=value, partition=table.partition_for_key(key),
                                 value_serializer="raw" if value is None else None)

    async def apply(out: Outcome) -> None:
        futures = []
        for rec in out.records:
            futures.append(await sessions.send(key=rec.key, value=rec.to_bytes()))
        for fut in futures:
            await fut          # acknowledged before the state says "closed"
        await write_state(out.writes)
        sz.note_writes(out)
        for reason in out.dropped:
            m.BATCHES_DROPPED.labels(reason=reason).inc()
            if reason == "gap":     # accepted events given up on: worth a line in the log
                log.warning("sessionizer: gave up waiting for a missing batch (sequence gap)")
        for rec in out.records:
            if rec.part == "final":
                m.SESSIONS_CLOSED.labels(cause=rec.cause).inc()
                m.SESSION_EVENTS.observe(rec.n_events)
                m.SESSION_DURATION.observe(rec.t[-1] - rec.t[0] if rec.t else 0.0)

    async def fill_skipped(partition: int, offset: int) -> None:
        """Read and handle the batches Faust skipped before ``offset``, straight from Kafka.

        Around a rebalance (a worker killed, another joining) Faust's consumer can drop the
        batches it had fetched but not delivered and count their offsets as a gap it may
        commit (faust-streaming issues #216, #221): accepted batches then never reached the
        table (seen in the kill -9 test on a loaded machine). ``pointer-batches`` offsets have
        no gaps (no transactions, no compaction), so an offset past the next expected one (the
        last handled + 1, or after an assignment the group's committed offset) is a skip. A
        seek cannot undo it (Faust drops re-fetched offsets below its read offset), so the
        skipped range is read with a private consumer and handled here, before ``offset``;
        any that Faust delivers later after all are dropped as duplicates by sequence number.
        """
        from faust.types import TP

        tp = TP(topics.POINTER_BATCHES, partition)
        done = processed.get(partition)
        expected = done + 1 if done is not None else \
            getattr(app.consumer, "_committed_offset", {}).get(tp)
        if expected is None or offset <= expected:
            return
        log.warning("sessionizer: the consumer skipped offsets %d..%d of %s; reading them "
                    "directly", expected, offset - 1, tp)
        for rec_offset, value in await read_range(settings, tp.topic, partition, expected,
                                                  offset):
            await handle(partition, rec_offset, value)

    async def handle(partition: int, offset: int, value: bytes) -> None:
        try:
            rec = PointerBatchRecord.from_bytes(value)
        except WireError as exc:
            await send_dead(topics.POINTER_BATCHES, str(exc), value, partition, offset)
        else:
            await apply(sz.on_batch(rec, partition, _now_ms()))
        processed[partition] = offset

    @app.agent(batches, name="sessionize")
    async def sessionize(stream: Any) -> None:
        state.ready["sessionizer"] = True
        async for event in stream.events():
            msg = event.message
            await fill_skipped(msg.partition, msg.offset)
            await handle(msg.partition, msg.offset, event.value or b"")

    async def caught_up(partition: int) -> bool:
        """True when this worker has processed every batch of the partition.

        The test is on the offsets the sessionize agent has *handled*, not on Faust's read
        offset, which runs ahead of the agent by up to a stream buffer of batches. Before this
        worker handled any batch of the partition, it is caught up only when its start offset
        (the group's committed offset) is already the end of the partition. "Don't know" is
        False: just after a restart the high-water mark is not fetched yet, and closing a
        session as idle then would cut it short while its batches still wait in Kafka. The
        next tick asks again.
        """
        from faust.types import TP

        tp = TP(topics.POINTER_BATCHES, partition)
        consumer = app.consumer
        try:
            high = consumer.highwater(tp)
            if high is None:
                return False
            done = processed.get(partition)
            if done is not None:
                return done + 1 >= int(high)
            # Faust's read offset starts at the committed offset (the next one to read) and
            # becomes the last delivered offset once batches flow: >= high only if none came
            read = getattr(consumer, "_read_offset", {}).get(tp)
            if read is None:
                pos = await consumer.position(tp)
                return pos is not None and pos >= high
            return int(read) >= int(high)
        except Exception as exc:  # noqa: BLE001 - not readable (e.g. during a rebalance)
            log.debug("lag of %s not readable: %s", tp, exc)
            return False

    @app.agent(ticks, name="idle-close")
    async def idle_close(stream: Any) -> None:
        async for event in stream.events():
            p = event.message.partition
            await apply(sz.on_tick(p, _now_ms(), close_idle=await caught_up(p)))

    @app.timer(interval=settings.session_tick_s)
    async def tick() -> None:
        for p in range(settings.topic_partitions):
            await ticks.send(key=b"tick", value=b"1", partition=p)
        # read-only scan: the gauge is right after a restart too (state comes from the changelog)
        m.OPEN_SESSIONS.set(sz.open_sessions())


def _add_scorer(app: faust.App, settings: Settings, state: _State, send_dead: Any,
                model_dir: Path) -> None:
    sessions = app.topic(topics.SESSIONS, key_serializer="raw", value_serializer="raw")
    trusted = app.topic(topics.TRUSTED_SESSIONS, key_serializer="raw", value_serializer="raw")
    scores_topic = app.topic(topics.SESSION_SCORES, key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(topics.FRAUD_ALERTS, key_serializer="raw", value_serializer="raw")
    state.ready["scorer"] = False
    loaded: asyncio.Future[Any] | None = None
    per_site = settings.thresholds()

    def scorer_threshold(site: str) -> float:
        return per_site.get(site, settings.alert_threshold)

    def load() -> tuple[MicroBatchScorer, Any]:
        import redis

        from cursorprint.model.serving.scoring import SessionScorer
        from cursorprint.stream.enroll.enroller import Enroller
        from cursorprint.stream.stores.heads import HeadStore

        heads = HeadStore(settings.redis_url, ttl_s=settings.head_cache_ttl_s,
                          on_event=_head_event)
        model = SessionScorer.load(model_dir, heads=heads)
        log.info("scorer: model %s loaded from %s", model.model_version, model_dir)
        replay = replay_detector(settings)
        if replay is not None:
            m.DEGRADED.labels(dependency="replay_store").set(0)
        scorer = MicroBatchScorer(model, settings.alert_threshold, settings.thresholds(),
                                  replay=replay)
        state.model = model
        enroller = Enroller(model, heads, redis.Redis.from_url(settings.redis_url))
        return scorer, enroller

    async def model_ready() -> tuple[MicroBatchScorer, Any]:
        nonlocal loaded
        if loaded is None:
            loaded = asyncio.get_running_loop().run_in_executor(state.executor, load)
        result = await loaded
        state.ready["scorer"] = True
        return result

    async def publish(res: BatchResult) -> None:
        _note_replay_health(state, res)
        futures = []
        for dead in res.dead:
            await send_dead(dead.source, dead.error, dead.value)
        for s in res.scores:
            futures.append(await scores_topic.send(key=s.user.encode(), value=s.to_bytes()))
            state.remember({**s.__dict__, "threshold": scorer_threshold(s.site)})
            m.SCORES.observe(s.score)
            m.SCORED_SESSIONS.labels(site=s.site).inc()
        for a in res.alerts:
            futures.append(await alerts_topic.send(key=a.user.encode(), value=a.to_bytes()))
            for reason in a.reasons:
                m.ALERTS.labels(site=a.site, reason=reason).inc()
        for fut in futures:
            await fut

    @app.agent(sessions, name="score")
    async def score(stream: Any) -> None:
        scorer, _ = await model_ready()
        loop = asyncio.get_running_loop()
        async for values in stream.take(settings.scorer_batch_size,
                                        within=settings.scorer_batch_within_s):
            raws = [bytes(v or b"") for v in values]
            try:
                res = await loop.run_in_executor(state.executor, scorer.score_batch, raws)
            except Exception as exc:  # noqa: BLE001 - a model failure must not stop the agent
                log.exception("scorer: micro-batch failed")
                res = BatchResult(dead=[DeadLetter(topics.SESSIONS, f"{type(exc).__name__}: "
                                                   f"{exc}", r) for r in raws])
            if res.n_images:
                m.SCORER_BATCH_SIZE.observe(res.n_images)
                m.INFERENCE_SECONDS.labels(stage="raster").observe(res.raster_seconds)
                m.INFERENCE_SECONDS.labels(stage="backbone").observe(res.embed_seconds)
                m.INFERENCE_SECONDS.labels(stage="head").observe(res.head_seconds)
            await publish(res)
            state.recent_records.extend(raws)

    @app.agent(trusted, name="enroll")
    async def enroll(stream: Any) -> None:
        _, enroller = await model_ready()
        loop = asyncio.get_running_loop()
        async for event in stream.events():
            raw = bytes(event.value or b"")
            try:
                rec = SessionRecord.from_bytes(raw)
                version, n = await loop.run_in_executor(
                    state.executor, enroller.add_sessions, rec.user, [rec.to_trajectory()])
                log.info("enroll: a user now has %d trusted windows (head %s)", n, version)
            except (SessionRecordError, ValueError) as exc:
                await send_dead(topics.TRUSTED_SESSIONS, f"{type(exc).__name__}: {exc}", raw,
                                event.message.partition, event.message.offset)

    @app.task
    async def warm_up() -> None:
        await model_ready()


def explanation_png(session_scorer: Any, candidates: list[bytes], sid: str) -> bytes:
    """The saliency PNG (model/serving/explain.py) of the newest ``sessions`` record of page session
    ``sid`` among ``candidates`` (newest first), drawn with the worker's own model.

    LookupError when none is that session's; ValueError when it cannot be explained."""
    import tempfile

    from cursorprint.model.serving.explain import explain_to_png

    rec = None
    for raw in candidates:
        try:
            rec = SessionRecord.from_bytes(raw)
        except SessionRecordError:
            continue
        if rec.session_id == sid:
            break
    if rec is None or rec.session_id != sid:
        raise LookupError(f"no recent record of {sid!r} on this worker")
    with tempfile.TemporaryDirectory(prefix="cp-explain-") as tmp:
        out = Path(tmp) / "explain.png"
        explain_to_png(session_scorer, rec.user, rec.to_trajectory(), out)
        return out.read_bytes()


def replay_detector(settings: Settings) -> ReplayDetector | None:
    """The scorer's replayed-recording check on the settings' Redis (None when switched off).

    Short socket timeouts and the detector's back-off: a hung Redis delays the scorer by about a
    second per back-off period (stream/score/abuse.py ``REPLAY_BACKOFF_S``), never stops it.
    """
    if not settings.replay_check:
        return None
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=1.0,
                                  socket_connect_timeout=1.0)
    return ReplayDetector(client, ttl_s=settings.replay_ttl_s)


def _note_replay_health(state: _State, res: BatchResult) -> None:
    """Count replay-store failures; flip the degraded gauge (and log) only on a change."""
    if res.replay_errors:
        m.REDIS_ERRORS.labels(service="scorer").inc(res.replay_errors)
    if res.replay_errors and not state.replay_degraded:
        log.warning("scorer: replay store (Redis) unreachable; sessions are scored without the "
                    "replay check (reason %s)", REASON_REPLAY_UNCHECKED)
    elif res.replay_checked and not res.replay_errors and state.replay_degraded:
        log.warning("scorer: replay store (Redis) reachable again")
    else:
        return
    state.replay_degraded = not state.replay_degraded
    m.DEGRADED.labels(dependency="replay_store").set(1 if state.replay_degraded else 0)


def _head_event(name: str) -> None:
    result = {"hits": "hit", "misses": "miss", "loads": "load", "stale_served": "stale"}
    if name in result:
        m.HEAD_CACHE.labels(result=result[name]).inc()
    elif name == "redis_errors":
        m.REDIS_ERRORS.labels(service="scorer").inc()


def _add_web(app: faust.App, state: _State, settings: Settings) -> None:
    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        # aiohttp refuses parameters in content_type=, so the header is set directly
        return web.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"ok": True})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        ready = bool(state.ready) and all(state.ready.values())
        return web.json({"ready": ready, "parts": state.ready}, status=200 if ready else 503)

    @app.page("/v1/scores/{sid}")
    async def session_score(web: Any, request: Any, sid: str) -> Any:
        """The latest score of a page session seen by this worker (demo page)."""
        score = state.recent.get(sid)
        if score is None:
            return web.json({"error": "not_scored_yet", "detail": f"no score for {sid!r} "
                             "on this worker yet"}, status=404)
        return web.json(score)

    @app.page("/v1/explain/{sid}")
    async def session_explanation(web: Any, request: Any, sid: str) -> Any:
        """A saliency PNG of the latest scored part of a page session (demo page)."""
        if state.model is None:
            return web.json({"error": "not_ready", "detail": "no model loaded here"}, status=503)
        candidates = [r for r in reversed(state.recent_records) if sid.encode() in r]
        loop = asyncio.get_running_loop()
        try:
            png = await loop.run_in_executor(state.executor, explanation_png,
                                             state.model, candidates, sid)
        except LookupError as exc:
            return web.json({"error": "not_scored_yet", "detail": str(exc)}, status=404)
        except ValueError as exc:
            return web.json({"error": "cannot_explain", "detail": str(exc)}, status=422)
        return web.bytes(png, content_type="image/png")

    @app.page("/demo/cursorprint.min.js")
    async def collector_script(web: Any, request: Any) -> Any:
        """The built browser collector (collector_js/dist), served next to the demo page."""
        from cursorprint.stream.ingest.service import COLLECTOR_DIR

        path = COLLECTOR_DIR / "dist" / "cursorprint.min.js"
        if not path.is_file():
            return web.json({"error": "not_found", "detail": "collector not built (run `npm "
                             "run build` in collector_js)"}, status=404)
        return web.bytes(path.read_bytes(), content_type="text/javascript")

    @app.page("/demo")
    async def demo(web: Any, request: Any) -> Any:
        """Move your own mouse and see the session's score and reasons (demo site only)."""
        from cursorprint.stream.ingest.identity import mint_token

        site = settings.site_configs().get("demo")
        if site is None:
            return web.json({"error": "no_demo_site", "detail": "configure a site called "
                             "'demo' in CURSORPRINT_SITES"}, status=404)
        ingest = f"http://{settings.ingest_host}:{settings.ingest_port}"
        config = {"endpoint": ingest + "/v1/batches", "site": site.key,
                  "token": mint_token(site.key, "demo-visitor", site.secret, ttl_s=3600)}
        html = (Path(__file__).resolve().parents[1] / "static" / "scores.html").read_text()
        html = html.replace(
            "__CONFIG__", json.dumps(config).replace("<", "\\u003c"))
        return web.html(html)


def _add_lag_timer(app: faust.App) -> None:
    @app.timer(interval=5.0)
    async def consumer_lag() -> None:
        consumer = app.consumer
        try:
            per_topic: dict[str, int] = {}
            for tp in consumer.assignment():
                if tp.topic.endswith("-changelog"):
                    # this worker WRITES its table's changelog; it reads it only to recover, so
                    # "lag" there is a stale number, not work waiting (it showed a constant ~15)
                    continue
                high = consumer.highwater(tp)
                read = getattr(consumer, "_read_offset", {}).get(tp)   # last offset processed
                if high is None:
                    continue
                lag = max(0, int(high) - (int(read) + 1 if read is not None else 0))
                per_topic[tp.topic] = per_topic.get(tp.topic, 0) + lag
        except Exception:  # noqa: BLE001 - lag is best effort (not readable during rebalances)
            return
        for topic, lag in per_topic.items():
            m.CONSUMER_LAG.labels(topic=topic).set(lag)
