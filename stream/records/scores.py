"""Score and alert records, with ids that stay the same when a session is scored twice.

At-least-once delivery means a session may be scored more than once (after a worker restart);
``score_id`` and ``alert_id`` are hashes of (session id, part, model version), so consumers
de-duplicate by id. Reason codes are declared in :mod:`cursorprint.stream.records.reasons`.

``score`` is the identity score (how unlikely the account owner did it); ``bot_score`` the bot
model's (how likely a program moved the pointer; ``automation_suspected`` among the reasons at
or above the site's bot threshold). Either is null when that model gave no verdict: ``score``
for a session that is not mouse input (reason ``not_mouse``), ``bot_score`` as well, and when the
worker has no bot model or the session has too few moves for it (``bot_too_few_moves``).
``bot_score`` came later than ``v: 1``: records without it decode as null (no new version, since
an old consumer simply ignores the extra field).
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
    score: float | None   # None: not judged by the identity model (not_mouse)
    window_scores: list[float]
    reasons: list[str]
    model_version: str
    head_version: str
    n_events: int
    closed_at: float      # epoch ms, from the sessions record
    scored_at: float      # epoch ms
    bot_score: float | None = None    # in [0, 1]; None: no bot verdict

    def to_bytes(self) -> bytes:
        return json.dumps({"v": 1, **asdict(self)}, separators=(",", ":")).encode()

    @staticmethod
    def from_bytes(raw: bytes) -> dict[str, Any]:
        """A ``session-scores`` value as a dict; ``bot_score`` is null in records from before
        it."""
        obj = json.loads(raw)
        if not isinstance(obj, dict) or "score_id" not in obj:
            raise ValueError("not a session-scores record")
        obj.setdefault("bot_score", None)
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
    bot_score: float | None = None        # as on the score record
    bot_threshold: float | None = None    # the site's bot threshold (None: no bot model)

    def to_bytes(self) -> bytes:
        return json.dumps({"v": 1, **asdict(self)}, separators=(",", ":")).encode()
