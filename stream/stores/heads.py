"""Per-user heads in Redis, with an in-process LRU cache that survives a Redis outage.

Redis layout (:mod:`.keys`): hash ``cursorprint:head:<user_key>`` with fields ``head``
(Head.to_bytes), ``version`` and ``meta`` (JSON). ``put`` writes the hash and publishes the user
key on ``cursorprint:heads``. :class:`HeadStore` is the Redis implementation of
:class:`~cursorprint.stream.stores.base.Heads`.

Invalidation, two layers: (1) every store listens on that channel (a daemon thread, Redis
pub/sub) and expires the cached copy of a published user key, so an updated head reaches every
process within one pub/sub round trip, not ``ttl_s`` (the copy is marked expired, not
dropped, so it can still be served while Redis is down); (2) pub/sub is fire-and-forget, so a
message sent while the listener was disconnected is lost: on every (re)subscription all cached
entries are marked expired, and an expired entry is re-checked against the version in Redis
(one small ``HGET``) before it is served again. A fetch that raced with an invalidation is
cached already expired, so it is re-checked next time.

When Redis is unreachable, a cached head is still served (even past its TTL) with a warning and
the reason code ``head_cache_stale``; ``counters`` (plain ints) and the optional ``on_event``
callback let the stream export this to Prometheus (model/ cannot import stream.metrics).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from cursorprint.model.nets.heads import Head, HeadError
from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.records.reasons import REASON_HEAD_CACHE_STALE
from cursorprint.stream.stores.client import REDIS_UNAVAILABLE, connect
from cursorprint.stream.stores.keys import HEADS_CHANNEL, head_key

__all__ = ["HeadStore"]

log = logging.getLogger(__name__)


class HeadStore:
    """Heads keyed by pseudonymous user key, cached in-process (LRU + TTL)."""

    def __init__(self, redis_url: str, ttl_s: float = 60, max_items: int = 1024,
                 on_event: Callable[[str], None] | None = None,
                 socket_timeout_s: float = 0.5, listen: bool = True) -> None:
        if ttl_s < 0:
            raise ValueError(f"HeadStore ttl_s must be >= 0, got {ttl_s}")
        if max_items < 1:
            raise ValueError(f"HeadStore max_items must be >= 1, got {max_items}")
        self.redis: Any = connect(redis_url, socket_timeout_s)
        self.ttl_s = ttl_s
        self.max_items = max_items
        self.on_event = on_event
        self._cache: OrderedDict[str, tuple[float, Head | None, str]] = OrderedDict()
        self._lock = threading.Lock()       # the cache is shared with the listener thread
        self._generation = 0                # bumped by every invalidation
        self.counters: dict[str, int] = {"hits": 0, "misses": 0, "loads": 0,
                                         "redis_errors": 0, "stale_served": 0,
                                         "invalidations": 0, "listener_errors": 0}
        self.subscribed = threading.Event()  # set while the listener is subscribed
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        if listen:
            self._listener = threading.Thread(target=self._listen, name="headstore-listener",
                                              daemon=True)
            self._listener.start()

    def close(self) -> None:
        """Stop the listener thread (the store keeps working on TTL and version checks)."""
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=10)

    def _listen(self) -> None:
        """Invalidate on pub/sub messages; reconnect with back-off while Redis is away."""
        delay = 0.2
        while not self._stop.is_set():
            pubsub = self.redis.pubsub()
            try:
                pubsub.subscribe(HEADS_CHANNEL)
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=0.2)
                    if msg is None:
                        continue
                    if msg["type"] == "subscribe":    # confirmed: from now on nothing is lost
                        self._expire_all()            # but messages may have been missed
                        self.subscribed.set()
                        delay = 0.2
                    elif msg["type"] == "message":
                        data = msg["data"]
                        self.invalidate(data.decode() if isinstance(data, bytes) else str(data))
            except Exception as exc:  # noqa: BLE001 - any redis/connection error
                self.subscribed.clear()
                self._count("listener_errors")
                log.debug("head store listener: %s; retrying in %.1f s", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self.subscribed.clear()
                try:
                    pubsub.close()
                except Exception:  # noqa: BLE001, S110 - closing a broken connection
                    pass

    def _expire_all(self) -> None:
        with self._lock:
            self._generation += 1
            for key, (_, head, version) in list(self._cache.items()):
                self._cache[key] = (float("-inf"), head, version)

    def _count(self, name: str) -> None:
        self.counters[name] += 1
        if self.on_event is not None:
            self.on_event(name)

    def _remember(self, user_key: str, head: Head | None, version: str,
                  generation: int | None = None) -> None:
        """Cache an entry; already expired if an invalidation came since ``generation``."""
        with self._lock:
            raced = generation is not None and generation != self._generation
            self._cache[user_key] = (float("-inf") if raced else time.monotonic(), head, version)
            self._cache.move_to_end(user_key)
            while len(self._cache) > self.max_items:
                self._cache.popitem(last=False)

    def put(self, user_key: str, head: Head, metadata: dict[str, object] | None = None) -> str:
        """Store ``head`` for ``user_key``; returns its version. Raises
        :class:`~cursorprint.stream.records.errors.Unavailable` when Redis fails (a write is
        never served from the cache)."""
        version = head.version or str(time.time_ns())
        key = head_key(user_key)
        try:
            pipe = self.redis.pipeline()
            pipe.hset(key, mapping={"head": head.to_bytes(), "version": version,
                                    "meta": json.dumps(metadata or {}, sort_keys=True)})
            pipe.publish(HEADS_CHANNEL, user_key)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001 - any client/connection error
            raise Unavailable(REDIS_UNAVAILABLE, f"head store: {exc}") from exc
        self._remember(user_key, head, version)
        return version

    def metadata(self, user_key: str) -> dict[str, object]:
        """What ``put`` stored with the user's head ({} when none; raises on Redis errors)."""
        raw = self.redis.hget(head_key(user_key), "meta")
        return dict(json.loads(raw)) if raw else {}

    def invalidate(self, user_key: str) -> None:
        """Mark the cached copy expired (the listener does on a pub/sub message).

        Expired, not dropped: the next ``get`` re-checks the version in Redis, and while Redis
        is down the copy can still be served as stale.
        """
        with self._lock:
            self._generation += 1
            cached = self._cache.get(user_key)
            if cached is not None:
                self._cache[user_key] = (float("-inf"), cached[1], cached[2])
        if cached is not None:
            self._count("invalidations")

    def get(self, user_key: str) -> Head | None:
        return self.get_with_reasons(user_key)[0]

    def get_with_reasons(self, user_key: str) -> tuple[Head | None, list[str]]:
        """The user's head (or None) and reason codes (``head_cache_stale`` when Redis is down)."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(user_key)
            generation = self._generation
            fresh = cached is not None and now - cached[0] < self.ttl_s
            if fresh:
                self._cache.move_to_end(user_key)
        if fresh and cached is not None:
            self._count("hits")
            return cached[1], []
        key = head_key(user_key)
        try:
            if cached is not None:
                version = self.redis.hget(key, "version")
                version_s = version.decode() if version is not None else ""
                if version_s == cached[2]:
                    self._remember(user_key, cached[1], cached[2], generation)
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
        self._remember(user_key, head, version_s, generation)
        return head, []
