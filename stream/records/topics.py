"""The project's Kafka topics, declared once: names, partition counts and retention.

Everything that creates or names a topic (local stack, agents, k8s manifests' tests) reads it here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TopicSpec", "POINTER_BATCHES", "SESSIONS", "SESSION_SCORES", "FRAUD_ALERTS",
           "DEAD_LETTER", "TRUSTED_SESSIONS", "ALL_TOPICS", "CHANGELOG_CONFIGS", "topic_specs",
           "app_id", "ticks_topic", "SESSIONIZER_ROLES", "TICKS_RETENTION_MS"]

POINTER_BATCHES = "pointer-batches"
SESSIONS = "sessions"
SESSION_SCORES = "session-scores"
FRAUD_ALERTS = "fraud-alerts"
DEAD_LETTER = "dead-letter"
TRUSTED_SESSIONS = "trusted-sessions"

ALL_TOPICS = (POINTER_BATCHES, SESSIONS, SESSION_SCORES, FRAUD_ALERTS, DEAD_LETTER, TRUSTED_SESSIONS)

# The sessionizer's changelog: every batch is written once and deleted when its session closes,
# so almost all of it is dead weight that a restart would read back. Kafka compacts only closed
# segments (1 GB by default): roll one every 10 minutes and drop tombstones after an hour, so
# recovery reads about the open sessions, not the history.
CHANGELOG_CONFIGS = {"segment.ms": "600000", "min.cleanable.dirty.ratio": "0.1",
                     "delete.retention.ms": "3600000"}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int


def topic_specs(partitions: int, retention_hours: int) -> list[TopicSpec]:
    """Every project topic with the same partition count (keys spread users across partitions)."""
    retention_ms = retention_hours * 3600 * 1000
    return [TopicSpec(name, partitions, retention_ms) for name in ALL_TOPICS]


def app_id(role: str) -> str:
    """The Faust app id (consumer group, internal-topic prefix) of a worker role."""
    return f"cursorprint-{role}"


def ticks_topic(app: str) -> str:
    """The sessionizer's internal tick topic of the Faust app ``app``."""
    return f"{app}-ticks"


# roles whose app runs the sessionizer (and so has a tick topic)
SESSIONIZER_ROLES = ("sessionizer", "all")
TICKS_RETENTION_MS = 3600 * 1000
