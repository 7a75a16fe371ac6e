"""Starts a private, real Prometheus server (the OS package's binary) for tests: its own port,
its own TSDB directory, a 1 s scrape interval; never the system service."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from cursorprint.stream.devtools.stack import free_port
from tests.support.paths import REPO

__all__ = ["PrometheusServer", "prometheus_server", "static_config", "K8S_PROMETHEUS"]

K8S_PROMETHEUS = REPO / "k8s" / "prometheus"




class PrometheusServer:
    """HTTP API client of a running Prometheus."""

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as resp:
            body = json.loads(resp.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query; raises on a parse error (HTTP 400 from Prometheus)."""
        try:
            data = self.api("/api/v1/query", query=promql)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"Prometheus rejected {promql!r}: {exc.read().decode()}") from None
        assert data["resultType"] == "vector", data
        return list(data["result"])

    def targets_up(self) -> dict[str, bool]:
        data = self.api("/api/v1/targets")
        return {t["labels"]["job"]: t["health"] == "up" for t in data["activeTargets"]}


@contextmanager
def prometheus_server(workdir: Path, targets: dict[str, str], scrape_interval: str = "1s",
                      config_text: str | None = None) -> Iterator[PrometheusServer]:
    """Run Prometheus scraping ``targets`` (job name -> host:port) until the block ends; or,
    with ``config_text``, run that configuration verbatim (relative rule files resolve in
    ``workdir``)."""
    binary = shutil.which("prometheus")
    assert binary, "the `prometheus` binary is missing: run scripts/install.sh"
    workdir.mkdir(parents=True, exist_ok=True)
    jobs = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['{addr}']\n"
        for job, addr in targets.items())
    config = workdir / "prometheus.yml"
    config.write_text(config_text or f"global:\n  scrape_interval: {scrape_interval}\n"
                      f"  evaluation_interval: {scrape_interval}\nscrape_configs:\n{jobs}")
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
            stdout=out, stderr=subprocess.STDOUT)
    server = PrometheusServer(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"prometheus exited: {log.read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"prometheus not ready: {log.read_text()[-2000:]}"
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def static_config(workdir: Path, target: str, port: int, interval: str = "15s") -> Path:
    """prometheus.yml with kubernetes_sd_configs replaced by a static target that carries the
    discovery labels a pod with our annotations would get, and rules.yml next to it."""
    config = yaml.safe_load((K8S_PROMETHEUS / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": interval, "evaluation_interval": interval}
    (job,) = config["scrape_configs"]
    job.pop("kubernetes_sd_configs")
    job["static_configs"] = [{"targets": [target], "labels": {
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
        "__meta_kubernetes_pod_annotation_prometheus_io_port": str(port),
        "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
        "__meta_kubernetes_pod_label_app_kubernetes_io_name": "scorer",
        "__meta_kubernetes_pod_name": "scorer-7d9f-abcde"}}]
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(K8S_PROMETHEUS / "rules.yml", workdir / "rules.yml")
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
