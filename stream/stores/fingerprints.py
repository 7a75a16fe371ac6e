"""Replay fingerprints in Redis: one set of session digests per sampled shingle hash.

Key ``cursorprint:replay:<shingle hash, 16 hex digits>`` (:mod:`.keys`), members are session
digests (never a session id or user id), each set expiring ``ttl_s`` after it was last added to:
a replay is only looked for within that window, and nothing about a person stays longer. Every
call is one pipelined round trip, so a check costs two, whatever the session's length.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.stores.client import REDIS_UNAVAILABLE, connect
from cursorprint.stream.stores.keys import FINGERPRINT_PREFIX, fingerprint_key

__all__ = ["RedisFingerprints", "DEFAULT_TTL_S", "TIMEOUT_S"]

DEFAULT_TTL_S = 7 * 24 * 3600
TIMEOUT_S = 1.0      # on the scoring path: a hung Redis costs about this per back-off period


class RedisFingerprints:
    """:class:`~cursorprint.stream.stores.base.Fingerprints` on a synchronous ``redis.Redis``.

    Backend failures raise :class:`~cursorprint.stream.records.errors.Unavailable` (with the
    Redis error as its cause); the replay check reports them instead of scoring stopping.
    """

    def __init__(self, client: Any, ttl_s: float = DEFAULT_TTL_S,
                 prefix: str = FINGERPRINT_PREFIX) -> None:
        if not ttl_s > 0:
            raise ValueError(f"RedisFingerprints ttl_s must be > 0, got {ttl_s}")
        self.redis = client
        self.ttl_s = int(max(1, round(ttl_s)))     # Redis EXPIRE takes whole seconds
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, ttl_s: float = DEFAULT_TTL_S,
                 timeout_s: float = TIMEOUT_S) -> RedisFingerprints:
        return cls(connect(url, timeout_s), ttl_s)

    def _keys(self, shingles: Sequence[int]) -> list[str]:
        return [fingerprint_key(int(h), self.prefix) for h in shingles]

    def sessions_with(self, shingles: Sequence[int]) -> list[set[str]]:
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key in self._keys(shingles):
                pipe.smembers(key)
            members: list[set[bytes]] = pipe.execute()
        except Exception as exc:  # noqa: BLE001 - any client/connection error: no answer
            raise Unavailable(REDIS_UNAVAILABLE, f"replay fingerprints: {exc}") from exc
        return [{m.decode() if isinstance(m, bytes) else str(m) for m in seen}
                for seen in members]

    def remember(self, shingles: Sequence[int], digest: str) -> None:
        if not shingles:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key in self._keys(shingles):
                pipe.sadd(key, digest)
                pipe.expire(key, self.ttl_s)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001 - any client/connection error
            raise Unavailable(REDIS_UNAVAILABLE, f"replay fingerprints: {exc}") from exc
