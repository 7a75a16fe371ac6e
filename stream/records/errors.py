"""The one error tree of the streaming service.

Every error cursorprint raises on purpose is a :class:`CursorprintError`, so a caller can tell
"our refusal, with a reason" from a bug. A :class:`Refusal` is answered over HTTP as it is: it
carries the status, the short machine-readable ``reason`` that ingest answers with and metrics
count, a ``detail`` naming the bad field or value for a person, and any headers (``Retry-After``).
Each subclass has its own default status, so no caller keeps a table from reasons to statuses:

=====================  ======  =====================================================
class                  status  for
=====================  ======  =====================================================
:class:`RejectedInput`   422   input refused (a site's own refusals pass a status)
:class:`WireError`       422   a wire batch or ``pointer-batches`` record that breaks the schema
:class:`TokenError`      401   a user token refused (``token_wrong_site`` passes 403)
:class:`Unavailable`     503   a dependency (Kafka, Redis) cannot be reached now; retry later
=====================  ======  =====================================================

(``model/`` keeps its own errors: it imports nothing from ``stream/``.)
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["CursorprintError", "Refusal", "RejectedInput", "WireError", "TokenError",
           "RecordError", "Unavailable"]


class CursorprintError(Exception):
    """Base of every error cursorprint raises on purpose."""


class Refusal(CursorprintError):
    """A refusal with an HTTP ``status``, a short ``reason`` code, a ``detail`` for a person
    and extra response ``headers``; ``status`` defaults to the class's ``default_status``."""

    default_status: ClassVar[int] = 400

    def __init__(self, reason: str, detail: str, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.status = self.default_status if status is None else status
        self.headers = dict(headers or {})


class RejectedInput(Refusal, ValueError):
    """Input refused: the bad field or value is named in ``detail``."""

    default_status = 422


class WireError(RejectedInput):
    """A wire batch or ``pointer-batches`` record that breaks the schema (400 when the body is
    not UTF-8 JSON at all)."""


class TokenError(RejectedInput):
    """A user token refused: missing, malformed, badly signed, expired or for another site."""

    default_status = 401


class RecordError(CursorprintError, ValueError):
    """A Kafka record that cannot be decoded (it goes to the dead-letter topic)."""


class Unavailable(Refusal, RuntimeError):
    """A dependency (Kafka, Redis) cannot be reached now; the request may be retried."""

    default_status = 503
