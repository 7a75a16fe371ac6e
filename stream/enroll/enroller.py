"""Enrollment: fit a user's head from sessions known to be the account owner's, store it.

Trusted windows' embeddings are kept in Redis (``cursorprint:enroll:<user key>``, a bounded
list of float32 vectors) so an enrollment grows session by session, from the CLI or from the
``trusted-sessions`` agent, across restarts and replicas. Each new trusted session refits the
head (owner windows vs other people's windows) and stores it in the head store; scorers pick up
the new version within ``CURSORPRINT_HEAD_CACHE_TTL_S`` without a restart.

The "other people" are seeded synthetic users plus windows of other enrolled users, so an
enrollment needs nothing but the model directory and Redis.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from cursorprint.model.data.synthetic import synth_users
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.model.nets.heads import Head, fit_head
from cursorprint.stream.records.errors import CursorprintError

__all__ = ["Enroller", "EnrollError", "ENROLL_PREFIX", "MIN_WINDOWS"]

log = logging.getLogger(__name__)
ENROLL_PREFIX = "cursorprint:enroll:"
MIN_WINDOWS = 8


class EnrollError(CursorprintError, ValueError):
    """An enrollment that cannot produce a head (e.g. too few windows)."""


class Enroller:
    """Adds trusted sessions to a user's enrollment and refits the head."""

    def __init__(self, model: Any, heads: Any, redis_client: Any, max_windows: int = 512,
                 max_negatives: int = 600, seed: int = 7) -> None:
        self.model = model
        self.heads = heads
        self.redis = redis_client
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

    def _other_users(self, user_key: str, limit: int = 200) -> np.ndarray:
        dim = self.negatives().shape[1]
        rows: list[np.ndarray] = []
        for key in self.redis.scan_iter(match=f"{ENROLL_PREFIX}*", count=100):
            if key.decode().endswith(user_key):
                continue
            for raw in self.redis.lrange(key, 0, 63):
                rows.append(np.frombuffer(raw, dtype="<f4"))
            if len(rows) >= limit:
                break
        rows = [r for r in rows if len(r) == dim]
        return np.vstack(rows) if rows else np.zeros((0, dim), dtype=np.float32)

    def add_sessions(self, user_key: str, trajs: list[Trajectory]) -> tuple[str | None, int]:
        """Add trusted sessions; returns (new head version or None if too few windows, windows)."""
        emb = self._descriptors(trajs)
        if len(emb):
            key = ENROLL_PREFIX + user_key
            pipe = self.redis.pipeline()
            pipe.rpush(key, *[np.asarray(e, dtype="<f4").tobytes() for e in emb])
            pipe.ltrim(key, -self.max_windows, -1)
            pipe.execute()
        owner = self.owner_windows(user_key)
        if len(owner) < MIN_WINDOWS:
            return None, len(owner)
        head = self.fit(user_key, owner)
        version = self.heads.put(user_key, head, {"windows": len(owner), "source": "enroll",
                                                  "model_version": self.model.model_version})
        return version, len(owner)

    def owner_windows(self, user_key: str) -> np.ndarray:
        raws = self.redis.lrange(ENROLL_PREFIX + user_key, 0, -1)
        dim = self.negatives().shape[1]
        rows = [np.frombuffer(r, dtype="<f4") for r in raws]
        rows = [r for r in rows if len(r) == dim]
        return np.vstack(rows) if rows else np.zeros((0, dim), dtype=np.float32)

    def fit(self, user_key: str, owner: np.ndarray) -> Head:
        if len(owner) < MIN_WINDOWS:
            raise EnrollError(f"enrollment of a user needs >= {MIN_WINDOWS} windows, "
                              f"got {len(owner)}")
        others = np.vstack([self.negatives(), self._other_users(user_key)])
        return fit_head(owner, others, seed=self.seed, kind="user",
                        meta={"enrolled_windows": int(len(owner))})
