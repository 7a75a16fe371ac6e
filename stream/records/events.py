"""Event kind and button codes of the wire batch, the ``pointer-batches`` and ``sessions`` records.

The codes are defined once, in :mod:`cursorprint.model.data.trajectory`, because the offline
readers and the rasterizer need them and ``model/`` imports nothing from ``stream/``; this module
re-exports them under the names the stream uses, so every stream module and the wire validator
read them from here. The browser collector keeps its own copy (``collector_js/src/events.js``,
it has no build step that could import Python); ``tests/stream/records/test_contracts.py``
checks that copy against these.
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
           "BUTTON_KINDS", "MAX_KIND", "MAX_BUTTON"]

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
