"""The bot score on the real broker: a real scorer worker (subprocess, the tiny identity model
with a tiny bot model trained here on SapiMouse people and synthetic scripts) reads ``sessions``
records from Kafka and publishes ``bot_score`` and ``automation_suspected`` on
``session-scores`` and ``fraud-alerts``; a touch session gets ``not_mouse`` and no score.

The tiny bot model learns from four people: it is a test of the plumbing, not of the model's
false-positive rate (the README has those figures, from the full model).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from cursorprint.model.bots.features import crop
from cursorprint.model.bots.train import sapimouse_users
from cursorprint.stream.devtools.stack import Stack, free_port
from cursorprint.stream.records import topics
from cursorprint.stream.records.reasons import (
    REASON_ABOVE_THRESHOLD,
    REASON_AUTOMATION,
    REASON_NOT_MOUSE,
)
from cursorprint.stream.records.session import SessionRecord
from cursorprint.stream.settings import Settings
from tests.stream.score.bots import TEST_PEOPLE, model_with_bot_model
from tests.stream.score.people import scripts
from tests.support.procs import (
    pipeline_env,
    read_to_end,
    read_topic,
    settings_from_env,
    start,
    wait_ready,
)

pytestmark = pytest.mark.integration


def test_scorer_worker_publishes_the_bot_score(
        stack: Stack, stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory,
        sapimouse_dir: Path) -> None:
    model = model_with_bot_model(tmp_path_factory, sapimouse_dir)
    home = tmp_path_factory.mktemp("bot-score-broker")
    # identity alerts off (no score is above 1): an alert here comes from the bot score alone
    env = pipeline_env(stack_settings, home, model, CURSORPRINT_ALERT_THRESHOLD="1.0")
    st = settings_from_env(env)
    web = free_port()
    run = time.time_ns()
    person = crop(sapimouse_users(sapimouse_dir, [TEST_PEOPLE[0]])[0], 8.0)   # a page visit
    records = {
        "script": SessionRecord.from_trajectory(scripts(1, seed=72)[0], session_id=f"bot-{run}",
                                                user="b" * 32, site="demo"),
        "person": SessionRecord.from_trajectory(person, session_id=f"person-{run}",
                                                user="p" * 32, site="demo"),
        "touch": SessionRecord.from_trajectory(person, session_id=f"touch-{run}",
                                               user="t" * 32, site="demo", pointer="touch"),
    }
    sids = {name: rec.session_id for name, rec in records.items()}
    scorer = start(["worker", "scorer", "--web-port", str(web)], env, home / "scorer.log")
    try:
        wait_ready(f"http://127.0.0.1:{web}/readyz", scorer, timeout=180)
        producer = KafkaProducer(bootstrap_servers=st.kafka.bootstrap_list, acks="all")
        for rec in records.values():
            producer.send(topics.SESSIONS, key=rec.key, value=rec.to_bytes())
        producer.flush()
        producer.close()
        got = read_topic(st, topics.SESSION_SCORES,
                         lambda msgs: set(sids.values()) <= {m["session_id"] for m in msgs},
                         timeout=120)
        scores: dict[str, dict[str, Any]] = {m["session_id"]: m for m in got}
        assert set(sids.values()) <= set(scores), scorer.tail()
        read_topic(st, topics.FRAUD_ALERTS, lambda msgs: sids["script"] in
                   {m["session_id"] for m in msgs}, timeout=60)
        # to the end offsets: every alert of these sessions is in (none may come later, they
        # were all published with their scores)
        alerts = {a["session_id"]: a for a in (
            json.loads(r.value) for r in read_to_end(st.kafka.bootstrap_list,
                                                     [topics.FRAUD_ALERTS]))}
    finally:
        scorer.stop()

    bot, human, touch = (scores[sids[k]] for k in ("script", "person", "touch"))
    print(f"script: bot_score {bot['bot_score']:.3f} {bot['reasons']}; "
          f"SapiMouse user {TEST_PEOPLE[0]}, first 8 s: {human['bot_score']:.3f} "
          f"{human['reasons']}")
    assert bot["bot_score"] >= 0.5 and REASON_AUTOMATION in bot["reasons"]
    assert 0.0 <= human["bot_score"] < 0.5 and REASON_AUTOMATION not in human["reasons"]
    assert human["score"] is not None and bot["score"] is not None
    alert = alerts[sids["script"]]
    assert REASON_AUTOMATION in alert["reasons"] and REASON_ABOVE_THRESHOLD not in alert["reasons"]
    assert alert["bot_score"] == bot["bot_score"] and alert["bot_threshold"] == 0.5
    assert (touch["score"], touch["bot_score"], touch["reasons"]) == (None, None,
                                                                      [REASON_NOT_MOUSE])
    assert sids["person"] not in alerts and sids["touch"] not in alerts
