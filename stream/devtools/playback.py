"""Play recorded sessions back through the real path: ingest HTTP -> Kafka -> agents -> scores.

("Playback" is this developer tool; "replay" in this project means only the fraud check
``replayed_trajectory``.)

Each Balabit test session becomes the wire batches the browser collector would send: one batch
per second of recording (the collector's flush timer) or per ``max_batch_events`` events, each
starting where the previous one ended, the last one with ``final=true``, signed with a user
token minted with the site's secret. Times travel as 0.1 ms ticks, so a played-back session is
exactly :func:`wire_trajectory` of the recording, which the offline scorer can score too.

At the end the ``session-scores`` topic is read (from the offsets at the start of the
playback) until every session played back has its final score; counts, throughput and, with labels, the AUC
are printed. With ``all_parts`` every scored part (rolling windows too) and the end of each
rolling window on the ``sessions`` topic are kept as well: what ``cursorprint replay``
(:mod:`~cursorprint.stream.devtools.replay`) turns into the running score of each session and
the seconds of movement an impostor needs to be flagged.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cursorprint.model.data.trajectory import Trajectory
from cursorprint.stream.ingest.identity import mint_token, user_key
from cursorprint.stream.records import topics
from cursorprint.stream.records.errors import CursorprintError
from cursorprint.stream.records.events import BUTTON_KINDS
from cursorprint.stream.settings import Settings, load_settings

__all__ = ["PlaybackError", "PlaybackSession", "PlaybackReport", "wire_trajectory", "as_collected",
           "to_batches", "publish_model_heads", "play_sessions", "read_scores", "read_parts",
           "playback_balabit", "origin_for", "load_balabit_sessions"]

TICKS_PER_S = 10_000           # wire time resolution: 0.1 ms


class PlaybackError(CursorprintError, RuntimeError):
    """The playback cannot run (bad data folder, unknown site, ingest refusing, timeout)."""


@dataclass
class PlaybackSession:
    name: str                 # e.g. the Balabit file name
    user: str                 # the site's user id (the account the session ran under)
    traj: Trajectory
    sid: str = ""
    label: int | None = None  # 1 illegal, 0 legal, None unknown


@dataclass
class PlaybackReport:
    sessions: int = 0
    batches: int = 0
    events: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    post_seconds: float = 0.0
    total_seconds: float = 0.0
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)   # sid -> final score
    missing: list[str] = field(default_factory=list)
    auc: float | None = None
    threshold: float = 0.8
    start_ms: int = 0         # epoch ms of every session's first event
    # with all_parts: sid -> every scored part (session-scores records, one per part)
    parts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # with all_parts: sid -> {rolling window index: epoch ms of its last event}
    window_ends: dict[str, dict[int, float]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"sessions": self.sessions, "batches": self.batches, "events": self.events,
                "rejected": self.rejected, "scored": len(self.scores),
                "missing": len(self.missing),
                "over_threshold": sum(1 for s in self.scores.values()
                                      if s["score"] > self.threshold),
                "post_seconds": round(self.post_seconds, 2),
                "total_seconds": round(self.total_seconds, 2),
                "events_per_s": round(self.events / self.total_seconds, 1)
                if self.total_seconds else None,
                "auc": None if self.auc is None else round(self.auc, 4)}


def as_collected(traj: Trajectory) -> Trajectory:
    """The recording as the collector would have taken it: a press or release of a button the
    wire has no code for (SapiMouse's "Other") is left out, as the collector leaves it out —
    ingest refuses a down/up event without a button."""
    keep = ~(np.isin(traj.kind, list(BUTTON_KINDS)) & (traj.button == 0))
    if keep.all():
        return traj
    return Trajectory.from_columns(traj.t[keep], traj.x[keep], traj.y[keep], traj.kind[keep],
                                   traj.button[keep], traj.screen, traj.meta)


def wire_trajectory(traj: Trajectory) -> Trajectory:
    """The recording as it travels on the wire: the events the collector takes, times on the
    0.1 ms grid, from 0."""
    traj = as_collected(traj)
    ticks = np.rint((traj.t - traj.t[0]) * TICKS_PER_S) if len(traj) else np.zeros(0)
    return Trajectory.from_columns(np.round(ticks / TICKS_PER_S, 4), traj.x, traj.y, traj.kind,
                                   traj.button, traj.screen, traj.meta)


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else float(v)


def to_batches(traj: Trajectory, *, site: str, token: str, sid: str, start_ms: int,
               path: str = "/playback", flush_s: float = 1.0, max_batch_events: int = 500
               ) -> list[dict[str, Any]]:
    """The wire batches of ``traj`` as the collector would post them (last one final)."""
    traj = as_collected(traj)
    ticks = np.rint((traj.t - traj.t[0]) * TICKS_PER_S).astype(np.int64) if len(traj) \
        else np.zeros(0, dtype=np.int64)
    bounds: list[tuple[int, int]] = []
    i, n = 0, len(ticks)
    while i < n:
        slot_end = (ticks[i] // int(flush_s * TICKS_PER_S) + 1) * int(flush_s * TICKS_PER_S)
        j = int(np.searchsorted(ticks, slot_end, side="left"))
        j = min(max(j, i + 1), i + max_batch_events)
        bounds.append((i, j))
        i = j
    w, h = traj.screen
    batches: list[dict[str, Any]] = []
    prev_tick = 0
    for seq, (a, b) in enumerate(bounds):
        tk = ticks[a:b]
        # like the collector, a batch starts at most 1 s before its first event, so a long
        # pause shows in the batch start time, not in one huge first gap
        start_tick = max(prev_tick, int(tk[0]) - TICKS_PER_S)
        dt = np.diff(np.concatenate([[start_tick], tk])) / 10.0      # ms, 0.1 ms resolution
        batches.append({
            "v": 1, "site": site, "token": token, "sid": sid, "seq": seq, "path": path,
            "vp": [int(w), int(h)], "scr": [int(w), int(h)], "dpr": 1,
            "t0": start_ms + start_tick / 10.0, "final": b == n,
            "ev": {"dt": [_num(v) for v in dt.tolist()],
                   "x": [_num(v) for v in traj.x[a:b].tolist()],
                   "y": [_num(v) for v in traj.y[a:b].tolist()],
                   "k": traj.kind[a:b].astype(int).tolist(),
                   "b": traj.button[a:b].astype(int).tolist()}})
        prev_tick = int(tk[-1])
    return batches


def origin_for(settings: Settings, site: str) -> str:
    """An Origin header value the site allows (wildcards filled in)."""
    cfg = settings.ingest.site_configs().get(site)
    if cfg is None:
        raise PlaybackError(f"site {site!r} is not configured (CURSORPRINT_SITES has "
                          f"{', '.join(sorted(settings.ingest.site_configs()))})")
    return cfg.origins[0].replace("*", "1")


def publish_model_heads(settings: Settings, model_dir: Path, site: str) -> int:
    """Store the model directory's own user heads in the head store under pseudonymous keys."""
    from cursorprint.model.nets.modeldir import read_heads
    from cursorprint.stream.stores.heads import HeadStore

    store = HeadStore(settings.redis.url)
    heads = read_heads(model_dir)
    for name, head in heads.items():
        store.put(user_key(site, name, settings.ingest.pseudonym_secret), head,
                  {"source": f"model dir {model_dir}"})
    return len(heads)


async def _post_session(http: Any, url: str, origin: str, batches: Sequence[dict[str, Any]],
                        speed: float, t_start: float, report: PlaybackReport) -> None:
    for batch in batches:
        if speed > 0:
            due = t_start + (batch["t0"] - batches[0]["t0"] + sum(batch["ev"]["dt"])) \
                / 1000.0 / speed
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        body = json.dumps(batch, separators=(",", ":"))
        for attempt in range(30):
            async with http.post(url, data=body, headers={"Content-Type": "text/plain",
                                                          "Origin": origin}) as resp:
                if resp.status == 202:
                    report.batches += 1
                    report.events += len(batch["ev"]["dt"])
                    break
                reason = (await resp.json(content_type=None)).get("error", str(resp.status))
                if resp.status in (429, 503) and attempt < 29:
                    await asyncio.sleep(min(2.0, 0.05 * 2 ** attempt))
                    continue
                report.rejected[reason] = report.rejected.get(reason, 0) + 1
                break


async def _post_all(url: str, origin: str, plans: list[list[dict[str, Any]]], speed: float,
                    concurrency: int, report: PlaybackReport) -> None:
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    t_start = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        async def one(batches: list[dict[str, Any]]) -> None:
            async with sem:
                await _post_session(http, url, origin, batches, speed, time.monotonic()
                                    if speed > 0 else t_start, report)
        await asyncio.gather(*(one(p) for p in plans))


def _end_offsets(settings: Settings, topic: str) -> dict[Any, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_list, group_id=None)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        return dict(consumer.end_offsets(tps)) if tps else {}
    finally:
        consumer.close()


def _consume(settings: Settings, start: dict[Any, int], timeout_s: float,
             take: Callable[[dict[str, Any]], None], done: Callable[[], bool],
             **consumer_options: Any) -> None:
    """Pass every JSON object on the partitions of ``start`` (read from those offsets) to
    ``take`` until ``done()`` or ``timeout_s`` has passed; ``done`` is asked after each poll."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_list, group_id=None,
                             enable_auto_commit=False, **consumer_options)
    try:
        consumer.assign(list(start))
        for tp, off in start.items():
            consumer.seek(tp, off)
        deadline = time.monotonic() + timeout_s
        while not done() and time.monotonic() < deadline:
            for msgs in consumer.poll(timeout_ms=500).values():
                for msg in msgs:
                    try:
                        obj = json.loads(msg.value)
                    except ValueError:
                        continue       # other tests' and tools' records share the topics
                    if isinstance(obj, dict):
                        take(obj)
    finally:
        consumer.close()


def read_scores(settings: Settings, start: dict[Any, int], want: set[str], timeout_s: float,
                final_only: bool = True) -> dict[str, dict[str, Any]]:
    """Final scores of the sessions ``want`` from ``session-scores`` after offsets ``start``."""
    got: dict[str, dict[str, Any]] = {}

    def take(obj: dict[str, Any]) -> None:
        sid = obj.get("session_id")
        if sid in want and (obj.get("part") == "final" or not final_only):
            got.setdefault(sid, obj)

    _consume(settings, start, timeout_s, take, lambda: not want - set(got))
    return got


def read_parts(settings: Settings, topic: str, start: dict[Any, int], want: set[str],
               timeout_s: float) -> dict[str, dict[str, dict[str, Any]]]:
    """sid -> part -> record of every record of the sessions ``want`` on ``topic`` (read from
    offsets ``start``) until each has its final part; a part seen twice (a re-publish after
    a restart) is kept once."""
    got: dict[str, dict[str, dict[str, Any]]] = {}
    finals: set[str] = set()

    def take(obj: dict[str, Any]) -> None:
        try:
            sid, part = obj["session_id"], str(obj["part"])
        except KeyError:
            return
        if sid in want:
            got.setdefault(sid, {}).setdefault(part, obj)
            if part == "final":
                finals.add(sid)

    _consume(settings, start, timeout_s, take, lambda: not want - finals,
             fetch_max_bytes=64 << 20)
    return got


def play_sessions(settings: Settings, sessions: list[PlaybackSession], *, ingest_url: str,
                    site: str = "demo", speed: float = 0.0, concurrency: int = 16,
                    timeout_s: float = 300.0, all_parts: bool = False) -> PlaybackReport:
    """Post every session through ingest and wait for its final score (``all_parts``: keep
    every scored part and the rolling windows' ends too)."""
    cfg = settings.ingest.site_configs().get(site)
    if cfg is None:
        raise PlaybackError(f"site {site!r} is not configured")
    origin = origin_for(settings, site)
    run = uuid.uuid4().hex[:8]
    start_ms = int(time.time() * 1000)
    plans = []
    for i, s in enumerate(sessions):
        s.sid = f"rp-{run}-{i:05d}"
        token = mint_token(site, s.user, cfg.secret, ttl_s=24 * 3600)
        plans.append(to_batches(s.traj, site=site, token=token, sid=s.sid, start_ms=start_ms))
    start = _end_offsets(settings, topics.SESSION_SCORES)
    if not start:
        raise PlaybackError(f"topic {topics.SESSION_SCORES} not found on "
                          f"{settings.kafka.bootstrap} (is the stack up?)")
    start_sessions = _end_offsets(settings, topics.SESSIONS) if all_parts else {}
    report = PlaybackReport(sessions=len(sessions),
                          threshold=settings.scorer.threshold_for(site), start_ms=start_ms)
    t0 = time.monotonic()
    asyncio.run(_post_all(ingest_url.rstrip("/") + "/v1/batches", origin, plans, speed,
                          concurrency, report))
    report.post_seconds = time.monotonic() - t0
    want = {s.sid for s in sessions}
    if all_parts:
        scored = read_parts(settings, topics.SESSION_SCORES, start, want, timeout_s)
        report.scores = {sid: p["final"] for sid, p in scored.items() if "final" in p}
        report.parts = {sid: list(p.values()) for sid, p in scored.items()}
        # every final score is out, so every window record is on `sessions` already
        recs = read_parts(settings, topics.SESSIONS, start_sessions, set(report.scores), 60.0)
        report.window_ends = {sid: {int(r["part"]): float(r["t0"]) + 1000.0 * r["t"][-1]
                                    for r in p.values() if r.get("cause") == "window" and r["t"]}
                              for sid, p in recs.items()}
    else:
        report.scores = read_scores(settings, start, want, timeout_s)
    report.total_seconds = time.monotonic() - t0
    report.missing = sorted(want - set(report.scores))
    labelled = [(s.label, report.scores[s.sid]["score"]) for s in sessions
                if s.label is not None and s.sid in report.scores]
    ys = {y for y, _ in labelled}
    if ys == {0, 1}:
        from cursorprint.model.evaluation.metrics import roc_auc
        report.auc = roc_auc(np.array([y for y, _ in labelled]),
                             np.array([v for _, v in labelled]))
    return report


def load_balabit_sessions(data: Path, labels: Path | None, limit: int | None
                          ) -> list[PlaybackSession]:
    """Balabit test sessions (only labelled ones when ``labels`` is given), sorted."""
    from cursorprint.model.data.datasets import DatasetError, read_balabit_session, read_labels

    base = Path(data) / "test_files"
    if not base.is_dir():
        raise PlaybackError(f"--data {data}: no test_files/ folder (expected the Balabit set)")
    try:
        lab = read_labels(labels) if labels is not None else None
    except (DatasetError, OSError) as exc:
        raise PlaybackError(f"--labels {labels}: {exc}") from None
    files = sorted(base.glob("user*/session_*"))
    if lab is not None:
        files = [f for f in files if f.name in lab]
    if limit is not None:
        # interleave users so a small --limit still covers several accounts and both labels
        files = sorted(files, key=lambda f: (zlib.crc32(f.name.encode()), f.name))[:limit]
    out = []
    for f in files:
        traj = read_balabit_session(f)
        out.append(PlaybackSession(f.name, f.parent.name, traj,
                                 label=None if lab is None else lab[f.name][1]))
    return out


def playback_balabit(data: Path, *, labels: Path | None = None, limit: int | None = None,
                     ingest: str | None = None, site: str = "demo", speed: float = 0.0,
                     timeout_s: float = 300.0, out: Path | None = None) -> PlaybackReport:
    """Play Balabit test sessions through the running pipeline; write per-session scores to
    ``out`` (JSON) when given."""
    settings = load_settings(sections=("kafka", "ingest", "scorer", "redis"))
    if labels is not None and not labels.is_file():
        raise PlaybackError(f"--labels {labels}: no such file")
    sessions = load_balabit_sessions(data, labels, limit)
    if not sessions:
        raise PlaybackError(f"--data {data}: no sessions to play back")
    url = ingest or f"http://{settings.ingest.host}:{settings.ingest.port}"
    n_heads = publish_model_heads(settings, settings.scorer.model_dir, site) \
        if (settings.scorer.model_dir / "model.json").is_file() else 0
    print(f"playing back {len(sessions)} Balabit sessions "
          f"({sum(len(s.traj) for s in sessions)} events) to {url}; {n_heads} user heads "
          "published to the head store", flush=True)
    report = play_sessions(settings, sessions, ingest_url=url, site=site, speed=speed,
                           timeout_s=timeout_s)
    print(json.dumps(report.summary(), indent=2))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({s.name: {"sid": s.sid, "user": s.user, "label": s.label,
                                            **report.scores.get(s.sid, {})}
                                   for s in sessions}, indent=1))
    return report
