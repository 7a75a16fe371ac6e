"""The decision service in-process: aiohttp's test server around the real handlers, the dict
live store and a recording Kafka double (stream/testing.py doubles; no Redis, no broker)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cursorprint.stream.decide.service import REFUSALS, create_app
from cursorprint.stream.ingest.identity import user_key
from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.settings import Settings, load_settings
from cursorprint.stream.stores.live_scores import LABEL_FRAUD, LABEL_OWNER, owner_of
from cursorprint.stream.testing import MemoryLiveScores
from tests.stream.decide.parts import part

SHOP_KEY = "shop-api-key-0123456789"
BLOG_KEY = "blog-api-key-0123456789"
SITES = json.dumps({"shop": {"api_keys": [SHOP_KEY], "min_seconds": 3, "min_windows": 2},
                    "blog": {"api_keys": [BLOG_KEY]}})
SID = "page_session_0001"


@dataclass
class FakeKafka:
    """``sessions`` records by (partition, offset); what was sent to trusted-sessions."""

    records: dict[tuple[int, int], bytes] = field(default_factory=dict)
    sent: list[tuple[bytes, bytes]] = field(default_factory=list)
    down: bool = False

    async def fetch(self, partition: int, offset: int) -> bytes | None:
        if self.down:
            raise Unavailable("kafka_unavailable", "down")
        return self.records.get((partition, offset))

    async def send_trusted(self, key: bytes, value: bytes) -> None:
        if self.down:
            raise Unavailable("kafka_unavailable", "down")
        self.sent.append((key, value))


@dataclass
class Harness:
    client: TestClient
    store: MemoryLiveScores
    kafka: FakeKafka
    settings: Settings

    def key(self, user: str, site: str = "shop") -> str:
        return user_key(site, user, self.settings.ingest.pseudonym_secret)

    async def call(self, path: str, body: Any, api_key: str | None = SHOP_KEY,
                   headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
        h = {"Content-Type": "application/json"}
        if api_key:
            h["Authorization"] = f"Bearer {api_key}"
        h.update(headers or {})
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.client.post(path, data=data, headers=h) as resp:
            return resp.status, await resp.json(content_type=None), resp.headers

    async def scored(self, user: str = "alice", sid: str = SID, *parts: Any) -> None:
        await self.store.record(sid, owner_of("shop", self.key(user)),
                                list(parts) or [part(0.1, part=0), part(0.2, part=1)])


@pytest.fixture()
async def h() -> AsyncIterator[Harness]:
    settings = load_settings(environ={"CURSORPRINT_DECIDE_SITES": SITES,
                                      "CURSORPRINT_DECIDE_EXPLAIN_URL":
                                      "https://scorer.example/v1/explain/{sid}",
                                      "CURSORPRINT_TRUSTED_MIN_SECONDS": "5"})
    store, kafka = MemoryLiveScores(), FakeKafka()
    app = create_app(settings, store=store, io=kafka, clock=lambda: 1700000000.0)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Harness(client, store, kafka, settings)
    finally:
        await client.close()


async def test_decision_from_live_scores(h: Harness) -> None:
    await h.scored()
    status, body, headers = await h.call("/v1/decisions", {"sid": SID, "user": "alice"})
    assert status == 200, body
    assert body == {"decision": "allow", "score": pytest.approx(0.15, abs=0.01), "reasons": [],
                    "seconds_of_movement": 8.0, "windows_scored": 4, "model_version": "m1",
                    "head_version": "h1", "evaluated_at": 1700000000000.0,
                    "explanation_url": f"https://scorer.example/v1/explain/{SID}"}
    assert "Access-Control-Allow-Origin" not in headers


async def test_unknown_session_is_not_enough_data(h: Harness) -> None:
    status, body, _ = await h.call("/v1/decisions", {"sid": "never_seen_01", "user": "alice"})
    assert status == 200
    assert (body["decision"], body["score"], body["reasons"], body["explanation_url"]) == (
        "not_enough_data", None, ["session_unknown"], None)


async def test_session_of_another_user_or_site_is_403(h: Harness) -> None:
    await h.scored()
    status, body, _ = await h.call("/v1/decisions", {"sid": SID, "user": "mallory"})
    assert (status, body["error"]) == (403, "session_of_another_user")
    status, body, _ = await h.call("/v1/decisions", {"sid": SID, "user": "alice"},
                                   api_key=BLOG_KEY)
    assert (status, body["error"]) == (403, "session_of_another_site")
    status, body, _ = await h.call("/v1/feedback", {"sid": SID, "user": "mallory",
                                                    "label": LABEL_OWNER})
    assert (status, body["error"]) == (403, "session_of_another_user")


@pytest.mark.parametrize(("body", "status", "reason"), [
    (b"{not json", 400, "malformed_json"), (b"\xff\xfe", 400, "bad_encoding"),
    ([1, 2], 400, "malformed_json"),
    ({"sid": SID}, 422, "missing_field"),
    ({"sid": "short", "user": "alice"}, 422, "bad_field"),
    ({"sid": "has~tilde_123", "user": "alice"}, 422, "bad_field"),
    ({"sid": SID, "user": ""}, 422, "bad_field"),
    ({"sid": SID, "user": 42}, 422, "bad_field"),
    ({"sid": SID, "user": "u" * 257}, 422, "bad_field"),
    ({"sid": SID, "user": "alice", "site": "shop"}, 422, "unknown_field"),
    (b"{" + b" " * 5000 + b"}", 413, "body_too_large")])
async def test_malformed_requests_get_a_4xx_with_a_reason(h: Harness, body: Any, status: int,
                                                          reason: str) -> None:
    got, answer, _ = await h.call("/v1/decisions", body)
    assert (got, answer["error"]) == (status, reason) and answer["detail"]


async def test_credentials(h: Harness) -> None:
    body = {"sid": SID, "user": "alice"}
    status, answer, headers = await h.call("/v1/decisions", body, api_key=None)
    assert (status, answer["error"]) == (401, "api_key_missing")
    assert headers["WWW-Authenticate"].startswith("Bearer")
    status, answer, _ = await h.call("/v1/decisions", body, api_key="wrong-key-0123456789")
    assert (status, answer["error"]) == (401, "api_key_invalid")
    # a browser, even one holding a valid key, is refused: Origin or Sec-Fetch-* headers
    for browser in ({"Origin": "https://shop.example"}, {"Sec-Fetch-Mode": "cors"}):
        status, answer, _ = await h.call("/v1/decisions", body, headers=browser)
        assert (status, answer["error"]) == (403, "browser_not_allowed")
    status, answer, _ = await h.call("/v1/decisions", body,
                                     headers={"Content-Type": "text/plain"})
    assert (status, answer["error"]) == (415, "unsupported_media_type")
    async with h.client.get("/v1/decisions") as resp:
        assert resp.status == 405 and (await resp.json())["error"] == "method_not_allowed"


async def test_redis_down_is_503_never_a_stale_allow(h: Harness) -> None:
    await h.scored()
    h.store.down = True
    for path, body in (("/v1/decisions", {"sid": SID, "user": "alice"}),
                       ("/v1/feedback", {"sid": SID, "user": "alice", "label": LABEL_OWNER})):
        status, answer, headers = await h.call(path, body)
        assert (status, answer["error"]) == (503, "redis_unavailable")
        assert headers["Retry-After"]
    async with h.client.get("/readyz") as resp:
        assert resp.status == 503
    h.store.down = False
    async with h.client.get("/readyz") as resp:
        assert resp.status == 200


async def test_owner_confirmed_forwards_closed_parts_once(h: Harness) -> None:
    alice = h.key("alice")
    final = {"session_id": SID, "part": "final", "user": alice, "t": [0, 1]}
    h.kafka.records[(1, 40)] = json.dumps(final).encode()
    h.kafka.records[(1, 41)] = json.dumps({**final, "session_id": SID + "~1"}).encode()
    await h.scored("alice", SID, part(0.1, part=0, src=(1, 30)),
                   part(0.1, part="final", seconds=9.0, src=(1, 40)),
                   part(0.1, segment=1, part="final", seconds=2.0, src=(1, 41)))
    body = {"sid": SID, "user": "alice", "label": LABEL_OWNER}
    status, answer, _ = await h.call("/v1/feedback", body)
    assert status == 202, answer
    assert answer == {"sid": SID, "label": LABEL_OWNER, "already": False, "forwarded": 1,
                      "pending": False}
    # only the closed part with enough movement (the window and the 2 s part are not sent)
    assert h.kafka.sent == [(alice.encode(), h.kafka.records[(1, 40)])]
    status, answer, _ = await h.call("/v1/feedback", body)            # idempotent
    assert (status, answer["already"], answer["forwarded"]) == (202, True, 0)
    assert len(h.kafka.sent) == 1
    status, answer, _ = await h.call("/v1/feedback", {**body, "label": LABEL_FRAUD})
    assert (status, answer["error"]) == (409, "label_conflict")
    (label,) = await h.store.labels()
    assert label["label"] == LABEL_OWNER and label["user"] == alice
    assert label["decision"] == "allow" and "alice" not in json.dumps(label)
    assert SID not in json.dumps(label)


async def test_kafka_down_on_feedback_is_503_and_a_retry_forwards(h: Harness) -> None:
    alice = h.key("alice")
    h.kafka.records[(0, 5)] = json.dumps({"session_id": SID, "part": "final",
                                          "user": alice}).encode()
    await h.scored("alice", SID, part(0.1, part="final", seconds=9.0, src=(0, 5)))
    h.kafka.down = True
    body = {"sid": SID, "user": "alice", "label": LABEL_OWNER}
    status, answer, _ = await h.call("/v1/feedback", body)
    assert (status, answer["error"]) == (503, "kafka_unavailable")
    h.kafka.down = False
    status, answer, _ = await h.call("/v1/feedback", body)
    assert (status, answer["already"], answer["forwarded"]) == (202, True, 1)


async def test_feedback_before_any_score_is_pending_and_fraud_is_kept(h: Harness) -> None:
    status, answer, _ = await h.call("/v1/feedback", {"sid": "open_session_1", "user": "bob",
                                                      "label": LABEL_OWNER})
    assert (status, answer["pending"], answer["forwarded"]) == (202, True, 0)
    await h.scored("eve", "stolen_session1")
    status, answer, _ = await h.call("/v1/feedback", {"sid": "stolen_session1", "user": "eve",
                                                      "label": LABEL_FRAUD})
    assert (status, answer["label"], answer["pending"]) == (202, LABEL_FRAUD, False)
    status, answer, _ = await h.call("/v1/decisions", {"sid": "stolen_session1",
                                                       "user": "eve"})
    assert (answer["decision"], answer["reasons"][0]) == ("deny", "fraud_confirmed")
    assert [r["label"] for r in await h.store.labels()] == [LABEL_OWNER, LABEL_FRAUD]
    assert h.kafka.sent == []


def test_openapi_lists_every_refusal() -> None:
    """openapi/decisions.yaml documents every (status, reason) the service can answer."""
    from pathlib import Path

    import yaml

    spec = yaml.safe_load((Path(__file__).resolve().parents[3] / "openapi" /
                           "decisions.yaml").read_text())
    documented: dict[str, set[int]] = {}
    for path in ("/v1/decisions", "/v1/feedback"):
        for status, resp in spec["paths"][path]["post"]["responses"].items():
            if "$ref" in resp:
                resp = spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
            text = json.dumps(resp)
            for reason in REFUSALS:
                if f"`{reason}`" in text:
                    documented.setdefault(reason, set()).add(int(status))
    for reason, status in REFUSALS.items():
        assert status in documented.get(reason, set()), f"{reason} ({status}) not documented"
