"""Replay fingerprints in Redis: one set of session digests per sampled shingle hash.

Key ``cursorprint:replay:<shingle hash, 16 hex digits>`` (:mod:`.keys`), members are session
digests (never a session id or user id), each set expiring ``ttl_s`` after it was last added to:
a replay is only looked for within that window, and nothing about a person stays longer.

A check is ONE command whatever the session's length: a Lua script (:data:`EXCHANGE_LUA`) reads
each shingle's set and adds the session to the sets that are not common, on the server. Sending
a SMEMBERS, SADD and EXPIRE per shingle from Python instead cost the scorer a third of its time
(redis-py packs and parses every command). The script names every key it touches, as Redis
requires; on a Redis Cluster those keys would have to share a slot, which they do not: the
store needs one Redis (or a primary) per deployment, as the other stores do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.stores.client import REDIS_UNAVAILABLE, connect
from cursorprint.stream.stores.keys import FINGERPRINT_PREFIX, fingerprint_key

__all__ = ["RedisFingerprints", "DEFAULT_TTL_S", "TIMEOUT_S", "EXCHANGE_LUA"]

DEFAULT_TTL_S = 7 * 24 * 3600
TIMEOUT_S = 1.0      # on the scoring path: a hung Redis costs about this per back-off period

# KEYS: the shingles' sets; ARGV: digest, TTL seconds, common_max. Returns each set's members
# as they were before this call.
EXCHANGE_LUA = """
local digest, ttl, common_max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local seen = {}
for i, key in ipairs(KEYS) do
  local members = redis.call('SMEMBERS', key)
  seen[i] = members
  if #members < common_max then
    redis.call('SADD', key, digest)
    redis.call('EXPIRE', key, ttl)
  end
end
return seen
"""


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
        self._exchange = client.register_script(EXCHANGE_LUA)

    @classmethod
    def from_url(cls, url: str, ttl_s: float = DEFAULT_TTL_S,
                 timeout_s: float = TIMEOUT_S) -> RedisFingerprints:
        return cls(connect(url, timeout_s), ttl_s)

    def _keys(self, shingles: Sequence[int]) -> list[str]:
        return [fingerprint_key(int(h), self.prefix) for h in shingles]

    def exchange(self, shingles: Sequence[int], digest: str, common_max: int
                 ) -> list[set[str]]:
        if not shingles:
            return []
        try:
            members: list[list[bytes]] = self._exchange(
                keys=self._keys(shingles), args=[digest, self.ttl_s, int(common_max)])
        except Exception as exc:  # noqa: BLE001 - any client/connection error: no answer
            raise Unavailable(REDIS_UNAVAILABLE, f"replay fingerprints: {exc}") from exc
        return [{m.decode() if isinstance(m, bytes) else str(m) for m in seen}
                for seen in members]
