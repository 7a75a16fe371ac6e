"""Sessionizer logic: pointer batches -> page sessions -> ``sessions`` records.

Pure and synchronous so unit tests drive it with a plain dict; the Faust agent in
:mod:`cursorprint.stream.sessionize.agent` passes its changelogged table as the store. The state
(one header per session, one key per accepted batch) is described in
:mod:`cursorprint.stream.sessionize.state`.

A session closes on its exit batch once every batch before it arrived (cause ``exit``), on
inactivity (``idle``, by :meth:`Sessionizer.on_tick`), or at ``max_events`` (``cap``). A batch
missing before the exit batch is waited for ``exit_grace_s`` only, not the idle timeout: the
page sent everything it had in its exit flush, and what did not fit its 64 KB keepalive budget
was dropped and will never come (the session then closes as ``exit`` without it).

**Rolling windows.** While a session is open, its in-order events also go out in rolling
windows for live scoring, on a clock of *movement seconds* (inter-event gaps each capped at
0.25 s, the SapiMouse evaluation's activity clock: :func:`~.state.batch_movement_s`), so the
cadence is the same at any sampling rate and a resting pointer does not advance it. A window
goes out once the in-order events since the previous one hold ``window_seconds[1]`` movement
seconds, the first one already at ``window_seconds[0]`` (a page has a live score early), or
once they number ``window_events`` (``first_window_events`` for the first): the event count is
an upper bound that keeps a window's message and the work to build it bounded whatever the
sampling rate. The clock is event time (the batches' own gaps), never the wall clock, so a
replay faster than real time cuts the same windows. Each window holds the events since the one
before (the newest ``window_events`` when the bound cut it), so windows never overlap (the
decision call adds their evidence up). ``window_events=0`` turns rolling windows off;
``window_seconds`` of 0 leave only the event rule (the first window's 0: the first at the
regular cadence). Memory per open session is bounded by ``max_events`` plus one batch and by
``max_pending`` out-of-order batches (then the sequence gap is given up on).

Every record carries the session's pointer type (``pointer``: mouse, pen, touch, or
``mixed`` when its batches disagree), so the scorer meets only mouse sessions as mouse input.

**Continuations.** A batch that comes after its session closed is either a duplicate of one
already included (dropped, reason ``late``) or new movement: the person came back after an idle
close, or the session went on past the length cap. New movement is never dropped: it opens a
continuation segment with session id ``<sid>~<k>`` (k = 1, 2, ...), scored like any page
session. The first segment's tombstone remembers the current segment so later batches find it,
and lives as long as that segment does.

Every step adds to an :class:`Outcome`: records to publish, then store writes. The caller
publishes the records and waits for the broker's acknowledgement *before* applying the writes,
so a crash between the two re-publishes a session (a duplicate, which downstream de-duplicates
by id) instead of losing it. Steps read the store through the outcome's pending writes, so
several steps (a group of batches) can share one outcome and be applied at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.records.wire import PointerBatchRecord
from cursorprint.stream.sessionize.state import (
    HEADER_PREFIX,
    ClosedSession,
    SessionHeader,
    batch_columns,
    batch_events,
    batch_key,
    batch_movement_s,
    batch_size,
    decode_header,
    encode_batch,
    header_key,
    segment_sid,
)

__all__ = ["SessionizerConfig", "Sessionizer", "Outcome", "DELETE"]

DELETE = None   # a write of this value deletes the key


@dataclass(frozen=True)
class SessionizerConfig:
    """Closing rules; see the ``CURSORPRINT_SESSION_*`` settings."""

    idle_s: float = 30.0
    max_events: int = 20000
    window_events: int = 2048       # most events of a rolling window (0: no rolling windows)
    first_window_events: int = 1024  # most events of the first one, if < window_events (0: off)
    # movement seconds of (the first rolling window, each next one); 0: by events only
    window_seconds: tuple[float, float] = (4.0, 6.0)
    exit_grace_s: float = 2.0       # wait for batches missing before the exit batch
    max_pending: int = 64
    closed_ttl_s: float = 600.0

    def __post_init__(self) -> None:
        if self.first_window_events < 0:
            raise ValueError(f"first_window_events={self.first_window_events} must be >= 0")
        if len(self.window_seconds) != 2 or not all(s >= 0 for s in self.window_seconds):
            raise ValueError(f"window_seconds={self.window_seconds} must be (first, every), "
                             "both >= 0")
        if self.exit_grace_s < 0:
            raise ValueError(f"exit_grace_s={self.exit_grace_s} must be >= 0")

    def next_window(self, windows: int) -> int:
        """Most in-order events of rolling window number ``windows`` (0: no windows)."""
        if windows == 0 and self.first_window_events:
            return min(self.first_window_events, self.window_events)
        return self.window_events

    def next_window_seconds(self, windows: int) -> float:
        """Movement seconds that make rolling window number ``windows`` (0: no time rule)."""
        first, every = self.window_seconds
        if windows == 0 and first and every:
            return min(first, every)
        return every

    def window_due(self, head: SessionHeader) -> int:
        """Events of the rolling window ``head`` publishes now (0: none is due)."""
        most = self.next_window(head.windows)
        if not most or not head.since_window:
            return 0
        secs = self.next_window_seconds(head.windows)
        if head.since_window >= most or (secs and head.since_window_s >= secs):
            return min(head.since_window, most)
        return 0


@dataclass
class Outcome:
    """What steps produced: records to publish first, then store writes (JSON values, ``DELETE``
    removes the key), and the reasons of dropped batches."""

    records: list[SessionRecord] = field(default_factory=list)
    writes: dict[str, Any] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)


class Sessionizer:
    """Groups batches of page sessions in ``store`` (a dict or a Faust table)."""

    def __init__(self, store: Mapping[str, Any], cfg: SessionizerConfig,
                 rescan_every: int = 30) -> None:
        self.store = store
        self.cfg = cfg
        # header keys, so a tick does not walk every stored batch; rebuilt by a full scan every
        # ``rescan_every`` ticks (after a rebalance the store holds recovered partitions too)
        self._heads: set[str] = set()
        self._ticks = 0
        self.rescan_every = rescan_every

    def note_writes(self, out: Outcome) -> None:
        """Keep the header index in step with writes the caller applied to the store."""
        for key, value in out.writes.items():
            if key.startswith(HEADER_PREFIX):
                if value is DELETE:
                    self._heads.discard(key)
                else:
                    self._heads.add(key)

    def open_sessions(self) -> int:
        """Open (not yet closed) sessions in the store, from the header index."""
        return sum(1 for k in list(self._heads)
                   if (h := self.store.get(k)) is not None and not h.get("closed"))

    # --- reading state through this step's writes -------------------------------------------
    def _read(self, key: str, out: Outcome) -> Any:
        return out.writes[key] if key in out.writes else self.store.get(key)

    def _header(self, sid: str, out: Outcome) -> SessionHeader | ClosedSession | None:
        return decode_header(self._read(header_key(sid), out))

    # --- steps ---------------------------------------------------------------------------------
    def on_batch(self, rec: PointerBatchRecord, partition: int, now_ms: float,
                 out: Outcome | None = None) -> Outcome:
        """Accept one batch (duplicates and late batches are dropped with a reason)."""
        out = Outcome() if out is None else out
        sid, head, first = self._place(rec.sid, rec.seq, out)
        if head is None:
            if first is None:
                out.dropped.append("late")
                return out
            head = SessionHeader.open(rec, partition, first, now_ms)
        if head.has(rec.seq):
            out.dropped.append("duplicate")
            return out
        out.writes[batch_key(sid, rec.seq)] = encode_batch(rec)
        head.accept(rec.seq, rec.n_events, rec.t0, rec.final, partition, now_ms, rec.pt,
                    batch_movement_s(rec.ev["dt"], first_of_segment=rec.seq == head.first_seq))
        if len(head.pending) > self.cfg.max_pending:
            out.dropped.append("gap")      # a missing batch is given up on
            head.give_up_gap()
        if head.n_events >= self.cfg.max_events:
            self._close(sid, head, "cap", now_ms, out)
        elif head.complete:
            self._close(sid, head, "exit", now_ms, out)
        else:
            size = self.cfg.window_due(head)
            if size:
                out.records.append(self._window(sid, head, size, now_ms, out))
                head.window_published()
            out.writes[header_key(sid)] = head.to_json()
        return out

    def _place(self, sid: str, seq: int, out: Outcome
               ) -> tuple[str, SessionHeader | None, int | None]:
        """Where batch ``seq`` of page session ``sid`` goes: ``(segment id, open header or
        None, first sequence number of a new segment or None to drop it as late)``."""
        root = self._header(sid, out)
        if root is None:
            return sid, None, 0
        if isinstance(root, SessionHeader):
            return sid, root, None
        seg = root.continuation
        cur = root if seg == 0 else self._header(segment_sid(sid, seg), out)
        if isinstance(cur, SessionHeader):
            return segment_sid(sid, seg), cur, None
        done = (cur or root).next_seq
        if seq < done:
            return sid, None, None          # a duplicate of a batch already in a segment
        out.writes[header_key(sid)] = replace(root, continuation=seg + 1).to_json()
        return segment_sid(sid, seg + 1), None, done

    def on_tick(self, partition: int, now_ms: float, close_idle: bool = True,
                out: Outcome | None = None) -> Outcome:
        """Close idle sessions of ``partition`` and forget old tombstones.

        ``close_idle=False`` while the partition still has a backlog of batches (e.g. just
        after a restart): a session is not idle because its batches are waiting in Kafka.
        """
        out = Outcome() if out is None else out
        idle_ms = self.cfg.idle_s * 1000.0
        grace_ms = self.cfg.exit_grace_s * 1000.0
        if self._ticks % self.rescan_every == 0:
            self._heads = {k for k in map(str, list(self.store.keys()))
                           if k.startswith(HEADER_PREFIX)}
        self._ticks += 1
        for key in list(self._heads):
            sid = key[len(HEADER_PREFIX):]
            head = self._header(sid, out)
            if head is None or head.partition != partition:
                continue
            if isinstance(head, ClosedSession):
                cont = head.continuation
                if (now_ms - head.closed_at > self.cfg.closed_ttl_s * 1000.0
                        and (not cont or self._read(header_key(segment_sid(sid, cont)), out)
                             is None)):
                    out.writes[key] = DELETE
            elif close_idle and now_ms - head.last_ms > (
                    idle_ms if head.final_seq is None else min(idle_ms, grace_ms)):
                cause = "exit" if head.final_seq is not None else "idle"
                self._close(sid, head, cause, now_ms, out)
        return out

    # --- assembling records ----------------------------------------------------------------
    def _events(self, sid: str, seqs: list[int], out: Outcome
                ) -> tuple[float, dict[str, np.ndarray]]:
        """Events of ``seqs`` in order; times in ms from the first batch's start."""
        return batch_events([batch_columns(b) for s in seqs
                             if (b := self._read(batch_key(sid, s), out)) is not None])

    @staticmethod
    def _record(sid: str, head: SessionHeader, t0: float, cols: dict[str, np.ndarray],
                part: str | int, cause: str, now_ms: float) -> SessionRecord:
        t_s = np.round(cols["t"] / 1000.0, 4)
        return SessionRecord(
            session_id=sid, user=head.user, site=head.site, path=head.path,
            screen=head.screen, part=part, cause=cause, t0=t0, closed_at=now_ms,
            t=t_s.tolist(), x=cols["x"].tolist(), y=cols["y"].tolist(),
            k=cols["k"].astype(int).tolist(), b=cols["b"].astype(int).tolist(),
            pointer=head.pointer)

    def _window(self, sid: str, head: SessionHeader, size: int, now_ms: float, out: Outcome
                ) -> SessionRecord:
        """The last ``size`` in-order events, as rolling window ``head.windows``."""
        tail: list[dict[str, Any]] = []
        events = 0
        for seq in reversed(head.contiguous_seqs()):       # newest in-order batches first
            stored = self._read(batch_key(sid, seq), out)
            if stored is None:
                continue
            tail.append(batch_columns(stored))
            events += batch_size(tail[-1])
            if events >= size:
                break
        t0, cols = batch_events(tail[::-1])
        cols = {c: v[-size:] for c, v in cols.items()}
        return self._record(sid, head, t0, cols, head.windows, "window", now_ms)

    def _close(self, sid: str, head: SessionHeader, cause: str, now_ms: float,
               out: Outcome) -> None:
        seqs = head.stored_seqs()
        t0, cols = self._events(sid, seqs, out)
        out.records.append(self._record(sid, head, t0, cols, "final", cause, now_ms))
        for s in seqs:
            out.writes[batch_key(sid, s)] = DELETE
        t = cols["t"]
        out.writes[header_key(sid)] = ClosedSession(
            closed_at=now_ms, partition=head.partition,
            next_seq=max([head.next_seq, *(s + 1 for s in seqs)]), cause=cause,
            n_events=len(t), duration_s=float(t[-1] - t[0]) / 1000.0 if len(t) else 0.0,
        ).to_json()
