"""The enroller's logic on the stand-in model and the dict stores of stream/testing.py."""

from __future__ import annotations

import numpy as np
import pytest

from cursorprint.model.data.trajectory import Trajectory
from cursorprint.stream.enroll.enroller import MIN_WINDOWS, Enroller, EnrollError
from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.testing import MemoryEnrolments, MemoryHeads, StandInModel
from tests.stream.score.people import humans


def session(x: float, events: int) -> Trajectory:
    """A session the stand-in model describes as ``x`` in every one of its windows."""
    traj = humans(1, seed=3, events=events)[0]
    return Trajectory.from_columns(traj.t, np.full(len(traj), x), traj.y, traj.kind,
                                   traj.button, traj.screen)


def enroller(max_windows: int = 512) -> Enroller:
    heads = MemoryHeads()
    return Enroller(StandInModel(heads), heads, MemoryEnrolments(), max_windows=max_windows)


def test_a_head_once_there_are_enough_trusted_windows() -> None:
    e = enroller()
    assert e.add_sessions("owner", [session(300.0, 500)]) == (None, 5)     # 5 < MIN_WINDOWS
    version, n = e.add_sessions("owner", [session(310.0, 500)])
    assert n == 10 >= MIN_WINDOWS and version is not None
    assert isinstance(e.heads, MemoryHeads)
    head = e.heads.heads["owner"]
    assert head.version == version and e.heads.meta["owner"]["windows"] == 10
    assert e.heads.meta["owner"]["model_version"] == "test-v1"
    # the owner's windows sit at x ~ 300: the head finds them more owner-like than others'
    owner_logit, other_logit = head.logits(np.array([[305.0], [900.0]], dtype=np.float32))
    assert owner_logit < other_logit


def test_the_enrolment_keeps_only_the_newest_windows() -> None:
    e = enroller(max_windows=12)
    for x in (100.0, 200.0, 300.0):
        e.add_sessions("owner", [session(x, 800)])
    kept = e.owner_windows("owner")
    assert kept.shape == (12, 1) and list(kept[:4, 0]) == [200.0] * 4


def test_other_users_windows_are_negatives_and_rows_of_another_model_are_left_out() -> None:
    e = enroller()
    assert isinstance(e.enrolments, MemoryEnrolments)
    e.add_sessions("someone-else", [session(700.0, 900)])
    e.enrolments.add("owner", np.zeros((3, 5), dtype=np.float32), keep_last=512)   # old model
    version, n = e.add_sessions("owner", [session(300.0, 900)])
    assert n == 9 and version is not None
    assert e.enrolments.other_users("owner", 64, 200)[0][0] == 700.0


def test_too_few_windows_is_an_enroll_error() -> None:
    with pytest.raises(EnrollError, match=f">= {MIN_WINDOWS}"):
        enroller().fit("owner", np.zeros((2, 1), dtype=np.float32))


def test_a_store_outage_raises_unavailable_and_stores_nothing() -> None:
    e = enroller()
    assert isinstance(e.enrolments, MemoryEnrolments)
    e.enrolments.down = True
    with pytest.raises(Unavailable):
        e.add_sessions("owner", [session(300.0, 900)])
    e.enrolments.down = False
    assert e.enrolments.windows("owner") == []
