"""The sessionizer's typed state and its changelog form.

One store (a Faust table with a JSON changelog, or a plain dict in tests) holds two kinds of key:

* ``h:<sid>`` — the header of a page session (or continuation segment ``<sid>~<k>``): a
  :class:`SessionHeader` while it is open, a :class:`ClosedSession` tombstone after it closed
  (kept ``closed_ttl_s`` so late duplicates are recognised).
* ``b:<sid>:<seq>`` — the events of one accepted batch (:func:`encode_batch`): its start time
  and its event columns as the wire carries them, as JSON **bytes**: the very bytes of its
  changelog record, kept as they are in memory too (read back with :func:`batch_columns`). Held
  as Python lists of floats the same events took about six times the memory (each number a
  24-byte object plus its list slot); batches are only read when a window or the session goes
  out, so decoding them then costs less than holding them decoded. Batches recovered from the
  changelog come back decoded (the table's JSON schema) and are read the same way. A session's
  events are assembled with one numpy conversion per column over all its batches
  (:func:`batch_events`).

Each batch is stored once under its own key, so changelog traffic grows with the events, not with
the square of a session's length; the header stays small however long the session is (given-up
gaps are ranges, not one entry per batch).

The store holds the JSON form (what the changelog carries and what recovery reads back); the
logic reads and writes only the typed objects, through :func:`decode_header` and ``to_json``
for headers, :func:`encode_batch` and :func:`batch_columns` for batches.
The JSON keys are short and stable: state written by an earlier release is read back as is (a
header without ``pt``, the pointer type, is a mouse session's: the only kind there was; one
without ``since_win_s``, the movement seconds since the last rolling window, has none counted
yet, and a held batch without its movement seconds counts none: the event bound still cuts its
window).

**Movement seconds** (the rolling windows' clock, :func:`batch_movement_s`) are the activity
clock of the SapiMouse evaluation (:mod:`cursorprint.model.evaluation.protocol`): inter-event
gaps summed, each counted at most ``ACTIVE_GAP_S``. A batch's first ``dt`` is the gap from the
previous batch's last event (the collector starts a batch where the last one ended, at most 1 s
before its first event), so a batch's movement is known from the batch alone, in or out of order.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain
from typing import Any

import msgspec
import numpy as np

from cursorprint.model.evaluation.protocol import ACTIVE_GAP_S
from cursorprint.stream.records.events import POINTER_MOUSE
from cursorprint.stream.records.session import POINTER_MIXED
from cursorprint.stream.records.wire import PointerBatchRecord

__all__ = ["SessionHeader", "ClosedSession", "decode_header", "encode_batch", "header_key",
           "batch_key", "segment_sid", "batch_events", "batch_size", "batch_movement_s",
           "batch_columns", "StoredBatch", "HEADER_PREFIX", "BATCH_PREFIX"]

HEADER_PREFIX = "h:"
BATCH_PREFIX = "b:"
_GAP_CAP_MS = ACTIVE_GAP_S * 1000.0     # wire gaps are in ms
_to_json = msgspec.json.Encoder().encode
_from_json = msgspec.json.Decoder(dict[str, Any]).decode

# a stored batch: JSON bytes as written, or the decoded object after changelog recovery
StoredBatch = bytes | dict[str, Any]


def batch_movement_s(dt_ms: Sequence[float], first_of_segment: bool = False) -> float:
    """Movement seconds of one batch: its gaps (``dt``, ms) each capped at ``ACTIVE_GAP_S``.
    The first batch of a segment leaves its first gap out (it runs from the page's start, or
    the end of the previous segment, not from an event of this one), as the activity clock
    starts at a session's first event."""
    gaps = dt_ms[1:] if first_of_segment else dt_ms
    return sum(min(float(g), _GAP_CAP_MS) for g in gaps) / 1000.0


def header_key(sid: str) -> str:
    return f"{HEADER_PREFIX}{sid}"


def batch_key(sid: str, seq: int) -> str:
    return f"{BATCH_PREFIX}{sid}:{seq}"


def segment_sid(sid: str, seg: int) -> str:
    """Session id of segment ``seg`` of page session ``sid`` (0: the page session itself);
    ``~`` cannot occur in a wire session id."""
    return sid if seg == 0 else f"{sid}~{seg}"


@dataclass
class SessionHeader:
    """An open page session: who, where, and how far its batches have arrived in order."""

    user: str
    site: str
    path: str
    screen: tuple[int, int]
    partition: int              # of pointer-batches (and of the changelog record)
    t0: float                   # batch start (epoch ms) of the lowest sequence number seen
    t0_seq: int
    first_seq: int              # first sequence number of this segment
    next_seq: int               # next sequence number expected in order
    last_ms: float              # wall clock of the last accepted batch
    n_events: int = 0           # accepted events, in order or held
    windows: int = 0            # rolling windows published
    since_window: int = 0       # in-order events since the last rolling window
    since_window_s: float = 0.0  # movement seconds of those events (batch_movement_s)
    final_seq: int | None = None
    # held (seq, events, movement seconds), sorted
    pending: list[tuple[int, int, float]] = field(default_factory=list)
    skipped: list[tuple[int, int]] = field(default_factory=list)   # given-up gaps [a, b)
    pointer: str = POINTER_MOUSE   # of its events: mouse, pen, touch or POINTER_MIXED

    @classmethod
    def open(cls, rec: PointerBatchRecord, partition: int, first_seq: int,
             now_ms: float) -> SessionHeader:
        return cls(user=rec.user, site=rec.site, path=rec.path, screen=rec.vp,
                   partition=partition, t0=rec.t0, t0_seq=rec.seq, first_seq=first_seq,
                   next_seq=first_seq, last_ms=now_ms, pointer=rec.pt)

    def has(self, seq: int) -> bool:
        """Whether batch ``seq`` was accepted already (in order or held)."""
        return seq < self.next_seq or any(p[0] == seq for p in self.pending)

    def accept(self, seq: int, n_events: int, t0: float, final: bool, partition: int,
               now_ms: float, pointer: str = POINTER_MOUSE, movement_s: float = 0.0) -> None:
        """Count a new batch in: in order, or held until the ones before it arrive.
        ``movement_s``: the batch's :func:`batch_movement_s`."""
        self.note_pointer(pointer, n_events)
        self.n_events += n_events
        self.last_ms = now_ms
        self.partition = partition
        if seq < self.t0_seq:
            self.t0, self.t0_seq = t0, seq
        if final:
            self.final_seq = seq
        if seq == self.next_seq:
            self._count_in(n_events, movement_s)
        else:
            bisect.insort(self.pending, (seq, n_events, movement_s))
        self._advance()

    def note_pointer(self, pointer: str, n_events: int) -> None:
        """Take in the pointer type of a batch of ``n_events`` events. An empty batch (a final
        flush) says nothing about the pointer; once events of two types are in, the session is
        POINTER_MIXED for good (the scorer never meets it as a mouse session)."""
        if not n_events or pointer == self.pointer:
            return
        self.pointer = pointer if self.n_events == 0 else POINTER_MIXED

    def give_up_gap(self) -> None:
        """Stop waiting for the missing batch before the first held one."""
        first_held = self.pending[0][0]
        self.skipped.append((self.next_seq, first_held))
        self.next_seq = first_held
        self._advance()

    def _count_in(self, n_events: int, movement_s: float) -> None:
        """The next batch in order joins the in-order prefix (and the next rolling window)."""
        self.since_window += n_events
        self.since_window_s += movement_s
        self.next_seq += 1

    def window_published(self) -> None:
        """A rolling window of the in-order events so far went out: the next one starts here."""
        self.windows += 1
        self.since_window = 0
        self.since_window_s = 0.0

    def _advance(self) -> None:
        """Move the in-order prefix over held batches that now follow it."""
        while self.pending and self.pending[0][0] <= self.next_seq:
            seq, n, moved = self.pending.pop(0)
            if seq == self.next_seq:
                self._count_in(n, moved)

    @property
    def complete(self) -> bool:
        """The exit batch and every batch before it arrived."""
        return self.final_seq is not None and self.next_seq > self.final_seq

    def contiguous_seqs(self) -> list[int]:
        """Stored sequence numbers of the in-order prefix: ``[first, next)`` minus given-up
        gaps (every number listed was received, so the list is never as long as a gap)."""
        out: list[int] = []
        start = self.first_seq
        for a, b in self.skipped:             # ascending, non-overlapping
            out.extend(range(start, a))
            start = b
        out.extend(range(start, self.next_seq))
        return out

    def stored_seqs(self) -> list[int]:
        """Every sequence number with a stored batch: the in-order prefix, then held ones."""
        return self.contiguous_seqs() + [p[0] for p in self.pending]

    def to_json(self) -> dict[str, Any]:
        obj = {"user": self.user, "site": self.site, "path": self.path,
               "screen": list(self.screen), "p": self.partition, "t0": self.t0,
               "t0_seq": self.t0_seq, "first": self.first_seq, "next": self.next_seq,
               "last": self.last_ms, "n": self.n_events, "win": self.windows,
               "since_win": self.since_window, "since_win_s": self.since_window_s,
               "final": self.final_seq,
               "pending": [list(p) for p in self.pending],
               "skipped": [list(s) for s in self.skipped], "closed": False}
        if self.pointer != POINTER_MOUSE:      # absent = mouse, as in state from before it
            obj["pt"] = self.pointer
        return obj

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SessionHeader:
        return cls(user=obj["user"], site=obj["site"], path=obj["path"],
                   screen=(int(obj["screen"][0]), int(obj["screen"][1])),
                   partition=int(obj["p"]), t0=float(obj["t0"]), t0_seq=int(obj["t0_seq"]),
                   first_seq=int(obj.get("first", 0)), next_seq=int(obj["next"]),
                   last_ms=float(obj["last"]), n_events=int(obj["n"]),
                   windows=int(obj["win"]), since_window=int(obj["since_win"]),
                   since_window_s=float(obj.get("since_win_s", 0.0)),
                   final_seq=None if obj["final"] is None else int(obj["final"]),
                   # [seq, events] from before movement seconds: none counted for it
                   pending=[(int(p[0]), int(p[1]), float(p[2]) if len(p) > 2 else 0.0)
                            for p in obj["pending"]],
                   skipped=[(int(a), int(b)) for a, b in obj["skipped"]],
                   pointer=str(obj.get("pt", POINTER_MOUSE)))


@dataclass(frozen=True)
class ClosedSession:
    """The tombstone of a closed session: enough to tell a late duplicate from new movement."""

    closed_at: float            # wall clock, ms
    partition: int
    next_seq: int               # one past the highest sequence number the session included
    cause: str
    n_events: int
    duration_s: float
    continuation: int = 0       # on a page session's first segment: its current segment

    def to_json(self) -> dict[str, Any]:
        return {"closed": True, "closed_at": self.closed_at, "p": self.partition,
                "next": self.next_seq, "cause": self.cause, "n": self.n_events,
                "duration_s": self.duration_s, "cont": self.continuation}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ClosedSession:
        return cls(closed_at=float(obj["closed_at"]), partition=int(obj["p"]),
                   next_seq=int(obj.get("next", 0)), cause=str(obj.get("cause", "")),
                   n_events=int(obj.get("n", 0)), duration_s=float(obj.get("duration_s", 0.0)),
                   continuation=int(obj.get("cont", 0)))


def decode_header(obj: dict[str, Any] | None) -> SessionHeader | ClosedSession | None:
    """The typed header of a stored value (None: no such session)."""
    if obj is None:
        return None
    return ClosedSession.from_json(obj) if obj.get("closed") else SessionHeader.from_json(obj)


def encode_batch(rec: PointerBatchRecord) -> bytes:
    """The stored form of one batch: its start time and its event columns, as JSON bytes
    (kept in memory as they are, and sent as they are on the changelog)."""
    return _to_json({"t0": rec.t0, **rec.ev})


def batch_columns(stored: StoredBatch) -> dict[str, Any]:
    """A stored batch as an object: ``t0`` and the event columns ``dt``, ``x``, ``y``, ``k``,
    ``b`` (lists)."""
    return _from_json(stored) if isinstance(stored, bytes) else stored


def batch_size(stored: dict[str, Any]) -> int:
    """Events in a stored batch, from its :func:`batch_columns`."""
    return len(stored["dt"])


def batch_events(batches: Sequence[dict[str, Any]]) -> tuple[float, dict[str, np.ndarray]]:
    """The events of ``batches`` (their :func:`batch_columns`) in order: the first batch's start
    time (epoch ms) and columns ``t`` (ms from it, never decreasing), ``x``, ``y``, ``k``, ``b``.

    One conversion per column, no numpy call per batch. Times within a batch are summed in
    order (``accumulate``: the same IEEE additions as a per-batch ``numpy.cumsum``), so a
    session comes out bit for bit as the batches went in."""
    if not batches:
        return 0.0, {c: np.zeros(0) for c in ("t", "x", "y", "k", "b")}
    t0 = float(batches[0]["t0"])
    starts = np.repeat([float(b["t0"]) - t0 for b in batches], [len(b["dt"]) for b in batches])
    t = starts + np.fromiter(chain.from_iterable(accumulate(b["dt"]) for b in batches),
                             dtype=np.float64, count=len(starts))
    cols = {c: np.fromiter(chain.from_iterable(b[c] for b in batches), dtype=np.float64,
                           count=len(starts)) for c in ("x", "y", "k", "b")}
    cols["t"] = np.maximum.accumulate(t) if len(t) else t
    return t0, cols
