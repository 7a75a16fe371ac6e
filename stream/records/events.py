"""Event kind and button codes of the wire batch, the ``pointer-batches`` and ``sessions`` records,
and the batch's pointer types and sampling sources.

The codes are defined once, in :mod:`cursorprint.model.data.trajectory`, because the offline
readers and the rasterizer need them and ``model/`` imports nothing from ``stream/``; this module
re-exports them under the names the stream uses, so every stream module and the wire validator
read them from here. The browser collector keeps its own copy (``collector_js/src/events.js``,
it has no build step that could import Python); ``tests/stream/records/test_contracts.py``
checks that copy against these.

A batch holds the events of one pointer type (``pt``): the collector cuts the batch when the type
changes, so mouse, pen and touch movement are never mixed in one batch; only ``mouse`` batches
are what the mouse model was trained on. ``smp`` (sampling) names the event source the collector
counted on and counts what the page delivered; a gap between two consecutive pointer samples
counts towards the achieved input rate only when shorter than :data:`SAMPLE_GAP_MS` (longer
ones are pauses, not the device's rate).
"""

from __future__ import annotations

from types import MappingProxyType

from cursorprint.model.data.trajectory import (
    BUTTON_LEFT,
    BUTTON_MIDDLE,
    BUTTON_NONE,
    BUTTON_RIGHT,
    KIND_DOWN,
    KIND_HIDDEN,
    KIND_LEAVE,
    KIND_MOVE,
    KIND_UP,
    KIND_WHEEL,
)

__all__ = ["KIND_MOVE", "KIND_DOWN", "KIND_UP", "KIND_WHEEL", "KIND_LEAVE", "KIND_HIDDEN",
           "BUTTON_NONE", "BUTTON_LEFT", "BUTTON_MIDDLE", "BUTTON_RIGHT", "KINDS", "BUTTONS",
           "BUTTON_KINDS", "MAX_KIND", "MAX_BUTTON", "POINTER_TYPES", "POINTER_MOUSE",
           "SAMPLING_SOURCES", "SAMPLE_GAP_MS"]

#: kind name -> code, as the collector names them
KINDS = MappingProxyType({"move": KIND_MOVE, "down": KIND_DOWN, "up": KIND_UP,
                          "wheel": KIND_WHEEL, "leave": KIND_LEAVE, "hidden": KIND_HIDDEN})
#: button name -> code (the DOM's ``MouseEvent.button`` + 1 for the three main buttons)
BUTTONS = MappingProxyType({"none": BUTTON_NONE, "left": BUTTON_LEFT, "middle": BUTTON_MIDDLE,
                            "right": BUTTON_RIGHT})
#: kinds that must name a button (a press or a release)
BUTTON_KINDS = frozenset({KIND_DOWN, KIND_UP})
MAX_KIND = max(KINDS.values())
MAX_BUTTON = max(BUTTONS.values())

#: the pointer types a batch may declare (DOM ``PointerEvent.pointerType``)
POINTER_MOUSE = "mouse"
POINTER_TYPES = (POINTER_MOUSE, "pen", "touch")
#: what the collector counted the sampling on: ``pointerrawupdate`` (every device report as it
#: arrives, where the browser has it), ``pointermove`` (one per frame, with its coalesced
#: reports), or ``mousemove`` (browsers without pointer events; no coalesced reports). Positions
#: always come from pointermove / mousemove.
SAMPLING_SOURCES = ("raw", "move", "mouse")
#: gaps between consecutive samples at least this long are pauses, not the input rate (ms)
SAMPLE_GAP_MS = 100
