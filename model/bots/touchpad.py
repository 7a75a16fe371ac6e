"""A synthetic check of the bot score on touchpad-like movement (no touchpad data exists here).

A touchpad reports itself to the browser as a mouse, so its sessions meet the bot model. What is
known about touchpad movement without data, and what this module imitates on real people's
mouse recordings (SapiMouse):

- **slower**: a finger on a pad covers the screen with lower peak speed than a mouse arm
  (``speed``: every movement takes ``1 / speed`` times as long);
- **clutching**: the pad is small, so a long movement is made of short strokes with the finger
  lifted and put down again in between; the pointer rests during the lift (``clutch_px``: path
  length between lifts, ``lift_s``: how long each lift rests);
- the browser still samples at its frame rate while the pointer moves (``rate_hz``), so the
  slowed path is resampled on that clock (linear interpolation, whole pixels), not stretched.

Inertial ("kinetic") scrolling is not imitated: the bot features read only pointer moves and
button presses, never wheel events, so a scroll only lengthens the input's duration (which picks
the 2 s / 5 s / whole threshold). The resampling itself smooths the path (interpolated points
carry no hand jitter), so :func:`touchpad_check` also measures the resampling alone
(``resampled``) to keep that effect apart from the touchpad traits.

This is a synthetic check of the traits above, not a measurement on touchpads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cursorprint.model.bots.features import PAUSE_S
from cursorprint.model.bots.model import BotModel
from cursorprint.model.data.trajectory import KIND_DOWN, KIND_MOVE, KIND_UP, Trajectory

__all__ = ["touchpad_like", "VARIANTS", "touchpad_check"]

#: (name, speed, clutch_px, lift_s) of the variants :func:`touchpad_check` measures
VARIANTS: tuple[tuple[str, float, float | None, float], ...] = (
    ("resampled", 1.0, None, 0.0),
    ("slow", 0.6, None, 0.0),
    ("clutch", 1.0, 150.0, 0.25),
    ("slow+clutch", 0.6, 150.0, 0.25),
)


def touchpad_like(traj: Trajectory, speed: float = 0.6, clutch_px: float | None = 150.0,
                  lift_s: float = 0.25, rate_hz: float = 60.0) -> Trajectory:
    """``traj`` as a touchpad might have made it: slowed by ``speed``, a rest of ``lift_s``
    after every ``clutch_px`` of path (None: no lifts), resampled at ``rate_hz`` while moving.
    Presses and releases keep their places on the new clock; wheel and other events are
    dropped (the bot features do not read them)."""
    if not 0 < speed <= 1:
        raise ValueError(f"speed must be in (0, 1], got {speed!r}")
    if clutch_px is not None and clutch_px <= 0:
        raise ValueError(f"clutch_px must be > 0 or None, got {clutch_px!r}")
    mv = np.flatnonzero(traj.kind == KIND_MOVE)
    if len(mv) < 2:
        return traj
    t = traj.t[mv]
    x, y = traj.x[mv].astype(np.float64), traj.y[mv].astype(np.float64)
    path = np.r_[0.0, np.cumsum(np.hypot(np.diff(x), np.diff(y)))]
    lifts = np.floor(path / clutch_px) if clutch_px is not None else np.zeros(len(t))

    def warp(times: np.ndarray, n_lifts: np.ndarray) -> np.ndarray:
        return t[0] + (times - t[0]) / speed + n_lifts * lift_s

    tw = warp(t, lifts)
    grid = np.arange(tw[0], tw[-1], 1.0 / rate_hz)
    seg = np.clip(np.searchsorted(tw, grid, side="right") - 1, 0, len(t) - 2)
    # the pointer moves (and the browser samples it) only within a stroke: not across a pause
    # of the person's nor across a lift
    moving = (np.diff(t)[seg] <= PAUSE_S) & (lifts[seg + 1] == lifts[seg])
    gt = grid[moving]
    gx, gy = np.round(np.interp(gt, tw, x)), np.round(np.interp(gt, tw, y))
    clicks = np.flatnonzero((traj.kind == KIND_DOWN) | (traj.kind == KIND_UP))
    before = np.clip(np.searchsorted(t, traj.t[clicks], side="right") - 1, 0, len(t) - 1)
    ct = warp(traj.t[clicks], lifts[before])
    times = np.r_[gt, ct]
    order = np.argsort(times, kind="stable")
    out_t = times[order]
    # strictly increasing, as every reader makes them (a click on a grid tick moves 1 us on)
    out_t = out_t + np.arange(len(out_t)) * 1e-6
    return Trajectory.from_columns(
        out_t, np.r_[gx, traj.x[clicks]][order], np.r_[gy, traj.y[clicks]][order],
        np.r_[np.full(len(gt), KIND_MOVE), traj.kind[clicks]][order],
        np.r_[np.zeros(len(gt)), traj.button[clicks]][order], traj.screen,
        {**traj.meta, "synthetic": "touchpad_like"})


def touchpad_check(model: BotModel, people: Sequence[Trajectory], crops: int = 10,
                   ) -> dict[str, Any]:
    """False-positive rate of ``model`` at its thresholds on ``people`` as recorded
    (``original``) and under each of :data:`VARIANTS`, per horizon (2 s, 5 s, whole)."""
    from cursorprint.model.bots.train import human_samples, thresholds_of

    out: dict[str, Any] = {}
    variants = (("original", 1.0, None, 0.0), *VARIANTS)
    for name, speed, clutch, lift in variants:
        trajs = list(people) if name == "original" else [
            touchpad_like(tr, speed, clutch, lift) for tr in people]
        s = human_samples(trajs, crops=crops)
        flagged = model.fused(s.x) >= thresholds_of(model, s)
        out[name] = {h: {"fpr": float(np.mean(flagged[s.horizon == h])),
                         "n": int((s.horizon == h).sum())}
                     for h in np.unique(s.horizon)}
    return out
