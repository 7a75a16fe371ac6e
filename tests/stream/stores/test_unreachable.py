"""Every Redis store says "unavailable" the same way when nothing listens (no server needed):
:class:`Unavailable` with the client's error as its cause, so callers catch one error type."""

from __future__ import annotations

import pytest

from cursorprint.model.nets.heads import Head
from cursorprint.stream.devtools.stack import free_port
from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.stores.client import connect
from cursorprint.stream.stores.enrolments import RedisEnrolments
from cursorprint.stream.stores.fingerprints import RedisFingerprints
from cursorprint.stream.stores.heads import HeadStore
from cursorprint.stream.testing import stand_in_head


@pytest.fixture(scope="module")
def nowhere() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"      # connection refused at once


def test_fingerprints(nowhere: str) -> None:
    store = RedisFingerprints.from_url(nowhere)
    with pytest.raises(Unavailable) as caught:
        store.exchange([1, 2], "digest", common_max=4)
    assert type(caught.value.__cause__).__name__ == "ConnectionError"


def test_enrolments(nowhere: str) -> None:
    import numpy as np

    store = RedisEnrolments(connect(nowhere, 1.0))
    for call in (lambda: store.add("u", np.zeros((1, 2), np.float32), keep_last=5),
                 lambda: store.windows("u"), lambda: store.other_users("u", 1, 1)):
        with pytest.raises(Unavailable, match="enrolments"):
            call()


def test_head_store_writes(nowhere: str) -> None:
    store = HeadStore(nowhere, listen=False)
    head: Head = stand_in_head()
    with pytest.raises(Unavailable, match="head store"):
        store.put("u", head)
