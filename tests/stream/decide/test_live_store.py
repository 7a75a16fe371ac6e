"""The live-score store's contract on the dict double and on real Redis (``integration``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from cursorprint.stream.stores.live_scores import (
    LABEL_FRAUD,
    LABEL_OWNER,
    LivePart,
    RedisLiveScores,
    session_digest,
    split_session_id,
)
from cursorprint.stream.testing import MemoryLiveScores
from tests.stream.decide.parts import part
from tests.stream.stores.contract import IMPLEMENTATIONS, redis_prefix

ME = "demo|" + "a" * 32
OTHER = "demo|" + "b" * 32


@pytest.fixture(params=IMPLEMENTATIONS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryLiveScores(max_parts=4)
        return
    with redis_prefix(request) as (client, prefix):
        url = client.connection_pool.connection_kwargs
        s = RedisLiveScores.from_url(f"redis://{url['host']}:{url['port']}/{url.get('db', 0)}",
                                     ttl_s=60, max_parts=4, prefix=prefix + "live:",
                                     labels_stream=prefix + "labels")
        yield s
        await s.close()


def test_ids() -> None:
    assert split_session_id("abcdefgh") == ("abcdefgh", 0)
    assert split_session_id("abcdefgh~3") == ("abcdefgh", 3)
    assert session_digest("abcdefgh~3") == session_digest("abcdefgh") != session_digest("x" * 8)
    assert "abcdefgh" not in session_digest("abcdefgh")
    p = part(0.25, segment=2, part="final", src=(1, 99))
    assert LivePart.from_json(p.to_json()) == p and p.id == "2:final" and p.closed


async def test_parts_round_trip_and_owner_is_the_first_writer(store: Any) -> None:
    assert not (await store.read("session-1")).known
    w = await store.record("session-1", ME, [part(0.1, part=0), part(0.2, part=1)])
    assert (w.written, w.owner_ok, w.label, w.n_forwarded) == (2, True, None, 0)
    w = await store.record("session-1~1", ME, [part(0.3, segment=1, part="final")])
    assert w.written == 1
    assert (await store.record("session-1", OTHER, [part(0.9, part=5)])).owner_ok is False
    st = await store.read("session-1")
    assert st.owner == ME and [p.id for p in st.parts] == ["0:0", "0:1", "1:final"]
    assert st.parts[0].score == 0.1


async def test_parts_are_bounded_but_updates_pass(store: Any) -> None:
    await store.record("session-2", ME, [part(0.1, part=i) for i in range(4)])
    w = await store.record("session-2", ME, [part(0.5, part=0), part(0.5, part=9)])
    assert w.written == 1
    st = await store.read("session-2")
    assert len(st.parts) == 4 and {p.score for p in st.parts if p.part == 0} == {0.5}


async def test_label_once_only_by_the_owner_and_claims_once(store: Any) -> None:
    await store.record("session-3", ME, [part(0.1, part="final")])
    st = await store.set_label("session-3", OTHER, LABEL_OWNER)
    assert st.owner == ME and st.label is None and not st.created_label
    st = await store.set_label("session-3", ME, LABEL_OWNER)
    assert st.label == LABEL_OWNER and st.created_label and [p.id for p in st.parts] == ["0:final"]
    st = await store.set_label("session-3", ME, LABEL_FRAUD)
    assert st.label == LABEL_OWNER and not st.created_label
    assert (await store.record("session-3", ME, [])).label == LABEL_OWNER
    assert await store.claim_forward("session-3", ["0:final", "1:final"], 1) == ["0:final"]
    assert await store.claim_forward("session-3", ["0:final", "1:final"], 5) == ["1:final"]
    await store.release_forward("session-3", ["1:final"])
    assert (await store.read("session-3")).forwarded == {"0:final"}
    assert await store.claim_forward("session-3", ["1:final"], 5) == ["1:final"]
    assert await store.claim_forward("never-seen", ["0:final"], 5) == []


async def test_a_label_on_an_unscored_session_claims_it(store: Any) -> None:
    st = await store.set_label("session-4", ME, LABEL_FRAUD)
    assert st.owner == ME and st.label == LABEL_FRAUD and st.parts == []
    assert (await store.record("session-4", OTHER, [part(0.1)])).owner_ok is False


async def test_labels_are_kept_in_order(store: Any) -> None:
    await store.append_label({"label": LABEL_OWNER, "n": "1"})
    await store.append_label({"label": LABEL_FRAUD, "n": "2"})
    assert [r["n"] for r in await store.labels()] == ["1", "2"]
