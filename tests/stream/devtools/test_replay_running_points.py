"""The running evidence of a played-back session (stream/devtools/replay.py running_points):
after each rolling window, then the closed session, the logit the decision call adds up, at the
movement seconds of the part's last event (pure logic on hand-made score records)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from cursorprint.model.data.trajectory import KIND_MOVE, Trajectory
from cursorprint.stream.decide.credentials import SitePolicy
from cursorprint.stream.decide.policy import decide
from cursorprint.stream.devtools.playback import PlaybackError
from cursorprint.stream.devtools.replay import running_points
from cursorprint.stream.records.scores import ScoreRecord
from cursorprint.stream.stores.live_scores import LiveState
from tests.stream.decide.parts import part

START_MS = 1_700_000_000_000.0
SID = "rp-0000abcd-00000"
# a 2 s pause after the third event: the activity clock counts it as 0.25 s
TRAJ = Trajectory.from_columns([0.0, 0.1, 0.2, 2.2, 2.3, 2.4], [0, 1, 2, 3, 4, 5], [0] * 6,
                               [KIND_MOVE] * 6, [0] * 6, (1920, 1080))


def record(part: str | int, score: float | None, windows: int, at: float) -> dict[str, Any]:
    """A session-scores record as play_sessions reads it off the topic."""
    rec = ScoreRecord(score_id=f"s{part}", session_id=SID, part=part,
                      cause="exit" if part == "final" else "window", user="u1", site="demo",
                      page="/playback", score=score, window_scores=[0.0] * windows,
                      reasons=[], model_version="m1", head_version="h1", n_events=3,
                      closed_at=at, scored_at=at)
    obj: dict[str, Any] = json.loads(rec.to_bytes())
    return obj


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def test_running_points_follow_the_decision_calls_evidence() -> None:
    parts = [record("final", 0.6, 3, START_MS + 3000), record(1, 0.2, 1, START_MS + 2400),
             record(0, 0.9, 2, START_MS + 300)]          # any order: windows sorted, final last
    ends = {0: START_MS + 200.0, 1: START_MS + 2300.0}   # epoch ms of each window's last event
    points = running_points(TRAJ, parts, ends, START_MS)
    assert [p.part for p in points] == [0, 1, "final"]
    assert [p.seconds for p in points] == [0.2, 0.55, 0.65]
    assert points[0].logit == pytest.approx(logit(0.9))
    assert points[1].logit == pytest.approx((2 * logit(0.9) + logit(0.2)) / 3)
    assert points[2].logit == pytest.approx(logit(0.6))     # the closed part replaces its windows
    # the decision call on the same two windows gives the same score (it rounds to 6 decimals)
    windows = [part(0.9, part=0, windows=2), part(0.2, part=1, windows=1)]
    d = decide(LiveState(owner="demo|u1", parts=windows), SitePolicy(), 0.0)
    assert d.score == round(points[1].score, 6)


def test_a_saturated_score_still_ranks() -> None:
    points = running_points(TRAJ, [record("final", 1.0, 1, START_MS)], {}, START_MS)
    assert 30.0 < points[0].logit < 40.0     # finite, far above what the decision clips to


def test_parts_that_cannot_be_placed_are_named() -> None:
    with pytest.raises(PlaybackError, match="part 0 has no identity score"):
        running_points(TRAJ, [record(0, None, 0, START_MS), record("final", 0.5, 1, START_MS)],
                       {0: START_MS}, START_MS)
    with pytest.raises(PlaybackError, match="rolling window 1 was scored but is not on the"):
        running_points(TRAJ, [record(1, 0.5, 1, START_MS), record("final", 0.5, 1, START_MS)],
                       {}, START_MS)
