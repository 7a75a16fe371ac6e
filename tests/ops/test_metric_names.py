"""Prometheus naming rules for every cursorprint_ metric: one prefix, base units, ``_total`` on
counters and only there, help text, bounded label names (never user or session ids), and every
metric declared in stream/metrics.py only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from prometheus_client import REGISTRY, Counter, Gauge, Histogram

from cursorprint.stream import metrics
from tests.support.metrics_exporter import declared_metrics

REPO = Path(__file__).resolve().parents[2]
METRICS_PY = REPO / "stream" / "metrics.py"
NAME = re.compile(r"^cursorprint_[a-z][a-z0-9_]*[a-z0-9]$")
LABEL = re.compile(r"^[a-z][a-z0-9_]*$")
# Units that are not base units (Prometheus wants seconds and bytes).
NON_BASE_UNITS = ("_ms", "_millis", "_milliseconds", "_microseconds", "_us", "_ns", "_minutes",
                  "_hours", "_days", "_kb", "_kilobytes", "_mb", "_megabytes", "_gb", "_percent")
# Unbounded or identifying label names that must never appear.
FORBIDDEN_LABELS = {"user", "user_id", "user_key", "uid", "session", "session_id", "sid", "bid",
                    "token", "ip", "client_ip", "alert_id", "batch_id", "request_id", "url",
                    "path", "email"}
CONSTRUCTORS = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}


def _declarations(source: str) -> dict[str, tuple[str, list[str]]]:
    """Declared metric name -> (constructor, label names), read from the source."""
    out: dict[str, tuple[str, list[str]]] = {}
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in CONSTRUCTORS and node.args
                and isinstance(node.args[0], ast.Constant)):
            labels: list[str] = []
            label_arg = node.args[2] if len(node.args) > 2 else next(
                (k.value for k in node.keywords if k.arg == "labelnames"), None)
            if isinstance(label_arg, ast.List | ast.Tuple):
                labels = [e.value for e in label_arg.elts if isinstance(e, ast.Constant)]
            out[str(node.args[0].value)] = (node.func.id, labels)
    return out


DECLARED = _declarations(METRICS_PY.read_text())


def test_declarations_were_found() -> None:
    assert len(DECLARED) == len(declared_metrics()) >= 15


def violations(name: str, kind: str, labels: list[str]) -> list[str]:
    """Every naming rule ``name`` breaks (empty when it is fine)."""
    out = []
    if not NAME.match(name):
        out.append("must be cursorprint_ + snake_case")
    if name.endswith(NON_BASE_UNITS):
        out.append("use base units (_seconds, _bytes)")
    if name.endswith(("_bucket", "_sum", "_count", "_created")):
        out.append("suffix reserved for histogram series")
    if kind == "Counter" and not name.endswith("_total"):
        out.append("counters end in _total")
    if kind != "Counter" and name.endswith("_total"):
        out.append("only counters end in _total")
    if any(w in name for w in ("latency", "duration", "_time", "_seconds")):
        if not name.endswith("_seconds"):
            out.append("times are in seconds (_seconds)")
        if kind != "Histogram":
            out.append("latencies are histograms")
    if "bytes" in name and not name.endswith("_bytes"):
        out.append("sizes end in _bytes")
    for label in labels:
        if not LABEL.match(label) or label.startswith("__"):
            out.append(f"bad label name {label!r}")
        if label in FORBIDDEN_LABELS:
            out.append(f"label {label!r} is an unbounded id")
        if label in {"le", "quantile", "job", "instance"}:
            out.append(f"label {label!r} is reserved")
    return out


def test_every_declared_metric_follows_the_rules() -> None:
    broken = {n: v for n, (k, labels) in DECLARED.items() if (v := violations(n, k, labels))}
    assert not broken, broken


def test_the_rules_catch_bad_names() -> None:
    assert violations("cursorprint_requests", "Counter", []) == ["counters end in _total"]
    assert violations("cursorprint_open_total", "Gauge", []) == ["only counters end in _total"]
    assert "use base units (_seconds, _bytes)" in violations("cursorprint_latency_ms",
                                                             "Histogram", [])
    assert violations("ingest_requests_total", "Counter", [])
    assert violations("cursorprint_scores_total", "Counter", ["user_id"]) == [
        "label 'user_id' is an unbounded id"]
    assert violations("cursorprint_produce_duration", "Gauge", [])
    assert violations("cursorprint_body_bytes", "Histogram", ["site"]) == []


def test_help_text_everywhere() -> None:
    for metric in declared_metrics():
        assert metric._documentation.strip(), f"{metric._name}: needs help text"


def test_every_registered_cursorprint_metric_is_declared_in_metrics_py() -> None:
    registered = {}
    for family in REGISTRY.collect():
        if family.name.startswith("cursorprint_"):
            registered[family.name] = family.type
    assert registered, "stream.metrics registers nothing"
    objects = {m._name: m for m in declared_metrics()}
    for name, kind in registered.items():
        assert name in objects, f"{name}: registered outside stream/metrics.py"
        expected = {Counter: "counter", Gauge: "gauge", Histogram: "histogram"}[type(objects[name])]
        assert kind == expected
    # A Counter is exposed with _total; the declared name must already carry it.
    for name, (kind, _labels) in DECLARED.items():
        base = name.removesuffix("_total") if kind == "Counter" else name
        assert base in registered, f"{name}: declared but not registered"


def test_no_metric_constructed_outside_metrics_py() -> None:
    offenders = []
    for folder in ("stream", "model"):
        for path in (REPO / folder).rglob("*.py"):
            if path == METRICS_PY:
                continue
            if _declarations(path.read_text()) and "prometheus_client" in path.read_text():
                offenders.append(str(path.relative_to(REPO)))
    assert not offenders, f"declare metrics in stream/metrics.py only: {offenders}"


def test_module_exports_every_metric() -> None:
    exported = {getattr(metrics, n) for n in metrics.__all__}
    assert set(declared_metrics()) <= exported
