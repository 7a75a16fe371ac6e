"""A trusted session delivered twice (Kafka redelivery after a crash) enrolls once: the enroller's
logic on the stand-in model with the Redis enrolment store on the real redis-server."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from cursorprint.model.nets.heads import Head
from cursorprint.stream.enroll.enroller import MIN_WINDOWS, Enroller
from cursorprint.stream.stores import enrolments as enrolments_module
from cursorprint.stream.stores.enrolments import ADDED, FITTED, NEW, RedisEnrolments
from cursorprint.stream.testing import MemoryHeads, StandInModel
from tests.stream.enroll.test_enroller import session
from tests.stream.stores.contract import redis_prefix

pytestmark = pytest.mark.integration
OWNER = "ab" * 16


class CountingHeads(MemoryHeads):
    """Heads that count refits (every put is one)."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    def put(self, user_key: str, head: Head, metadata: dict[str, object] | None = None) -> str:
        self.puts += 1
        return super().put(user_key, head, metadata)


@pytest.fixture()
def redis_enroller(request: pytest.FixtureRequest) -> Iterator[tuple[Enroller, RedisEnrolments]]:
    with redis_prefix(request) as (client, prefix):
        store = RedisEnrolments(client, prefix=prefix + "rows:",
                                sessions_prefix=prefix + "sessions:")
        heads = CountingHeads()
        yield Enroller(StandInModel(heads), heads, store), store


def test_a_session_delivered_twice_counts_once_and_refits_once(
        redis_enroller: tuple[Enroller, RedisEnrolments]) -> None:
    e, store = redis_enroller
    heads = e.heads
    assert isinstance(heads, CountingHeads)
    assert e.add_trusted(OWNER, "page-a", session(300.0, 500)) == (None, 5)  # < MIN_WINDOWS
    assert e.add_trusted(OWNER, "page-a", session(300.0, 500)) is None     # redelivered
    assert len(store.windows(OWNER)) == 5 and heads.puts == 0
    version, n = e.add_trusted(OWNER, "page-b", session(310.0, 500)) or (None, 0)
    assert n == 10 >= MIN_WINDOWS and version is not None and heads.puts == 1
    assert e.add_trusted(OWNER, "page-b", session(310.0, 500)) is None
    assert len(store.windows(OWNER)) == 10 and heads.puts == 1
    # the same session id of another user is that user's own session
    assert e.add_trusted("cd" * 16, "page-b", session(310.0, 500)) == (None, 5)


def test_a_refit_cut_short_by_a_crash_is_done_when_the_session_comes_again(
        redis_enroller: tuple[Enroller, RedisEnrolments]) -> None:
    e, store = redis_enroller
    heads = e.heads
    assert isinstance(heads, CountingHeads)
    # first delivery: the windows were stored, then the process died before the refit
    rows = e._descriptors([session(300.0, 900)])
    assert store.add_session(OWNER, "page-a", rows, keep_last=512) == NEW
    assert heads.puts == 0
    model = e.model
    assert isinstance(model, StandInModel)
    e.negatives()                                  # embedded once per model, not per session
    embedded = list(model.embed_calls)
    version, n = e.add_trusted(OWNER, "page-a", session(300.0, 900)) or (None, 0)
    assert (n, heads.puts) == (9, 1) and version is not None     # refitted, not added again
    assert model.embed_calls == embedded     # its windows were stored: not embedded again
    assert store.add_session(OWNER, "page-a", rows, keep_last=512) == FITTED
    assert e.add_trusted(OWNER, "page-a", session(300.0, 900)) is None and heads.puts == 1


def test_a_session_enrolled_before_is_not_embedded_again(
        redis_enroller: tuple[Enroller, RedisEnrolments]) -> None:
    e, store = redis_enroller
    model = e.model
    assert isinstance(model, StandInModel)
    assert store.session_state(OWNER, "page-a") == NEW
    assert store.session_state(OWNER, "page-a") == NEW       # looking changes nothing
    assert e.add_trusted(OWNER, "page-a", session(300.0, 900)) is not None
    assert store.session_state(OWNER, "page-a") == FITTED
    embedded = list(model.embed_calls)
    assert e.add_trusted(OWNER, "page-a", session(300.0, 900)) is None
    assert model.embed_calls == embedded and len(store.windows(OWNER)) == 9


def test_the_store_keeps_digests_of_a_bounded_number_of_sessions(
        redis_enroller: tuple[Enroller, RedisEnrolments], monkeypatch: pytest.MonkeyPatch
        ) -> None:
    _, store = redis_enroller
    monkeypatch.setattr(enrolments_module, "MAX_SESSIONS", 3)
    one = np.array([[1.0]], dtype=np.float32)
    for i in range(5):
        assert store.add_session(OWNER, f"raw-session-id-{i}", one, keep_last=512) == NEW
    assert store.add_session(OWNER, "raw-session-id-4", one, keep_last=512) == ADDED
    states = store.sessions_prefix + OWNER
    fields = {f.decode() for f in store.redis.hkeys(states)}
    assert len(fields) == 3 == store.redis.llen(states + ":order")
    assert not any("raw-session-id" in f for f in fields)            # digests only
    # the oldest were forgotten: after MAX_SESSIONS newer ones, a session counts as new
    assert store.add_session(OWNER, "raw-session-id-0", one, keep_last=512) == NEW
    assert len(store.windows(OWNER)) == 6            # one row per new session


def test_the_sessions_prefix_may_not_sit_under_the_rows_prefix() -> None:
    with pytest.raises(ValueError, match="must not start with"):
        RedisEnrolments(object(), prefix="x:enroll:", sessions_prefix="x:enroll:done:")
