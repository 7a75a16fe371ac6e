"""The scorer adds ``remote_access_suspected`` to a mouse session received at remote-desktop
cadence, not to the same movement at local cadence, and never to a session that is not mouse
input; the decision policy asks such a session for a second factor."""

from __future__ import annotations

import numpy as np

from cursorprint.model.features.remote_access import remote_access_features
from cursorprint.stream.decide.credentials import SitePolicy
from cursorprint.stream.decide.policy import CODE_SUSPICIOUS, decide
from cursorprint.stream.records.reasons import (
    REASON_NO_USER_HEAD,
    REASON_NOT_MOUSE,
    REASON_REMOTE_ACCESS,
)
from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.score.microbatch import MicroBatchScorer
from cursorprint.stream.stores.live_scores import LiveState
from cursorprint.stream.testing import MemoryHeads, StandInModel, stand_in_head
from tests.stream.decide.parts import part
from tests.stream.score.people import humans, record_value
from tests.stream.score.remote_desktop import over_remote_desktop


def test_remote_cadence_gets_the_code_local_cadence_and_touch_do_not() -> None:
    user = "a" * 32
    scorer = MicroBatchScorer(StandInModel(MemoryHeads({user: stand_in_head()})),
                              lambda _site: 0.99)
    local = humans(1, seed=5, events=3000)[0]
    remote = over_remote_desktop(local, np.random.default_rng(5))
    touch = SessionRecord.from_trajectory(remote, session_id="touch", user=user, site="demo",
                                          pointer="touch").to_bytes()
    res = scorer.score_batch([record_value("local", local, user=user),
                              record_value("remote", remote, user=user), touch])
    assert not res.dead
    by_sid = {s.session_id: s for s in res.scores}
    assert set(by_sid) == {"local", "remote", "touch"}
    assert REASON_REMOTE_ACCESS in by_sid["remote"].reasons
    assert REASON_REMOTE_ACCESS not in by_sid["local"].reasons
    assert by_sid["touch"].reasons == [REASON_NOT_MOUSE]
    # what went over the wire is what the detector judged
    wired = SessionRecord.from_bytes(record_value("remote", remote, user=user)).to_trajectory()
    assert remote_access_features(wired).verdict is True


def test_a_remote_access_session_asks_for_a_second_factor() -> None:
    """A low identity score does not clear a remote-desktop session (the owner's own mouse may
    be moving at the other end): step_up, also without the owner's head."""
    policy = SitePolicy(step_up=0.5, deny=0.9, min_seconds=3.0, min_windows=2)
    owner = "demo|" + "a" * 32
    d = decide(LiveState(owner=owner, parts=[part(0.1, reasons=[REASON_REMOTE_ACCESS])]),
               policy, 0)
    assert (d.decision, d.reasons) == ("step_up", [CODE_SUSPICIOUS, REASON_REMOTE_ACCESS])
    no_head = part(0.05, reasons=[REASON_NO_USER_HEAD, REASON_REMOTE_ACCESS],
                   head="population:p")
    d = decide(LiveState(owner=owner, parts=[no_head]), policy, 0)
    assert (d.decision, d.reasons[0]) == ("step_up", CODE_SUSPICIOUS)
