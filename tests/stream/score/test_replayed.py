"""The replayed-trajectory check (stream/score/replayed.py) on the dict fingerprint store of
stream/testing.py (pure logic); tests/stream/stores/test_fingerprints.py and
tests/pipeline/test_replayed_trajectory.py run it against a real redis-server."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cursorprint.model.data.trajectory import Trajectory
from cursorprint.stream.records.reasons import (
    REASON_CONSTANT_SPEED,
    REASON_REPLAY_UNCHECKED,
    REASON_REPLAYED,
    REASON_STRAIGHT,
)
from cursorprint.stream.score.microbatch import MicroBatchScorer
from cursorprint.stream.score.replayed import (
    BACKOFF_ERROR,
    ReplayDetector,
    session_digest,
    trajectory_shingles,
)
from cursorprint.stream.testing import ManualClock, MemoryFingerprints, StandInModel
from tests.stream.score.people import humans, record_value, replayed, scripts


@settings(max_examples=25, deadline=None)
@given(dx=st.integers(-500, 500), dy=st.integers(-500, 500),
       shift=st.floats(0, 1e6, allow_nan=False))
def test_shingles_ignore_offset_and_time_shift(dx: int, dy: int, shift: float) -> None:
    traj = humans(1, seed=21, events=300)[0]
    moved = Trajectory.from_columns(traj.t + shift, traj.x + dx, traj.y + dy, traj.kind,
                                    traj.button, traj.screen)
    a, b = trajectory_shingles(traj, "s"), trajectory_shingles(moved, "s")
    assert len(a) > 10
    assert len(np.intersect1d(a, b)) / len(a) > 0.9


def test_shingles_depend_on_scope() -> None:
    traj = humans(1, seed=22)[0]
    assert len(np.intersect1d(trajectory_shingles(traj, "a"), trajectory_shingles(traj, "b"))) == 0


def test_replay_is_flagged_and_people_are_not() -> None:
    store = MemoryFingerprints()
    det = ReplayDetector(store)
    sessions = humans(12, seed=31)
    for i, traj in enumerate(sessions):
        v = det.check_and_remember(f"session-{i:04d}", traj, "shop")
        assert v.checked and v.reasons == [], (i, v.similarity)
    v = det.check_and_remember("attacker-0001", replayed(sessions[3], np.random.default_rng(1)),
                               "shop")
    assert v.reasons == [REASON_REPLAYED] and v.similarity > 0.6
    assert v.matched == session_digest("session-0003")
    # nothing stored names a session: keys are shingle hashes, members are session digests
    members = set().union(*store.sets.values())
    assert "session-0003" not in members and session_digest("session-0003") in members


def test_a_session_never_matches_its_own_earlier_parts() -> None:
    det = ReplayDetector(MemoryFingerprints())
    traj = humans(1, seed=32)[0]
    det.check_and_remember("same-session-01", traj.slice(0, 400))
    assert det.check_and_remember("same-session-01", traj).reasons == []


def test_replay_on_another_site_is_not_matched() -> None:
    det = ReplayDetector(MemoryFingerprints())
    traj = humans(1, seed=33)[0]
    det.check_and_remember("session-a-0001", traj, "site-a")
    assert det.check_and_remember("session-b-0001", traj, "site-b").reasons == []


def test_too_short_is_not_checked_and_store_failures_do_not_raise() -> None:
    store = MemoryFingerprints()
    store.down = True
    det = ReplayDetector(store, backoff_s=0.0)
    v = det.check_and_remember("short-session", humans(1, seed=34)[0].slice(0, 8))
    assert v.checked is False and v.error is None and store.calls == 0   # store never asked
    v = det.check_and_remember("long-session-1", humans(1, seed=35)[0])
    assert v.checked is False and v.error == "ConnectionError" and v.reasons == []


def test_a_failing_store_is_left_alone_for_the_back_off() -> None:
    store, clock = MemoryFingerprints(), ManualClock(100.0)
    store.down = True
    det = ReplayDetector(store, backoff_s=5.0, clock=clock)
    human = humans(1, seed=55)[0]
    assert det.check_and_remember("session-x-0001", human).error == "ConnectionError"
    skipped = [det.check_and_remember(f"session-y-{i:04d}", human) for i in range(3)]
    assert {v.error for v in skipped} == {BACKOFF_ERROR} and store.calls == 1
    assert all(v.checked is False and v.reasons == [] for v in skipped)
    clock.advance(5.0)
    assert det.check_and_remember("session-z-0001", human).error == "ConnectionError"
    assert store.calls == 2
    with pytest.raises(ValueError, match="backoff_s"):
        ReplayDetector(store, backoff_s=-1)


# ------------------------------------------------------------------ in the micro-batch scorer


def test_micro_batch_scorer_adds_abuse_reason_codes() -> None:
    human, bot = humans(1, seed=51)[0], scripts(1, seed=52)[0]
    mbs = MicroBatchScorer(StandInModel(), lambda _site: 2.0,
                           replay=ReplayDetector(MemoryFingerprints()))
    res = mbs.score_batch([record_value("human-session-1", human),
                           record_value("bot-session-01", bot)])
    assert [s.session_id for s in res.scores] == ["human-session-1", "bot-session-01"]
    assert not set(res.scores[0].reasons) & {REASON_STRAIGHT, REASON_REPLAYED}
    assert {REASON_STRAIGHT, REASON_CONSTANT_SPEED} <= set(res.scores[1].reasons)
    again = mbs.score_batch([record_value("other-session-1", human)])
    assert REASON_REPLAYED in again.scores[0].reasons


def test_scoring_goes_on_while_the_replay_store_fails() -> None:
    store = MemoryFingerprints()
    store.down = True
    mbs = MicroBatchScorer(StandInModel(), lambda _site: 2.0, replay=ReplayDetector(store))
    human, short = humans(1, seed=53)[0], humans(1, seed=54)[0].slice(0, 8)
    res = mbs.score_batch([record_value("human-session-2", human),
                           record_value("short-session-1", short)])
    assert [s.session_id for s in res.scores] == ["human-session-2", "short-session-1"]
    assert REASON_REPLAY_UNCHECKED in res.scores[0].reasons
    assert REASON_REPLAYED not in res.scores[0].reasons
    # too short to fingerprint: not a store failure, so no degraded code
    assert REASON_REPLAY_UNCHECKED not in res.scores[1].reasons
    assert (res.replay_errors, res.replay_checked, res.dead) == (1, 0, [])

    store.down = False
    mbs.replay = ReplayDetector(store)         # a fresh detector: no back-off pending
    ok = mbs.score_batch([record_value("human-session-3", human)])
    assert (ok.replay_errors, ok.replay_checked) == (0, 1)
    assert REASON_REPLAY_UNCHECKED not in ok.scores[0].reasons
