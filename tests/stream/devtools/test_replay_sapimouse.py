"""``cursorprint replay sapimouse`` on the real broker and Redis: a tiny model, a tiny SapiMouse-
shaped data set (backbone users 1-2, test users 73-75), ingest and a worker as subprocesses.
The report has its figures, and the rolling windows arrive by the time rule (every few seconds
of movement, the first earlier), whatever the replay speed."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cursorprint.model.data.synthetic import synth_users
from cursorprint.model.evaluation.sapimouse import BACKBONE_USERS_KEY
from cursorprint.model.nets.modeldir import read_info, write_info
from cursorprint.stream.cli import main
from cursorprint.stream.devtools.stack import Stack, free_port
from cursorprint.stream.settings import Settings
from tests.model.evaluation.test_sapimouse import _write
from tests.support.procs import pipeline_env, start, stop_all, tiny_model, wait_ready

pytestmark = pytest.mark.integration

FIRST_S, EVERY_S = 2.0, 3.0      # the cadence under test (movement seconds)
# the collector flushes a batch a second: a window goes out with the batch that crosses the
# time rule, so it comes at most one batch (<= 1 s of events, gaps capped) later
BATCH_S = 1.0


@pytest.fixture(scope="module")
def tiny_sapimouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data folder, model dir): users 1-2 (backbone) and 73-75 (enrolled, tested), and the
    tiny pipeline model marked as trained on SapiMouse users 1-2 only."""
    root = tmp_path_factory.mktemp("replay-sapimouse")
    data = root / "sapimouse"
    trajs = synth_users(5, 2, 1500, seed=7)
    for i, user in enumerate(["user1", "user2", "user73", "user74", "user75"]):
        _write(trajs[2 * i], data / user / "session_3min.csv")
        _write(trajs[2 * i + 1].slice(0, 700), data / user / "session_1min.csv")  # ~20 s
    model = root / "model"
    src = tiny_model(tmp_path_factory)
    model.mkdir()
    for f in src.iterdir():
        if f.is_file():
            (model / f.name).write_bytes(f.read_bytes())
    info = read_info(src)
    write_info(model, replace(info, extra={**info.extra, BACKBONE_USERS_KEY: [1, 2]}))
    return data, model


@pytest.fixture(scope="module")
def pipeline(stack: Stack, stack_settings: Settings, tiny_sapimouse: tuple[Path, Path],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("replay-pipeline")
    web = free_port()
    env = pipeline_env(stack_settings, home, tiny_sapimouse[1],
                       CURSORPRINT_SESSION_FIRST_WINDOW_SECONDS=FIRST_S,
                       CURSORPRINT_SESSION_WINDOW_SECONDS=EVERY_S,
                       CURSORPRINT_SESSION_IDLE_S=3600)
    procs = [start(["ingest"], env, home / "ingest.log"),
             start(["worker", "all", "--web-port", str(web)], env, home / "worker.log")]
    try:
        wait_ready(f"http://127.0.0.1:{env['CURSORPRINT_INGEST_PORT']}/readyz", procs[0])
        wait_ready(f"http://127.0.0.1:{web}/readyz", procs[1], 180)
        yield env
    finally:
        stop_all(procs)


def test_replay_reports_time_to_detect_with_windows_by_the_time_rule(
        pipeline: dict[str, str], tiny_sapimouse: tuple[Path, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    data, model = tiny_sapimouse
    for k, v in pipeline.items():
        if k.startswith("CURSORPRINT_"):
            monkeypatch.setenv(k, v)
    out = tmp_path / "ttd"
    assert main(["replay", "sapimouse", "--data", str(data), "--model", str(model),
                 "--out", str(out), "--impostors", "2", "--timeout", "300"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert (report["users"], report["genuine_attempts"], report["impostor_attempts"]) == (3, 3, 6)
    assert report["model_version"] == read_info(model).version
    for name in ("owners_flagged_0.01", "owners_flagged_0.05"):
        op = report["operating_points"][name]
        assert set(op) >= {"threshold", "owners_flagged", "impostors_detected", "median_seconds",
                           "p90_seconds", "detected_within_s"}
        assert op["owners_flagged"] <= {"owners_flagged_0.01": 0.0, "owners_flagged_0.05": 0.0}[
            name]    # 3 owners: 1 % and 5 % of them round down to none flagged
    assert (out / "time_to_detect.png").stat().st_size > 0
    with open(out / "attempts.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_attempt: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_attempt.setdefault(r["session"], []).append(r)
    assert len(by_attempt) == 9
    for session, parts in by_attempt.items():
        assert parts[-1]["part"] == "final", session
        seconds = [float(p["seconds"]) for p in parts]
        windows = seconds[:-1]
        # ~20 s of movement: a window after FIRST_S, then every EVERY_S, each within a batch
        assert len(windows) >= 4, (session, seconds)
        assert [p["part"] for p in parts[:-1]] == [str(i) for i in range(len(windows))]
        assert FIRST_S - 0.01 <= windows[0] <= FIRST_S + BATCH_S + 0.25, (session, seconds)
        for a, b in zip(windows, windows[1:], strict=False):
            assert EVERY_S - 0.01 <= b - a <= EVERY_S + BATCH_S + 0.25, (session, seconds)
        # nothing left a full cadence unwindowed before the session closed
        assert seconds[-1] - windows[-1] < EVERY_S + BATCH_S + 0.25, (session, seconds)
        assert all(abs(float(p["running_logit"])) < 40 for p in parts)   # finite evidence
