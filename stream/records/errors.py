"""The one shape of a refused input: a short machine-readable reason plus a human detail.

Ingest turns these into 4xx answers with a JSON reason; the same codes appear in metrics.
"""

from __future__ import annotations

__all__ = ["RejectedInput"]


class RejectedInput(ValueError):
    """Input refused; ``reason`` is a short code, ``detail`` names the bad field or value."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
