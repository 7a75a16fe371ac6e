"""Per-user heads in Redis, with an in-process LRU cache that survives a Redis outage.

Redis layout: hash ``cursorprint:head:<user_key>`` with fields ``head`` (Head.to_bytes),
``version`` and ``meta`` (JSON). ``put`` writes the hash and publishes the user key on
``cursorprint:heads`` (for other listeners); readers re-check the version in Redis once a cached
entry is older than ``ttl_s``, so an updated head is picked up within ``ttl_s`` seconds, and
immediately in the process that wrote it.

When Redis is unreachable, a cached head is still served (even past its TTL) with a warning and
the reason code ``head_cache_stale``; ``counters`` (plain ints) and the optional ``on_event``
callback let the stream export this to Prometheus (model/ cannot import stream.metrics).
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from cursorprint.model.heads import Head, HeadError

__all__ = ["HeadStore", "REASON_HEAD_CACHE_STALE", "KEY_PREFIX", "CHANNEL"]

log = logging.getLogger(__name__)
REASON_HEAD_CACHE_STALE = "head_cache_stale"
KEY_PREFIX = "cursorprint:head:"
CHANNEL = "cursorprint:heads"


class HeadStore:
    """Heads keyed by pseudonymous user key, cached in-process (LRU + TTL)."""

    def __init__(self, redis_url: str, ttl_s: float = 60, max_items: int = 1024,
                 on_event: Callable[[str], None] | None = None,
                 socket_timeout_s: float = 0.5) -> None:
        import redis

        if ttl_s < 0:
            raise ValueError(f"HeadStore ttl_s must be >= 0, got {ttl_s}")
        if max_items < 1:
            raise ValueError(f"HeadStore max_items must be >= 1, got {max_items}")
        self.redis: Any = redis.Redis.from_url(redis_url, socket_timeout=socket_timeout_s,
                                               socket_connect_timeout=socket_timeout_s)
        self.ttl_s = ttl_s
        self.max_items = max_items
        self.on_event = on_event
        self._cache: OrderedDict[str, tuple[float, Head | None, str]] = OrderedDict()
        self.counters: dict[str, int] = {"hits": 0, "misses": 0, "loads": 0,
                                         "redis_errors": 0, "stale_served": 0,
                                         "invalidations": 0}

    def _count(self, name: str) -> None:
        self.counters[name] += 1
        if self.on_event is not None:
            self.on_event(name)

    def _remember(self, user_key: str, head: Head | None, version: str) -> None:
        self._cache[user_key] = (time.monotonic(), head, version)
        self._cache.move_to_end(user_key)
        while len(self._cache) > self.max_items:
            self._cache.popitem(last=False)

    def put(self, user_key: str, head: Head, metadata: dict[str, object] | None = None) -> str:
        """Store ``head`` for ``user_key``; returns its version. Raises on Redis errors."""
        version = head.version or str(time.time_ns())
        key = KEY_PREFIX + user_key
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={"head": head.to_bytes(), "version": version,
                                "meta": json.dumps(metadata or {}, sort_keys=True)})
        pipe.publish(CHANNEL, user_key)
        pipe.execute()
        self._remember(user_key, head, version)
        return version

    def metadata(self, user_key: str) -> dict[str, object]:
        raw = self.redis.hget(KEY_PREFIX + user_key, "meta")
        return dict(json.loads(raw)) if raw else {}

    def invalidate(self, user_key: str) -> None:
        """Drop the cached copy (e.g. on a pub/sub message)."""
        if self._cache.pop(user_key, None) is not None:
            self._count("invalidations")

    def get(self, user_key: str) -> Head | None:
        return self.get_with_reasons(user_key)[0]

    def get_with_reasons(self, user_key: str) -> tuple[Head | None, list[str]]:
        """The user's head (or None) and reason codes (``head_cache_stale`` when Redis is down)."""
        now = time.monotonic()
        cached = self._cache.get(user_key)
        if cached is not None and now - cached[0] < self.ttl_s:
            self._cache.move_to_end(user_key)
            self._count("hits")
            return cached[1], []
        key = KEY_PREFIX + user_key
        try:
            if cached is not None:
                version = self.redis.hget(key, "version")
                version_s = version.decode() if version is not None else ""
                if version_s == cached[2]:
                    self._remember(user_key, cached[1], cached[2])
                    self._count("hits")
                    return cached[1], []
            raw = self.redis.hmget(key, ["head", "version"])
        except Exception as exc:  # noqa: BLE001 - any redis/connection error
            self._count("redis_errors")
            if cached is not None:
                self._count("stale_served")
                log.warning("head store unreachable (%s); serving the cached head of a user",
                            exc)
                return cached[1], [REASON_HEAD_CACHE_STALE]
            log.warning("head store unreachable (%s) and no cached head", exc)
            return None, [REASON_HEAD_CACHE_STALE]
        self._count("misses" if raw[0] is None else "loads")
        head: Head | None = None
        version_s = raw[1].decode() if raw[1] is not None else ""
        if raw[0] is not None:
            try:
                head = Head.from_bytes(raw[0])
            except HeadError as exc:
                log.error("malformed head in Redis for a user: %s", exc)
                head = None
        self._remember(user_key, head, version_s)
        return head, []
