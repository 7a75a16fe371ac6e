"""k8s/prometheus: the rules pass `promtool check rules`, the configuration passes
`promtool check config` (with the pod discovery swapped for a static target, because the Debian
Prometheus build has no Kubernetes discovery), and both read only declared series."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.support.dashboards import metric_names
from tests.support.grafana_names import exposed_names
from tests.support.k8s import K8S, build
from tests.support.prometheus import static_config

PROM = K8S / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool (Debian package prometheus) is missing: run scripts/install.sh"
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)


def test_rules_pass_promtool() -> None:
    proc = _promtool("check", "rules", str(PROM / "rules.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr


def test_config_passes_promtool(tmp_path: Path) -> None:
    path = static_config(tmp_path, "10.0.0.7:80", 6066)
    proc = _promtool("check", "config", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(x[5m])\n")
    assert _promtool("check", "rules", str(bad)).returncode != 0


def test_rules_read_declared_series_only() -> None:
    rules = yaml.safe_load((PROM / "rules.yml").read_text())["groups"][0]["rules"]
    exposed = exposed_names()
    for rule in rules:
        unknown = metric_names(rule["expr"]) - exposed
        assert not unknown, f"{rule['alert']}: unknown series {unknown}"
        assert rule["labels"]["severity"] in {"page", "ticket"} and rule["annotations"]["summary"]


def test_configmap_equals_the_files() -> None:
    (cm,) = [d for d in build("base") if d["kind"] == "ConfigMap"
             and d["metadata"]["name"].startswith("cursorprint-prometheus-")]
    assert cm["data"] == {p.name: p.read_text() for p in PROM.glob("*.yml")}
