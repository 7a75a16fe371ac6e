"""Enrollment: fit a user's head from sessions known to be the account owner's, store it.

Trusted windows' descriptors are kept in the enrolment store (:mod:`cursorprint.stream.stores`,
a bounded list per user) so an enrollment grows session by session, from the CLI or from the
``trusted-sessions`` agent, across restarts and replicas. Each new trusted session refits the
head (owner windows vs other people's windows) and stores it in the head store; scorers pick up
the new version without a restart.

The "other people" are seeded synthetic users plus windows of other enrolled users, so an
enrollment needs nothing but the model directory and the stores.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from cursorprint.model.data.synthetic import synth_users
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.nets.heads import Head, fit_head
from cursorprint.stream.records.errors import CursorprintError
from cursorprint.stream.stores.base import Enrolments, Heads
from cursorprint.stream.stores.enrolments import FITTED, NEW

__all__ = ["Enroller", "EnrollError", "DescriberLike", "MIN_WINDOWS"]

log = logging.getLogger(__name__)
MIN_WINDOWS = 8               # fewer owner windows give a head that says nothing
OTHER_USERS_PER_USER = 64     # negatives from each other enrolled user ...
OTHER_USERS_LIMIT = 200       # ... and at most about this many in all (fitting stays fast)


class EnrollError(CursorprintError, ValueError):
    """An enrollment that cannot produce a head (e.g. too few windows)."""


class DescriberLike(Protocol):
    """The part of :class:`cursorprint.model.serving.scoring.SessionScorer` enrollment uses: the
    same windows and descriptors as scoring, so a head sees what it will score."""

    model_version: str

    def windows(self, traj: Trajectory) -> list[Trajectory]: ...
    def descriptors_of(self, windows: list[Trajectory]) -> np.ndarray: ...


def _stack(rows: list[np.ndarray], dim: int) -> np.ndarray:
    """Rows of this model's descriptor size as one array (rows another model wrote are left
    out: a backbone change must not break the enrollments made before it)."""
    kept = [r for r in rows if len(r) == dim]
    return np.vstack(kept) if kept else np.zeros((0, dim), dtype=np.float32)


class Enroller:
    """Adds trusted sessions to a user's enrollment and refits the head."""

    def __init__(self, model: DescriberLike, heads: Heads, enrolments: Enrolments,
                 max_windows: int = 512, max_negatives: int = 600, seed: int = 7) -> None:
        self.model = model
        self.heads = heads
        self.enrolments = enrolments
        self.max_windows = max_windows
        self.max_negatives = max_negatives
        self.seed = seed
        self._negatives: np.ndarray | None = None

    def negatives(self) -> np.ndarray:
        """Descriptors of windows of seeded synthetic people (computed once per model)."""
        if self._negatives is None:
            emb = self._descriptors(synth_users(6, 2, 3000, seed=self.seed))
            rng = np.random.default_rng(self.seed)
            pick = rng.choice(len(emb), size=min(len(emb), self.max_negatives), replace=False)
            self._negatives = emb[pick]
        return self._negatives

    def _descriptors(self, trajs: list[Trajectory]) -> np.ndarray:
        """Window descriptors of ``trajs`` with one backbone call."""
        return self.model.descriptors_of([w for t in trajs for w in self.model.windows(t)])

    def add_sessions(self, user_key: str, trajs: list[Trajectory]) -> tuple[str | None, int]:
        """Add trusted sessions; returns (new head version or None if too few windows, windows)."""
        self.enrolments.add(user_key, self._descriptors(trajs), keep_last=self.max_windows)
        return self._refit(user_key)

    def add_trusted(self, user_key: str, session_id: str, traj: Trajectory
                    ) -> tuple[str | None, int] | None:
        """Add one trusted session at most once (Kafka may deliver it again after a crash);
        returns like :meth:`add_sessions`, or None when the session was enrolled and fitted
        before (nothing counted, nothing refitted).

        The session is marked fitted only after its head is stored, so a crash in between
        refits it when it comes again, without adding its windows a second time.

        A session seen before is not embedded again: the read-only look comes first. It
        writes nothing, so a crash around it loses nothing, and it only skips work for a
        session the store already holds (``added``: its rows are stored, refit them;
        ``fitted``: done). The atomic check in ``add_session`` stays the authority, for a
        session that two consumers get at once during a rebalance."""
        state = self.enrolments.session_state(user_key, session_id)
        if state == NEW:
            state = self.enrolments.add_session(user_key, session_id,
                                                self._descriptors([traj]), self.max_windows)
        if state == FITTED:
            return None
        got = self._refit(user_key)
        self.enrolments.session_fitted(user_key, session_id)
        return got

    def _refit(self, user_key: str) -> tuple[str | None, int]:
        """Fit the user's head from their stored windows and store it; returns (its version,
        or None with fewer than :data:`MIN_WINDOWS` windows, the windows)."""
        owner = self.owner_windows(user_key)
        if len(owner) < MIN_WINDOWS:
            return None, len(owner)
        version = self.heads.put(user_key, self.fit(user_key, owner),
                                 {"windows": len(owner), "source": "enroll",
                                  "model_version": self.model.model_version})
        return version, len(owner)

    def owner_windows(self, user_key: str) -> np.ndarray:
        """The user's stored trusted descriptors that fit this model."""
        return _stack(self.enrolments.windows(user_key), self.negatives().shape[1])

    def fit(self, user_key: str, owner: np.ndarray) -> Head:
        """The user's head: ``owner`` windows against synthetic people and other users."""
        if len(owner) < MIN_WINDOWS:
            raise EnrollError(f"enrollment of a user needs >= {MIN_WINDOWS} windows, "
                              f"got {len(owner)}")
        others = _stack(self.enrolments.other_users(user_key, OTHER_USERS_PER_USER,
                                                    OTHER_USERS_LIMIT), owner.shape[1])
        return fit_head(owner, np.vstack([self.negatives(), others]), seed=self.seed,
                        kind="user", meta={"enrolled_windows": int(len(owner))})
