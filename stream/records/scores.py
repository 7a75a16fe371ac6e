"""Score and alert records, with ids that stay the same when a session is scored twice.

At-least-once delivery means a session may be scored more than once (after a worker restart);
``score_id`` and ``alert_id`` are hashes of (session id, part, model version), so consumers
de-duplicate by id. Reason codes are declared in :mod:`cursorprint.stream.records.reasons`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ScoreRecord", "Alert", "score_id", "alert_id"]


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def score_id(session_id: str, part: str | int, model_version: str) -> str:
    """Stable id of the score of one session part under one model."""
    return _digest("score", session_id, part, model_version)


def alert_id(session_id: str, part: str | int, model_version: str) -> str:
    """Stable id of the alert of one session part under one model."""
    return _digest("alert", session_id, part, model_version)


@dataclass(frozen=True)
class ScoreRecord:
    """A ``session-scores`` message (key = user key): every scored session part."""

    score_id: str
    session_id: str
    part: str | int
    cause: str
    user: str
    site: str
    page: str
    score: float
    window_scores: list[float]
    reasons: list[str]
    model_version: str
    head_version: str
    n_events: int
    closed_at: float      # epoch ms, from the sessions record
    scored_at: float      # epoch ms

    def to_bytes(self) -> bytes:
        return json.dumps({"v": 1, **asdict(self)}, separators=(",", ":")).encode()

    @staticmethod
    def from_bytes(raw: bytes) -> dict[str, Any]:
        obj = json.loads(raw)
        if not isinstance(obj, dict) or "score_id" not in obj:
            raise ValueError("not a session-scores record")
        return obj


@dataclass(frozen=True)
class Alert:
    """A ``fraud-alerts`` message (key = user key): the alert contract of DESIGN.md."""

    alert_id: str
    session_id: str
    part: str | int
    user: str
    site: str
    page: str
    score: float
    threshold: float
    model_version: str
    head_version: str
    reasons: list[str]
    time: float           # epoch ms

    def to_bytes(self) -> bytes:
        return json.dumps({"v": 1, **asdict(self)}, separators=(",", ":")).encode()
