"""A local recording as a page would receive it through a remote-desktop session: the protocol
samples the pointer every few ticks of the host's 15.625 ms timer, and a stall now and then
flushes two updates in the same millisecond."""

from __future__ import annotations

import numpy as np

from cursorprint.model.data.trajectory import KIND_MOVE, Trajectory

TICK_S = 0.015625


def over_remote_desktop(traj: Trajectory, rng: np.random.Generator) -> Trajectory:
    """Moves of ``traj`` resampled at 6-8 ticks (94-125 ms, stamped to the ms; none while the
    pointer rests); every tenth
    sample followed by a second one 1 ms later (a burst after a stall)."""
    moves = np.flatnonzero(traj.kind == KIND_MOVE)
    t, x, y = traj.t[moves], traj.x[moves], traj.y[moves]
    n = int((t[-1] - t[0]) / (7 * TICK_S))
    stamps = t[0] + np.cumsum(rng.integers(6, 9, n) * TICK_S)
    stamps = np.round(stamps[stamps <= t[-1]], 3)
    at = np.searchsorted(t, stamps, side="right") - 1      # the pointer's last position
    changed = np.r_[True, np.diff(at) != 0]                # no update while it rests
    stamps, at = stamps[changed], at[changed]
    burst = np.arange(len(stamps)) % 10 == 9
    stamps = np.sort(np.concatenate([stamps, stamps[burst] + 0.001]))
    at = np.sort(np.concatenate([at, np.minimum(at[burst] + 1, len(t) - 1)]))
    zeros = np.zeros(len(stamps), dtype=np.uint8)
    return Trajectory.from_columns(stamps, x[at], y[at], zeros + KIND_MOVE, zeros, traj.screen)
