"""Test doubles shipped with the package: a stand-in model, dict stores, a clock, sinks.

They implement the same interfaces as the real parts (:class:`~.score.microbatch.ModelLike`,
:class:`~.enroll.enroller.DescriberLike`, the stores of :mod:`.stores.base`, the scorer's
:class:`~.score.agent.Sink`, :class:`~.records.dead_letter.SendDeadLetter`), so unit tests and
the in-process agent tests (Faust's ``agent.test_context()``, no broker, no Redis, no
TensorFlow) drive the real business logic. The Redis stores keep their own integration tests,
and ``tests/stream/stores/test_enrolments.py`` and ``test_fingerprints.py`` run one contract on
both the dict double and the Redis store, so a double cannot drift from what it stands in for.

Every double in one module (a little over 300 lines), so a test finds them in one place and a
new interface gets its double next to the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.features.windows import DEFAULT_RULE, WindowRule
from cursorprint.model.features.windows import cut as cut_windows
from cursorprint.model.nets.heads import Head
from cursorprint.model.serving.scoring import SessionScore
from cursorprint.stream.enroll.enroller import Enroller
from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.records.reasons import REASON_HEAD_CACHE_STALE, REASON_NO_USER_HEAD
from cursorprint.stream.score.microbatch import MicroBatchScorer
from cursorprint.stream.score.replayed import ReplayDetector
from cursorprint.stream.score.runtime import LoadedModel, ModelRuntime
from cursorprint.stream.stores.client import REDIS_UNAVAILABLE
from cursorprint.stream.stores.live_scores import LivePart, LiveState, LiveWrite, session_digest

__all__ = ["StandInModel", "MemoryHeads", "MemoryEnrolments", "MemoryFingerprints",
           "ManualClock", "RecordingSink", "DeadLetters", "stand_in_head", "stand_in_runtime",
           "MemoryLiveScores", "MemoryProducer"]

EVENTS_PER_WINDOW = 100


@dataclass(frozen=True)
class _Info:
    rule: WindowRule = DEFAULT_RULE


def stand_in_head(version: str = "h1") -> Head:
    """A one-weight head that fits the stand-in model's descriptors."""
    return Head(w=np.array([1.0], dtype=np.float32), b=0.0, version=version)


class _Outage:
    """``down = True`` makes a dict store fail like a Redis store that cannot be reached (it
    raises :class:`Unavailable` caused by a ``ConnectionError``); ``calls`` counts the calls."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    def _call(self, what: str) -> None:
        self.calls += 1
        if self.down:
            raise Unavailable(REDIS_UNAVAILABLE, f"{what}: store is down") from ConnectionError()


class MemoryHeads(_Outage):
    """:class:`~cursorprint.stream.stores.base.Heads` on a dict. While ``down``, reads answer
    like the Redis store with nothing cached (no head, ``head_cache_stale``) and writes raise."""

    def __init__(self, heads: dict[str, Head] | None = None) -> None:
        super().__init__()
        self.heads: dict[str, Head] = dict(heads or {})
        self.meta: dict[str, dict[str, object]] = {}

    def get(self, user_key: str) -> Head | None:
        return self.get_with_reasons(user_key)[0]

    def get_with_reasons(self, user_key: str) -> tuple[Head | None, list[str]]:
        try:
            self._call("head store")
        except Unavailable:
            return None, [REASON_HEAD_CACHE_STALE]
        return self.heads.get(user_key), []

    def put(self, user_key: str, head: Head, metadata: dict[str, object] | None = None) -> str:
        self._call("head store")
        self.heads[user_key] = head
        self.meta[user_key] = dict(metadata or {})
        return head.version


class MemoryEnrolments(_Outage):
    """:class:`~cursorprint.stream.stores.base.Enrolments` on dicts of lists (insertion order
    stands for Redis' scan order)."""

    def __init__(self) -> None:
        super().__init__()
        self.lists: dict[str, list[np.ndarray]] = {}
        self.sessions: dict[str, dict[str, str]] = {}     # user -> session id -> state

    def add(self, user_key: str, rows: np.ndarray, keep_last: int) -> None:
        self._call("enrolments")
        if not len(rows):
            return
        kept = self.lists.setdefault(user_key, [])
        kept.extend(np.asarray(r, dtype=np.float32).copy() for r in rows)
        del kept[:-keep_last]

    def add_session(self, user_key: str, session_id: str, rows: np.ndarray,
                    keep_last: int) -> str:
        self._call("enrolments")
        state = self.sessions.setdefault(user_key, {}).get(session_id)
        if state is not None:
            return state
        self.add(user_key, rows, keep_last)
        self.sessions[user_key][session_id] = "added"
        return "new"

    def session_state(self, user_key: str, session_id: str) -> str:
        self._call("enrolments")
        return self.sessions.get(user_key, {}).get(session_id, "new")

    def session_fitted(self, user_key: str, session_id: str) -> None:
        self._call("enrolments")
        self.sessions.setdefault(user_key, {})[session_id] = "fitted"

    def windows(self, user_key: str) -> list[np.ndarray]:
        self._call("enrolments")
        return list(self.lists.get(user_key, []))

    def other_users(self, user_key: str, per_user: int, limit: int) -> list[np.ndarray]:
        self._call("enrolments")
        rows: list[np.ndarray] = []
        for key, kept in self.lists.items():
            if key == user_key:
                continue
            rows.extend(kept[:per_user])
            if len(rows) >= limit:
                break
        return rows


class MemoryFingerprints(_Outage):
    """:class:`~cursorprint.stream.stores.base.Fingerprints` on a dict of sets (no TTL: a test
    never lives that long)."""

    def __init__(self) -> None:
        super().__init__()
        self.sets: dict[int, set[str]] = {}

    def exchange(self, shingles: Sequence[int], digest: str, common_max: int
                 ) -> list[set[str]]:
        self._call("replay fingerprints")
        seen = []
        for h in shingles:
            members = self.sets.setdefault(h, set())
            seen.append(set(members))
            if len(members) < common_max:
                members.add(digest)
        return seen


class MemoryLiveScores(_Outage):
    """:class:`~cursorprint.stream.stores.base.LiveScores` on dicts, with the Redis store's
    rules (first writer owns, ``max_parts``, one label, bounded claims); no TTL. Keyed by the
    same digest, so ``sessions`` shows what the Redis hash would hold."""

    def __init__(self, max_parts: int = 256) -> None:
        super().__init__()
        self.max_parts = max_parts
        self.sessions: dict[str, LiveState] = {}
        self.kept_labels: list[dict[str, str]] = []

    def _state(self, sid: str, create: bool) -> LiveState | None:
        key = session_digest(sid)
        if key not in self.sessions and create:
            self.sessions[key] = LiveState()
        return self.sessions.get(key)

    async def record(self, sid: str, owner: str, parts: Sequence[LivePart]) -> LiveWrite:
        self._call("live scores")
        state = self._state(sid, create=True)
        assert state is not None
        if state.owner is None:
            state.owner = owner
        if state.owner != owner:
            return LiveWrite(0, False, None, 0)
        written = 0
        by_id = {p.id: i for i, p in enumerate(state.parts)}
        for p in parts:
            if p.id in by_id:
                state.parts[by_id[p.id]] = p
            elif len(state.parts) < self.max_parts:
                by_id[p.id] = len(state.parts)
                state.parts.append(p)
            else:
                continue
            written += 1
        return LiveWrite(written, True, state.label, len(state.forwarded))

    async def read(self, sid: str) -> LiveState:
        self._call("live scores")
        state = self._state(sid, create=False)
        if state is None:
            return LiveState()
        return LiveState(state.owner, sorted(state.parts, key=lambda p: (
            p.segment, p.closed, p.scored_at)), state.label, set(state.forwarded))

    async def set_label(self, sid: str, owner: str, label: str) -> LiveState:
        self._call("live scores")
        state = self._state(sid, create=True)
        assert state is not None
        if state.owner is None:
            state.owner = owner
        created = state.owner == owner and state.label is None
        if created:
            state.label = label
        out = await self.read(sid)
        out.created_label = created
        return out

    async def claim_forward(self, sid: str, part_ids: Iterable[str], max_forward: int
                            ) -> list[str]:
        self._call("live scores")
        state = self._state(sid, create=False)
        got: list[str] = []
        if state is None:
            return got
        for pid in part_ids:
            if len(state.forwarded) >= max_forward:
                break
            if pid not in state.forwarded:
                state.forwarded.add(pid)
                got.append(pid)
        return got

    async def release_forward(self, sid: str, part_ids: Iterable[str]) -> None:
        self._call("live scores")
        state = self._state(sid, create=False)
        if state is not None:
            state.forwarded.difference_update(part_ids)

    async def append_label(self, fields: Mapping[str, str]) -> None:
        self._call("labels")
        self.kept_labels.append(dict(fields))

    async def labels(self, count: int | None = None) -> list[dict[str, str]]:
        self._call("labels")
        return list(self.kept_labels[:count])


class ManualClock:
    """A clock that moves only when told: ``clock()`` reads it, ``advance(s)`` moves it."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSink:
    """A :class:`~cursorprint.stream.score.agent.Sink` that keeps ``(key, value)`` in order and
    acknowledges at once."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes]] = []

    async def send(self, *, key: bytes, value: bytes) -> Awaitable[Any]:
        self.records.append((key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@dataclass
class DeadLetters:
    """A :class:`~cursorprint.stream.records.dead_letter.SendDeadLetter` that keeps
    ``(source, error, value, partition, offset)``."""

    sent: list[tuple[str, str, bytes, int | None, int | None]] = field(default_factory=list)

    async def __call__(self, source: str, error: str, value: bytes,
                       partition: int | None = None, offset: int | None = None) -> None:
        self.sent.append((source, error, value, partition, offset))


class StandInModel:
    """A model without a network: one window (and one 2x2 picture filled with the window's mean
    x) per 100 events, descriptor = that mean, score = mean / 1000 (so a test picks a session's
    score by its x). ``no_user_head`` unless ``heads`` holds a head for the user. Refuses to
    draw a window with a negative x, standing for a window the rasterizer cannot draw."""

    model_version = "test-v1"
    image_shape = (2, 2, 1)
    info = _Info()
    population: Head | None = None

    def __init__(self, heads: MemoryHeads | None = None) -> None:
        self.heads = heads if heads is not None else MemoryHeads()
        self.embed_calls: list[int] = []

    def windows(self, traj: Trajectory) -> list[Trajectory]:
        return [traj] * max(1, len(traj) // EVENTS_PER_WINDOW)

    def cut(self, traj: Trajectory) -> tuple[list[Trajectory], list[str]]:
        """Its own windows, with the reasons of the real window rule of ``info``."""
        return self.windows(traj), cut_windows(traj, self.info.rule)[1]

    def images_of(self, windows: list[Trajectory]) -> np.ndarray:
        if any((w.x < 0).any() for w in windows):
            raise ValueError("cannot rasterize: negative x")
        if not windows:
            return np.zeros((0, *self.image_shape), np.float32)
        return np.stack([np.full(self.image_shape, float(np.mean(w.x)), dtype=np.float32)
                         for w in windows])

    def motion_of(self, windows: list[Trajectory]) -> np.ndarray:
        return np.zeros((len(windows), 0), dtype=np.float32)

    def embed(self, images: np.ndarray) -> np.ndarray:
        self.embed_calls.append(len(images))
        return images.reshape(len(images), -1)[:, :1]

    def with_motion(self, emb: np.ndarray, motion: np.ndarray) -> np.ndarray:
        assert len(emb) == len(motion), "motion rows must match the session's windows"
        return emb

    def descriptors_of(self, windows: list[Trajectory]) -> np.ndarray:
        return self.with_motion(self.embed(self.images_of(windows)), self.motion_of(windows))

    def score_embeddings(self, user_key: str, emb: np.ndarray) -> SessionScore:
        head, reasons = self.heads.get_with_reasons(user_key)
        if head is None:
            reasons = [*reasons, REASON_NO_USER_HEAD]
        version = head.version if head is not None else "population:stand-in"
        return SessionScore(float(emb.mean()) / 1000.0, [float(e) / 1000.0 for e in emb[:, 0]],
                            version, reasons)


def stand_in_runtime(model: StandInModel | None = None, *, threshold: float = 0.5,
                     fingerprints: MemoryFingerprints | None = None,
                     enrolments: MemoryEnrolments | None = None) -> ModelRuntime:
    """A :class:`~cursorprint.stream.score.runtime.ModelRuntime` that "loads" the stand-in
    model, a micro-batch scorer (alert threshold ``threshold`` for every site; the replay check
    on ``fingerprints`` when given) and an enroller on the model's heads and ``enrolments``."""
    model = model if model is not None else StandInModel()
    replay = ReplayDetector(fingerprints) if fingerprints is not None else None
    scorer = MicroBatchScorer(model, lambda _site: threshold, replay=replay)
    enroller = Enroller(model, model.heads,
                        enrolments if enrolments is not None else MemoryEnrolments())
    return ModelRuntime(lambda: LoadedModel(model, scorer, enroller))


class MemoryProducer:
    """Stands in for ingest's aiokafka producer: ``send`` keeps the value in ``sink`` and returns
    an already-acknowledged future (the bot corpus and the collector's page tests run the real
    ingest app without a broker)."""

    def __init__(self, sink: list[bytes]) -> None:
        self.sink = sink

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> asyncio.Future[None]:
        self.sink.append(value)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    async def stop(self) -> None:
        return None
