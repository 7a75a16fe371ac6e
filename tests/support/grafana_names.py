"""The series names stream/metrics.py exposes (histograms as _bucket/_sum/_count, counters as
_total), for checks of dashboards and rules."""

from __future__ import annotations

from tests.support.metrics_exporter import declared_metrics

__all__ = ["exposed_names"]


def exposed_names() -> set[str]:
    names: set[str] = set()
    for m in declared_metrics():
        if m._type == "counter":
            names.add(f"{m._name}_total")
        elif m._type == "histogram":
            names |= {f"{m._name}_bucket", f"{m._name}_sum", f"{m._name}_count"}
        else:
            names.add(m._name)
    return names
