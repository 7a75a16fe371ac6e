"""Scripted-movement rules (stream/score/scripted.py) on synthetic people vs scripts."""

from __future__ import annotations

import numpy as np
import pytest

from cursorprint.model.data.trajectory import (
    BUTTON_LEFT,
    BUTTON_NONE,
    KIND_DOWN,
    KIND_LEAVE,
    KIND_MOVE,
    KIND_UP,
    Trajectory,
)
from cursorprint.stream.records.reasons import (
    REASON_CONSTANT_SPEED,
    REASON_NO_JITTER,
    REASON_STRAIGHT,
    REASON_TELEPORT,
)
from cursorprint.stream.score.scripted import movement_features, scripted_reasons
from tests.stream.score.people import humans as _humans
from tests.stream.score.people import scripts as _scripts


def test_human_like_movement_raises_no_reason() -> None:
    flagged = {i: scripted_reasons(t) for i, t in enumerate(_humans(60, seed=11))}
    assert {i: r for i, r in flagged.items() if r} == {}


def test_scripted_movement_is_flagged_straight_constant_and_smooth() -> None:
    for traj in _scripts(25, seed=12):
        reasons = scripted_reasons(traj)
        assert {REASON_STRAIGHT, REASON_CONSTANT_SPEED, REASON_NO_JITTER} <= set(reasons), \
            (reasons, movement_features(traj))


def test_features_separate_people_from_scripts_with_margin() -> None:
    human = [movement_features(t) for t in _humans(30, seed=13)]
    script = [movement_features(t) for t in _scripts(15, seed=14)]
    assert max(f.straight_share for f in human) < 0.3 < min(f.straight_share for f in script)
    assert max(f.constant_speed_share for f in human) < 0.3 < min(
        f.constant_speed_share for f in script)
    assert all(f.strokes >= 3 for f in script)
    assert max(f.smooth_share for f in human) < 0.3 < min(f.smooth_share for f in script)


def _smooth_curve_bot(n_strokes: int = 6) -> Trajectory:
    """Curved (quadratic Bezier) but noiseless, minimum-jerk-timed strokes: a smarter bot."""
    t: list[np.ndarray] = []
    x: list[np.ndarray] = []
    y: list[np.ndarray] = []
    t0, p0 = 0.0, np.array([300.0, 300.0])
    rng = np.random.default_rng(5)
    for _ in range(n_strokes):
        p2 = rng.uniform(100, 1000, 2)
        p1 = (p0 + p2) / 2 + rng.uniform(-150, 150, 2)
        tau = np.linspace(0, 1, 60)
        s = 10 * tau ** 3 - 15 * tau ** 4 + 6 * tau ** 5
        pts = ((1 - s) ** 2)[:, None] * p0 + (2 * (1 - s) * s)[:, None] * p1 + (s ** 2)[:, None] * p2
        t.append(t0 + tau * 0.6)
        x.append(pts[:, 0])
        y.append(pts[:, 1])
        t0 += 1.2
        p0 = p2
    n = sum(len(a) for a in t)
    return Trajectory.from_columns(np.concatenate(t), np.concatenate(x), np.concatenate(y),
                                   np.zeros(n), np.zeros(n), (1920, 1080))


def test_curved_but_noiseless_bot_is_flagged_no_jitter_only() -> None:
    reasons = scripted_reasons(_smooth_curve_bot())
    assert reasons == [REASON_NO_JITTER]


def _teleporting(jumps: int, leave_between: bool = False) -> Trajectory:
    """Small human-ish wiggles at spots far apart, joined by single-sample jumps."""
    rng = np.random.default_rng(7)
    rows: list[tuple[float, float, float, int, int]] = []
    t = 0.0
    spots = [(200.0, 200.0), (1500.0, 900.0), (300.0, 950.0), (1700.0, 150.0)]
    for i in range(jumps + 1):
        sx, sy = spots[i % len(spots)]
        for _ in range(6):
            rows.append((t, sx + rng.normal(0, 1.0), sy + rng.normal(0, 1.0), KIND_MOVE, 0))
            t += 0.008
        rows.append((t, sx, sy, KIND_DOWN, BUTTON_LEFT))
        rows.append((t + 0.005, sx, sy, KIND_UP, BUTTON_LEFT))
        t += 0.013
        if leave_between:
            rows.append((t, sx, sy, KIND_LEAVE, BUTTON_NONE))
            t += 0.004
    a = np.array(rows)
    return Trajectory.from_columns(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], (1920, 1080))


def test_teleports_are_counted_and_flagged() -> None:
    traj = _teleporting(jumps=3)
    assert movement_features(traj).teleports == 3
    assert REASON_TELEPORT in scripted_reasons(traj)


def test_a_single_jump_or_a_jump_after_leaving_the_page_is_not_a_teleport() -> None:
    assert REASON_TELEPORT not in scripted_reasons(_teleporting(jumps=1))
    assert movement_features(_teleporting(jumps=3, leave_between=True)).teleports == 0


def test_human_flicks_are_not_teleports() -> None:
    assert sum(movement_features(t).teleports for t in _humans(30, seed=15)) == 0


@pytest.mark.parametrize("n", [0, 1, 5])
def test_too_short_input_gives_no_verdict(n: int) -> None:
    traj = Trajectory.from_columns(np.arange(n) * 0.01, np.arange(n) * 10.0, np.zeros(n),
                                   np.zeros(n), np.zeros(n), (1920, 1080))
    f = movement_features(traj)
    assert f.strokes == 0 and f.teleports == 0 and scripted_reasons(traj) == []


