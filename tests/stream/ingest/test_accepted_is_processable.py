"""Property: anything ingest accepts, every stage downstream decodes and processes.

Hypothesis generates wire batches full of hostile values (lone surrogates, control and
bidirectional characters, query strings, e-mails and long ids in the path, huge and tiny numbers,
empty columns, every kind and button code) and posts each to the real ingest on the real broker
of the ``stack`` fixture. Whatever comes back is a 202 or a 4xx with a reason, never a 5xx. Each
accepted batch is then read back from ``pointer-batches`` and must:

* be strict UTF-8 JSON that the sessionizer's decoder (``PointerBatchRecord.from_bytes``) takes;
* carry a path that is printable ASCII without a query, fragment or e-mail;
* go through the pure sessionizer (open, then close) with state writes that a strict UTF-8 JSON
  changelog can hold;
* give ``sessions`` records that round-trip (``to_bytes``/``from_bytes``) and become the
  trajectory the scorer reads.

The examples are drawn first (no network inside hypothesis), then posted concurrently, so the
test stays well under a minute.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
import uuid
from collections import Counter
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.ingest.identity import mint_token
from cursorprint.stream.records.events import BUTTON_KINDS, BUTTONS, KINDS
from cursorprint.stream.records.page_path import PATH_RE
from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.records.topics import POINTER_BATCHES
from cursorprint.stream.records.wire import PointerBatchRecord
from cursorprint.stream.sessionize.logic import Sessionizer, SessionizerConfig
from cursorprint.stream.settings import Settings
from tests.support.ingest_server import running_ingest
from tests.support.procs import read_to_end

pytestmark = pytest.mark.integration
EXAMPLES = int(os.environ.get("ACCEPTED_PROCESSABLE_EXAMPLES", "200"))
SECRET = "processable-secret-0123456789abcdef"
ORIGIN = "https://processable.example"
SITES = f"proc={SECRET}={ORIGIN}"
NOW_MS = time.time() * 1000.0

# every character, lone surrogates (category Cs) and controls included
ANY_CHAR = st.characters(exclude_categories=())
HOSTILE_SEGMENTS = ["a", "12345", "alice@example.com", "%40", "%2F", "%zz", "?q=1", "#frag",
                    ";jsessionid=ABCDEF0123456789XYZ", "..", "\u202e", "\ud83d", "\udc00",
                    "\x00", "\n", " ", "caf\u00e9", "\U0001F600", "550e8400-e29b-41d4",
                    "eyJhbGciOiJIUzI1NiJ9"]
paths = st.one_of(
    st.text(ANY_CHAR, max_size=40).map(lambda s: "/" + s),
    st.lists(st.sampled_from(HOSTILE_SEGMENTS), max_size=12).map(lambda p: "/" + "/".join(p)),
)
huge_int = st.integers(min_value=2**53 - 2, max_value=10**400)
tiny = st.sampled_from([0.0, -0.0, 5e-324, 1e-300, 2.2250738585072014e-308])


def finite(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.one_of(st.floats(lo, hi, allow_nan=False),
                     st.integers(math.ceil(lo), math.floor(hi)),
                     tiny.filter(lambda v: lo <= v <= hi) if lo <= 0 else st.just(hi))


HOSTILE_NUMBER = st.one_of(huge_int, st.floats(), st.just(1e300))


@st.composite
def sometimes(draw: st.DrawFn, valid: st.SearchStrategy[Any],
              hostile: st.SearchStrategy[Any] = HOSTILE_NUMBER) -> Any:
    """Mostly ``valid`` (so most batches are accepted), one time in twelve ``hostile``."""
    # not 0 or 11: hypothesis favours the ends of a range
    return draw(hostile if draw(st.integers(0, 11)) == 7 else valid)


PATHS = sometimes(paths, st.sampled_from(["relative", "", "/" + "x" * 2100, "/%" * 700,
                                          "/\ud800"]))


@st.composite
def events(draw: st.DrawFn, final: bool) -> dict[str, list[Any]]:
    n = draw(st.integers(0 if final else 1, 40))
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS.values())), min_size=n, max_size=n))
    buttons = [draw(st.sampled_from([b for b in BUTTONS.values() if b or k not in BUTTON_KINDS]))
               for k in kinds]
    col = st.lists(finite(-1e5, 1e5), min_size=n, max_size=n)
    ev = {"dt": draw(st.lists(finite(0, 500), min_size=n, max_size=n)), "x": draw(col),
          "y": draw(col), "k": kinds, "b": buttons}
    if n and draw(st.integers(0, 9)) == 7:     # one batch in ten: a hostile number in a column
        name = draw(st.sampled_from(["dt", "x", "y"]))
        ev[name][draw(st.integers(0, n - 1))] = draw(HOSTILE_NUMBER)
    return ev


@st.composite
def sampling(draw: st.DrawFn) -> dict[str, Any]:
    c = draw(st.integers(0, 2**31 - 1))
    g = draw(st.integers(0, c))
    return {"src": draw(st.sampled_from(["raw", "move", "mouse", "pointermove"])),
            "n": draw(sometimes(st.integers(0, c), st.integers(c + 1, 2**32))), "c": c, "g": g,
            "gms": draw(sometimes(finite(0, min(100.0 * g, 3_600_000.0))))}


@st.composite
def optional_fields(draw: st.DrawFn) -> dict[str, Any]:
    """The optional pt and smp: absent, valid or not."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["pt"] = draw(sometimes(st.sampled_from(["mouse", "pen", "touch"]),
                                   st.sampled_from(["", "finger", None, 0])))
    if draw(st.booleans()):
        out["smp"] = draw(sampling())
    return out


@st.composite
def wire_batches(draw: st.DrawFn) -> dict[str, Any]:
    final = draw(st.booleans())
    return {**draw(optional_fields()),
        "v": 1, "site": "proc", "token": "", "sid": "", "final": final,
        "seq": draw(sometimes(st.integers(0, 2**31 - 1), huge_int)),
        "path": draw(PATHS),
        "vp": [draw(st.integers(1, 100_000)), draw(st.integers(1, 100_000))],
        "scr": [draw(st.integers(1, 100_000)), draw(st.integers(1, 100_000))],
        "dpr": draw(sometimes(finite(0.05, 16))),
        "t0": draw(sometimes(st.floats(NOW_MS - 86_400_000, NOW_MS))),
        "ev": draw(events(final)),
    }


def draw_examples(n: int, derandomize: bool = False) -> list[dict[str, Any]]:
    """``n`` generated wire batches; ``derandomize`` draws the same ones on every run."""
    drawn: list[dict[str, Any]] = []

    @settings(max_examples=n, database=None, deadline=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck))
    @given(wire_batches())
    def collect(batch: dict[str, Any]) -> None:
        drawn.append(batch)

    collect()
    return drawn


def _strict_utf8_json(writes: dict[str, Any]) -> None:
    """What a changelog holds: JSON text that must encode as UTF-8 (no surrogates). A stored
    batch is that text already (bytes); other values are encoded on the way."""
    for value in writes.values():
        if isinstance(value, bytes):
            json.loads(value.decode("utf-8"))
        else:
            json.dumps(value, ensure_ascii=False).encode("utf-8")


def check_downstream(raw: bytes) -> None:
    raw.decode("utf-8")                                 # strict: no lone surrogates
    rec = PointerBatchRecord.from_bytes(raw)
    assert PATH_RE.match(rec.path) and rec.path.isascii() and rec.path.isprintable()
    assert "?" not in rec.path and "#" not in rec.path and "@" not in rec.path
    sz = Sessionizer({}, SessionizerConfig())
    opened = sz.on_batch(rec, 0, rec.recv)
    _strict_utf8_json(opened.writes)
    store = {k: v for k, v in opened.writes.items() if v is not None}
    closed = Sessionizer(store, SessionizerConfig()).on_tick(0, rec.recv + 1e9)
    _strict_utf8_json(closed.writes)
    records = opened.records + closed.records
    assert records and records[-1].part == "final"
    for srec in records:
        out = srec.to_bytes()
        out.decode("utf-8")
        back = SessionRecord.from_bytes(out)
        assert back.to_bytes() == out
        assert len(back.to_trajectory()) == rec.n_events


async def test_anything_ingest_accepts_every_stage_processes(stack: Stack,
                                                             stack_settings: Settings) -> None:
    examples = draw_examples(EXAMPLES)
    token = mint_token("proc", "prop-user", SECRET, ttl_s=3600)
    run = uuid.uuid4().hex[:8]
    for i, batch in enumerate(examples):
        batch["token"], batch["sid"] = token, f"prop{run}{i:06d}"
    answers: dict[str, tuple[int, dict[str, Any]]] = {}
    gate = asyncio.Semaphore(16)

    async def post(http: aiohttp.ClientSession, base: str, batch: dict[str, Any]) -> None:
        async with gate, http.post(f"{base}/v1/batches", data=json.dumps(batch).encode(),
                                   headers={"Content-Type": "text/plain", "Origin": ORIGIN}
                                   ) as resp:
            answers[batch["sid"]] = (resp.status, await resp.json(content_type=None))

    async with running_ingest(stack_settings, sites=SITES, ingest_client_rate=1e6,
                              ingest_client_burst=1e6, ingest_site_rate=1e6,
                              ingest_site_burst=1e6) as base, aiohttp.ClientSession() as http:
        await asyncio.gather(*(post(http, base, b) for b in examples))

    by_sid = {b["sid"]: b for b in examples}
    for sid, (status, body) in answers.items():
        assert status == 202 or (400 <= status < 500 and body.get("error")), \
            (status, body, by_sid[sid])
    accepted = {sid for sid, (status, _) in answers.items() if status == 202}
    refused = Counter(body["error"] for status, body in answers.values() if status != 202)
    assert len(accepted) >= len(examples) // 3, f"only {len(accepted)} accepted; {refused}"

    messages = await asyncio.to_thread(read_to_end, stack_settings.kafka.bootstrap,
                                       [POINTER_BATCHES])
    values = {m.key.decode(): m.value for m in messages if m.key and m.key.decode() in accepted}
    assert set(values) == accepted
    for sid, raw in values.items():
        try:
            check_downstream(raw)
        except Exception as exc:
            raise AssertionError(f"accepted batch not processable: {exc!r}\n"
                                 f"posted: {ascii(by_sid[sid])[:2000]}") from exc
