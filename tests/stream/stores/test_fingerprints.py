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
    assert store.exchange([H1, H2], "digest-a", common_max=4) == [set(), set()]
    assert store.exchange([H2, H3], "digest-b", common_max=4) == [{"digest-a"}, set()]
    assert store.exchange([], "digest-c", common_max=4) == []          # nothing to remember
    assert store.exchange([H3, H1, H2], "digest-d", common_max=4) == [
        {"digest-b"}, {"digest-a"}, {"digest-a", "digest-b"}]


def test_a_common_shingle_is_not_added_to(store: Any) -> None:
    for digest in ("a", "b"):
        store.exchange([H1], digest, common_max=2)
    assert store.exchange([H1, H2], "c", common_max=2) == [{"a", "b"}, set()]
    assert store.exchange([H1, H2], "d", common_max=2) == [{"a", "b"}, {"c"}]


@pytest.mark.integration
def test_redis_keys_are_hashes_and_expire(request: pytest.FixtureRequest) -> None:
    with redis_prefix(request) as (client, prefix):
        store = RedisFingerprints(client, ttl_s=600, prefix=prefix)
        store.exchange([H1, H3], "digest-a", common_max=4)
        keys = sorted(k.decode() for k in client.scan_iter(match=f"{prefix}*"))
        assert keys == [f"{prefix}{H1:016x}", f"{prefix}{H3:016x}"]
        assert all(0 < client.ttl(k) <= 600 for k in keys)
        assert client.smembers(keys[0]) == {b"digest-a"}


def test_the_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        RedisFingerprints(client=None, ttl_s=0)
