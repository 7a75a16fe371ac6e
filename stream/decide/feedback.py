"""What the decision and feedback calls do with the live-score store, apart from HTTP.

:func:`check_owner` refuses a page session of another site or user (403). :func:`give_feedback`
labels a session once (409 when it already carries the other label), keeps the label for
evaluation (:func:`label_record`, the format ``cursorprint decide labels`` exports) and, for
``owner_confirmed``, forwards the session's closed parts with enough movement to
``trusted-sessions``: those already scored now (read back from ``sessions`` by offset), later
ones by the scorer when it stores them (it sees the label; see :mod:`.live`). Each part is
claimed once in Redis before it is sent, so repeating the call forwards nothing twice; at most
``max_trusted_parts`` per page session.

Label record (stream ``cursorprint:labels``, every value a string; pseudonymous only):
``v`` ("1"), ``label`` (owner_confirmed | fraud_confirmed), ``site``, ``user`` (the user key),
``session`` (the page session's digest), ``time`` (epoch ms), ``decision``, ``score`` ("" when
none), ``windows_scored``, ``seconds_of_movement``, ``model_version``, ``head_version``,
``reasons`` (comma-separated) -- what the decision call would have answered at labelling time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from cursorprint.stream.decide.credentials import SitePolicy
from cursorprint.stream.decide.kafka_io import TrustedIO
from cursorprint.stream.decide.policy import decide
from cursorprint.stream.records.errors import RejectedInput, Unavailable
from cursorprint.stream.stores.base import LiveScores
from cursorprint.stream.stores.live_scores import (
    LABEL_OWNER,
    LiveState,
    owner_of,
    session_digest,
    split_session_id,
)

__all__ = ["check_owner", "give_feedback", "label_record", "FeedbackResult", "LABEL_FIELDS"]

log = logging.getLogger(__name__)
LABEL_FIELDS = ("v", "label", "site", "user", "session", "time", "decision", "score",
                "windows_scored", "seconds_of_movement", "model_version", "head_version",
                "reasons")


def check_owner(state: LiveState, site: str, user_key: str) -> None:
    """403 unless the session is unknown or owned by ``user_key`` on ``site``."""
    if state.owner is None or state.owner == owner_of(site, user_key):
        return
    owner_site, _, _ = state.owner.partition("|")
    if owner_site != site:
        raise RejectedInput("session_of_another_site",
                            "this page session belongs to another site", status=403)
    raise RejectedInput("session_of_another_user",
                        "this page session belongs to another user of this site", status=403)


def label_record(sid: str, site: str, user_key: str, label: str, state: LiveState,
                 policy: SitePolicy, now_ms: float) -> dict[str, str]:
    d = decide(state, policy, now_ms)
    return {"v": "1", "label": label, "site": site, "user": user_key,
            "session": session_digest(sid), "time": f"{now_ms:.0f}", "decision": d.decision,
            "score": "" if d.score is None else f"{d.score:.6f}",
            "windows_scored": str(d.windows_scored),
            "seconds_of_movement": f"{d.seconds_of_movement:.3f}",
            "model_version": d.model_version or "", "head_version": d.head_version or "",
            "reasons": ",".join(d.reasons)}


@dataclass(frozen=True)
class FeedbackResult:
    label: str
    already: bool          # the session carried this label before the call
    forwarded: int         # closed parts sent to trusted-sessions by this call
    pending: bool          # owner_confirmed on a session with no closed part yet

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "already": self.already, "forwarded": self.forwarded,
                "pending": self.pending}


def _matches(raw: bytes, sid: str, part: str | int, user_key: str) -> bool:
    """The record read back is the part we claimed (offsets never lie, but be sure)."""
    try:
        obj = json.loads(raw)
        return (split_session_id(str(obj["session_id"]))[0] == sid
                and str(obj["part"]) == str(part) and obj["user"] == user_key)
    except (ValueError, KeyError, TypeError):
        return False


async def give_feedback(store: LiveScores, io: TrustedIO, *, sid: str, site: str,
                        user_key: str, label: str, policy: SitePolicy, now_ms: float,
                        min_trusted_seconds: float, max_trusted_parts: int) -> FeedbackResult:
    """Label the session and forward what an ``owner_confirmed`` label enrolls."""
    state = await store.set_label(sid, owner_of(site, user_key), label)
    check_owner(state, site, user_key)
    if state.label != label:
        raise RejectedInput("label_conflict", f"the session is already labelled {state.label}",
                            status=409)
    if state.created_label:
        await store.append_label(label_record(sid, site, user_key, label, state, policy,
                                              now_ms))
    if label != LABEL_OWNER:
        return FeedbackResult(label, not state.created_label, 0, False)
    closed = [p for p in state.parts if p.closed]
    wanted = {p.id: p for p in closed if p.src is not None and p.seconds >= min_trusted_seconds
              and p.id not in state.forwarded}
    claimed = await store.claim_forward(sid, list(wanted), max_trusted_parts)
    forwarded = 0
    for i, pid in enumerate(claimed):
        part = wanted[pid]
        assert part.src is not None
        try:
            raw = await io.fetch(*part.src)
            if raw is None or not _matches(raw, sid, part.part, user_key):
                log.warning("feedback: a closed part's sessions record is gone; not enrolled")
                continue
            await io.send_trusted(user_key.encode(), raw)
            forwarded += 1
        except Unavailable:
            await store.release_forward(sid, claimed[i:])
            raise
    return FeedbackResult(label, not state.created_label, forwarded, not closed)
