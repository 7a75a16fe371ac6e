"""Every panel query of every Grafana dashboard, evaluated by a real Prometheus that scrapes a
real exporter of stream/metrics.py's registry while traffic flows: each query must parse and
return finite data. The ingest panels are also checked against the REAL ingest service
(``cursorprint ingest`` on the real Kafka of the ``stack`` fixture) while batches are posted."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cursorprint.stream.devtools.stack import Stack, free_port
from cursorprint.stream.ingest.identity import mint_token
from cursorprint.stream.settings import Settings
from tests.support.dashboards import load_dashboards, metric_names, panel_queries, to_promql
from tests.support.metrics_exporter import declared_metrics
from tests.support.prometheus import PrometheusServer, prometheus_server, static_config

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]




def _wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} exited with {proc.returncode}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on {port}")


@pytest.fixture(scope="module")
def exporter() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.metrics_exporter", str(port)],
                            cwd=REPO)
    try:
        _wait_for_port(port, proc, "metrics_exporter")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def prom(exporter: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with prometheus_server(tmp_path_factory.mktemp("prometheus"),
                           {"exporter": exporter}) as server:
        deadline = time.monotonic() + 30
        while not all(server.targets_up().values()) or not server.targets_up():
            assert time.monotonic() < deadline, f"targets not up: {server.targets_up()}"
            time.sleep(0.5)
        yield server


def _finite(result: list[dict]) -> bool:
    return any(math.isfinite(float(r["value"][1])) for r in result)


def test_every_panel_query_returns_data(prom: PrometheusServer) -> None:
    queries = [q for name, d in load_dashboards().items() for q in panel_queries(name, d)]
    assert len(queries) >= 20
    # rate() needs two samples in its window: poll until all queries have data (or time out).
    deadline = time.monotonic() + 45
    while True:
        empty = [q for q in queries if not _finite(prom.query(to_promql(q.expr)))]
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not empty, "queries without data:\n" + "\n".join(
        f"{q.dashboard} / {q.panel} / {q.ref}: {to_promql(q.expr)}" for q in empty)


def test_every_declared_metric_is_scraped(prom: PrometheusServer) -> None:
    names = set(prom.api("/api/v1/label/__name__/values"))
    for metric in declared_metrics():
        kind = metric._type
        base = metric._name
        expected = {"counter": [f"{base}_total"], "gauge": [base],
                    "histogram": [f"{base}_bucket", f"{base}_sum", f"{base}_count"]}[kind]
        missing = [e for e in expected if e not in names]
        assert not missing, f"{missing} not in Prometheus"


def test_site_variable_has_values(prom: PrometheusServer) -> None:
    sites = prom.api("/api/v1/label/site/values",
                     **{"match[]": "cursorprint_ingest_events_total"})
    assert sites and all(s for s in sites)


def test_bad_query_is_rejected(prom: PrometheusServer) -> None:
    """The check above would catch a broken panel: Prometheus rejects unparsable PromQL."""
    with pytest.raises(AssertionError, match="rejected"):
        prom.query("sum(rate(cursorprint_ingest_events_total[1m])")


# --------------------------------------------------------------------------- the real ingest

SITE, SECRET, ORIGIN = "shop-a", "integration-site-secret-0123456789ab", "http://127.0.0.1:8000"
INGEST_SERIES = ("cursorprint_ingest_", "cursorprint_kafka_produce_seconds")


def _batch(token: str, seq: int) -> dict:
    n = 40
    return {"v": 1, "site": SITE, "token": token, "sid": "dash-session-0001", "seq": seq,
            "path": "/checkout", "vp": [1280, 720], "scr": [1920, 1080], "dpr": 1,
            "t0": time.time() * 1000.0, "final": False,
            "ev": {"dt": [8] * n, "x": [10 + i for i in range(n)], "y": [20 + i for i in range(n)],
                   "k": [0] * n, "b": [0] * n}}


def _post(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "text/plain", "Origin": ORIGIN})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.fixture(scope="module")
def ingest(stack: Stack, stack_settings: Settings,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`cursorprint ingest` as its own process, producing to the stack's real Kafka."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURSORPRINT_")}
    env |= {"CURSORPRINT_HOME": str(tmp_path_factory.mktemp("ingest-home")),
            "CURSORPRINT_KAFKA_BOOTSTRAP": stack_settings.kafka.bootstrap,
            "CURSORPRINT_REDIS_URL": stack_settings.redis.url,
            "CURSORPRINT_SITES": f"{SITE}={SECRET}=http://127.0.0.1:*",
            "CURSORPRINT_PSEUDONYM_SECRET": "integration-pseudonym-secret",
            "CURSORPRINT_INGEST_CLIENT_RATE": "1000", "CURSORPRINT_INGEST_CLIENT_BURST": "1000"}
    proc = subprocess.Popen([sys.executable, "-m", "cursorprint.stream.cli", "ingest",
                             "--host", "127.0.0.1", "--port", str(port)], cwd=REPO, env=env)
    try:
        _wait_for_port(port, proc, "cursorprint ingest")
        deadline = time.monotonic() + 60
        while True:  # ready = the producer reached the broker
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "ingest never ready"
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture(scope="module")
def ingest_traffic(ingest: str) -> Iterator[dict[int, int]]:
    """Posts accepted and rejected batches in the background; yields status -> count."""
    url = f"http://{ingest}/v1/batches"
    token = mint_token(SITE, "user-42", SECRET)
    statuses: dict[int, int] = {}
    stop = threading.Event()

    def run() -> None:
        seq = 0
        while not stop.is_set():
            for body in (json.dumps(_batch(token, seq)).encode(),
                         json.dumps(_batch("forged.token", seq)).encode(), b"{not json"):
                code = _post(url, body)
                statuses[code] = statuses.get(code, 0) + 1
            seq += 1
            stop.wait(0.1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield statuses
    stop.set()
    thread.join(timeout=15)


def test_ingest_panels_on_the_real_service(ingest: str, ingest_traffic: dict[int, int],
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    queries = [q for name, d in load_dashboards().items() for q in panel_queries(name, d)
               if all(m.startswith(INGEST_SERIES) for m in metric_names(q.expr))]
    assert len(queries) >= 5
    with prometheus_server(tmp_path_factory.mktemp("prometheus-ingest"),
                           {"ingest": ingest}) as server:
        deadline = time.monotonic() + 60
        while True:
            up = server.targets_up()
            empty = [q for q in queries if not _finite(server.query(to_promql(q.expr)))]
            if (up.get("ingest") and not empty) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert up.get("ingest"), f"Prometheus could not scrape ingest: {up}"
        assert not empty, "ingest queries without data:\n" + "\n".join(
            f"{q.dashboard} / {q.panel} / {q.ref}: {to_promql(q.expr)}" for q in empty)
        reasons = {r["metric"]["outcome"] for r in server.query(
            "sum by (outcome) (cursorprint_ingest_requests_total)")}
    assert ingest_traffic.get(202, 0) > 0 and ingest_traffic.get(401, 0) + ingest_traffic.get(
        400, 0) + ingest_traffic.get(422, 0) > 0, ingest_traffic
    assert "accepted" in reasons and len(reasons) >= 3, reasons


# ------------------------------------------------- k8s/prometheus: relabeling and alert rules

def test_k8s_scrape_config_and_rules(exporter: str,
                                     tmp_path_factory: pytest.TempPathFactory) -> None:
    """The k8s scrape job's relabeling turns a pod's annotations into the right address (the
    discovered address has the wrong port on purpose) and the alerting rules evaluate cleanly."""
    workdir = tmp_path_factory.mktemp("prometheus-k8s")
    port = int(exporter.rsplit(":", 1)[1])
    config = static_config(workdir, "127.0.0.1:1", port, interval="1s")
    with prometheus_server(workdir, {}, config_text=config.read_text()) as server:
        deadline = time.monotonic() + 45
        while True:
            up = server.query('up{job="cursorprint-pods", app="scorer", pod="scorer-7d9f-abcde"}')
            rules = [r for g in server.api("/api/v1/rules")["groups"] for r in g["rules"]]
            evaluated = [r for r in rules if r.get("lastEvaluation", "").startswith("20")
                         and r["health"] == "ok"]
            done = up and up[0]["value"][1] == "1" and len(evaluated) == len(rules)
            if done or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert up and up[0]["value"][1] == "1", f"relabeled target not up: {up}"
        assert up[0]["metric"]["instance"] == f"127.0.0.1:{port}"
        assert len(rules) >= 8
        assert [r for r in rules if r["health"] != "ok"] == []
        assert len(evaluated) == len(rules)
        assert server.query("sum(cursorprint_ingest_requests_total)"), "no data via the k8s job"
