"""A page session's live scores + the site's policy -> allow | step_up | deny | not_enough_data.

Pure: no Redis, no clock of its own (``now_ms`` is passed), so every rule is unit-tested.

Which parts count. A rolling window holds the events of an open segment since the previous
window; a closed part (``exit``, ``idle``, ``cap``) holds every event of its segment. So per
segment (``<sid>~n``) the closed part alone counts once it is there, else all its windows. The
session's score is the mean of those parts' scores in logit space, weighted by the windows each
was made of (the model itself averages window logits); ``windows_scored`` and
``seconds_of_movement`` add up over the same parts, so the evidence is never counted twice.

The rules, in order (the first that applies decides):

1. no live scores (unknown or expired session)           -> not_enough_data, ``session_unknown``
2. labelled ``fraud_confirmed`` by the site               -> deny, ``fraud_confirmed``
3. the user has no head of their own (``no_user_head``)   -> not_enough_data: a population score
   cannot tell the owner from another person
4. fewer than ``min_windows`` windows or ``min_seconds`` of movement -> not_enough_data
   (``not_enough_windows`` / ``not_enough_movement``)
   — except that in 3 and 4 a part carrying a code of scripted or replayed movement,
   automation or remote access (:data:`STEP_UP_CODES`) gives step_up (``suspicious_movement``): those codes need
   no owner's head, and a bot's short visit must not be waved through as "no data"
5. score >= ``deny``                                      -> deny (``score_above_deny``)
6. score >= ``step_up``, or a part carries one of :data:`STEP_UP_CODES`
                                                          -> step_up (``score_above_step_up`` /
   ``suspicious_movement``)
7. otherwise                                              -> allow

``reasons`` lists the decision's own code first (when it has one), then the score's reason
codes of the counted parts (declared in :mod:`cursorprint.stream.records.reasons`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from cursorprint.stream.decide.credentials import SitePolicy
from cursorprint.stream.records.reasons import (
    REASON_AUTOMATION,
    REASON_CONSTANT_SPEED,
    REASON_NO_JITTER,
    REASON_NO_USER_HEAD,
    REASON_REMOTE_ACCESS,
    REASON_REPLAYED,
    REASON_STRAIGHT,
    REASON_TELEPORT,
)
from cursorprint.stream.stores.live_scores import LABEL_FRAUD, LivePart, LiveState

__all__ = ["Decision", "decide", "counted_parts", "combined_logit", "DECISIONS",
           "STEP_UP_CODES", "DECISION_CODES", "SCORE_EPS"]

ALLOW, STEP_UP, DENY, NOT_ENOUGH = "allow", "step_up", "deny", "not_enough_data"
DECISIONS = (ALLOW, STEP_UP, DENY, NOT_ENOUGH)

# The decision's own codes (next to the score's reason codes in ``reasons``).
CODE_SESSION_UNKNOWN = "session_unknown"
CODE_FRAUD_CONFIRMED = "fraud_confirmed"
CODE_FEW_WINDOWS = "not_enough_windows"
CODE_LITTLE_MOVEMENT = "not_enough_movement"
CODE_DENY = "score_above_deny"
CODE_STEP_UP = "score_above_step_up"
CODE_SUSPICIOUS = "suspicious_movement"
DECISION_CODES = (CODE_SESSION_UNKNOWN, CODE_FRAUD_CONFIRMED, CODE_FEW_WINDOWS,
                  CODE_LITTLE_MOVEMENT, CODE_DENY, CODE_STEP_UP, CODE_SUSPICIOUS)

#: score reason codes that never allow: scripted or replayed movement, automation, and a
#: remote-desktop session (the account-takeover and "tech support" scam set-up: the owner's own
#: mouse may be the one moving, so the score cannot clear it - a second factor can)
STEP_UP_CODES = frozenset({REASON_STRAIGHT, REASON_CONSTANT_SPEED, REASON_NO_JITTER,
                           REASON_TELEPORT, REASON_REPLAYED, REASON_AUTOMATION,
                           REASON_REMOTE_ACCESS})
SCORE_EPS = 1e-6     # scores this close to 0 or 1 count as this


@dataclass(frozen=True)
class Decision:
    """The body of a ``POST /v1/decisions`` answer (``explanation_url`` added by the service)."""

    decision: str
    score: float | None
    reasons: list[str]
    seconds_of_movement: float
    windows_scored: int
    model_version: str | None
    head_version: str | None
    evaluated_at: float           # epoch ms

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def counted_parts(parts: list[LivePart]) -> list[LivePart]:
    """Per segment: its closed part if there is one, else all its windows."""
    by_segment: dict[int, list[LivePart]] = {}
    for p in parts:
        by_segment.setdefault(p.segment, []).append(p)
    out: list[LivePart] = []
    for seg in sorted(by_segment):
        closed = [p for p in by_segment[seg] if p.closed]
        out += [max(closed, key=lambda p: p.scored_at)] if closed else by_segment[seg]
    return out


def _logit(p: float, eps: float) -> float:
    p = min(max(float(p), eps), 1.0 - eps)
    return math.log(p / (1.0 - p))


def combined_logit(parts: Sequence[LivePart], eps: float = SCORE_EPS) -> float:
    """The session's evidence from its counted ``parts``: their score logits averaged, weighted
    by the windows each was made of; a score is taken as at least ``eps`` from 0 and 1 (the
    decision uses :data:`SCORE_EPS`; the time-to-detect replay ranks the logits of scores a
    hair from 1, so it passes a much smaller ``eps``)."""
    if not parts:
        raise ValueError("no parts: a combined score needs at least one scored part")
    weights = [max(p.n_windows, 1) for p in parts]
    return sum(w * _logit(p.score, eps)
               for w, p in zip(weights, parts, strict=True)) / sum(weights)


def _unique(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


def decide(state: LiveState, policy: SitePolicy, now_ms: float) -> Decision:
    """The decision on one page session (see the module's rules)."""
    parts = counted_parts(state.parts)
    if not parts:
        codes = [CODE_FRAUD_CONFIRMED] if state.label == LABEL_FRAUD else [CODE_SESSION_UNKNOWN]
        return Decision(DENY if state.label == LABEL_FRAUD else NOT_ENOUGH, None, codes, 0.0, 0,
                        None, None, now_ms)
    latest = max(parts, key=lambda p: p.scored_at)
    score = round(1.0 / (1.0 + math.exp(-combined_logit(parts))), 6)
    windows = sum(p.n_windows for p in parts)
    seconds = round(sum(p.seconds for p in parts), 3)
    score_codes = _unique([r for p in parts for r in p.reasons])

    def out(decision: str, *codes: str) -> Decision:
        return Decision(decision, score, _unique([*codes, *score_codes]), seconds, windows,
                        latest.model_version, latest.head_version, now_ms)

    if state.label == LABEL_FRAUD:
        return out(DENY, CODE_FRAUD_CONFIRMED)
    # scripted, replayed or automated movement is evidence by itself: a new account or a short
    # interaction gets step_up for it, not the benefit of not_enough_data
    suspicious = bool(STEP_UP_CODES.intersection(score_codes))
    if REASON_NO_USER_HEAD in score_codes:
        return out(STEP_UP, CODE_SUSPICIOUS) if suspicious else out(NOT_ENOUGH)
    if windows < policy.min_windows:
        return out(STEP_UP, CODE_SUSPICIOUS) if suspicious else out(NOT_ENOUGH, CODE_FEW_WINDOWS)
    if seconds < policy.min_seconds:
        return (out(STEP_UP, CODE_SUSPICIOUS) if suspicious
                else out(NOT_ENOUGH, CODE_LITTLE_MOVEMENT))
    if score >= policy.deny:
        return out(DENY, CODE_DENY)
    if score >= policy.step_up:
        return out(STEP_UP, CODE_STEP_UP)
    if suspicious:
        return out(STEP_UP, CODE_SUSPICIOUS)
    return out(ALLOW)
