"""The one place a Redis client is made: every store connects through :func:`connect`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

__all__ = ["connect", "REDIS_UNAVAILABLE"]

# the reason of the Unavailable a store raises when Redis fails (metrics and logs count it)
REDIS_UNAVAILABLE = "redis_unavailable"


def connect(url: str, timeout_s: float | None = None) -> redis.Redis:
    """A synchronous ``redis.Redis`` for ``url``; ``timeout_s`` bounds connecting and every call
    (stores on the scoring path pass a short one so a hung Redis delays, never stops, scoring).

    Imported lazily: ``model/`` and the CLI's help never need the client library."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
