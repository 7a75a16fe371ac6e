"""The scorer's side of decisions: each published micro-batch's scores -> live scores in Redis,
and closed parts of sessions their site confirmed as the owner's -> ``trusted-sessions``.

:class:`LiveScoreWriter` is called by the scorer's agent after the broker acknowledged the
micro-batch's scores (:mod:`cursorprint.stream.score.agent`). Redis failures never stop or slow
scoring for long: the first failure is logged, ``cursorprint_redis_errors_total{service=
"scorer"}`` counts, ``cursorprint_degraded{dependency="live_scores"}`` goes to 1 and writes are
skipped for :data:`BACKOFF_S`; decisions on those sessions then lack the newest parts (a
decision never guesses from missing data: it says ``not_enough_data``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cursorprint.stream import metrics as m
from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.records.scores import ScoreRecord
from cursorprint.stream.stores.base import LiveScores
from cursorprint.stream.stores.live_scores import (
    LABEL_OWNER,
    LivePart,
    owner_of,
    split_session_id,
)

__all__ = ["LiveScoreWriter", "SendTrusted", "SourceRecord", "SourceKey", "source_key",
           "movement_seconds", "BACKOFF_S", "MOVE_GAP_S"]

log = logging.getLogger(__name__)
BACKOFF_S = 5.0        # skip live writes this long after a Redis failure
MOVE_GAP_S = 0.5       # a longer gap between two events is a pause, not movement


def movement_seconds(t: Sequence[float] | np.ndarray) -> float:
    """Seconds the pointer was in use: the gaps between consecutive events, pauses over
    :data:`MOVE_GAP_S` left out."""
    arr = np.asarray(t, dtype=np.float64)
    if len(arr) < 2:
        return 0.0
    gaps = np.diff(arr)
    return float(gaps[(gaps > 0) & (gaps <= MOVE_GAP_S)].sum())


@dataclass(frozen=True)
class SourceRecord:
    """What the live scores need of one ``sessions`` record besides its score."""

    raw: bytes
    seconds: float
    src: tuple[int, int] | None       # (partition, offset) on `sessions`


SourceKey = tuple[str, str]


def source_key(session_id: str, part: str | int) -> SourceKey:
    """How :meth:`LiveScoreWriter.write` finds the ``sessions`` record of a score: its session
    id and part (``"final"`` or a window index, as text)."""
    return session_id, str(part)


def live_part(s: ScoreRecord, source: SourceRecord | None) -> LivePart:
    if s.score is None:      # the scorer's agent never writes these (not mouse input)
        raise ValueError(f"score {s.score_id} has no identity score: not a live part")
    _, segment = split_session_id(s.session_id)
    return LivePart(segment=segment, part=s.part, cause=s.cause, score=s.score,
                    n_windows=len(s.window_scores), reasons=list(s.reasons),
                    model_version=s.model_version, head_version=s.head_version,
                    n_events=s.n_events, seconds=round(source.seconds, 3) if source else 0.0,
                    scored_at=s.scored_at, src=source.src if source else None)


SendTrusted = Callable[[bytes, bytes], Awaitable[None]]


class LiveScoreWriter:
    """Writes a micro-batch's scores to the live store; forwards confirmed owners' closed
    parts (``send_trusted(key, value)`` publishes and waits for the broker)."""

    def __init__(self, store: LiveScores, *, min_trusted_seconds: float = 5.0,
                 max_trusted_parts: int = 4, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.store = store
        self.min_trusted_seconds = min_trusted_seconds
        self.max_trusted_parts = max_trusted_parts
        self.clock = clock
        self.degraded = False
        self._skip_until = float("-inf")
        self.forwarded = 0

    def _failed(self, exc: Exception) -> None:
        m.REDIS_ERRORS.labels(service="scorer").inc()
        self._skip_until = self.clock() + BACKOFF_S
        if not self.degraded:
            log.warning("scorer: live-score store (Redis) unreachable (%s); decisions lack new "
                        "scores until it is back", exc)
            self.degraded = True
            m.DEGRADED.labels(dependency="live_scores").set(1)

    def _ok(self) -> None:
        if self.degraded:
            log.warning("scorer: live-score store (Redis) reachable again")
            self.degraded = False
            m.DEGRADED.labels(dependency="live_scores").set(0)

    async def write(self, scores: Sequence[ScoreRecord],
                    sources: dict[SourceKey, SourceRecord],
                    send_trusted: SendTrusted) -> None:
        """Store every score of the micro-batch (one call per page session, concurrently)."""
        if not scores or self.clock() < self._skip_until:
            return
        by_session: dict[str, list[ScoreRecord]] = {}
        for s in scores:
            by_session.setdefault(split_session_id(s.session_id)[0], []).append(s)
        results = await asyncio.gather(
            *(self._write_session(sid, group, sources, send_trusted)
              for sid, group in by_session.items()), return_exceptions=True)
        errors = [r for r in results if isinstance(r, Exception)]
        for r in errors:
            if not isinstance(r, Unavailable):
                log.error("scorer: live-score write failed: %r", r)
        unavailable = [r for r in errors if isinstance(r, Unavailable)]
        if unavailable:
            self._failed(unavailable[0])
        elif not errors:
            self._ok()

    async def _write_session(self, sid: str, group: list[ScoreRecord],
                             sources: dict[SourceKey, SourceRecord],
                             send_trusted: SendTrusted) -> None:
        first = group[0]
        owner = owner_of(first.site, first.user)
        parts = [(s, live_part(s, sources.get(source_key(s.session_id, s.part)))) for s in group
                 if s.user == first.user and s.site == first.site]
        res = await self.store.record(sid, owner, [p for _, p in parts])
        if not res.owner_ok:
            log.warning("scorer: live scores of a page session under another owner ignored")
            return
        if res.label != LABEL_OWNER:
            return
        wanted = {p.id: (s, p) for s, p in parts
                  if p.closed and p.seconds >= self.min_trusted_seconds
                  and sources.get(source_key(s.session_id, s.part)) is not None}
        claimed = await self.store.claim_forward(sid, list(wanted), self.max_trusted_parts)
        for pid in claimed:
            s, _ = wanted[pid]
            raw = sources[source_key(s.session_id, s.part)].raw
            try:
                await send_trusted(s.user.encode(), raw)
                self.forwarded += 1
            except Exception:
                await self.store.release_forward(sid, [pid])
                raise
