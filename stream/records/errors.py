"""The one error tree of the streaming service.

Every error cursorprint raises on purpose is a :class:`CursorprintError`, so a caller can tell
"our refusal, with a reason" from a bug. A refusal of input (:class:`RejectedInput`) carries the
HTTP status and the short machine-readable ``reason`` that ingest answers with and that metrics
count; ``detail`` names the bad field or value for a person. (``model/`` keeps its own errors:
it imports nothing from ``stream/``.)
"""

from __future__ import annotations

__all__ = ["CursorprintError", "RejectedInput", "RecordError", "Unavailable"]


class CursorprintError(Exception):
    """Base of every error cursorprint raises on purpose."""


class RejectedInput(CursorprintError, ValueError):
    """Input refused: ``status`` is the HTTP status, ``reason`` a short code, ``detail`` names
    the bad field or value."""

    def __init__(self, reason: str, detail: str, status: int = 422,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.status = status
        self.headers = headers or {}


class RecordError(CursorprintError, ValueError):
    """A Kafka record that cannot be decoded (it goes to the dead-letter topic)."""


class Unavailable(CursorprintError, RuntimeError):
    """A dependency (Kafka, Redis) cannot be reached now; the request may be retried."""
