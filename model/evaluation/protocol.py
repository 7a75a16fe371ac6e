"""The SapiMouse verification protocol: who trains the backbone, who is enrolled, what is tested,
and how much of a test session is used.

Published protocol (Antal et al., SACI 2021): the backbone learns from users 1–72; each of
users 73–120 gets a head enrolled on their 3-minute session only and is tested on the 1-minute
sessions of all users 73–120 (their own = genuine, every other = impostor). The same split
shape on users 1–72 alone (:data:`VALIDATION`: backbone 1–56, enrolled and tested 57–72) is
where any choice may be tuned, so users 73–120 are only ever measured.

Users 35 and 62 were recorded twice (``user35.1``/``user35.2``, ``user62.1``/``user62.2``).
They are one person each: in the backbone's data both recordings carry the same label; when
such a user is enrolled (62 in the validation split), the first recording's 3-minute session
is the enrollment and its 1-minute session the test session, and the second recording is not
used at all (neither enrolled nor as an impostor), so every user has exactly one of each.

**Seconds of pointer activity.** A test session's first N seconds are counted on an activity
clock: the time between consecutive events, each gap counted at most :data:`ACTIVE_GAP_S`.
The browser sends no events while the pointer rests, so the clock advances with movement and
clicks, and an idle lead-in or a pause costs at most a quarter second. **Block form**: the
first k windows of the rule's length (128 events), disjoint, after the rule's rate
normalisation, as in the paper's "three / five 128-event blocks".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.features.windows import WindowRule, normalise_rate

__all__ = ["Split", "PUBLISHED", "VALIDATION", "SplitSessions", "ACTIVE_GAP_S",
           "user_number", "split_sessions", "active_time", "first_active_seconds",
           "first_blocks"]

ACTIVE_GAP_S = 0.25     # longest inter-event gap the activity clock counts in full


@dataclass(frozen=True)
class Split:
    """Users (SapiMouse numbers) whose sessions train the backbone, and users enrolled/tested."""

    name: str
    backbone_users: tuple[int, ...]
    test_users: tuple[int, ...]

    def __post_init__(self) -> None:
        overlap = set(self.backbone_users) & set(self.test_users)
        if overlap:
            raise ValueError(f"split {self.name!r}: users {sorted(overlap)} are both backbone "
                             "and test users")


PUBLISHED = Split("published", tuple(range(1, 73)), tuple(range(73, 121)))
VALIDATION = Split("validation", tuple(range(1, 57)), tuple(range(57, 73)))


@dataclass
class SplitSessions:
    backbone: list[Trajectory]          # every session of the backbone users
    enroll: dict[str, Trajectory]       # test user -> their 3-minute session
    test: dict[str, Trajectory]         # test user -> their 1-minute session


def user_number(user: str) -> int:
    """``"sapi35"`` -> 35 (the user label :func:`~cursorprint.model.data.datasets.load_sapimouse`
    gives both recordings of a person)."""
    if not user.startswith("sapi") or not user[4:].isdigit():
        raise ValueError(f"not a SapiMouse user label: {user!r}")
    return int(user[4:])


def _is_first_recording(tr: Trajectory) -> bool:
    rec = str(tr.meta.get("recording", ""))
    return "." not in rec or rec.endswith(".1")


def split_sessions(trajs: Sequence[Trajectory], split: Split) -> SplitSessions:
    """Sort SapiMouse sessions into the split; users in neither list are left out."""
    out = SplitSessions([], {}, {})
    backbone, tested = set(split.backbone_users), set(split.test_users)
    for tr in trajs:
        user = str(tr.meta["user"])
        n = user_number(user)
        if n in backbone:
            out.backbone.append(tr)
        elif n in tested and _is_first_recording(tr):
            session = str(tr.meta.get("session", ""))
            into = out.enroll if session.endswith("3min") else out.test \
                if session.endswith("1min") else None
            if into is None:
                raise ValueError(f"SapiMouse session {session!r} is neither 3min nor 1min")
            if user in into:
                raise ValueError(f"user {user} has two {session[-4:]} sessions")
            into[user] = tr
    missing = sorted(u for u in out.enroll.keys() ^ out.test.keys())
    if missing:
        raise ValueError(f"users {missing} lack an enrollment or a test session")
    return out


def active_time(traj: Trajectory) -> np.ndarray:
    """Activity-clock time (seconds) at each event; 0 at the first."""
    if len(traj) == 0:
        return np.zeros(0)
    return np.r_[0.0, np.cumsum(np.minimum(np.diff(traj.t), ACTIVE_GAP_S))]


def first_active_seconds(traj: Trajectory, seconds: float) -> Trajectory:
    """The session's events up to ``seconds`` on the activity clock."""
    return traj.slice(0, int(np.searchsorted(active_time(traj), seconds, side="right")))


def first_blocks(traj: Trajectory, rule: WindowRule, blocks: int) -> list[Trajectory]:
    """The first ``blocks`` disjoint windows of ``rule.events`` rate-normalised events (fewer
    when the session is shorter)."""
    norm = normalise_rate(traj, rule.bucket_s)
    n = min(blocks, len(norm) // rule.events)
    return [norm.slice(i * rule.events, (i + 1) * rule.events) for i in range(n)]
