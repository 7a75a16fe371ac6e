"""Remote-access detector: the reason ``remote_access_suspected`` from timing and geometry alone.

A page driven through a remote-desktop or remote-access tool (RDP, VNC, TeamViewer, AnyDesk: the
usual account-takeover and "tech support" scam set-up) does not see the hand's pointer. It sees
the pointer positions the remote protocol delivered, and the protocol leaves marks on them:

* **sparse sampling** — a local browser reports ``mousemove`` once per frame or per coalesced
  hardware report: every 4–17 ms (250–60 Hz) while the pointer moves. A remote protocol sends
  pointer updates at its own, lower rate (RDP and VNC batch them with screen updates: roughly
  every 30–150 ms), so the median interval between moves *during movement* is long.
* **long straight segments** — the hand moves just as fast, so each of those sparse samples
  jumps much further: the median distance per move event is large.
* **coarse time quantisation** — a remote client stamps events with the host's tick (the
  Windows timer: multiples of 15.625 ms), so the intervals lie on a coarse grid.
* **bursts after network stalls** — updates held back by a stall arrive together: several
  events within about a millisecond right after a gap.

Each mark alone has a benign local cause, so the verdict needs two of the four (``MIN_MARKS``):
a browser throttled to a low frame rate with small steps and fine timing is not flagged, nor a
privacy browser that coarsens its clock, nor a fast hand at 60 Hz. Below
``MIN_MOVE_INTERVALS`` intervals of movement there is no verdict at all.

In the product the collector keeps at most one move per 5-10 ms, so of two moves in the same
millisecond one is dropped: the bursts mark shows in raw recordings (Balabit), and live sessions
are judged on the other three.

Pure and vectorised (numpy on a :class:`Trajectory`); ``model/`` may not import ``stream/``, so
the reason code is declared here and re-exported by ``cursorprint.stream.records.reasons``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from cursorprint.model.data.trajectory import KIND_MOVE, Trajectory

__all__ = ["REASON_REMOTE_ACCESS", "RemoteAccessFeatures", "remote_access_features",
           "remote_access_reasons"]

REASON_REMOTE_ACCESS = "remote_access_suspected"

# ---- which intervals are "during movement"
MOVEMENT_GAP_S = 0.5
# Two moves further apart than this are a pause, not sampling: a person rests longer than half a
# second between aimed movements, while even a slow remote protocol updates a moving pointer
# several times a second. Pauses would otherwise make every sampler look sparse.

MIN_MOVE_INTERVALS = 100
# No verdict with fewer move intervals during movement: a median of fewer intervals is noise
# (about 1.5 s of movement at a local 60 Hz, 10 s at a remote 10 Hz).

# ---- sparse sampling
SPARSE_MIN_MEDIAN_S = 0.040
# Median move interval at or above this (25 Hz) is slower than any local browser: 60 Hz frames
# give 16.7 ms, a 30 Hz throttled frame rate 33 ms; RDP/VNC pointer updates come every 30-150 ms.

# ---- long straight segments
JUMP_MIN_MEDIAN_PX = 8.0
# Median distance per move event at or above this: at a local 60 Hz a typical hand speed
# (~300 px/s) moves ~5 px per event; at a remote 10 Hz the same hand moves ~30 px per event.
# A weak mark alone: about half of the SapiMouse training users (fast hands, 60 Hz) exceed it.

# ---- coarse time quantisation
GRID_S = 0.015625
# The Windows timer tick (64 Hz), the clock of RDP clients and many remote hosts.
GRID_TOL_S = 0.0011
# An interval counts as "on the grid" within this of a multiple; 1 ms is the resolution of the
# stamps (milliseconds) plus rounding.
GRID_MIN_INTERVAL_S = 0.025
# Only intervals of at least two grid units are tested: a single 15.6 ms tick is
# indistinguishable from a 60 Hz browser frame (16.7 ms), but multiples part quickly
# (31.3 vs 33.3 ms, 46.9 vs 50 ms).
GRID_MIN_SHARE = 0.6
# Share of the tested intervals on the grid to call the timing quantised; uniform random
# intervals hit a +-1.1 ms window around each 15.6 ms multiple about 14 % of the time.

# ---- bursts after stalls
BURST_MAX_S = 0.0015
# Events this close (a repeated millisecond stamp, made strictly increasing by 1 ms by the
# readers) arrive together: a batch flushed after a stall, not sampled one by one.
BURST_GAP_S = 0.040
# ... counted only right after an interval at least this long (the stall before the flush).
BURST_MIN_SHARE = 0.002
# Share of move intervals that are such post-stall bursts to call it bursty (1 in 500). A local
# browser coalesces moves to at most one per frame, so two in the same millisecond right after a
# gap come only from clock jitter: at most 1 in 1,000 in the SapiMouse training users (1-72).

# ---- verdict
MIN_MARKS = 2
# Each mark alone has a benign local cause (a throttled frame rate is sparse, a fast hand jumps,
# a platform may stamp on a coarse clock, a garbage-collection pause can flush two events); a
# remote protocol produces several at once, so the verdict needs two of the four.


@dataclass(frozen=True)
class RemoteAccessFeatures:
    """What the detector measured on one trajectory (``verdict`` None: too little movement)."""

    move_intervals: int           # move intervals during movement (dt <= MOVEMENT_GAP_S)
    median_interval_s: float      # their median (nan without any)
    median_step_px: float         # median distance per move event during movement
    grid_share: float             # share of intervals >= GRID_MIN_INTERVAL_S on the 15.625 ms grid
    burst_share: float            # share of intervals that are a burst right after a stall
    marks: int                    # how many of the four marks below are present
    sparse: bool
    jumps: bool
    quantised: bool
    bursts: bool
    verdict: bool | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def remote_access_features(traj: Trajectory) -> RemoteAccessFeatures:
    """Measure the remote-access marks of ``traj`` (vectorised; any length, no exceptions)."""
    moves = np.flatnonzero(traj.kind == KIND_MOVE)
    t = traj.t[moves]
    dt = np.diff(t)
    step = np.hypot(np.diff(traj.x[moves].astype(np.float64)),
                    np.diff(traj.y[moves].astype(np.float64)))
    moving = dt <= MOVEMENT_GAP_S
    d, s = dt[moving], step[moving]
    n = int(len(d))
    if n == 0:
        return RemoteAccessFeatures(0, float("nan"), float("nan"), 0.0, 0.0, 0,
                                    False, False, False, False, None)
    median_dt = float(np.median(d))
    median_step = float(np.median(s))
    tested = d[d >= GRID_MIN_INTERVAL_S]
    if len(tested):
        off = np.abs(tested - np.round(tested / GRID_S) * GRID_S)
        grid_share = float(np.mean(off <= GRID_TOL_S))
    else:
        grid_share = 0.0
    # a burst: an interval <= BURST_MAX_S whose previous interval was a stall
    burst = (dt[1:] <= BURST_MAX_S) & (dt[:-1] >= BURST_GAP_S) & moving[1:] & moving[:-1]
    burst_share = float(np.count_nonzero(burst)) / n
    sparse = median_dt >= SPARSE_MIN_MEDIAN_S
    jumps = median_step >= JUMP_MIN_MEDIAN_PX
    quantised = len(tested) > 0 and grid_share >= GRID_MIN_SHARE
    bursts = burst_share >= BURST_MIN_SHARE
    marks = int(sparse) + int(jumps) + int(quantised) + int(bursts)
    verdict = None if n < MIN_MOVE_INTERVALS else marks >= MIN_MARKS
    return RemoteAccessFeatures(n, median_dt, median_step, grid_share, burst_share, marks,
                                bool(sparse), bool(jumps), bool(quantised), bool(bursts), verdict)


def remote_access_reasons(traj: Trajectory) -> list[str]:
    """``[REASON_REMOTE_ACCESS]`` when the detector flags ``traj``, else ``[]`` (also with too
    little movement for a verdict)."""
    return [REASON_REMOTE_ACCESS] if remote_access_features(traj).verdict else []
