"""Live parts for the decision tests."""

from __future__ import annotations

from cursorprint.stream.stores.live_scores import LivePart


def part(score: float, *, segment: int = 0, part: str | int = 0, windows: int = 2,
         seconds: float = 4.0, reasons: list[str] | None = None, head: str = "h1",
         at: float = 1000.0, src: tuple[int, int] | None = (0, 7)) -> LivePart:
    return LivePart(segment=segment, part=part, cause="window" if part != "final" else "exit",
                    score=score, n_windows=windows, reasons=list(reasons or []),
                    model_version="m1", head_version=head, n_events=100 * windows,
                    seconds=seconds, scored_at=at, src=src)
