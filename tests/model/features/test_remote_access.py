"""The remote-access detector on small hand-made trajectories, and on a slice of the real data
sets (Balabit was recorded over remote desktop, SapiMouse locally in a browser)."""

from __future__ import annotations

import numpy as np
import pytest

from cursorprint.model.data.datasets import read_balabit_session, read_sapimouse_session
from cursorprint.model.data.trajectory import KIND_DOWN, KIND_MOVE, Trajectory
from cursorprint.model.features.remote_access import (
    GRID_S,
    MIN_MOVE_INTERVALS,
    REASON_REMOTE_ACCESS,
    remote_access_features,
    remote_access_reasons,
)
from tests.support.paths import DATASETS


def _moves(dt: np.ndarray, speed_px_s: float = 400.0) -> Trajectory:
    """Moves at the given intervals along a wavy path at a steady hand speed."""
    t = np.concatenate([[0.0], np.cumsum(dt)])
    s = t * speed_px_s
    x = 100.0 + (s % 800.0)
    y = 300.0 + 80.0 * np.sin(s / 90.0)
    kind = np.full(len(t), KIND_MOVE, dtype=np.uint8)
    return Trajectory.from_columns(t, np.round(x), np.round(y), kind, np.zeros(len(t)),
                                   (1920, 1080))


def test_local_browser_cadence_is_not_flagged() -> None:
    rng = np.random.default_rng(1)
    local = _moves(0.008 + rng.uniform(-0.0005, 0.0005, 2000))    # 125 Hz, sub-ms stamps
    feats = remote_access_features(local)
    assert feats.verdict is False
    assert not feats.sparse and not feats.quantised and not feats.bursts
    assert remote_access_reasons(local) == []


def test_sparse_quantised_moves_are_flagged() -> None:
    rng = np.random.default_rng(2)
    ticks = rng.integers(6, 9, 400) * GRID_S                       # 94-125 ms on the timer grid
    remote = _moves(np.round(ticks, 3))
    feats = remote_access_features(remote)
    assert feats.sparse and feats.quantised and feats.jumps
    assert feats.median_step_px > 30
    assert feats.verdict is True
    assert remote_access_reasons(remote) == [REASON_REMOTE_ACCESS]


def test_sparse_alone_is_not_enough() -> None:
    """A browser throttled to 20 Hz, slow hand, fine timing: one mark only."""
    rng = np.random.default_rng(3)
    throttled = _moves(0.05 + rng.uniform(0.0, 0.013, 400), speed_px_s=60.0)
    feats = remote_access_features(throttled)
    assert feats.sparse and feats.marks == 1
    assert feats.verdict is False


def test_too_little_movement_gives_no_verdict() -> None:
    short = _moves(np.full(MIN_MOVE_INTERVALS - 1, 0.109))
    assert remote_access_features(short).verdict is None
    assert remote_access_reasons(short) == []
    # pauses longer than MOVEMENT_GAP_S are not movement, however many events
    paused = _moves(np.full(500, 0.9))
    assert remote_access_features(paused).move_intervals == 0
    assert remote_access_features(paused).verdict is None
    empty = Trajectory.from_columns([], [], [], [], [], (10, 10))
    assert remote_access_features(empty).verdict is None


def test_only_moves_count() -> None:
    """Clicks between moves do not shorten the measured move intervals."""
    rng = np.random.default_rng(4)
    remote = _moves(np.round(rng.integers(6, 9, 300) * GRID_S, 3))
    kind = remote.kind.copy()
    kind[::2] = KIND_DOWN
    only_half = Trajectory.from_columns(remote.t, remote.x, remote.y, kind, remote.button,
                                        remote.screen)
    assert remote_access_features(only_half).median_interval_s > \
        remote_access_features(remote).median_interval_s


@pytest.mark.skipif(not (DATASETS / "balabit").is_dir() or not (DATASETS / "sapimouse").is_dir(),
                    reason="the shared data sets are not there")
def test_a_slice_of_the_real_data_sets() -> None:
    balabit = sorted((DATASETS / "balabit" / "test_files").glob("user*/session_*"))[::300][:5]
    sapi = [DATASETS / "sapimouse" / f"user{u}" / "session_1min.csv" for u in (80, 95, 110)]
    assert len(balabit) == 5
    assert all(remote_access_features(read_balabit_session(p)).verdict for p in balabit)
    assert not any(remote_access_features(read_sapimouse_session(p, "u")).verdict
                   for p in sapi)
