"""Enrolments in Redis: each user's trusted window descriptors, a bounded list of float32 rows.

Key ``cursorprint:enroll:<user key>`` (:mod:`.keys`), a list of little-endian float32 vectors, so
an enrollment grows session by session, from the CLI or the ``trusted-sessions`` agent, across
restarts and replicas. The list is trimmed to the newest rows in the same transaction as the
append, so a crash never leaves it over its bound.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.stores.client import REDIS_UNAVAILABLE, connect
from cursorprint.stream.stores.keys import ENROLMENT_PREFIX

__all__ = ["RedisEnrolments"]

_DTYPE = "<f4"      # fixed byte order: a list written on one machine reads on any other


class RedisEnrolments:
    """:class:`~cursorprint.stream.stores.base.Enrolments` on a synchronous ``redis.Redis``."""

    def __init__(self, client: Any, prefix: str = ENROLMENT_PREFIX) -> None:
        self.redis = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, timeout_s: float | None = None) -> RedisEnrolments:
        return cls(connect(url, timeout_s))

    def _key(self, user_key: str) -> str:
        return self.prefix + user_key

    def add(self, user_key: str, rows: np.ndarray, keep_last: int) -> None:
        if not len(rows):
            return
        key = self._key(user_key)
        try:
            pipe = self.redis.pipeline()          # MULTI: append and trim together
            pipe.rpush(key, *[np.asarray(r, dtype=_DTYPE).tobytes() for r in rows])
            pipe.ltrim(key, -keep_last, -1)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001 - any client/connection error
            raise Unavailable(REDIS_UNAVAILABLE, f"enrolments: {exc}") from exc

    def windows(self, user_key: str) -> list[np.ndarray]:
        try:
            raws = self.redis.lrange(self._key(user_key), 0, -1)
        except Exception as exc:  # noqa: BLE001 - any client/connection error
            raise Unavailable(REDIS_UNAVAILABLE, f"enrolments: {exc}") from exc
        return [np.frombuffer(r, dtype=_DTYPE) for r in raws]

    def other_users(self, user_key: str, per_user: int, limit: int) -> list[np.ndarray]:
        mine = self._key(user_key).encode()
        rows: list[np.ndarray] = []
        try:
            for key in self.redis.scan_iter(match=f"{self.prefix}*", count=100):
                if key == mine:
                    continue
                rows.extend(np.frombuffer(r, dtype=_DTYPE)
                            for r in self.redis.lrange(key, 0, per_user - 1))
                if len(rows) >= limit:
                    break
        except Exception as exc:  # noqa: BLE001 - any client/connection error
            raise Unavailable(REDIS_UNAVAILABLE, f"enrolments: {exc}") from exc
        return rows
