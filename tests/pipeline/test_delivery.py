"""At-least-once end to end on the real broker: ``kill -9`` the sessionizer and then the scorer
in the middle of a replay, start them again, and every accepted session still gets its score
(exactly one score id per session; duplicates of a message allowed, losses not)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cursorprint.model.data.synthetic import random_style, synth_session
from cursorprint.stream.devtools.playback import PlaybackReport, PlaybackSession, play_sessions
from cursorprint.stream.devtools.stack import Stack, free_port
from cursorprint.stream.records import topics
from cursorprint.stream.settings import Settings
from tests.support.procs import (
    pipeline_env,
    read_topic,
    settings_from_env,
    start,
    stop_all,
    tiny_model,
    wait_ready,
)

pytestmark = pytest.mark.integration


def test_kill_9_workers_mid_replay_loses_no_session(
        stack: Stack, stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    model = tiny_model(tmp_path_factory)
    home: Path = tmp_path_factory.mktemp("delivery")
    # sessions close on their exit batch; the idle timeout is far above any stall a loaded
    # 2-core machine gives the replay's posts (20 s was reached once, closing a session early)
    env = pipeline_env(stack_settings, home, model, CURSORPRINT_SESSION_IDLE_S="90")
    st = settings_from_env(env)
    web_s, web_c = free_port(), free_port()
    ingest = start(["ingest"], env, home / "ingest.log")
    sess = start(["worker", "sessionizer", "--web-port", str(web_s)], env, home / "sz1.log")
    scorer = start(["worker", "scorer", "--web-port", str(web_c)], env, home / "sc1.log")
    procs = [ingest, sess, scorer]
    try:
        wait_ready(f"http://127.0.0.1:{st.ingest.port}/readyz", ingest)
        wait_ready(f"http://127.0.0.1:{web_s}/readyz", sess)
        wait_ready(f"http://127.0.0.1:{web_c}/readyz", scorer)

        rng = np.random.default_rng(77)
        sessions = [PlaybackSession(f"s{i}", f"user{i % 3}",
                                  synth_session(rng, random_style(rng), 500))
                    for i in range(12)]
        result: dict[str, PlaybackReport] = {}

        def replay() -> None:   # paced: the sessions span several seconds of wall time
            result["r"] = play_sessions(st, sessions, ingest_url=f"http://127.0.0.1:"
                                          f"{st.ingest.port}", speed=1.0, timeout_s=150)
        thread = threading.Thread(target=replay)
        thread.start()
        time.sleep(2.0)
        sess.kill9()                                       # mid-session: state in the table
        sess = start(["worker", "sessionizer", "--web-port", str(web_s)], env,
                     home / "sz2.log")
        procs.append(sess)
        wait_ready(f"http://127.0.0.1:{web_s}/readyz", sess)
        scorer.kill9()
        scorer = start(["worker", "scorer", "--web-port", str(web_c)], env, home / "sc2.log")
        procs.append(scorer)
        thread.join(240)
        assert not thread.is_alive(), "replay did not finish"
        report = result["r"]
        assert report.rejected == {}, report.summary()
        assert report.missing == [], (report.summary(), sess.tail(), scorer.tail())

        sids = {s.sid for s in sessions}
        scores = read_topic(st, topics.SESSION_SCORES,
                            lambda got: sids <= {g["session_id"] for g in got}, timeout=30)
        finals = [s for s in scores if s["session_id"] in sids and s["part"] == "final"]
        per_session: dict[str, set[str]] = {}
        for s in finals:
            per_session.setdefault(s["session_id"], set()).add(s["score_id"])
        assert set(per_session) == sids
        assert all(len(v) == 1 for v in per_session.values()), per_session
        for s in finals:    # a session is never split by the restart (dedup by sequence)
            n = len(next(x for x in sessions if x.sid == s["session_id"]).traj)
            continued = sorted({g["session_id"] for g in scores
                                if g["session_id"].startswith(s["session_id"] + "~")})
            assert s["n_events"] == n, (s["session_id"], s["cause"], s["n_events"], n,
                                        continued, sess.tail(), scorer.tail())
    finally:
        stop_all(procs)
