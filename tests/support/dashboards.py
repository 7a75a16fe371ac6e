"""Reads the Grafana dashboards in grafana/dashboards and turns panel queries into PromQL that
Prometheus' HTTP API can evaluate (Grafana's template variables substituted)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tests.support.paths import REPO

__all__ = ["DASHBOARD_DIR", "PanelQuery", "load_dashboards", "iter_panels", "panel_queries",
           "to_promql", "metric_names"]

DASHBOARD_DIR = REPO / "grafana" / "dashboards"

# What Grafana would put in place of its built-in and our template variables.
_SUBSTITUTIONS = {
    "$__rate_interval": "30s",
    "$__interval": "5s",
    "$__range": "5m",
    "$site": ".*",  # the "All" value of the multi-value site variable
}


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    expr: str


def load_dashboards() -> dict[str, dict[str, Any]]:
    """file name -> parsed dashboard JSON."""
    files = sorted(DASHBOARD_DIR.glob("*.json"))
    return {f.name: json.loads(f.read_text()) for f in files}


def iter_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including panels nested in rows."""
    out: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return [p for p in out if p.get("type") != "row"]


def panel_queries(name: str, dashboard: dict[str, Any]) -> list[PanelQuery]:
    return [PanelQuery(name, p["title"], t["refId"], t["expr"])
            for p in iter_panels(dashboard) for t in p.get("targets", [])]


def to_promql(expr: str) -> str:
    """The query Grafana would send, for the default variable values."""
    for var, value in _SUBSTITUTIONS.items():
        expr = expr.replace(var, value)
    if "$" in expr:
        raise ValueError(f"unknown template variable left in {expr!r}")
    return expr


_METRIC = re.compile(r"\b(cursorprint_[a-z0-9_]+)\b")


def metric_names(expr: str) -> set[str]:
    """The cursorprint_* series names an expression reads."""
    return set(_METRIC.findall(expr))
