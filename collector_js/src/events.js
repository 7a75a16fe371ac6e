// Event kind and button codes of the wire batch. The Python side defines them once
// (stream/records/events.py); tests/stream/records/test_contracts.py checks these against it.
export const KIND = { move: 0, down: 1, up: 2, wheel: 3, leave: 4, hidden: 5 };
export const BUTTON = { none: 0, left: 1, middle: 2, right: 3 };

/** Wire button code of a DOM MouseEvent.button (0 main, 1 middle, 2 secondary); -1 for the
 * others (back, forward, pen eraser), which the wire batch has no code for. */
export const buttonCode = (domButton) =>
  (domButton >= 0 && domButton <= 2 ? domButton + BUTTON.left : -1);

// Pointer types a batch may declare (`pt`), the sampling sources (`smp.src`: pointerrawupdate,
// pointermove, mousemove), and the longest gap between two pointer reports that still counts
// towards the achieved input rate (longer ones are pauses). Checked against
// stream/records/events.py like the codes above.
export const PT = ["mouse", "pen", "touch"];
export const SRC = ["raw", "move", "mouse"];
export const GAP_MS = 100;
