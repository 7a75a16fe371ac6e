"""Run a store's contract on both of its implementations: the dict double of stream/testing.py
(in-process) and the Redis store on the ``stack`` fixture's real redis-server (marked
``integration``), so the double cannot drift from what it stands in for."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from cursorprint.stream.settings import Settings

IMPLEMENTATIONS = ["memory", pytest.param("redis", marks=pytest.mark.integration)]


@contextmanager
def redis_prefix(request: pytest.FixtureRequest) -> Iterator[tuple[Any, str]]:
    """A client of the stack's Redis and a key prefix no other test uses; the keys under it
    are deleted afterwards."""
    request.getfixturevalue("stack")
    settings: Settings = request.getfixturevalue("stack_settings")
    client = redis.Redis.from_url(settings.redis.url)
    prefix = f"cursorprint:test-{uuid.uuid4().hex[:8]}:"
    try:
        yield client, prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
