"""Scripted-movement rules: reason codes for a trajectory that moves like a program, not a hand.

They add reason codes next to the model's score and never decide alone (a human can draw one
straight line), so the thresholds below demand that MOST of a session looks automated; every
threshold is a named constant tested on synthetic people (:mod:`cursorprint.model.data.synthetic`)
against synthetic scripts. All vectorised: moves are cut into *strokes* (runs of move events
without a pause > ``STROKE_GAP_S`` or a click between), and only strokes of at least
``MIN_STROKE_POINTS`` points spanning ``MIN_STROKE_PX`` pixels count:

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

The replayed-recording check is :mod:`cursorprint.stream.score.replayed`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cursorprint.model.data.trajectory import (
    KIND_HIDDEN,
    KIND_LEAVE,
    KIND_MOVE,
    KIND_WHEEL,
    Trajectory,
)
from cursorprint.stream.records.reasons import (
    REASON_CONSTANT_SPEED,
    REASON_NO_JITTER,
    REASON_STRAIGHT,
    REASON_TELEPORT,
)

__all__ = ["MovementFeatures", "movement_features", "scripted_reasons"]

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
