"""The reference site end to end in a real Chromium: ingest (serving the collector), a Faust
worker (``all``), the decision service and ``cursorprint site serve`` run as subprocesses on the
real broker and Redis; the browser logs in moving the pointer along a SapiMouse person's paths.

What is checked is the site's side of the contract, not the model's accuracy (a tiny synthetic
model, measured nowhere): every login lands where its decision says (allow -> welcome, deny ->
refused, anything else -> the second factor); a new user, who has no head, is asked for the
second factor; passing it sends ``owner_confirmed``, which enrolls the owner with no operator
step, so a later login is decided with the owner's own head. The site's policy here allows up
to a score of 0.99 so that the allow path is reached with a model that knows nobody; which
branch a real impostor gets is the model's quality, measured by ``cursorprint evaluate``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cursorprint.stream.devtools.reference_site.tour import plan_logins, run_tour
from cursorprint.stream.devtools.stack import Stack, free_port
from cursorprint.stream.records.reasons import REASON_NO_USER_HEAD
from cursorprint.stream.settings import Settings
from tests.support.paths import COLLECTOR_DIR, DATASETS
from tests.support.procs import (
    Proc,
    pipeline_env,
    settings_from_env,
    start,
    stop_all,
    tiny_model,
    wait_ready,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
API_KEY = "reference-site-decide-key-0123456789"
LANDS_ON = {"allow": "/welcome", "deny": "/login/refused"}   # everything else: the second factor
MAX_OWNER_LOGINS = 4
# 16 s of a SapiMouse person's movement is ~650 events, ~4 windows of the model's window rule:
# two confirmed logins give the enroller the 8 windows it needs for a head
SECONDS_PER_LOGIN = 16.0


@pytest.fixture(scope="module")
def site_url(stack: Stack, stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[str]:
    subprocess.run(["npm", "run", "--silent", "build"], cwd=COLLECTOR_DIR, check=True, timeout=120)
    model = tiny_model(tmp_path_factory)
    home = tmp_path_factory.mktemp("reference-site")
    web, decide_port, site_port = free_port(), free_port(), free_port()
    policy = {"demo": {"api_keys": [API_KEY], "step_up": 0.99, "deny": 1.0, "min_seconds": 1}}
    env = pipeline_env(stack_settings, home, model, CURSORPRINT_DECIDE_PORT=decide_port,
                       CURSORPRINT_DECIDE_SITES=json.dumps(policy))
    settings = settings_from_env(env)
    ingest = f"http://127.0.0.1:{settings.ingest.port}"
    procs: list[Proc] = [
        start(["ingest", "--demo"], env, home / "ingest.log"),
        start(["worker", "all", "--web-port", str(web)], env, home / "worker.log"),
        start(["decide", "serve"], env, home / "decide.log"),
        start(["site", "serve", "--port", str(site_port), "--api-key", API_KEY,
               "--evidence-wait-s", "15"], env, home / "site.log")]
    try:
        wait_ready(f"{ingest}/readyz", procs[0])
        wait_ready(f"http://127.0.0.1:{web}/readyz", procs[1])
        wait_ready(f"http://127.0.0.1:{decide_port}/readyz", procs[2])
        wait_ready(f"http://127.0.0.1:{site_port}/readyz", procs[3])
        yield f"http://127.0.0.1:{site_port}"
    finally:
        stop_all(procs)


def _recording(user: str) -> Path:
    return DATASETS / "sapimouse" / user / "session_3min.csv"


def _lands_where_decided(got: dict[str, Any]) -> None:
    assert got["first"] == LANDS_ON.get(got["decision"], "/login/otp"), got
    want_via = "behaviour" if got["decision"] == "allow" else "second factor"
    assert got.get("via") == want_via or got["decision"] == "deny", got


def test_an_owner_is_enrolled_through_the_second_factor_and_then_let_in(site_url: str) -> None:
    plan = plan_logins(_recording("user73"), ["alice"] * MAX_OWNER_LOGINS,
                       SECONDS_PER_LOGIN, name="owner",
                       stop_when_allowed=True)
    logins = run_tour(site_url, plan, COLLECTOR_DIR)
    for got in logins:
        _lands_where_decided(got)
    first = logins[0]
    assert first["decision"] == "not_enough_data", first
    assert REASON_NO_USER_HEAD in first["reasons"], first
    assert "feedback_error" not in first, first
    assert logins[-1]["decision"] == "allow", \
        f"no login was allowed after {len(logins)} owner logins: {logins}"
    assert REASON_NO_USER_HEAD not in logins[-1]["reasons"], logins[-1]
    assert logins[-1]["windows_scored"] >= 1, logins[-1]


def test_someone_without_a_head_is_asked_for_the_second_factor(site_url: str,
                                                                tmp_path: Path) -> None:
    plan = plan_logins(_recording("user74"), ["bob"], SECONDS_PER_LOGIN, name="someone-else")
    (got,) = run_tour(site_url, plan, COLLECTOR_DIR, screenshots=tmp_path)
    # what `cursorprint site screenshots` saves: every page of the login, second factor included
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "someone-else-1-1-login.png", "someone-else-1-2-password.png", "someone-else-1-3-otp.png",
        "someone-else-1-4-welcome.png"]
    _lands_where_decided(got)
    assert got["first"] == "/login/otp" and got["via"] == "second factor", got
    assert got["decision"] == "not_enough_data" and REASON_NO_USER_HEAD in got["reasons"], got
