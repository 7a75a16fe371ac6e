"""Hypothesis fuzz of the ingest API on the real broker.

Property: whatever arrives (mutated batches, random JSON, random bytes, odd content types and
origins), the answer is never a 5xx and never a hang, and every rejection is a 4xx with a JSON
``error`` reason. CI runs ~300 requests; ``bench/ingest_fuzz.py`` runs 10,000+
(``INGEST_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.ingest.identity import mint_token
from cursorprint.stream.settings import Settings
from tests.support.ingest_server import running_ingest

pytestmark = pytest.mark.integration
EXAMPLES = int(os.environ.get("INGEST_FUZZ_EXAMPLES", "300"))
SECRET = "demo-secret-for-fuzzing-0123456789abcdef"
SITES = f"demo={SECRET}=https://demo.example"
OUTCOMES: Counter[int] = Counter()


class ThreadedIngest:
    """The ingest app and an HTTP client on an event loop in a background thread, so a plain
    (synchronous) hypothesis test can send requests."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._cm = running_ingest(settings, sites=SITES, ingest_client_rate=1e6,
                                  ingest_client_burst=1e6, ingest_site_rate=1e6,
                                  ingest_site_burst=1e6, ingest_body_timeout_s=5.0)
        self.base = self._run(self._cm.__aenter__())
        self.http = self._run(self._session())

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        async def go() -> tuple[int, bytes]:
            async with self.http.post(f"{self.base}/v1/batches", data=body,
                                      headers=headers) as resp:
                return resp.status, await resp.read()
        return self._run(go())  # type: ignore[no-any-return]

    def close(self) -> None:
        self._run(self.http.close())
        self._run(self._cm.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def ingest(stack: Stack, stack_settings: Settings) -> Iterator[ThreadedIngest]:
    server = ThreadedIngest(stack_settings)
    yield server
    server.close()


def _valid() -> dict[str, Any]:
    return {"v": 1, "site": "demo", "token": mint_token("demo", "fuzz", SECRET, 3600),
            "sid": "fuzz_session_01", "seq": 0, "path": "/p", "vp": [800, 600],
            "scr": [1920, 1080], "dpr": 1, "t0": time.time() * 1000, "final": False,
            "ev": {"dt": [0, 8], "x": [1, 2], "y": [3, 4], "k": [0, 1], "b": [0, 1]}}


# any size of integer, and text with every character (lone surrogates and controls included)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**400, 10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=()), max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=20)
FIELDS = list(_valid()) + ["extra"]
EV_COLS = ["dt", "x", "y", "k", "b"]


@st.composite
def mutated_batch(draw: st.DrawFn) -> bytes:
    b = _valid()
    for _ in range(draw(st.integers(1, 3))):
        what = draw(st.sampled_from(["set", "drop", "ev_set", "ev_col", "ev_len"]))
        if what == "set":
            b[draw(st.sampled_from(FIELDS))] = draw(json_values)
        elif what == "drop":
            b.pop(draw(st.sampled_from(FIELDS)), None)
        elif isinstance(b.get("ev"), dict) and what == "ev_set":
            b["ev"][draw(st.sampled_from(EV_COLS))] = draw(json_values)
        elif isinstance(b.get("ev"), dict) and what == "ev_col":
            col = draw(st.sampled_from(EV_COLS))
            b["ev"][col] = draw(st.lists(json_values | st.floats(), min_size=2, max_size=2))
        elif isinstance(b.get("ev"), dict):
            n = draw(st.integers(0, 6000))
            b["ev"] = {c: [draw(st.integers(0, 3))] * n for c in EV_COLS}
    return json.dumps(b).encode()


@st.composite
def huge_literal(draw: st.DrawFn) -> bytes:
    """A valid batch with one number written as a literal no double or int64 holds (up to
    6,000 digits: past Python's own 4,300-digit conversion limit)."""
    field = draw(st.sampled_from(["seq", "dpr", "t0", "x", "k"]))
    digits = "9" * draw(st.integers(17, 6000))
    literal = draw(st.sampled_from([digits, "-" + digits, f"1e{digits[:4]}", f"{digits}.5"]))
    b = _valid()
    if field in EV_COLS:
        b["ev"][field][0] = "@@"
    else:
        b[field] = "@@"
    return json.dumps(b).replace('"@@"', literal).encode()


bodies = (mutated_batch() | huge_literal() | json_values.map(lambda v: json.dumps(v).encode())
          | st.binary(max_size=300) | st.just(json.dumps(_valid()).encode()))
content_types = st.sampled_from(["text/plain;charset=UTF-8", "application/json", "text/plain",
                                 "application/octet-stream", "multipart/form-data", ""])
origins = st.sampled_from(["https://demo.example", "https://evil.example", "null", ""])


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(body=bodies, content_type=content_types, origin=origins)
def test_never_a_5xx_and_every_rejection_explains_itself(ingest: ThreadedIngest, body: bytes,
                                                         content_type: str, origin: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    if origin:
        headers["Origin"] = origin
    status, raw = ingest.post(body, headers)
    OUTCOMES[status] += 1
    assert status < 500, raw
    answer = json.loads(raw)
    if status == 202:
        assert answer["ok"] is True
    else:
        assert 400 <= status < 500
        assert isinstance(answer["error"], str) and answer["error"]
        assert isinstance(answer["detail"], str)


def test_fuzz_reached_both_acceptance_and_rejection(ingest: ThreadedIngest) -> None:
    """The generator is not degenerate: it produced accepted and several kinds of refused."""
    if not OUTCOMES:   # run on its own: generate the requests first
        test_never_a_5xx_and_every_rejection_explains_itself(ingest=ingest)
    assert OUTCOMES[202] > 0, OUTCOMES
    assert len([s for s in OUTCOMES if 400 <= s < 500]) >= 3, OUTCOMES
