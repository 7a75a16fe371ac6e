"""Hostile-input detectors on a session's trajectory: scripted movement and replayed recordings.

Both add reason codes next to the model's score; neither decides alone (a human can draw one
straight line, two people can share a short wiggle), so the thresholds below demand that MOST of
a session looks automated, and every threshold is a named constant tested on synthetic people
(:mod:`cursorprint.model.data.synthetic`) against synthetic scripts.

Scripted movement (:func:`movement_features`, :func:`scripted_reasons`), all vectorised: moves are
cut into *strokes* (runs of move events without a pause > ``STROKE_GAP_S`` or a click between),
and only strokes of at least ``MIN_STROKE_POINTS`` points spanning ``MIN_STROKE_PX`` pixels count:

* ``scripted_straight_lines`` - most strokes (by path length) lie within ``STRAIGHT_MAX_DEV_PX``
  of their chord. People bow and wobble by several pixels over a long stroke.
* ``constant_speed`` - in most strokes the speed varies by less than ``CONST_SPEED_MAX_CV``
  (coefficient of variation). Aimed human movements accelerate and brake (bell-shaped speed).
* ``no_jitter`` - most strokes are perfectly smooth: the median third difference of positions is
  below ``SMOOTH_MAX_D3_PX`` (curved bot paths such as Bezier interpolation included; people's
  tremor and integer pixel positions give about a pixel or more).
* ``teleport`` - at least ``TELEPORT_MIN_COUNT`` jumps of over ``TELEPORT_FRACTION`` of the
  larger screen side within ``TELEPORT_MAX_DT_S``, onto a move, with no leave/hidden event
  between, while the pointer is still (steps under ``TELEPORT_STILL_FRACTION`` of the jump, within
  ``TELEPORT_NEIGHBOUR_S``) just before and just after: no intermediate samples, as with CDP moves
  without steps. Fast human flicks have intermediate samples even at Balabit's ~100 ms rate.

Replayed recordings (:class:`ReplayDetector`): a fingerprint made of shingles of
``SHINGLE_K`` consecutive event tokens, a token being the quantised relative displacement
(``DISPLACEMENT_QUANTUM_PX``), the event kind and a coarse bucket of the inter-event time
(``DT_EDGES_MS``: same instant / streaming / short pause / pause). Relative displacements ignore
where on the page the recording is replayed and when; coarse time buckets absorb timer jitter. A
deterministic subsample of the shingle hashes (``hash % SAMPLE_MOD == 0``) is stored in Redis
under ``cursorprint:replay:<shingle hash>`` as a set of *session digests* (a hash of the session
id, never a raw id or user id) with a TTL; a new session whose sampled shingles are mostly
(``REPLAY_MIN_SIMILARITY``) found under one other session is flagged ``replayed_trajectory``.
Shingles shared by more than ``COMMON_SHINGLE_MAX`` sessions are treated as common motion and
ignored. When Redis cannot be reached the check is skipped (``checked=False``) and the scorer adds
``replay_check_unavailable`` instead, so a degraded verdict is never mistaken for a clean one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cursorprint.model.data.trajectory import (
    KIND_HIDDEN,
    KIND_LEAVE,
    KIND_MOVE,
    KIND_WHEEL,
    Trajectory,
)

__all__ = [
    "MovementFeatures", "movement_features", "scripted_reasons",
    "ReplayVerdict", "ReplayDetector", "trajectory_shingles", "session_digest",
    "REASON_STRAIGHT", "REASON_CONSTANT_SPEED", "REASON_NO_JITTER", "REASON_TELEPORT",
    "REASON_REPLAYED", "REASON_REPLAY_UNCHECKED", "ABUSE_REASONS", "BACKOFF_ERROR",
]

log = logging.getLogger(__name__)

REASON_STRAIGHT = "scripted_straight_lines"
REASON_CONSTANT_SPEED = "constant_speed"
REASON_NO_JITTER = "no_jitter"
REASON_TELEPORT = "teleport"
REASON_REPLAYED = "replayed_trajectory"
REASON_REPLAY_UNCHECKED = "replay_check_unavailable"   # Redis failed: no replay verdict
ABUSE_REASONS = (REASON_STRAIGHT, REASON_CONSTANT_SPEED, REASON_NO_JITTER, REASON_TELEPORT,
                 REASON_REPLAYED)

# ---- stroke segmentation
STROKE_GAP_S = 0.25          # a pause longer than this ends a stroke
MIN_STROKE_POINTS = 8        # shorter strokes say too little to judge
MIN_STROKE_PX = 60.0         # chord length; tiny corrections are ignored
MIN_STROKES = 3              # fewer judged strokes: no scripted verdict at all
# ---- scripted-movement thresholds (share = fraction of judged strokes' path length)
STRAIGHT_MAX_DEV_PX = 1.0    # max distance of any point from the stroke's chord
CONST_SPEED_MAX_CV = 0.08    # std/mean of segment speeds inside a stroke
SMOOTH_MAX_D3_PX = 0.25      # median |third difference| of positions in a stroke
SCRIPTED_MIN_SHARE = 0.5     # share of stroke length that must look scripted to flag
# ---- teleports
TELEPORT_FRACTION = 0.25     # of max(screen w, h)
TELEPORT_MAX_DT_S = 0.1
TELEPORT_MIN_COUNT = 2
TELEPORT_STILL_FRACTION = 0.05   # neighbouring steps below this share of the jump
TELEPORT_NEIGHBOUR_S = 1.0       # ... and within this time of it
# ---- replay fingerprint
SHINGLE_K = 5
DISPLACEMENT_QUANTUM_PX = 2.0
DT_EDGES_MS = np.array([3.0, 60.0, 400.0])   # instant | streaming | short pause | pause
SAMPLE_MOD = 4
MIN_SAMPLED_SHINGLES = 8     # fewer: too short to fingerprint, no verdict
REPLAY_MIN_SIMILARITY = 0.5
COMMON_SHINGLE_MAX = 32
DEFAULT_REPLAY_TTL_S = 7 * 24 * 3600
REPLAY_BACKOFF_S = 5.0       # after a Redis failure, skip checks this long (bounded delay)
BACKOFF_ERROR = "backoff"    # ReplayVerdict.error of a check skipped during the back-off
REPLAY_PREFIX = "cursorprint:replay:"


@dataclass(frozen=True)
class MovementFeatures:
    """What the scripted-movement detector measured on one trajectory."""

    strokes: int                 # judged strokes
    straight_share: float        # share of judged path length in straight strokes
    constant_speed_share: float  # ... in constant-speed strokes
    smooth_share: float          # ... in jitter-free strokes
    teleports: int


def _strokes(traj: Trajectory) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Moves only, with a stroke id per move (a click, leave or pause between moves cuts)."""
    moves = np.flatnonzero(traj.kind == KIND_MOVE)
    t = traj.t[moves]
    x = traj.x[moves].astype(np.float64)
    y = traj.y[moves].astype(np.float64)
    if len(moves) == 0:
        return t, x, y, np.zeros(0, dtype=np.int64)
    cut = np.ones(len(moves), dtype=bool)
    # a new stroke where another event sat between two moves, or after a pause
    cut[1:] = (np.diff(moves) > 1) | (np.diff(t) > STROKE_GAP_S)
    return t, x, y, np.cumsum(cut) - 1


def _teleports(traj: Trajectory) -> int:
    """Jumps with no intermediate samples: the pointer is still just before and just after."""
    keep = np.isin(traj.kind, (KIND_LEAVE, KIND_HIDDEN, KIND_WHEEL), invert=True)
    kind, t = traj.kind[keep], traj.t[keep]
    x, y = traj.x[keep].astype(np.float64), traj.y[keep].astype(np.float64)
    if len(kind) < 4:
        return 0
    step = np.hypot(np.diff(x), np.diff(y))
    dt = np.diff(t)
    # step i goes from event i to i+1; a leave/hidden event between two positions cuts the chain
    cut = np.isin(traj.kind, (KIND_LEAVE, KIND_HIDDEN))
    cut_before = np.cumsum(cut)[np.flatnonzero(keep)]
    chained = np.diff(cut_before) == 0
    limit = TELEPORT_FRACTION * float(max(traj.screen))
    jump = (step[1:-1] > limit) & (dt[1:-1] <= TELEPORT_MAX_DT_S) & chained[1:-1] \
        & (kind[2:-1] == KIND_MOVE)
    still = TELEPORT_STILL_FRACTION * step[1:-1]
    before = (step[:-2] <= still) & (dt[:-2] <= TELEPORT_NEIGHBOUR_S) & chained[:-2]
    after = (step[2:] <= still) & (dt[2:] <= TELEPORT_NEIGHBOUR_S) & chained[2:]
    return int(np.count_nonzero(jump & before & after))


def movement_features(traj: Trajectory) -> MovementFeatures:
    """Measure straightness, speed constancy, smoothness and teleports (no Python event loop)."""
    teleports = _teleports(traj)
    t, x, y, sid = _strokes(traj)
    empty = MovementFeatures(0, 0.0, 0.0, 0.0, teleports)
    if len(sid) < MIN_STROKE_POINTS:
        return empty
    n_strokes = int(sid[-1]) + 1
    counts = np.bincount(sid, minlength=n_strokes)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    last = first + counts - 1
    chord_x, chord_y = x[last] - x[first], y[last] - y[first]
    chord = np.hypot(chord_x, chord_y)
    # distance of every point from its stroke's chord
    px, py = x - x[first][sid], y - y[first][sid]
    cx, cy, cl = chord_x[sid], chord_y[sid], np.maximum(chord[sid], 1e-9)
    dev = np.abs(px * cy - py * cx) / cl
    max_dev = np.full(n_strokes, 0.0)
    np.maximum.at(max_dev, sid, dev)
    # segment speeds inside strokes
    same = sid[1:] == sid[:-1]
    dt = np.diff(t)
    seg = np.hypot(np.diff(x), np.diff(y))
    ok = same & (dt > 0)
    speed = np.where(ok, seg / np.where(dt > 0, dt, 1.0), 0.0)
    seg_sid = sid[1:][ok]
    n_seg = np.bincount(seg_sid, minlength=n_strokes)
    s1 = np.bincount(seg_sid, weights=speed[ok], minlength=n_strokes)
    s2 = np.bincount(seg_sid, weights=speed[ok] ** 2, minlength=n_strokes)
    mean = s1 / np.maximum(n_seg, 1)
    var = np.maximum(s2 / np.maximum(n_seg, 1) - mean ** 2, 0.0)
    cv = np.sqrt(var) / np.maximum(mean, 1e-9)
    path_len = np.bincount(sid[1:][same], weights=seg[same], minlength=n_strokes)
    # jitter: median |third difference| of positions inside a stroke (a smooth path, straight or
    # curved, has almost none at the collector's sampling rate; hand tremor and noise do)
    d3x, d3y = np.diff(x, 3), np.diff(y, 3)
    inside = sid[3:] == sid[:-3]
    d3 = np.hypot(d3x, d3y)[inside]
    d3_sid = sid[3:][inside]
    order = np.lexsort((d3, d3_sid))
    rn = np.bincount(d3_sid, minlength=n_strokes)
    start = np.concatenate(([0], np.cumsum(rn)[:-1]))
    med_idx = np.minimum(start + rn // 2, max(len(d3) - 1, 0))
    med = d3[order][med_idx] if len(d3) else np.zeros(n_strokes)

    judged = (counts >= MIN_STROKE_POINTS) & (chord >= MIN_STROKE_PX) & (n_seg >= 3)
    n_judged = int(np.count_nonzero(judged))
    if n_judged == 0:
        return empty
    total = float(path_len[judged].sum()) or 1.0

    def share(mask: np.ndarray) -> float:
        return float(path_len[judged & mask].sum()) / total

    return MovementFeatures(
        strokes=n_judged,
        straight_share=share(max_dev <= STRAIGHT_MAX_DEV_PX),
        constant_speed_share=share(cv <= CONST_SPEED_MAX_CV),
        smooth_share=share((med <= SMOOTH_MAX_D3_PX) & (rn > 0)),
        teleports=teleports)


def scripted_reasons(traj: Trajectory, features: MovementFeatures | None = None) -> list[str]:
    """Reason codes for automated-looking movement (empty for human-like or too-short input)."""
    f = features if features is not None else movement_features(traj)
    reasons: list[str] = []
    if f.strokes >= MIN_STROKES:
        if f.straight_share >= SCRIPTED_MIN_SHARE:
            reasons.append(REASON_STRAIGHT)
        if f.constant_speed_share >= SCRIPTED_MIN_SHARE:
            reasons.append(REASON_CONSTANT_SPEED)
        if f.smooth_share >= SCRIPTED_MIN_SHARE:
            reasons.append(REASON_NO_JITTER)
    if f.teleports >= TELEPORT_MIN_COUNT:
        reasons.append(REASON_TELEPORT)
    return reasons


# ------------------------------------------------------------------------------ replay


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
    checked: bool                # False when the trajectory was too short or Redis failed
    error: str | None = None
    matched: str | None = field(default=None)   # digest of the matching session, for audits


class ReplayDetector:
    """Remembers trajectory fingerprints in Redis and flags a session that repeats another one.

    ``redis_client`` is a ``redis.Redis`` (synchronous); every check is two pipelined round trips.
    After a Redis failure the next checks are skipped for ``backoff_s`` (verdict error
    ``backoff``): a Redis that hangs costs one socket timeout per back-off, not one per session.
    """

    def __init__(self, redis_client: Any, ttl_s: float = DEFAULT_REPLAY_TTL_S,
                 prefix: str = REPLAY_PREFIX, backoff_s: float = REPLAY_BACKOFF_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not ttl_s > 0:
            raise ValueError(f"ReplayDetector ttl_s must be > 0, got {ttl_s}")
        if not backoff_s >= 0:
            raise ValueError(f"ReplayDetector backoff_s must be >= 0, got {backoff_s}")
        self.redis = redis_client
        self.ttl_s = int(max(1, round(ttl_s)))
        self.prefix = prefix
        self.backoff_s = backoff_s
        self.clock = clock
        self._retry_at = float("-inf")      # no checks before this clock value (after a failure)

    def check_and_remember(self, session_id: str, traj: Trajectory,
                           scope: str = "") -> ReplayVerdict:
        """Compare ``traj`` with fingerprints of earlier sessions, then store its own.

        Parts of the same session (rolling windows) never match themselves. Redis errors are
        reported in the verdict (``checked=False``), never raised: scoring goes on without it.
        """
        shingles = trajectory_shingles(traj, scope)
        if len(shingles) < MIN_SAMPLED_SHINGLES:
            return ReplayVerdict([], 0.0, int(len(shingles)), False)
        me = session_digest(session_id)
        keys = [f"{self.prefix}{int(h):016x}" for h in shingles]
        if self.clock() < self._retry_at:
            return ReplayVerdict([], 0.0, len(keys), False, error=BACKOFF_ERROR)
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key in keys:
                pipe.smembers(key)
            members: list[set[bytes]] = pipe.execute()
            pipe = self.redis.pipeline(transaction=False)
            for key, seen in zip(keys, members, strict=True):
                if len(seen) < COMMON_SHINGLE_MAX:
                    pipe.sadd(key, me)
                    pipe.expire(key, self.ttl_s)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001 - any redis/connection error: no verdict
            # debug only: the caller counts failures and logs when the state changes
            log.debug("replay store unreachable: %s", exc)
            self._retry_at = self.clock() + self.backoff_s
            return ReplayVerdict([], 0.0, len(keys), False, error=type(exc).__name__)
        votes: Counter[str] = Counter()
        usable = 0
        for seen in members:
            if len(seen) >= COMMON_SHINGLE_MAX:
                continue
            usable += 1
            for m in seen:
                other = m.decode() if isinstance(m, bytes) else str(m)
                if other != me:
                    votes[other] += 1
        if not votes or usable < MIN_SAMPLED_SHINGLES:
            return ReplayVerdict([], 0.0, len(keys), True)
        matched, hits = votes.most_common(1)[0]
        similarity = hits / usable
        reasons = [REASON_REPLAYED] if similarity >= REPLAY_MIN_SIMILARITY else []
        return ReplayVerdict(reasons, similarity, len(keys), True,
                             matched=matched if reasons else None)
