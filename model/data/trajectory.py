"""The one in-memory form of a mouse recording, shared by readers, rasterizer, training and stream.

A :class:`Trajectory` is columnar (numpy arrays of equal length), so windows, rasters and wire
encodings never loop over events in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Trajectory", "KIND_MOVE", "KIND_DOWN", "KIND_UP", "KIND_WHEEL", "KIND_LEAVE",
           "KIND_HIDDEN", "BUTTON_NONE", "BUTTON_LEFT", "BUTTON_RIGHT", "BUTTON_MIDDLE"]

# Event kinds (the wire batch uses the same codes).
KIND_MOVE, KIND_DOWN, KIND_UP, KIND_WHEEL, KIND_LEAVE = 0, 1, 2, 3, 4
KIND_HIDDEN = 5          # the page became hidden (visibilitychange)
# Buttons, as in the DOM's MouseEvent.button + 1 (0 means no button).
BUTTON_NONE, BUTTON_LEFT, BUTTON_MIDDLE, BUTTON_RIGHT = 0, 1, 2, 3


@dataclass(frozen=True)
class Trajectory:
    """One recording: times in seconds from its start, positions in screen/page pixels.

    ``screen`` is the (width, height) of the surface the coordinates live on; the rasterizer
    normalises by it so another resolution gives the same picture of the same motion.
    """

    t: np.ndarray            # float64 seconds, non-decreasing
    x: np.ndarray            # float32 pixels
    y: np.ndarray            # float32 pixels
    kind: np.ndarray         # uint8, KIND_*
    button: np.ndarray       # uint8, BUTTON_*
    screen: tuple[int, int] = (1920, 1080)
    meta: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        n = len(self.t)
        for name in ("x", "y", "kind", "button"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Trajectory.{name} has {len(getattr(self, name))} events, "
                                 f"t has {n}")

    def __len__(self) -> int:
        return len(self.t)

    @property
    def duration(self) -> float:
        return float(self.t[-1] - self.t[0]) if len(self.t) else 0.0

    def slice(self, start: int, stop: int) -> Trajectory:
        return Trajectory(self.t[start:stop], self.x[start:stop], self.y[start:stop],
                          self.kind[start:stop], self.button[start:stop], self.screen, self.meta)

    @staticmethod
    def from_columns(t: object, x: object, y: object, kind: object, button: object,
                     screen: tuple[int, int], meta: dict[str, object] | None = None) -> Trajectory:
        return Trajectory(np.asarray(t, dtype=np.float64), np.asarray(x, dtype=np.float32),
                          np.asarray(y, dtype=np.float32), np.asarray(kind, dtype=np.uint8),
                          np.asarray(button, dtype=np.uint8), screen, dict(meta or {}))
