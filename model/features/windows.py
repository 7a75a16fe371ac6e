"""The ONE rule that cuts a session into windows and turns window scores into a session score.

Training, evaluation and the stream all call :func:`cut` and :func:`aggregate`, so a model is
always scored on the same kind of pictures it was trained on.

The rule (:class:`WindowRule`, stored in every model's ``model.json``):

1. **Rate normalisation.** Pointer moves are kept at most once per ``bucket_s`` (16 ms, the
   browser frame rate): the first move of each 16 ms time bucket is kept, every non-move event
   (clicks, wheel, leave) is always kept. A collector sampling every 5 ms and a recording made at
   60 Hz then give windows covering the same stretch of time, and Balabit's repeated timestamps
   (coalesced RDP events) collapse.
2. **Windows by events, with overlap.** Windows of ``events`` events (256, about 4 s of
   movement) start every ``stride`` events (128: 50 % overlap). A tail longer than
   ``stride / 2`` events that the last full window missed gets one more window aligned to the
   session's end. A session shorter than ``events`` gives one window with all its events.
3. **Too short.** A session with fewer than ``min_events`` events after step 1 is still
   scored (one window) but carries the reason code ``too_few_events``; an empty one gives no
   window.
4. **Aggregation.** A window score is a calibrated logit of "not the owner"; the session score
   is ``sigmoid(mean(window logits))`` — averaging logits weighs every window's evidence
   equally and stays calibrated when windows agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from cursorprint.model.data.trajectory import KIND_MOVE, Trajectory

__all__ = ["WindowRule", "DEFAULT_RULE", "normalise_rate", "window_bounds", "cut", "aggregate",
           "REASON_TOO_FEW_EVENTS", "sigmoid"]

REASON_TOO_FEW_EVENTS = "too_few_events"


@dataclass(frozen=True)
class WindowRule:
    """Parameters of the window rule; see the module docstring."""

    events: int = 256
    stride: int = 128
    min_events: int = 64
    bucket_s: float = 0.016

    def __post_init__(self) -> None:
        if self.events < 2:
            raise ValueError(f"WindowRule.events must be >= 2, got {self.events}")
        if not 1 <= self.stride <= self.events:
            raise ValueError(f"WindowRule.stride must be in [1, events={self.events}], "
                             f"got {self.stride}")
        if not 1 <= self.min_events <= self.events:
            raise ValueError(f"WindowRule.min_events must be in [1, events={self.events}], "
                             f"got {self.min_events}")
        if not self.bucket_s >= 0:
            raise ValueError(f"WindowRule.bucket_s must be >= 0, got {self.bucket_s}")

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, object]) -> WindowRule:
        return WindowRule(events=int(d["events"]), stride=int(d["stride"]),  # type: ignore[call-overload]
                          min_events=int(d["min_events"]),  # type: ignore[call-overload]
                          bucket_s=float(d["bucket_s"]))  # type: ignore[arg-type]


DEFAULT_RULE = WindowRule()


def normalise_rate(traj: Trajectory, bucket_s: float) -> Trajectory:
    """Keep the first move of every ``bucket_s`` time bucket and every non-move event."""
    n = len(traj)
    if n == 0 or bucket_s <= 0:
        return traj
    is_move = traj.kind == KIND_MOVE
    bucket = np.floor((traj.t - traj.t[0]) / bucket_s).astype(np.int64)
    move_idx = np.flatnonzero(is_move)
    keep = ~is_move
    if len(move_idx):
        mb = bucket[move_idx]
        first = np.ones(len(move_idx), dtype=bool)
        first[1:] = mb[1:] != mb[:-1]
        keep[move_idx[first]] = True
    if keep.all():
        return traj
    return Trajectory(traj.t[keep], traj.x[keep], traj.y[keep], traj.kind[keep],
                      traj.button[keep], traj.screen, traj.meta)


def window_bounds(n: int, rule: WindowRule = DEFAULT_RULE) -> list[tuple[int, int]]:
    """(start, stop) event ranges of the windows of an ``n``-event (rate-normalised) session."""
    if n <= 0:
        return []
    if n <= rule.events:
        return [(0, n)]
    starts = list(range(0, n - rule.events + 1, rule.stride))
    last_stop = starts[-1] + rule.events
    if n - last_stop > rule.stride // 2:
        starts.append(n - rule.events)
    return [(s, s + rule.events) for s in starts]


def cut(traj: Trajectory, rule: WindowRule = DEFAULT_RULE) -> tuple[list[Trajectory], list[str]]:
    """Cut a session into windows; also return reason codes (``too_few_events``)."""
    norm = normalise_rate(traj, rule.bucket_s)
    reasons = [REASON_TOO_FEW_EVENTS] if len(norm) < rule.min_events else []
    return [norm.slice(a, b) for a, b in window_bounds(len(norm), rule)], reasons


def sigmoid(z: np.ndarray | float) -> np.ndarray:
    """The logistic function, float64 (the project's only one: heads, window and session
    scores); saturates to exactly 0 or 1 far out instead of warning."""
    with np.errstate(over="ignore"):
        return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64))))


def aggregate(window_logits: np.ndarray | list[float]) -> float:
    """Session score in [0, 1] from window logits: sigmoid of their mean (0.5 when empty)."""
    arr = np.asarray(window_logits, dtype=np.float64)
    if arr.size == 0:
        return 0.5
    return float(sigmoid(arr.mean()))
