"""Sessionizer logic: pointer batches -> page sessions -> ``sessions`` records.

Pure and synchronous so unit tests drive it with a plain dict; the Faust agent in
:mod:`cursorprint.stream.sessionize.agent` passes its changelogged table as the store.

State layout (one store, so one changelog):

* ``h:<sid>`` — the session header: user, site, path, screen, start time, the next expected
  sequence number, the out-of-order sequence numbers held, event counts, last activity, and
  after closing a small tombstone (so late duplicates are recognised) kept ``closed_ttl_s``.
* ``b:<sid>:<seq>`` — the events of one accepted batch (times in ms from the batch start).

Each batch is stored once under its own key, so the changelog traffic grows with the events,
not with the square of a session's length. Held out-of-order batches are ``[seq, events]``
pairs. Memory per open session is bounded by ``max_events`` plus one batch (then the session
closes with cause ``cap``) and ``max_pending`` out-of-order batches (then the sequence gap is
given up on).

**Continuations.** A batch that comes after its session closed is either a duplicate of one
already included (dropped, reason ``late``) or new movement: the person came back after an idle
close, or the session went on past the length cap. New movement is never dropped: it opens a
continuation segment with session id ``<sid>~<k>`` (k = 1, 2, ...; ``~`` cannot occur in a wire
session id), scored like any page session. The first segment's tombstone remembers the current
segment (``cont``) so later batches find it, and lives as long as the segment does.

Every method returns ``(records to publish, store writes)``; the caller publishes the records
and waits for the broker's acknowledgement *before* applying the writes, so a crash between
the two re-publishes a session (a duplicate, which downstream de-duplicates by id) instead of
losing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.records.wire import PointerBatchRecord

__all__ = ["SessionizerConfig", "Sessionizer", "Outcome", "DELETE"]

DELETE = None   # a write of this value deletes the key


@dataclass(frozen=True)
class SessionizerConfig:
    """Closing rules; see the ``CURSORPRINT_SESSION_*`` settings."""

    idle_s: float = 30.0
    max_events: int = 20000
    window_events: int = 2048      # 0: no rolling windows
    max_pending: int = 64
    closed_ttl_s: float = 600.0


@dataclass
class Outcome:
    """What one step produced: records to publish first, then store writes, then counters."""

    records: list[SessionRecord] = field(default_factory=list)
    writes: dict[str, Any] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)       # reasons of dropped batches
    opened: int = 0


def _hkey(sid: str) -> str:
    return f"h:{sid}"


def _bkey(sid: str, seq: int) -> str:
    return f"b:{sid}:{seq}"


def _segment_sid(sid: str, seg: int) -> str:
    """Session id of segment ``seg`` of page session ``sid`` (0: the page session itself)."""
    return sid if seg == 0 else f"{sid}~{seg}"


def _contiguous(head: dict[str, Any]) -> list[int]:
    """Stored sequence numbers of the contiguous prefix: ``[first, next)`` minus given-up gaps.

    The header stores gap ranges, not one entry per batch, so its size (rewritten to the
    changelog on every batch) stays small however long the session is; every number listed
    here was received, so the list is as long as the stored batches, never as a gap.
    """
    out: list[int] = []
    start = head.get("first", 0)
    for a, b in head["skipped"]:          # ascending, non-overlapping
        out.extend(range(start, a))
        start = b
    out.extend(range(start, head["next"]))
    return out


def _stored_seqs(head: dict[str, Any]) -> list[int]:
    """Every sequence number with a stored batch: the contiguous prefix, then held ones."""
    return _contiguous(head) + [p[0] for p in head["pending"]]


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
            if key.startswith("h:"):
                if value is None:
                    self._heads.discard(key)
                else:
                    self._heads.add(key)

    def open_sessions(self) -> int:
        """Open (not yet closed) sessions in the store, from the header index."""
        return sum(1 for k in list(self._heads)
                   if (h := self.store.get(k)) is not None and not h.get("closed"))

    # --- reading state, overlaid with this step's writes ----------------------------------
    @staticmethod
    def _get(store: Mapping[str, Any], out: Outcome, key: str) -> Any:
        if key in out.writes:
            return out.writes[key]
        return store.get(key)

    def on_batch(self, rec: PointerBatchRecord, partition: int, now_ms: float) -> Outcome:
        """Accept one batch (duplicates and late batches are dropped with a reason)."""
        out = Outcome()
        seq = rec.seq
        sid, head, first = self._segment(rec.sid, seq, out)
        if head is None:
            if first is None:
                out.dropped.append("late")
                return out
            head = {"user": rec.user, "site": rec.site, "path": rec.path,
                    "screen": list(rec.vp), "t0": rec.t0, "t0_seq": seq, "p": partition,
                    "first": first, "next": first, "pending": [], "skipped": [], "n": 0,
                    "contig": 0, "win": 0, "since_win": 0, "final": None, "last": now_ms,
                    "closed": False}
            out.opened = 1
        else:
            head = dict(head)
        if seq < head["next"] or any(p[0] == seq for p in head["pending"]):
            out.dropped.append("duplicate")
            return out
        n_new = len(rec.ev["dt"])
        out.writes[_bkey(sid, seq)] = {"t0": rec.t0, **rec.ev}
        head["n"] += n_new
        head["last"] = now_ms
        head["p"] = partition
        if seq < head["t0_seq"]:
            head["t0"], head["t0_seq"] = rec.t0, seq
        if rec.final:
            head["final"] = seq
        if seq == head["next"]:
            head["contig"] += n_new
            head["since_win"] += n_new
            head["next"] += 1
        else:
            head["pending"] = sorted([*head["pending"], [seq, n_new]])
        self._advance(head)
        if len(head["pending"]) > self.cfg.max_pending:
            out.dropped.append("gap")      # a missing batch is given up on
            head["skipped"] = [*head["skipped"], [head["next"], head["pending"][0][0]]]
            head["next"] = head["pending"][0][0]
            self._advance(head)
        out.writes[_hkey(sid)] = head
        if head["n"] >= self.cfg.max_events:
            self._close(sid, head, "cap", now_ms, out)
        elif head["final"] is not None and head["next"] > head["final"]:
            self._close(sid, head, "exit", now_ms, out)
        elif self.cfg.window_events and head["since_win"] >= self.cfg.window_events:
            out.records.append(self._window(sid, head, now_ms, out))
            head["win"] += 1
            head["since_win"] = 0
        return out

    def _segment(self, sid: str, seq: int, out: Outcome) -> tuple[str, dict[str, Any] | None, int | None]:
        """Where batch ``seq`` of page session ``sid`` goes: ``(segment id, open header or
        None, first sequence number of a new segment or None to drop it as late)``."""
        root = self.store.get(_hkey(sid))
        if root is None:
            return sid, None, 0
        if not root["closed"]:
            return sid, root, None
        seg = int(root.get("cont", 0))
        cur = root if seg == 0 else self.store.get(_hkey(_segment_sid(sid, seg)))
        if cur is not None and not cur["closed"]:
            return _segment_sid(sid, seg), cur, None
        done = int(cur.get("next", 0)) if cur is not None else int(root.get("next", 0))
        if seq < done:
            return sid, None, None          # a duplicate of a batch already in a segment
        seg += 1
        out.writes[_hkey(sid)] = {**root, "cont": seg}
        return _segment_sid(sid, seg), None, done

    def _advance(self, head: dict[str, Any]) -> None:
        """Move the contiguous prefix over held out-of-order batches."""
        pending = [list(p) for p in head["pending"]]
        while pending and pending[0][0] <= head["next"]:
            seq, n = pending.pop(0)
            if seq == head["next"]:
                head["contig"] += n
                head["since_win"] += n
                head["next"] += 1
        head["pending"] = pending

    def on_tick(self, partition: int, now_ms: float, close_idle: bool = True) -> Outcome:
        """Close idle sessions of ``partition`` and forget old tombstones.

        ``close_idle=False`` while the partition still has a backlog of batches (e.g. just
        after a restart): a session is not idle because its batches are waiting in Kafka.
        """
        out = Outcome()
        idle_ms = self.cfg.idle_s * 1000.0
        if self._ticks % self.rescan_every == 0:
            self._heads = {str(k) for k in list(self.store.keys()) if str(k).startswith("h:")}
        self._ticks += 1
        for key in list(self._heads):
            head = self.store.get(key)
            if head is None or head.get("p") != partition:
                continue
            sid = str(key)[2:]
            if head["closed"]:
                cont = head.get("cont", 0)
                if (now_ms - head["closed_at"] > self.cfg.closed_ttl_s * 1000.0
                        and (not cont or _hkey(_segment_sid(sid, cont)) not in self.store)):
                    out.writes[key] = DELETE
            elif close_idle and now_ms - head["last"] > idle_ms:
                self._close(sid, dict(head), "exit" if head["final"] is not None else "idle",
                            now_ms, out)
        return out

    # --- assembling records ----------------------------------------------------------------
    def _events(self, sid: str, seqs: list[int], out: Outcome
                ) -> tuple[float, dict[str, np.ndarray]]:
        """Events of ``seqs`` in order; times in ms from the first batch's start."""
        batches = [self._get(self.store, out, _bkey(sid, s)) for s in seqs]
        batches = [b for b in batches if b is not None]
        if not batches:
            return 0.0, {c: np.zeros(0) for c in ("t", "x", "y", "k", "b")}
        t0 = float(batches[0]["t0"])
        t = np.concatenate([float(b["t0"]) - t0 + np.cumsum(np.asarray(b["dt"], dtype=np.float64))
                            for b in batches]) if batches else np.zeros(0)
        cols = {c: np.concatenate([np.asarray(b[c], dtype=np.float64) for b in batches])
                for c in ("x", "y", "k", "b")}
        cols["t"] = np.maximum.accumulate(t) if len(t) else t
        return t0, cols

    def _record(self, sid: str, head: dict[str, Any], t0: float, cols: dict[str, np.ndarray],
                part: str | int, cause: str, now_ms: float) -> SessionRecord:
        t_s = np.round(cols["t"] / 1000.0, 4)
        return SessionRecord(
            session_id=sid, user=head["user"], site=head["site"], path=head["path"],
            screen=(int(head["screen"][0]), int(head["screen"][1])), part=part, cause=cause,
            t0=t0, closed_at=now_ms, t=t_s.tolist(), x=cols["x"].tolist(),
            y=cols["y"].tolist(), k=cols["k"].astype(int).tolist(),
            b=cols["b"].astype(int).tolist())

    def _window(self, sid: str, head: dict[str, Any], now_ms: float, out: Outcome
                ) -> SessionRecord:
        """The last ``window_events`` contiguous events, as rolling window ``head['win']``."""
        tail: list[int] = []
        events = 0
        for seq in reversed(_contiguous(head)):           # newest contiguous batches first
            batch = self._get(self.store, out, _bkey(sid, seq))
            if batch is None:
                continue
            tail.insert(0, seq)
            events += len(batch["dt"])
            if events >= self.cfg.window_events:
                break
        t0, cols = self._events(sid, tail, out)
        keep = self.cfg.window_events
        cols = {c: v[-keep:] for c, v in cols.items()}
        return self._record(sid, head, t0, cols, int(head["win"]), "window", now_ms)

    def _close(self, sid: str, head: dict[str, Any], cause: str, now_ms: float,
               out: Outcome) -> None:
        seqs = _stored_seqs(head)
        t0, cols = self._events(sid, seqs, out)
        out.records.append(self._record(sid, head, t0, cols, "final", cause, now_ms))
        for s in seqs:
            out.writes[_bkey(sid, s)] = DELETE
        out.writes[_hkey(sid)] = {"closed": True, "closed_at": now_ms, "p": head["p"],
                                  "next": max([head["next"], *(s + 1 for s in seqs)]),
                                  "cause": cause, "n": len(cols["t"]),
                                  "duration_s": float(cols["t"][-1] - cols["t"][0]) / 1000.0
                                  if len(cols["t"]) else 0.0}
