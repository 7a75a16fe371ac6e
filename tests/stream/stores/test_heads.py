"""Head store against a real redis-server: put/get, versions, invalidation, Redis down."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from cursorprint.model.nets.heads import Head, fit_head
from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.records.reasons import REASON_HEAD_CACHE_STALE
from cursorprint.stream.stores.heads import HeadStore
from cursorprint.stream.stores.keys import head_key
from tests.support.stack import PrivateRedis

pytestmark = pytest.mark.integration


@pytest.fixture()
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    r = PrivateRedis(tmp_path)
    r.start()
    yield r
    r.stop()


def _head(seed: int) -> Head:
    rng = np.random.default_rng(seed)
    return fit_head(rng.normal(0, 1, (40, 8)), rng.normal(1, 1, (40, 8)), seed=seed)


def test_put_get_version_and_metadata(private_redis: PrivateRedis) -> None:
    store = HeadStore(private_redis.url, ttl_s=60)
    assert store.get("u1") is None and store.counters["misses"] == 1
    head = _head(1)
    version = store.put("u1", head, {"trained_on": 40})
    assert version == head.version
    fresh = HeadStore(private_redis.url, ttl_s=60)
    got = fresh.get("u1")
    assert got is not None and got.version == version and np.array_equal(got.w, head.w)
    assert fresh.metadata("u1") == {"trained_on": 40}
    assert fresh.get("u1") is got and fresh.counters["hits"] == 1


def test_update_is_seen_after_ttl_by_version_check(private_redis: PrivateRedis) -> None:
    # TTL path only; the TTL is long enough that a loaded CI machine still sees the fresh hit
    reader = HeadStore(private_redis.url, ttl_s=3.0, listen=False)
    writer = HeadStore(private_redis.url, ttl_s=60, listen=False)
    writer.put("u2", _head(2))
    first = reader.get("u2")
    assert first is not None
    writer.put("u2", _head(3))
    assert reader.get("u2") is first            # still fresh in the reader's cache
    time.sleep(3.2)
    second = reader.get("u2")
    assert second is not None and second.version == _head(3).version
    reader.invalidate("u2")
    assert reader.counters["invalidations"] == 1


def _wait_for(cond: Callable[[], bool], what: str, deadline_s: float = 60.0) -> None:
    end = time.monotonic() + deadline_s
    while not cond():
        assert time.monotonic() < end, f"timed out after {deadline_s} s waiting for {what}"
        time.sleep(0.05)


def test_update_reaches_another_process_cache_before_the_ttl(
        private_redis: PrivateRedis) -> None:
    # The reader trusts its cache for an hour; only the pub/sub notice can refresh it.
    reader = HeadStore(private_redis.url, ttl_s=3600)
    writer = HeadStore(private_redis.url, ttl_s=3600, listen=False)
    try:
        assert reader.subscribed.wait(60), "listener did not subscribe"
        writer.put("u5", _head(5))
        _wait_for(lambda: (h := reader.get("u5")) is not None and h.version == _head(5).version,
                  "the first head")
        writer.put("u5", _head(6))
        _wait_for(lambda: (h := reader.get("u5")) is not None and h.version == _head(6).version,
                  "the updated head")
        assert reader.counters["invalidations"] >= 1
    finally:
        reader.close()


def test_missed_notice_is_caught_by_a_version_check_on_resubscribe(
        private_redis: PrivateRedis) -> None:
    reader = HeadStore(private_redis.url, ttl_s=3600)
    client = redis.Redis.from_url(private_redis.url)

    def write_without_notice(head: Head) -> None:     # as if the PUBLISH had been lost
        client.hset(head_key("u6"), mapping={"head": head.to_bytes(),
                                             "version": head.version})

    try:
        assert reader.subscribed.wait(60), "listener did not subscribe"
        write_without_notice(_head(7))
        first = reader.get("u6")
        assert first is not None and first.version == _head(7).version
        new = _head(8)
        write_without_notice(new)
        stale = reader.get("u6")                       # trusted: no notice, TTL an hour
        assert stale is not None and stale.version == _head(7).version
        # The listener's connection drops; on re-subscribing it expires the cache.
        client.client_kill_filter(_type="pubsub")
        _wait_for(lambda: (h := reader.get("u6")) is not None and h.version == new.version,
                  "the head updated while the notice was lost")
    finally:
        reader.close()


def test_lru_evicts_oldest(private_redis: PrivateRedis) -> None:
    store = HeadStore(private_redis.url, ttl_s=60, max_items=2)
    for i in range(3):
        store.put(f"u{i}", _head(i))
    assert list(store._cache) == ["u1", "u2"]


def test_redis_down_serves_cached_head_with_reason_and_counter(
        private_redis: PrivateRedis) -> None:
    events: list[str] = []
    store = HeadStore(private_redis.url, ttl_s=0.1, on_event=events.append)
    store.put("u3", _head(4))
    private_redis.stop()
    time.sleep(0.2)                               # cached entry is now past its TTL
    head, reasons = store.get_with_reasons("u3")
    assert head is not None and head.version == _head(4).version
    assert reasons == [REASON_HEAD_CACHE_STALE]
    assert store.counters["stale_served"] == 1 and "stale_served" in events
    assert store.counters["redis_errors"] == 1
    head, reasons = store.get_with_reasons("never-cached")
    assert head is None and reasons == [REASON_HEAD_CACHE_STALE]
    with pytest.raises(Unavailable, match="head store"):      # a write is never faked
        store.put("u3", _head(5))


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        HeadStore("redis://127.0.0.1:1/0", ttl_s=-1)
    with pytest.raises(ValueError, match="max_items"):
        HeadStore("redis://127.0.0.1:1/0", max_items=0)
