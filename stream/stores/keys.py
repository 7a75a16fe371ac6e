"""Every Redis key and channel name cursorprint uses, in one place.

One Redis (``CURSORPRINT_REDIS_URL``) holds several stores; their prefixes must never overlap and
must never contain a raw user id or session id (only pseudonymous user keys, shingle hashes and
session digests), which ``tests/pipeline/test_privacy.py`` checks on real data. Operators find
here what each ``cursorprint:*`` key is.
"""

from __future__ import annotations

__all__ = ["ROOT", "HEAD_PREFIX", "HEADS_CHANNEL", "ENROLMENT_PREFIX", "ENROLLED_PREFIX",
           "FINGERPRINT_PREFIX", "SMOKE_KEY", "LIVE_PREFIX", "LABELS_STREAM", "head_key",
           "enrolment_key", "fingerprint_key", "live_key"]

ROOT = "cursorprint:"
HEAD_PREFIX = ROOT + "head:"            # hash per user key: head bytes, version, meta (JSON)
HEADS_CHANNEL = ROOT + "heads"          # pub/sub: user keys whose head changed
ENROLMENT_PREFIX = ROOT + "enroll:"     # list per user key: trusted window descriptors (<f4)
ENROLLED_PREFIX = ROOT + "enrolled:"    # hash (+ ":order" list) per user key: digests of the
                                        # trusted sessions enrolled, so each counts once
FINGERPRINT_PREFIX = ROOT + "replay:"   # set per shingle hash: digests of sessions that had it
SMOKE_KEY = ROOT + "smoke"              # `cursorprint stack status` round trip, expires in 60 s
LIVE_PREFIX = ROOT + "live:"            # hash per page-session digest: live scores, owner, label
LABELS_STREAM = ROOT + "labels"         # stream: the sites' feedback labels (pseudonymous)


def head_key(user_key: str) -> str:
    """The hash holding ``user_key``'s head."""
    return HEAD_PREFIX + user_key


def enrolment_key(user_key: str) -> str:
    """The list of ``user_key``'s trusted window descriptors."""
    return ENROLMENT_PREFIX + user_key


def fingerprint_key(shingle: int, prefix: str = FINGERPRINT_PREFIX) -> str:
    """The set of session digests that contained ``shingle`` (a 64-bit hash, fixed width hex)."""
    return f"{prefix}{shingle:016x}"


def live_key(session_digest: str, prefix: str = LIVE_PREFIX) -> str:
    """The hash of one page session's live scores (keyed by the session's digest, never its
    raw id; see :mod:`.live_scores`)."""
    return prefix + session_digest
