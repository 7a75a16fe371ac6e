"""The enrolment store's contract on the dict double and on real Redis (``integration``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from cursorprint.stream.stores.enrolments import RedisEnrolments
from cursorprint.stream.testing import MemoryEnrolments
from tests.stream.stores.contract import IMPLEMENTATIONS, redis_prefix


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryEnrolments()
        return
    with redis_prefix(request) as (client, prefix):
        yield RedisEnrolments(client, prefix=prefix)


def rows(*values: float, dim: int = 3) -> np.ndarray:
    return np.array([[v] * dim for v in values], dtype=np.float32)


def test_rows_come_back_in_order_bit_for_bit(store: Any) -> None:
    added = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    store.add("u1", added, keep_last=100)
    store.add("u1", rows(), keep_last=100)                     # nothing to add: no change
    got = store.windows("u1")
    assert len(got) == 5 and all(g.dtype == np.float32 for g in got)
    np.testing.assert_array_equal(np.vstack(got), added)
    assert store.windows("nobody") == []


def test_only_the_newest_rows_are_kept(store: Any) -> None:
    store.add("u1", rows(1, 2, 3), keep_last=4)
    store.add("u1", rows(4, 5, 6), keep_last=4)
    assert [r[0] for r in store.windows("u1")] == [3, 4, 5, 6]


def test_other_users_leave_out_the_user_and_stop_at_the_limit(store: Any) -> None:
    store.add("me", rows(0), keep_last=10)
    store.add("you", rows(1, 1, 1), keep_last=10)
    store.add("them", rows(2, 2, 2), keep_last=10)
    other = store.other_users("me", per_user=2, limit=100)
    assert sorted(r[0] for r in other) == [1, 1, 2, 2]
    assert len(store.other_users("me", per_user=2, limit=1)) == 2      # stops after one user
    assert sorted(r[0] for r in store.other_users("nobody", per_user=1, limit=100)) == [0, 1, 2]


def test_rows_of_another_size_are_returned_for_the_caller_to_filter(store: Any) -> None:
    store.add("u1", rows(1, dim=3), keep_last=10)
    store.add("u1", rows(2, dim=5), keep_last=10)
    assert [len(r) for r in store.windows("u1")] == [3, 5]
