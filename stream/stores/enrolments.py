"""Enrolments in Redis: each user's trusted window descriptors, a bounded list of float32 rows.

Key ``cursorprint:enroll:<user key>`` (:mod:`.keys`), a list of little-endian float32 vectors, so
an enrollment grows session by session, from the CLI or the ``trusted-sessions`` agent, across
restarts and replicas. The list is trimmed to the newest rows in the same transaction as the
append, so a crash never leaves it over its bound.

**Once per session.** Kafka delivers a trusted session at least once (again after a crash before
the commit). :meth:`RedisEnrolments.add_session` appends a session's rows only if that session
was never added, in one Lua script with the check, and remembers it in the hash
``cursorprint:enrolled:<user key>`` (field: a digest of the session id, never the id; value
``added``, then ``fitted`` once the head was refitted with it) with its order in the list
``cursorprint:enrolled:<user key>:order``; both keep the user's last :data:`MAX_SESSIONS`.
A redelivered session therefore never counts twice; one whose refit was cut short by a crash
(``added``) is refitted, not added, when it comes again.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.stores.client import REDIS_UNAVAILABLE, connect
from cursorprint.stream.stores.keys import ENROLLED_PREFIX, ENROLMENT_PREFIX

__all__ = ["RedisEnrolments", "session_field", "NEW", "ADDED", "FITTED", "MAX_SESSIONS"]

_DTYPE = "<f4"      # fixed byte order: a list written on one machine reads on any other
NEW, ADDED, FITTED = "new", "added", "fitted"   # what add_session found
MAX_SESSIONS = 1024   # sessions remembered per user: a redelivery comes long before this many

# KEYS: rows list, session states hash, session order list.
# ARGV: session field, keep_last, max_sessions, rows...
_ADD_SESSION = """
local state = redis.call('HGET', KEYS[2], ARGV[1])
if state then return state end
if #ARGV > 3 then
  redis.call('RPUSH', KEYS[1], unpack(ARGV, 4))
  redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
end
redis.call('HSET', KEYS[2], ARGV[1], 'added')
redis.call('RPUSH', KEYS[3], ARGV[1])
while redis.call('LLEN', KEYS[3]) > tonumber(ARGV[3]) do
  redis.call('HDEL', KEYS[2], redis.call('LPOP', KEYS[3]))
end
return 'new'
"""


def session_field(session_id: str) -> str:
    """The pseudonymous name of a session in the enrolled-sessions hash."""
    return hashlib.blake2b(session_id.encode(), digest_size=16,
                           person=b"cp-enrolled").hexdigest()


class RedisEnrolments:
    """:class:`~cursorprint.stream.stores.base.Enrolments` on a synchronous ``redis.Redis``."""

    def __init__(self, client: Any, prefix: str = ENROLMENT_PREFIX,
                 sessions_prefix: str = ENROLLED_PREFIX) -> None:
        self.redis = client
        self.prefix = prefix
        # never under ``prefix``: other_users() reads every key there as a list of rows
        if sessions_prefix.startswith(prefix):
            raise ValueError(f"sessions_prefix {sessions_prefix!r} must not start with the "
                             f"rows prefix {prefix!r}")
        self.sessions_prefix = sessions_prefix
        self._add_session = client.register_script(_ADD_SESSION)

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

    def add_session(self, user_key: str, session_id: str, rows: np.ndarray,
                    keep_last: int) -> str:
        states = self.sessions_prefix + user_key
        try:
            got = self._add_session(
                keys=[self._key(user_key), states, states + ":order"],
                args=[session_field(session_id), keep_last, MAX_SESSIONS,
                      *[np.asarray(r, dtype=_DTYPE).tobytes() for r in rows]])
        except Exception as exc:  # noqa: BLE001 - any client/connection error
            raise Unavailable(REDIS_UNAVAILABLE, f"enrolments: {exc}") from exc
        return got.decode() if isinstance(got, bytes) else str(got)

    def session_state(self, user_key: str, session_id: str) -> str:
        try:
            got = self.redis.hget(self.sessions_prefix + user_key, session_field(session_id))
        except Exception as exc:  # noqa: BLE001 - any client/connection error
            raise Unavailable(REDIS_UNAVAILABLE, f"enrolments: {exc}") from exc
        if got is None:
            return NEW
        return got.decode() if isinstance(got, bytes) else str(got)

    def session_fitted(self, user_key: str, session_id: str) -> None:
        try:
            self.redis.hset(self.sessions_prefix + user_key, session_field(session_id), FITTED)
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
