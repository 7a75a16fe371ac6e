"""The streaming pipeline on the real broker and Redis: ingest and a Faust worker (``all``) run
as subprocesses; recorded Balabit sessions are replayed through HTTP -> Kafka -> agents.

Online scores must equal the offline ``SessionScorer.score_session`` scores within 1e-5; poison
records on every input topic go to the dead-letter topic while the agents go on; an idle session
is closed by the timer; an enrollment on ``trusted-sessions`` is used without a restart.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from kafka import KafkaProducer

from cursorprint.model.data.synthetic import random_style, synth_session
from cursorprint.model.features.remote_access import remote_access_reasons
from cursorprint.model.serving.scoring import REASON_NO_USER_HEAD, SessionScorer
from cursorprint.stream.devtools.playback import (
    PlaybackSession,
    load_balabit_sessions,
    origin_for,
    play_sessions,
    publish_model_heads,
    to_batches,
    wire_trajectory,
)
from cursorprint.stream.devtools.stack import Stack, free_port
from cursorprint.stream.ingest.identity import mint_token, user_key
from cursorprint.stream.records import topics
from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.score.scripted import scripted_reasons
from cursorprint.stream.settings import Settings
from cursorprint.stream.stores.heads import HeadStore
from tests.support.paths import COLLECTOR_DIR
from tests.support.procs import (
    Proc,
    pipeline_env,
    read_topic,
    settings_from_env,
    start,
    stop_all,
    tiny_model,
    wait_ready,
)

pytestmark = pytest.mark.integration
THRESHOLD = 0.5


class Pipeline:
    def __init__(self, settings: Settings, model: Path, web: int, procs: list[Proc]) -> None:
        self.settings = settings
        self.model = model
        self.web = web
        self.procs = procs

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingest.port}"


@pytest.fixture(scope="module")
def pipeline(stack: Stack, stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Pipeline]:
    model = tiny_model(tmp_path_factory)
    home = tmp_path_factory.mktemp("pipeline")
    web = free_port()
    env = pipeline_env(stack_settings, home, model, CURSORPRINT_ALERT_THRESHOLD=THRESHOLD)
    ingest = start(["ingest"], env, home / "ingest.log")
    worker = start(["worker", "all", "--web-port", str(web)], env, home / "worker.log")
    procs = [ingest, worker]
    try:
        settings = settings_from_env(env)
        wait_ready(f"http://127.0.0.1:{settings.ingest.port}/readyz", ingest)
        wait_ready(f"http://127.0.0.1:{web}/readyz", worker)
        yield Pipeline(settings, model, web, procs)
    finally:
        stop_all(procs)


def test_replayed_balabit_sessions_score_online_as_offline(pipeline: Pipeline,
                                                           balabit_dir: Path) -> None:
    st = pipeline.settings
    sessions = load_balabit_sessions(balabit_dir, balabit_dir / "labels_dev.csv", 40)
    sessions = sorted(sessions, key=lambda s: len(s.traj))[:4]        # 4 short real sessions
    # one account gets a head from the model directory under its pseudonymous key
    for s in sessions[:2]:
        s.user = "synth0"
    assert publish_model_heads(st, pipeline.model, "demo") == 3
    report = play_sessions(st, sessions, ingest_url=pipeline.ingest_url, timeout_s=90)
    assert report.rejected == {} and report.missing == [], report.summary()
    assert report.batches > len(sessions)

    offline = SessionScorer.load(pipeline.model, heads=HeadStore(st.redis.url))
    for s in sessions:
        online = report.scores[s.sid]
        key = user_key("demo", s.user, st.ingest.pseudonym_secret)
        wired = wire_trajectory(s.traj)
        expect = offline.score_session(key, wired)
        assert online["user"] == key and online["cause"] == "exit"
        assert online["n_events"] == len(s.traj)
        assert abs(online["score"] - expect.score) <= 1e-5, (s.name, online["score"], expect)
        assert online["head_version"] == expect.head_version
        # the scorer adds the abuse checks' codes (Balabit was recorded over remote desktop)
        abuse = [*scripted_reasons(wired), *remote_access_reasons(wired)]
        assert sorted(online["reasons"]) == sorted([*expect.reasons, *abuse])
        assert online["model_version"] == offline.model_version
        if s.user == "synth0":
            assert REASON_NO_USER_HEAD not in online["reasons"]
        else:
            assert REASON_NO_USER_HEAD in online["reasons"]

    want = {s.sid for s in sessions if report.scores[s.sid]["score"] > THRESHOLD}
    alerts = read_topic(st, topics.FRAUD_ALERTS,
                        lambda got: want <= {a["session_id"] for a in got}, timeout=30)
    mine = [a for a in alerts if a["session_id"] in report.scores]
    assert {a["session_id"] for a in mine} == want
    for a in mine:
        assert a["threshold"] == THRESHOLD and "score_above_threshold" in a["reasons"]
        assert {"alert_id", "session_id", "user", "site", "page", "score", "model_version",
                "head_version", "reasons", "time"} <= set(a)


def test_poison_records_go_to_dead_letter_and_agents_go_on(pipeline: Pipeline) -> None:
    st = pipeline.settings
    producer = KafkaProducer(bootstrap_servers=st.kafka.bootstrap_list, acks="all")
    marker = f"poison-{time.time_ns()}"
    for topic in (topics.POINTER_BATCHES, topics.SESSIONS, topics.TRUSTED_SESSIONS):
        producer.send(topic, key=b"k", value=json.dumps({"junk": marker}).encode())
    binary_poison = b"\xff\xfe not utf-8 " + marker.encode()
    producer.send(topics.SESSIONS, key=b"k", value=binary_poison)
    producer.flush()
    producer.close()

    def binary_kept(got: list[dict[str, Any]]) -> bool:
        return any(d.get("value_b64")
                   and base64.b64decode(d["value_b64"]) == binary_poison for d in got)

    # wait for all four: the three JSON poisons and the binary one, which may land last
    dead = read_topic(st, topics.DEAD_LETTER,
                      lambda got: (sum(marker in (d.get("value") or "") for d in got) >= 3
                                   and binary_kept(got)),
                      timeout=60)
    mine = [d for d in dead if marker in (d.get("value") or "")]
    assert {d["source"] for d in mine} == {topics.POINTER_BATCHES, topics.SESSIONS,
                                          topics.TRUSTED_SESSIONS}
    assert all(d["error"] for d in mine)
    assert binary_kept(dead), "binary poison is kept base64-encoded"
    # the agents are still alive: a real session still gets scored
    rng = np.random.default_rng(5)
    traj = synth_session(rng, random_style(rng), 300)
    report = play_sessions(st, [PlaybackSession("after-poison", "someone", traj)],
                             ingest_url=pipeline.ingest_url, timeout_s=60)
    assert report.missing == []
    with urllib.request.urlopen(f"http://127.0.0.1:{pipeline.web}/metrics", timeout=5) as r:
        text = r.read().decode()
    for series in ("cursorprint_dead_letters_total", "cursorprint_scorer_batch_images_bucket",
                   "cursorprint_inference_seconds_bucket", "cursorprint_sessions_closed_total",
                   "cursorprint_session_score_bucket", "cursorprint_open_sessions"):
        assert series in text, series
    with urllib.request.urlopen(f"http://127.0.0.1:{pipeline.web}/healthz", timeout=5) as r:
        assert json.loads(r.read())["ok"] is True


def test_sessionizer_changelog_is_compacted_often(pipeline: Pipeline) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    from cursorprint.stream.records.topics import CHANGELOG_CONFIGS

    admin = KafkaAdminClient(bootstrap_servers=pipeline.settings.kafka.bootstrap_list)
    try:
        topic = next(t for t in admin.list_topics() if t.endswith("sessionizer-state-changelog"))
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        admin.close()
    found = next(iter(res.values()))[topic]        # {resource type: {name: {key: data}}}
    configs = {k: (v["value"] if isinstance(v, dict) else v) for k, v in found.items()}
    assert configs["cleanup.policy"] == "compact"
    for name, value in CHANGELOG_CONFIGS.items():
        assert configs[name] == value, (name, configs[name])


def test_idle_session_is_closed_by_the_timer(pipeline: Pipeline) -> None:
    import asyncio

    import aiohttp

    st = pipeline.settings
    rng = np.random.default_rng(9)
    traj = synth_session(rng, random_style(rng), 400)
    token = mint_token("demo", "idle-user", st.ingest.site_configs()["demo"].secret)
    sid = f"idle-{time.time_ns()}"
    batches = [b for b in to_batches(traj, site="demo", token=token, sid=sid,
                                     start_ms=int(time.time() * 1000)) if not b["final"]]

    async def post() -> None:
        async with aiohttp.ClientSession() as http:
            for b in batches:
                async with http.post(pipeline.ingest_url + "/v1/batches", json=b,
                                     headers={"Origin": origin_for(st, "demo")}) as r:
                    assert r.status == 202, await r.text()
    asyncio.run(post())
    # the early rolling window (after CURSORPRINT_SESSION_FIRST_WINDOW_EVENTS) may come first
    scores = read_topic(st, topics.SESSION_SCORES, lambda got: any(
        s["session_id"] == sid and s["part"] == "final" for s in got), timeout=60)
    final = [s for s in scores if s["session_id"] == sid and s["part"] == "final"]
    assert len(final) == 1 and final[0]["cause"] == "idle", final
    assert final[0]["n_events"] == sum(len(b["ev"]["dt"]) for b in batches)


def test_enrollment_on_trusted_sessions_is_used_without_restart(pipeline: Pipeline) -> None:
    st = pipeline.settings
    user_id = f"new-user-{time.time_ns()}"
    key = user_key("demo", user_id, st.ingest.pseudonym_secret)
    rng = np.random.default_rng(21)
    style = random_style(rng)
    producer = KafkaProducer(bootstrap_servers=st.kafka.bootstrap_list, acks="all")
    for i in range(2):
        traj = synth_session(rng, style, 1500)
        rec = SessionRecord(session_id=f"trusted-{i}-{key[:8]}", user=key, site="demo",
                            path="/login", screen=traj.screen, part="final", cause="exit",
                            t0=0.0, closed_at=0.0, t=np.round(traj.t, 4).tolist(),
                            x=traj.x.tolist(), y=traj.y.tolist(), k=traj.kind.tolist(),
                            b=traj.button.tolist())
        producer.send(topics.TRUSTED_SESSIONS, key=rec.key, value=rec.to_bytes())
    producer.flush()
    producer.close()
    r = redis.Redis.from_url(st.redis.url)
    deadline = time.monotonic() + 60
    while r.hget(f"cursorprint:head:{key}", "version") is None and time.monotonic() < deadline:
        time.sleep(0.5)
    version = r.hget(f"cursorprint:head:{key}", "version")
    assert version is not None, "no head was stored for the enrolled user"
    # a new session of that user: scored with the new head by the running worker
    sessions = [PlaybackSession("enrolled", user_id, synth_session(rng, style, 600))]
    report = play_sessions(st, sessions, ingest_url=pipeline.ingest_url, timeout_s=60)
    got = report.scores[sessions[0].sid]
    assert got["user"] == key
    assert got["head_version"] == version.decode()
    assert REASON_NO_USER_HEAD not in got["reasons"]


DRIVE_DEMO = """
import { chromium } from "playwright-core";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"] });
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  await page.goto(process.argv[1] + "/demo");
  for (let i = 0; i < 300; i++) {
    await page.mouse.move(100 + (i * 37) % 700, 100 + (i * 53) % 500, { steps: 3 });
    if (i % 50 === 0) await page.mouse.click(300, 300, { button: i % 100 ? "right" : "left" });
  }
  await page.click("#finish");
  await page.waitForFunction(
    () => document.getElementById("what").textContent.startsWith("final"), null,
    { timeout: 60000 });
  // the explanation of the final score: a PNG that has loaded
  await page.waitForFunction(() => {
    const img = document.getElementById("explain");
    return img.src.includes("final") && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 90000 });
  const shown = await page.evaluate(() => Object.fromEntries(
    ["sid", "score", "what", "reasons", "model", "head"].map(
      (id) => [id, document.getElementById(id).textContent])));
  shown.explainWidth = await page.evaluate(() => document.getElementById("explain").naturalWidth);
  console.log(JSON.stringify(shown));
} finally { await browser.close(); }
"""


def test_demo_page_shows_the_visitors_own_score_in_chromium(pipeline: Pipeline) -> None:
    import subprocess

    collector = COLLECTOR_DIR
    out = subprocess.run(["node", "--input-type=module", "-e", DRIVE_DEMO,
                          f"http://127.0.0.1:{pipeline.web}"], cwd=collector,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    shown = json.loads(out.stdout.strip().splitlines()[-1])
    assert shown["what"].startswith("final score (exit)")
    assert 0.0 <= float(shown["score"].split()[0]) <= 1.0
    assert shown["model"] == SessionScorer.load(pipeline.model).model_version
    with urllib.request.urlopen(f"http://127.0.0.1:{pipeline.web}/v1/scores/{shown['sid']}",
                                timeout=5) as r:
        api = json.loads(r.read())
    assert api["part"] == "final" and f"{api['score']:.3f}" == shown["score"].split()[0]
    assert shown["explainWidth"] > 100
    with urllib.request.urlopen(f"http://127.0.0.1:{pipeline.web}/v1/explain/{shown['sid']}",
                                timeout=60) as r:
        assert r.headers["Content-Type"] == "image/png"
        assert r.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{pipeline.web}/v1/explain/never-seen",
                               timeout=60)
    assert err.value.code == 404 and json.loads(err.value.read())["error"] == "not_scored_yet"


def test_enroll_cli_stores_a_head_and_names_bad_input(pipeline: Pipeline, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    st = pipeline.settings
    rng = np.random.default_rng(33)
    style = random_style(rng)
    files = []
    for i in range(2):
        traj = synth_session(rng, style, 1500)
        rec = SessionRecord(session_id=f"cli-{i}", user="0" * 32, site="demo", path="/",
                            screen=traj.screen, part="final", cause="exit", t0=0.0,
                            closed_at=0.0, t=np.round(traj.t, 4).tolist(), x=traj.x.tolist(),
                            y=traj.y.tolist(), k=traj.kind.tolist(), b=traj.button.tolist())
        files.append(tmp_path / f"trusted{i}.json")
        files[-1].write_bytes(rec.to_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURSORPRINT_")}
    env.update({"CURSORPRINT_REDIS_URL": st.redis.url, "CURSORPRINT_MODEL_DIR": str(pipeline.model),
                "CURSORPRINT_KAFKA_BOOTSTRAP": st.kafka.bootstrap})
    cli = [sys.executable, "-m", "cursorprint.stream.cli", "enroll"]
    user = f"cli-user-{time.time_ns()}"
    ok = subprocess.run([*cli, "--site", "demo", "--user", user, "--session", *map(str, files)],
                        env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr[-2000:]
    key = user_key("demo", user, st.ingest.pseudonym_secret)
    version = redis.Redis.from_url(st.redis.url).hget(f"cursorprint:head:{key}", "version")
    assert version is not None and version.decode() in ok.stdout and key in ok.stdout
    bad = subprocess.run([*cli, "--site", "nosuchsite", "--user", "u", "--session", str(files[0])],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "'nosuchsite'" in bad.stderr
    missing = subprocess.run([*cli, "--site", "demo", "--user", "u", "--session",
                              str(tmp_path / "nope.csv")], env=env, capture_output=True,
                             text=True, timeout=120)
    assert missing.returncode == 2 and "nope.csv" in missing.stderr
