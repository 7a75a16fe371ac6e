"""A small real exporter: serves ``cursorprint.stream.metrics``' registry over HTTP and keeps
exercising every declared metric with realistic label values.

It drives the dashboard test until (and besides) the real services: run as
``python -m tests.support.metrics_exporter PORT``. Every metric is found by introspection, so a metric
added to stream/metrics.py is exercised automatically; a label this file does not know stops it
with a message naming the label (add realistic values to LABEL_VALUES).
"""

from __future__ import annotations

import random
import sys
import time

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.metrics import MetricWrapperBase

from cursorprint.stream import metrics

__all__ = ["LABEL_VALUES", "declared_metrics", "exercise", "main"]

# Realistic, bounded label values (never user or session ids).
LABEL_VALUES: dict[str, tuple[str, ...]] = {
    "outcome": ("accepted", "accepted", "accepted", "bad_token", "bad_json", "too_large"),
    "site": ("shop-a", "bank-b"),
    "service": ("ingest", "sessionizer", "scorer"),
    "cause": ("exit", "idle", "cap", "window"),
    "reason": ("high_score", "no_user_head", "duplicate", "late"),
    "stage": ("raster", "embed", "head"),
    "result": ("hit", "hit", "miss", "stale"),
    "source": ("pointer-batches", "sessions"),
    "topic": ("pointer-batches", "sessions"),
    "dependency": ("redis", "kafka"),
    "decision": ("allow", "allow", "allow", "step_up", "deny", "not_enough_data"),
    "label": ("owner_confirmed", "owner_confirmed", "fraud_confirmed"),
}


def declared_metrics() -> list[MetricWrapperBase]:
    """Every metric object declared in stream/metrics.py."""
    return [v for v in vars(metrics).values() if isinstance(v, MetricWrapperBase)]


def _child(metric: MetricWrapperBase, rng: random.Random) -> MetricWrapperBase:
    names = metric._labelnames  # the declared label names
    if not names:
        return metric
    unknown = [n for n in names if n not in LABEL_VALUES]
    if unknown:
        raise SystemExit(f"metrics_exporter: no realistic values for label(s) {unknown} of "
                         f"{metric._name}; add them to LABEL_VALUES")
    return metric.labels(**{n: rng.choice(LABEL_VALUES[n]) for n in names})


def _observation(metric: Histogram, rng: random.Random) -> float:
    bounds = [b for b in metric._upper_bounds if b != float("inf")]
    return rng.uniform(0, bounds[-1]) * rng.random()


def exercise(rng: random.Random) -> None:
    """One round of traffic: every counter grows, every gauge moves, every histogram observes."""
    for metric in declared_metrics():
        child = _child(metric, rng)
        if isinstance(metric, Counter):
            child.inc(rng.randint(1, 5))  # type: ignore[attr-defined]
        elif isinstance(metric, Gauge):
            if "degraded" in metric._name:
                child.set(rng.choice((0, 0, 0, 1)))  # type: ignore[attr-defined]
            else:
                child.set(rng.randint(0, 500))  # type: ignore[attr-defined]
        elif isinstance(metric, Histogram):
            child.observe(_observation(metric, rng))  # type: ignore[attr-defined]
        else:
            raise SystemExit(f"metrics_exporter: unsupported metric type of {metric._name}")


def main(argv: list[str]) -> int:
    port = int(argv[1])
    rng = random.Random(7)
    for _ in range(40):  # every label combination appears before the first scrape
        exercise(rng)
    start_http_server(port, addr="127.0.0.1")
    print(f"metrics_exporter: serving on 127.0.0.1:{port}", flush=True)
    while True:
        exercise(rng)
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
