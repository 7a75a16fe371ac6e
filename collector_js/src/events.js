// Event kind and button codes of the wire batch. The Python side defines them once
// (stream/records/events.py); tests/stream/records/test_contracts.py checks these against it.
export const KIND = { move: 0, down: 1, up: 2, wheel: 3, leave: 4, hidden: 5 };
export const BUTTON = { none: 0, left: 1, middle: 2, right: 3 };

/** Wire button code of a DOM MouseEvent.button (0 main, 1 middle, 2 secondary); -1 for the
 * others (back, forward, pen eraser), which the wire batch has no code for. */
export const buttonCode = (domButton) =>
  (domButton >= 0 && domButton <= 2 ? domButton + BUTTON.left : -1);
