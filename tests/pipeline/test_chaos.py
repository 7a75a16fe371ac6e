"""The short chaos run of ``bench/chaos.py`` in CI: SapiMouse sessions played back through real
ingest, sessionizer and scorer processes on the ``stack`` fixture while two worker faults
happen: the sessionizer is killed (-9) twice within one rebalance, and the scorer is paused
(SIGSTOP) past its consumer session timeout. The broker and Redis faults of the full run are
left out here because this stack is shared by the whole test session.

Every accepted session must be scored with every event, each fault's probe session scored, no
worker left dead or wedged, no Faust agent crash. (Recovery times are measured, not asserted:
timing belongs to bench/.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import ChaosConfig, load_sessions, run_chaos
from cursorprint.stream.devtools.stack import Stack
from tests.support.procs import tiny_model

pytestmark = pytest.mark.integration


def test_short_chaos_run_loses_no_session(stack: Stack, sapimouse_dir: Path,
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    model = tiny_model(tmp_path_factory)
    home = tmp_path_factory.mktemp("chaos")
    cfg = ChaosConfig(minutes=1.0, fault_every_s=20.0, seed=16,
                      faults=("sessionizer_twice", "scorer_stop"), max_faults=2,
                      speed=4.0, concurrent=4, recovery_timeout_s=300.0, drain_s=300.0)
    report = run_chaos(stack, model, load_sessions(sapimouse_dir, limit=12), cfg, home)
    summary = report.summary()
    assert [f.kind for f in report.faults] and {f.kind for f in report.faults} == set(cfg.faults), summary
    assert report.sessions_accepted > 0, summary
    assert report.given_up == {}, summary
    assert report.unscored == [], summary
    assert (report.missing_events, report.extra_events) == (0, 0), summary
    assert [f for f in report.faults if f.recovery_s is None] == [], summary
    assert report.dead_or_wedged == [], summary
    assert report.agent_crashes == [], summary
