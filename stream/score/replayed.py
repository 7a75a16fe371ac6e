"""The replayed-trajectory check: flags a session whose motion repeats an earlier session's.

A recording of someone's mouse played back by a bot, elsewhere on the page and later, is a
strong fraud signal that the identity model alone can miss (the recording IS the owner's motion).
The fingerprint is made of shingles of ``SHINGLE_K`` consecutive event tokens, a token being the
quantised relative displacement (``DISPLACEMENT_QUANTUM_PX``), the event kind and a coarse bucket
of the inter-event time (``DT_EDGES_MS``: same instant / streaming / short pause / pause).
Relative displacements ignore where on the page the recording is replayed and when; coarse time
buckets absorb timer jitter. A deterministic subsample of the shingle hashes
(``hash % SAMPLE_MOD == 0``) is kept in the fingerprint store
(:class:`~cursorprint.stream.stores.base.Fingerprints`) as sets of *session digests* (a hash of
the session id, never a raw id or user id); a new session whose sampled shingles are mostly
(``REPLAY_MIN_SIMILARITY``) found under one other session is flagged ``replayed_trajectory``.
Shingles shared by more than ``COMMON_SHINGLE_MAX`` sessions are treated as common motion and
ignored. When the store cannot be reached the check is skipped (``checked=False``) and the scorer
adds ``replay_check_unavailable`` instead, so a degraded verdict is never mistaken for a clean one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cursorprint.model.data.trajectory import Trajectory
from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.records.reasons import REASON_REPLAYED
from cursorprint.stream.stores.base import Fingerprints

__all__ = ["ReplayVerdict", "ReplayDetector", "trajectory_shingles", "session_digest",
           "BACKOFF_ERROR", "REPLAY_BACKOFF_S"]

log = logging.getLogger(__name__)

SHINGLE_K = 5
DISPLACEMENT_QUANTUM_PX = 2.0
DT_EDGES_MS = np.array([3.0, 60.0, 400.0])   # instant | streaming | short pause | pause
SAMPLE_MOD = 4
MIN_SAMPLED_SHINGLES = 8     # fewer: too short to fingerprint, no verdict
REPLAY_MIN_SIMILARITY = 0.5
COMMON_SHINGLE_MAX = 32
REPLAY_BACKOFF_S = 5.0       # after a store failure, skip checks this long (bounded delay)
BACKOFF_ERROR = "backoff"    # ReplayVerdict.error of a check skipped during the back-off


def session_digest(session_id: str) -> str:
    """A short hash of a session id: what the replay store keeps instead of the id itself."""
    return hashlib.blake2b(session_id.encode(), digest_size=12,
                           person=b"cp-replay-sid").hexdigest()


def trajectory_shingles(traj: Trajectory, scope: str = "") -> np.ndarray:
    """Sampled shingle hashes (uint64, unique, sorted) of a trajectory's relative motion.

    ``scope`` (e.g. the site key) is mixed into every hash so sites never match each other.
    """
    if len(traj) < SHINGLE_K + 1:
        return np.zeros(0, dtype=np.uint64)
    dx = np.rint(np.diff(traj.x.astype(np.float64)) / DISPLACEMENT_QUANTUM_PX).astype(np.int64)
    dy = np.rint(np.diff(traj.y.astype(np.float64)) / DISPLACEMENT_QUANTUM_PX).astype(np.int64)
    dt_ms = np.maximum(np.diff(traj.t) * 1000.0, 0.0)
    dtb = np.searchsorted(DT_EDGES_MS, dt_ms).astype(np.int64)
    kind = traj.kind[1:].astype(np.int64) * 4 + traj.button[1:].astype(np.int64)
    # one int64 token per event: displacement (clipped), time bucket, kind/button
    token = (((np.clip(dx, -2047, 2047) + 2048) << 20) | ((np.clip(dy, -2047, 2047) + 2048) << 8)
             | (np.clip(dtb, 0, 15) << 4) | (kind & 15)).astype(np.uint64)
    if len(token) < SHINGLE_K:
        return np.zeros(0, dtype=np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(token, SHINGLE_K)
    moving = np.lib.stride_tricks.sliding_window_view((dx != 0) | (dy != 0), SHINGLE_K).any(axis=1)
    windows = windows[moving]         # standing still is common to everyone: not a fingerprint
    if len(windows) == 0:
        return np.zeros(0, dtype=np.uint64)
    # vectorised mixing hash (splitmix64-style) over the k tokens and the scope
    salt = np.uint64(int.from_bytes(hashlib.blake2b(scope.encode(), digest_size=8).digest(),
                                    "little"))
    with np.errstate(over="ignore"):
        h = np.full(len(windows), salt, dtype=np.uint64)
        for j in range(SHINGLE_K):     # k (5) vectorised rounds, not a loop over events
            h = (h ^ windows[:, j]) * np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(31)
            h = h * np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(29)
    h = np.unique(h)
    return h[h % np.uint64(SAMPLE_MOD) == 0]


@dataclass(frozen=True)
class ReplayVerdict:
    """Outcome of one replay check."""

    reasons: list[str]
    similarity: float            # best share of this session's shingles seen in ONE other session
    shingles: int                # sampled shingles of this session (0: too short, not checked)
    checked: bool                # False when the trajectory was too short or the store failed
    error: str | None = None     # the store's error (class name), or BACKOFF_ERROR
    matched: str | None = None   # digest of the matching session, for audits


class ReplayDetector:
    """Remembers trajectory fingerprints in a store and flags a session that repeats another one.

    After a store failure the next checks are skipped for ``backoff_s`` (verdict error
    ``backoff``): a store that hangs costs one timeout per back-off, not one per session.
    """

    def __init__(self, store: Fingerprints, backoff_s: float = REPLAY_BACKOFF_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not backoff_s >= 0:
            raise ValueError(f"ReplayDetector backoff_s must be >= 0, got {backoff_s}")
        self.store = store
        self.backoff_s = backoff_s
        self.clock = clock
        self._retry_at = float("-inf")      # no checks before this clock value (after a failure)

    def check_and_remember(self, session_id: str, traj: Trajectory,
                           scope: str = "") -> ReplayVerdict:
        """Compare ``traj`` with fingerprints of earlier sessions, then store its own.

        Parts of the same session (rolling windows) never match themselves. Store failures are
        reported in the verdict (``checked=False``), never raised: scoring goes on without it.
        """
        shingles = [int(h) for h in trajectory_shingles(traj, scope)]
        if len(shingles) < MIN_SAMPLED_SHINGLES:
            return ReplayVerdict([], 0.0, len(shingles), False)
        if self.clock() < self._retry_at:
            return ReplayVerdict([], 0.0, len(shingles), False, error=BACKOFF_ERROR)
        me = session_digest(session_id)
        try:
            # a shingle already common to many sessions is everyday motion: not worth keeping
            members = self.store.exchange(shingles, me, COMMON_SHINGLE_MAX)
        except Unavailable as exc:
            # debug only: the scorer counts failures and logs when the state changes
            log.debug("replay store unreachable: %s", exc)
            self._retry_at = self.clock() + self.backoff_s
            return ReplayVerdict([], 0.0, len(shingles), False,
                                 error=type(exc.__cause__ or exc).__name__)
        return _verdict(me, members, len(shingles))


def _verdict(me: str, members: list[set[str]], n_shingles: int) -> ReplayVerdict:
    """The best-matching other session among the digests seen with this session's shingles."""
    votes: Counter[str] = Counter()
    usable = 0
    for seen in members:
        if len(seen) >= COMMON_SHINGLE_MAX:
            continue
        usable += 1
        votes.update(other for other in seen if other != me)
    if not votes or usable < MIN_SAMPLED_SHINGLES:
        return ReplayVerdict([], 0.0, n_shingles, True)
    matched, hits = votes.most_common(1)[0]
    similarity = hits / usable
    reasons = [REASON_REPLAYED] if similarity >= REPLAY_MIN_SIMILARITY else []
    return ReplayVerdict(reasons, similarity, n_shingles, True,
                         matched=matched if reasons else None)
