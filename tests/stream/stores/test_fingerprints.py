"""The fingerprint store's contract on the dict double and on real Redis (``integration``),
and the Redis store's TTL and privacy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cursorprint.stream.stores.fingerprints import RedisFingerprints
from cursorprint.stream.testing import MemoryFingerprints
from tests.stream.stores.contract import IMPLEMENTATIONS, redis_prefix

H1, H2, H3 = 0x1, 0xFFFF_FFFF_FFFF_FFFF, 0x0123_4567_89AB_CDEF     # 64-bit shingle hashes


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryFingerprints()
        return
    with redis_prefix(request) as (client, prefix):
        yield RedisFingerprints(client, ttl_s=600, prefix=prefix)


def test_sessions_are_found_by_shingle_in_the_order_asked(store: Any) -> None:
    assert store.sessions_with([H1, H2]) == [set(), set()]
    store.remember([H1, H2], "digest-a")
    store.remember([H2, H3], "digest-b")
    store.remember([], "digest-c")                                   # nothing to remember
    assert store.sessions_with([H3, H1, H2]) == [{"digest-b"}, {"digest-a"},
                                                 {"digest-a", "digest-b"}]
    assert store.sessions_with([]) == []


@pytest.mark.integration
def test_redis_keys_are_hashes_and_expire(request: pytest.FixtureRequest) -> None:
    with redis_prefix(request) as (client, prefix):
        store = RedisFingerprints(client, ttl_s=600, prefix=prefix)
        store.remember([H1, H3], "digest-a")
        keys = sorted(k.decode() for k in client.scan_iter(match=f"{prefix}*"))
        assert keys == [f"{prefix}{H1:016x}", f"{prefix}{H3:016x}"]
        assert all(0 < client.ttl(k) <= 600 for k in keys)
        assert client.smembers(keys[0]) == {b"digest-a"}


def test_the_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        RedisFingerprints(client=None, ttl_s=0)
