"""Synthetic people and scripts for the abuse checks' tests, and their ``sessions`` records."""

from __future__ import annotations

import numpy as np

from cursorprint.model.data.synthetic import random_style, scripted_style, synth_session
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.stream.records.session import SessionRecord


def humans(n: int, seed: int, events: int = 600) -> list[Trajectory]:
    rng = np.random.default_rng(seed)
    return [synth_session(rng, random_style(rng), events) for _ in range(n)]


def scripts(n: int, seed: int, events: int = 600) -> list[Trajectory]:
    rng = np.random.default_rng(seed)
    return [synth_session(rng, scripted_style(rng), events) for _ in range(n)]


def replayed(traj: Trajectory, rng: np.random.Generator, dx: float = 37.0, dy: float = -12.0,
             jitter_s: float = 0.002) -> Trajectory:
    """The same recording played back later, elsewhere on the page, with timer jitter."""
    t = np.maximum.accumulate(traj.t + 1234.5 + rng.normal(0.0, jitter_s, len(traj)))
    return Trajectory.from_columns(t, traj.x + dx, traj.y + dy, traj.kind, traj.button,
                                   traj.screen)


def record_value(sid: str, traj: Trajectory, site: str = "demo", user: str = "a" * 32) -> bytes:
    return SessionRecord.from_trajectory(traj, session_id=sid, user=user, site=site,
                                         path="/pay", t0=1.0, closed_at=2.0).to_bytes()
