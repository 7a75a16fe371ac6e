"""Python humanizing libraries moving the real X pointer (Chromium headed under Xvfb).

Run as ``python -m cursorprint.stream.devtools.botcorpus.xdriver --lib LIB -- node driver.mjs
...``: the node driver opens the pages and asks for each pointer action on its stdout (one JSON
line, screen pixels); this process performs it with the library and answers ``ok``.

Libraries (as a script author would call them):
- ``pyautogui``: ``pyautogui.moveTo(x, y, duration, tween)`` with a ``pytweening`` easing,
  pyautogui's default pacing (``MINIMUM_SLEEP`` 0.05 s, ``PAUSE`` 0.1 s).
- ``humancursor``: ``humancursor.SystemCursor().move_to`` (its randomised human curve, knots,
  distortion and tween, duration 0.5-2 s).
- ``pyclick``: ``pyclick.HumanClicker().move`` along its ``HumanCurve`` (Bezier with distortion
  and tween), duration 0.3-1.5 s.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["EXTERNAL_LIBS", "main"]

EXTERNAL_LIBS = ("pyautogui", "humancursor", "pyclick")


def _mover(lib: str, rng: random.Random) -> Callable[[float, float], None]:
    import pyautogui
    import pytweening

    pyautogui.FAILSAFE = False
    if lib == "pyautogui":
        tweens = [pytweening.easeInOutQuad, pytweening.easeOutQuad, pytweening.easeInOutSine,
                  pytweening.easeOutCubic, pytweening.linear, pytweening.easeInOutCubic]

        def move(x: float, y: float) -> None:
            pyautogui.moveTo(x, y, duration=rng.uniform(0.2, 1.2), tween=rng.choice(tweens))
        return move
    if lib == "humancursor":
        from humancursor import SystemCursor

        cursor = SystemCursor()

        def move(x: float, y: float) -> None:
            cursor.move_to((int(round(x)), int(round(y))))
        return move
    if lib == "pyclick":
        from pyclick import HumanClicker

        clicker = HumanClicker()

        def move(x: float, y: float) -> None:
            clicker.move((int(round(x)), int(round(y))), duration=rng.uniform(0.3, 1.5))
        return move
    raise ValueError(f"unknown library {lib!r}; one of {EXTERNAL_LIBS}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lib", required=True, choices=EXTERNAL_LIBS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("node", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    cmd = [a for a in args.node if a != "--"]
    import pyautogui

    move = _mover(args.lib, random.Random(args.seed))
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            bufsize=1, cwd=Path(__file__).parent)
    assert proc.stdin is not None and proc.stdout is not None
    for line in proc.stdout:
        req = json.loads(line)
        op = req["op"]
        if op == "calibrate":
            pyautogui.moveTo(req["x"], req["y"])
        elif op == "move":
            move(req["x"], req["y"])
        elif op == "down":
            pyautogui.mouseDown(button=req["button"])
        elif op == "up":
            pyautogui.mouseUp(button=req["button"])
        elif op == "wheel":
            pyautogui.scroll(-max(1, int(round(req["dy"] / 100))))
        proc.stdin.write("ok\n")
        proc.stdin.flush()
        if op == "bye":
            break
    proc.stdin.close()
    return proc.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
