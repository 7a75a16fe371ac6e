"""Every Prometheus series of cursorprint, declared once so names stay consistent.

Conventions: one ``cursorprint_`` prefix, base units (``_seconds``, ``_bytes``), ``_total`` on
counters, histograms for latencies, and never a user id or session id as a label value (labels
are bounded sets: outcome, reason, site key, service).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "INGEST_REQUESTS", "INGEST_EVENTS", "INGEST_BATCH_EVENTS", "INGEST_BODY_BYTES",
    "KAFKA_PRODUCE_SECONDS", "KAFKA_ERRORS", "REDIS_ERRORS",
    "OPEN_SESSIONS", "SESSIONS_CLOSED", "SESSION_EVENTS", "SESSION_DURATION",
    "BATCHES_DROPPED", "SCORER_BATCH_SIZE", "INFERENCE_SECONDS", "SCORES", "SCORED_SESSIONS",
    "ALERTS", "HEAD_CACHE", "DEAD_LETTERS", "CONSUMER_LAG", "DEGRADED",
    "DECISIONS", "DECISION_SECONDS", "FEEDBACK",
]

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# ingest
INGEST_REQUESTS = Counter("cursorprint_ingest_requests_total",
                          "Batch POSTs by outcome (accepted or the rejection reason).",
                          ["outcome"])
INGEST_EVENTS = Counter("cursorprint_ingest_events_total", "Pointer events accepted.", ["site"])
INGEST_BATCH_EVENTS = Histogram("cursorprint_ingest_batch_events", "Events per accepted batch.",
                                buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000))
INGEST_BODY_BYTES = Histogram("cursorprint_ingest_body_bytes", "Request body size.",
                              buckets=(256, 1024, 4096, 8192, 16384, 32768, 65536))
KAFKA_PRODUCE_SECONDS = Histogram("cursorprint_kafka_produce_seconds",
                                  "Time from produce to broker acknowledgement.",
                                  buckets=_LATENCY)
KAFKA_ERRORS = Counter("cursorprint_kafka_errors_total", "Kafka client errors.", ["service"])
REDIS_ERRORS = Counter("cursorprint_redis_errors_total", "Redis errors.", ["service"])

# sessionizer
OPEN_SESSIONS = Gauge("cursorprint_open_sessions", "Page sessions currently open.")
SESSIONS_CLOSED = Counter("cursorprint_sessions_closed_total", "Sessions closed, by cause.",
                          ["cause"])
SESSION_EVENTS = Histogram("cursorprint_session_events", "Events per closed session.",
                           buckets=(10, 100, 500, 1000, 2500, 5000, 10000, 50000))
SESSION_DURATION = Histogram("cursorprint_session_duration_seconds",
                             "Duration of closed sessions.",
                             buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600))
BATCHES_DROPPED = Counter("cursorprint_batches_dropped_total",
                          "Batches dropped by the sessionizer (duplicates, late).", ["reason"])

# scorer
SCORER_BATCH_SIZE = Histogram("cursorprint_scorer_batch_images", "Images per model call.",
                              buckets=(1, 2, 4, 8, 16, 32, 64, 128))
INFERENCE_SECONDS = Histogram("cursorprint_inference_seconds", "Model call latency.",
                              ["stage"], buckets=_LATENCY)
SCORES = Histogram("cursorprint_session_score", "Distribution of session scores.",
                   buckets=tuple(i / 20 for i in range(1, 21)))
SCORED_SESSIONS = Counter("cursorprint_scored_sessions_total", "Sessions scored.", ["site"])
ALERTS = Counter("cursorprint_alerts_total", "Fraud alerts emitted, by reason code.",
                 ["site", "reason"])
HEAD_CACHE = Counter("cursorprint_head_cache_total", "Head store look-ups by result.",
                     ["result"])
DEAD_LETTERS = Counter("cursorprint_dead_letters_total", "Records sent to the dead-letter topic.",
                       ["source"])
CONSUMER_LAG = Gauge("cursorprint_consumer_lag", "Consumer lag in records.", ["topic"])
DEGRADED = Gauge("cursorprint_degraded", "1 while a dependency is down and a fallback is used.",
                 ["dependency"])

# decide (the site backend's calls)
DECISIONS = Counter("cursorprint_decisions_total", "Decision calls answered, by decision.",
                    ["site", "decision"])
DECISION_SECONDS = Histogram("cursorprint_decision_seconds", "Decision call latency (Redis read "
                             "and policy).", buckets=_LATENCY)
FEEDBACK = Counter("cursorprint_feedback_total", "Feedback calls accepted, by label.",
                   ["site", "label"])
