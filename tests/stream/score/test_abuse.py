"""Scripted-movement and replay detectors (stream/score/abuse.py) on synthetic people vs scripts.

The replay logic is exercised here with a tiny in-memory stand-in for the Redis client (pure
logic); tests/pipeline/test_replayed_trajectory.py runs the same detector against a real redis-server.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cursorprint.model.data.synthetic import random_style, scripted_style, synth_session
from cursorprint.model.data.trajectory import (
    BUTTON_LEFT,
    BUTTON_NONE,
    KIND_DOWN,
    KIND_LEAVE,
    KIND_MOVE,
    KIND_UP,
    Trajectory,
)
from cursorprint.stream.score.abuse import (
    REASON_CONSTANT_SPEED,
    REASON_NO_JITTER,
    REASON_REPLAYED,
    REASON_STRAIGHT,
    REASON_TELEPORT,
    ReplayDetector,
    movement_features,
    scripted_reasons,
    session_digest,
    trajectory_shingles,
)


def _humans(n: int, seed: int, events: int = 600) -> list[Trajectory]:
    rng = np.random.default_rng(seed)
    return [synth_session(rng, random_style(rng), events) for _ in range(n)]


def _scripts(n: int, seed: int, events: int = 600) -> list[Trajectory]:
    rng = np.random.default_rng(seed)
    return [synth_session(rng, scripted_style(rng), events) for _ in range(n)]


# ------------------------------------------------------------------ scripted movement


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


# ------------------------------------------------------------------ replay fingerprint


def _replayed(traj: Trajectory, rng: np.random.Generator, dx: float = 37.0, dy: float = -12.0,
              jitter_s: float = 0.002) -> Trajectory:
    """The same recording played back later, elsewhere on the page, with timer jitter."""
    t = np.maximum.accumulate(traj.t + 1234.5 + rng.normal(0.0, jitter_s, len(traj)))
    return Trajectory.from_columns(t, traj.x + dx, traj.y + dy, traj.kind, traj.button,
                                   traj.screen)


@settings(max_examples=25, deadline=None)
@given(dx=st.integers(-500, 500), dy=st.integers(-500, 500),
       shift=st.floats(0, 1e6, allow_nan=False))
def test_shingles_ignore_offset_and_time_shift(dx: int, dy: int, shift: float) -> None:
    traj = _humans(1, seed=21, events=300)[0]
    moved = Trajectory.from_columns(traj.t + shift, traj.x + dx, traj.y + dy, traj.kind,
                                    traj.button, traj.screen)
    a, b = trajectory_shingles(traj, "s"), trajectory_shingles(moved, "s")
    assert len(a) > 10
    assert len(np.intersect1d(a, b)) / len(a) > 0.9


def test_shingles_depend_on_scope() -> None:
    traj = _humans(1, seed=22)[0]
    assert len(np.intersect1d(trajectory_shingles(traj, "a"), trajectory_shingles(traj, "b"))) == 0


class _MemoryRedis:
    """The four calls ReplayDetector makes, on dicts (unit tests of the pure logic only)."""

    def __init__(self) -> None:
        self.sets: dict[str, set[bytes]] = {}
        self.ttl: dict[str, int] = {}

    def pipeline(self, transaction: bool = False) -> _MemoryRedis._Pipe:
        return _MemoryRedis._Pipe(self)

    class _Pipe:
        def __init__(self, db: _MemoryRedis) -> None:
            self.db = db
            self.ops: list[Any] = []

        def smembers(self, key: str) -> None:
            self.ops.append(lambda: set(self.db.sets.get(key, set())))

        def sadd(self, key: str, member: str) -> None:
            self.ops.append(lambda: self.db.sets.setdefault(key, set()).add(member.encode()))

        def expire(self, key: str, ttl: int) -> None:
            self.ops.append(lambda: self.db.ttl.__setitem__(key, ttl))

        def execute(self) -> list[Any]:
            return [op() for op in self.ops]


def test_replay_is_flagged_and_people_are_not() -> None:
    db = _MemoryRedis()
    det = ReplayDetector(db, ttl_s=3600)
    sessions = _humans(12, seed=31)
    for i, traj in enumerate(sessions):
        v = det.check_and_remember(f"session-{i:04d}", traj, "shop")
        assert v.checked and v.reasons == [], (i, v.similarity)
    rng = np.random.default_rng(1)
    v = det.check_and_remember("attacker-0001", _replayed(sessions[3], rng), "shop")
    assert v.reasons == [REASON_REPLAYED] and v.similarity > 0.6
    assert v.matched == session_digest("session-0003")
    # nothing stored names a session: keys are shingle hashes, members are session digests
    members = set().union(*db.sets.values())
    assert b"session-0003" not in members and session_digest("session-0003").encode() in members
    assert set(db.ttl.values()) == {3600}


def test_a_session_never_matches_its_own_earlier_parts() -> None:
    det = ReplayDetector(_MemoryRedis())
    traj = _humans(1, seed=32)[0]
    det.check_and_remember("same-session-01", traj.slice(0, 400))
    assert det.check_and_remember("same-session-01", traj).reasons == []


def test_replay_on_another_site_is_not_matched() -> None:
    det = ReplayDetector(_MemoryRedis())
    traj = _humans(1, seed=33)[0]
    det.check_and_remember("session-a-0001", traj, "site-a")
    assert det.check_and_remember("session-b-0001", traj, "site-b").reasons == []


def test_too_short_is_not_checked_and_redis_errors_do_not_raise() -> None:
    class Broken:
        def pipeline(self, transaction: bool = False) -> Any:
            raise ConnectionError("redis is down")

    det = ReplayDetector(Broken(), backoff_s=0.0)
    short = _humans(1, seed=34)[0].slice(0, 8)
    v = det.check_and_remember("short-session", short)
    assert v.checked is False and v.error is None       # too short: Redis never asked
    v = det.check_and_remember("long-session-1", _humans(1, seed=35)[0])
    assert v.checked is False and v.error == "ConnectionError" and v.reasons == []


def test_bad_ttl_is_refused() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        ReplayDetector(_MemoryRedis(), ttl_s=0)


# ------------------------------------------------------------------ scorer integration


def test_micro_batch_scorer_adds_abuse_reason_codes() -> None:
    from cursorprint.stream.score.microbatch import MicroBatchScorer
    from tests.stream.score.test_microbatch import StandInModel

    human, bot = _humans(1, seed=51)[0], _scripts(1, seed=52)[0]
    mbs = MicroBatchScorer(StandInModel(), threshold=2.0, replay=ReplayDetector(_MemoryRedis()))
    res = mbs.score_batch([_record_value("human-session-1", human),
                           _record_value("bot-session-01", bot)])
    assert [s.session_id for s in res.scores] == ["human-session-1", "bot-session-01"]
    assert not set(res.scores[0].reasons) & {REASON_STRAIGHT, REASON_REPLAYED}
    assert {REASON_STRAIGHT, REASON_CONSTANT_SPEED} <= set(res.scores[1].reasons)
    again = mbs.score_batch([_record_value("other-session-1", human)])
    assert REASON_REPLAYED in again.scores[0].reasons


def _record_value(sid: str, traj: Trajectory, site: str = "demo") -> bytes:
    from cursorprint.stream.records.session import SessionRecord

    return SessionRecord.from_trajectory(traj, session_id=sid, user="a" * 32, site=site,
                                         path="/pay", t0=1.0, closed_at=2.0).to_bytes()


def test_scoring_goes_on_while_the_replay_store_fails() -> None:
    import redis

    from cursorprint.stream.devtools.stack import free_port
    from cursorprint.stream.score.abuse import REASON_REPLAY_UNCHECKED
    from cursorprint.stream.score.microbatch import MicroBatchScorer
    from tests.stream.score.test_microbatch import StandInModel

    # a real redis-py client pointed at a port where nothing listens: connection refused
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1.0,
                                socket_connect_timeout=1.0)
    mbs = MicroBatchScorer(StandInModel(), threshold=2.0, replay=ReplayDetector(dead))
    human, short = _humans(1, seed=53)[0], _humans(1, seed=54)[0].slice(0, 8)
    res = mbs.score_batch([_record_value("human-session-2", human),
                           _record_value("short-session-1", short)])
    assert [s.session_id for s in res.scores] == ["human-session-2", "short-session-1"]
    assert REASON_REPLAY_UNCHECKED in res.scores[0].reasons
    assert REASON_REPLAYED not in res.scores[0].reasons
    # too short to fingerprint: not a Redis failure, so no degraded code
    assert REASON_REPLAY_UNCHECKED not in res.scores[1].reasons
    assert (res.replay_errors, res.replay_checked, res.dead) == (1, 0, [])

    healthy = MicroBatchScorer(StandInModel(), threshold=2.0,
                               replay=ReplayDetector(_MemoryRedis()))
    ok = healthy.score_batch([_record_value("human-session-3", human)])
    assert (ok.replay_errors, ok.replay_checked) == (0, 1)
    assert REASON_REPLAY_UNCHECKED not in ok.scores[0].reasons


def test_worker_replay_detector_follows_the_settings() -> None:
    from cursorprint.stream.score.runtime import replay_detector
    from cursorprint.stream.settings import SettingsError, load_settings

    assert replay_detector(load_settings(environ={"CURSORPRINT_REPLAY_CHECK": "off"})) is None
    det = replay_detector(load_settings(environ={"CURSORPRINT_REPLAY_TTL_S": "120"}))
    assert det is not None and det.ttl_s == 120
    with pytest.raises(SettingsError, match="CURSORPRINT_REPLAY_TTL_S"):
        load_settings(environ={"CURSORPRINT_REPLAY_TTL_S": "0"})
    with pytest.raises(SettingsError, match="CURSORPRINT_REPLAY_CHECK='maybe'"):
        load_settings(environ={"CURSORPRINT_REPLAY_CHECK": "maybe"})


def test_degraded_gauge_flips_once_per_state_change() -> None:
    from cursorprint.stream import metrics as m
    from cursorprint.stream.score.agent import ReplayHealth
    from cursorprint.stream.score.microbatch import BatchResult

    gauge = m.DEGRADED.labels(dependency="replay_store")
    errors = m.REDIS_ERRORS.labels(service="scorer")
    health, before = ReplayHealth(), errors._value.get()
    try:
        health.note(BatchResult(replay_errors=3))
        assert health.degraded and gauge._value.get() == 1
        health.note(BatchResult(replay_errors=1))
        health.note(BatchResult())             # nothing checked: no news
        assert health.degraded and gauge._value.get() == 1
        assert errors._value.get() - before == 4
        health.note(BatchResult(replay_checked=2))
        assert not health.degraded and gauge._value.get() == 0
    finally:
        gauge.set(0)


def test_a_failing_replay_store_is_left_alone_for_the_back_off() -> None:
    from cursorprint.stream.score.abuse import BACKOFF_ERROR

    class Failing:
        calls = 0

        def pipeline(self, transaction: bool = False) -> Any:
            Failing.calls += 1
            raise TimeoutError("redis hangs")

    now = [100.0]
    det = ReplayDetector(Failing(), backoff_s=5.0, clock=lambda: now[0])
    human = _humans(1, seed=55)[0]
    assert det.check_and_remember("session-x-0001", human).error == "TimeoutError"
    skipped = [det.check_and_remember(f"session-y-{i:04d}", human) for i in range(3)]
    assert {v.error for v in skipped} == {BACKOFF_ERROR} and Failing.calls == 1
    assert all(v.checked is False and v.reasons == [] for v in skipped)
    now[0] += 5.0
    assert det.check_and_remember("session-z-0001", human).error == "TimeoutError"
    assert Failing.calls == 2
    with pytest.raises(ValueError, match="backoff_s"):
        ReplayDetector(Failing(), backoff_s=-1)
