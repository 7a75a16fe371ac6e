"""Privacy on the real components: raw user ids never leave ingest, and nothing is kept forever.

Real traffic goes through the real ingest service onto the real broker of the ``stack`` fixture;
what the scorer keeps in Redis about sessions (replay fingerprints, head look-ups) is written from
those very records. Then EVERY message of EVERY project topic (stream/records/topics.py) and EVERY Redis
key and value is scanned for the raw user ids, the tokens and the tokens' payloads: none may
appear. Every topic must carry an explicit retention.ms.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import redis
import requests

from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.ingest.identity import mint_token, user_key
from cursorprint.stream.records.topics import ALL_TOPICS, POINTER_BATCHES
from cursorprint.stream.records.wire import PointerBatchRecord
from cursorprint.stream.score.replayed import ReplayDetector
from cursorprint.stream.settings import Settings
from cursorprint.stream.stores.fingerprints import RedisFingerprints
from cursorprint.stream.stores.heads import HeadStore
from tests.support.ingest_server import running_ingest
from tests.support.procs import read_to_end

pytestmark = pytest.mark.integration

SECRET = "privacy-site-secret-0123456789abcdef"
SITES = f"privacy={SECRET}=https://privacy.example"
ORIGIN = "https://privacy.example"


def _batch(token: str, sid: str, seq: int, user_no: int, raw_id: str) -> dict[str, Any]:
    """A batch whose page path carries the raw user id and the token (a site that puts them in
    its URLs): ingest must strip or redact both before anything reaches a topic."""
    n = 120
    return {"v": 1, "site": "privacy", "token": token, "sid": sid, "seq": seq,
            "path": f"/account/{raw_id}/{token}/settings?token={token}#{raw_id}", "vp": [1280, 720], "scr": [1920, 1080], "dpr": 1,
            "t0": time.time() * 1000.0 - 2000, "final": seq == 2,
            "ev": {"dt": [8 + (i * (user_no + 3)) % 5 for i in range(n)],
                   "x": [100 + (i * i * (user_no + 1)) % 900 for i in range(n)],
                   "y": [80 + (i * 7 * (seq + 2)) % 500 for i in range(n)],
                   "k": [0] * n, "b": [0] * n}}


def _all_topic_messages(bootstrap: str) -> list[bytes]:
    """Every key, value and header of every project topic, from the first offset to the end."""
    blobs: list[bytes] = []
    for r in read_to_end(bootstrap, ALL_TOPICS):
        blobs += [r.key or b"", r.value or b""]
        blobs += [k.encode() + v for k, v in (r.headers or [])]
    return blobs


def _all_redis_data(url: str) -> list[bytes]:
    """Every key and every value (whatever its type) of every Redis database in use."""
    out: list[bytes] = []
    dbs = [int(name[2:]) for name in redis.Redis.from_url(url).info("keyspace")]
    for db in dbs or [0]:
        r = redis.Redis.from_url(url, db=db)
        for key in r.scan_iter(count=1000):
            out.append(key)
            kind = r.type(key).decode()
            if kind == "string":
                out.append(r.get(key) or b"")
            elif kind == "hash":
                out += [k + b"=" + v for k, v in r.hgetall(key).items()]
            elif kind == "set":
                out += list(r.smembers(key))
            elif kind == "list":
                out += list(r.lrange(key, 0, -1))
            elif kind == "zset":
                out += [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
            elif kind == "stream":
                out += [json.dumps({k.decode(): v.decode(errors="replace")
                                    for k, v in fields.items()}).encode()
                        for _, fields in r.xrange(key)]
            else:
                raise AssertionError(f"unexpected Redis type {kind} for {key!r}")
    return out


async def test_no_raw_user_id_in_any_topic_or_redis_key(stack: Stack,
                                                        stack_settings: Settings) -> None:
    tag = uuid.uuid4().hex[:10]
    raw_ids = [f"jane.doe+{tag}@example.com", f"customer-{tag}-000042", f"Ünïcode-{tag}"]
    tokens = [mint_token("privacy", u, SECRET, ttl_s=600) for u in raw_ids]
    sids = [f"privacy_{tag}_{i}" for i in range(len(raw_ids))]
    async with running_ingest(stack_settings, sites=SITES, ingest_client_rate=1000.0,
                              ingest_client_burst=1000.0) as base:
        async with aiohttp.ClientSession() as http:
            for i, (token, sid) in enumerate(zip(tokens, sids, strict=True)):
                for seq in range(3):
                    async with http.post(f"{base}/v1/batches",
                                         data=json.dumps(_batch(token, sid, seq, i, raw_ids[i])).encode(),
                                         headers={"Content-Type": "text/plain",
                                                  "Origin": ORIGIN}) as resp:
                        assert resp.status == 202, await resp.text()

    # What the scorer keeps in Redis about these sessions, written from the real records.
    from tests.support.ingest_server import consume_batches

    client = redis.Redis.from_url(stack_settings.redis.url)
    replay = ReplayDetector(RedisFingerprints(client, ttl_s=600))
    heads = HeadStore(stack_settings.redis.url)
    for i, sid in enumerate(sids):
        recs = await consume_batches(stack_settings.kafka.bootstrap, sid, until_final=True)
        record = PointerBatchRecord.from_bytes(json.dumps(recs[0]).encode())
        key = user_key("privacy", raw_ids[i], stack_settings.ingest.pseudonym_secret)
        assert record.user == key
        replay.check_and_remember(record.sid, record.to_trajectory(), record.site)
        assert heads.get(record.user) is None       # a look-up of the unenrolled user

    needles = {s.encode() for s in raw_ids}
    needles |= {u.encode("utf-8") for u in raw_ids} | {t.encode() for t in tokens}
    needles |= {t.split(".")[1].encode() for t in tokens}          # the JWT claims (sub)
    needles |= {base64.b64encode(u.encode()).rstrip(b"=") for u in raw_ids}
    needles |= {json.dumps(u).encode() for u in raw_ids}            # JSON-escaped (ü -> \u00fc)
    needles |= {quote(u, safe="").encode() for u in raw_ids}        # percent-encoded in a path

    blobs = _all_topic_messages(stack_settings.kafka.bootstrap)
    ours = [b for b in blobs if tag.encode() in b]
    assert len(ours) >= len(sids) * 3, "our batches were not found on the topics"
    leaks = [b[:200] for b in blobs for n in needles if n in b]
    assert leaks == [], f"raw user ids or tokens on a topic: {leaks[:3]}"

    # the scanner finds a planted leak (so an empty result below means something)
    canary = f"cursorprint:privacy-canary:{tag}"
    client.hset(canary, mapping={"who": raw_ids[2].encode()})
    try:
        assert any(json.dumps(raw_ids[2]).encode() in d or raw_ids[2].encode() in d
                   for d in _all_redis_data(stack_settings.redis.url))
    finally:
        client.delete(canary)

    data = _all_redis_data(stack_settings.redis.url)
    assert len(data) > 0
    leaks = [d[:200] for d in data for n in needles if n in d]
    assert leaks == [], f"raw user ids or tokens in Redis: {leaks[:3]}"
    assert not any(sid.encode() in d for d in data for sid in sids), "raw session ids in Redis"


def test_every_topic_has_retention(stack: Stack, stack_settings: Settings) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(bootstrap_servers=stack_settings.kafka.bootstrap_list)
    try:
        result = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in ALL_TOPICS])
    finally:
        admin.close()
    expected = str(stack_settings.topics.retention_hours * 3600 * 1000)
    configs = result["topic"]
    assert set(configs) == set(ALL_TOPICS)
    for topic in ALL_TOPICS:
        retention = configs[topic].get("retention.ms")
        assert retention is not None, f"{topic}: retention.ms not set on the topic"
        assert retention["value"] == expected, (topic, retention)
    assert POINTER_BATCHES in configs


# ------------------------------------------------ hostile input through the real agents, logs too


def _hostile_requests(token: str, raw_id: str, sid: str
                      ) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Batches that carry the raw id or the token in a string field ingest refuses, and one
    valid batch whose headers carry them (accepted: ingest does not read those headers)."""
    base = _batch(token, sid, 0, 0, raw_id)
    return [
        ({**base, "pt": raw_id}, {}),
        ({**base, "smp": {"src": token, "n": 1, "c": 1, "g": 0, "gms": 0}}, {}),
        ({**base, "site": raw_id}, {}),
        # (a sid the pattern allows is the page's own choice; only an invalid one is refused)
        ({**base, "sid": f"{raw_id}!"}, {}),
        ({**base, "token": f"{token}.{raw_id}"}, {}),
        ({**base, raw_id: token}, {}),
        (base, {"Origin": f"https://{raw_id}.example"}),
        (base, {"User-Agent": f"{raw_id} {token}", "Referer": f"{ORIGIN}/u/{raw_id}?t={token}"}),
    ]


def test_hostile_values_nowhere_downstream_nor_in_logs(
        stack: Stack, stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The raw id and the token, planted in the path (accepted, normalised) and in other string
    fields and headers (refused), through real ingest, sessionizer and scorer processes: they
    appear on no topic (the dead-letter topic included, which holds a record derived from the
    hostile batch), in no Redis key or value and in no service's log."""
    from kafka import KafkaProducer

    from cursorprint.stream.devtools.stack import free_port
    from cursorprint.stream.records.topics import DEAD_LETTER, SESSION_SCORES
    from tests.support.procs import (
        pipeline_env,
        read_topic,
        settings_from_env,
        start,
        stop_all,
        tiny_model,
        wait_ready,
    )

    tag = uuid.uuid4().hex[:10]
    raw_ids = [f"mallory.o+{tag}@example.com", f"acct-{tag}-000777"]
    tokens = [mint_token("privacy", u, SECRET, ttl_s=600) for u in raw_ids]
    sids = [f"hostile_{tag}_{i}" for i in range(len(raw_ids))]
    home = tmp_path_factory.mktemp("privacy-agents")
    env = pipeline_env(stack_settings, home, tiny_model(tmp_path_factory), CURSORPRINT_SITES=SITES,
                       CURSORPRINT_LOG_LEVEL="INFO")
    st = settings_from_env(env)
    web_s, web_c = free_port(), free_port()
    procs = [start(["ingest"], env, home / "ingest.log"),
             start(["worker", "sessionizer", "--web-port", str(web_s)], env,
                   home / "sessionizer.log"),
             start(["worker", "scorer", "--web-port", str(web_c)], env, home / "scorer.log")]
    try:
        base = f"http://127.0.0.1:{st.ingest.port}"
        wait_ready(f"{base}/readyz", procs[0])
        wait_ready(f"http://127.0.0.1:{web_s}/readyz", procs[1])
        wait_ready(f"http://127.0.0.1:{web_c}/readyz", procs[2])
        with requests.Session() as http:
            for i, (token, sid) in enumerate(zip(tokens, sids, strict=True)):
                for seq in range(3):
                    resp = http.post(f"{base}/v1/batches",
                                     data=json.dumps(_batch(token, sid, seq, i, raw_ids[i])),
                                     headers={"Content-Type": "text/plain", "Origin": ORIGIN})
                    assert resp.status_code == 202, resp.text
                for body, headers in _hostile_requests(token, raw_ids[i], f"{sid}x"):
                    resp = http.post(f"{base}/v1/batches", data=json.dumps(body),
                                     headers={"Content-Type": "text/plain", "Origin": ORIGIN,
                                              **headers})
                    refused = "User-Agent" not in headers
                    assert (400 <= resp.status_code < 500) if refused else \
                        resp.status_code == 202, (resp.status_code, body, headers)

        scores = read_topic(st, SESSION_SCORES, lambda got: set(sids) <= {
            g["session_id"] for g in got if g.get("part") == "final"}, timeout=180)
        assert set(sids) <= {g["session_id"] for g in scores if g.get("part") == "final"}

        # a record derived from the hostile batch that the sessionizer cannot take (its
        # pseudonymous key removed, as a broken producer might): it goes to the dead letters,
        # with the normalised path and the session id of the hostile batch
        accepted = next(json.loads(r.value) for r in read_to_end(st.kafka.bootstrap,
                                                                 [POINTER_BATCHES])
                        if r.key == sids[0].encode())
        poison = {**accepted, "user": "not-a-pseudonymous-key", "seq": 7, "bid": f"{sids[0]}:7"}
        producer = KafkaProducer(bootstrap_servers=st.kafka.bootstrap_list)
        producer.send(POINTER_BATCHES, key=sids[0].encode(), value=json.dumps(poison).encode())
        producer.flush(30)
        producer.close()
        dead = read_topic(st, DEAD_LETTER, lambda got: any(
            sids[0] in (d.get("value") or "") for d in got), timeout=120)
        ours = [d for d in dead if sids[0] in (d.get("value") or "")]
        assert ours and all(d["error"] for d in ours), dead[-3:]
    finally:
        stop_all(procs)

    needles = {s.encode() for s in raw_ids} | {t.encode() for t in tokens}
    needles |= {t.split(".")[1].encode() for t in tokens}           # the JWT's claims
    needles |= {json.dumps(u).encode() for u in raw_ids}
    needles |= {quote(u, safe="").encode() for u in raw_ids}
    blobs = _all_topic_messages(st.kafka.bootstrap)
    assert sum(tag.encode() in b for b in blobs) >= len(sids) * 3
    leaks = [b[:200] for b in blobs for n in needles if n in b]
    assert leaks == [], f"raw user ids or tokens on a topic: {leaks[:3]}"
    data = _all_redis_data(st.redis.url)
    leaks = [d[:200] for d in data for n in needles if n in d]
    assert leaks == [], f"raw user ids or tokens in Redis: {leaks[:3]}"
    for p in procs:
        text = p.log.read_bytes()
        leaks = [n for n in needles if n in text]
        assert leaks == [], f"raw user ids or tokens in {p.log.name}: {leaks[:3]}"
