"""Top entries of a py-spy raw profile (collapsed stacks): self and inclusive share per function.

    python bench/profile_top.py sessionizer-profile.txt [--top 25] [--thread MainThread] [--busy]

``--busy`` leaves out the samples taken while the event loop waited in ``select`` (idle: with
``--nonblocking`` py-spy records them too), so the shares are of the time the worker worked.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_IDLE = re.compile(r"^\w*Selector\.select \(selectors\.py\)$")
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def _label(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["file"]
    for marker in ("site-packages/", "/stream/", "/model/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m['fn']} ({path})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("profile", type=Path)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--thread", default="", help="only stacks whose thread name contains this")
    ap.add_argument("--busy", action="store_true",
                    help="leave out samples whose innermost frame is a selector's select (idle)")
    args = ap.parse_args()
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if args.thread and args.thread not in frames[0]:
            continue
        n = int(count)
        labels = [_label(f) for f in frames[1:]] or [frames[0]]
        if args.busy and _IDLE.match(labels[-1]):
            continue
        total += n
        own[labels[-1]] += n
        for lab in set(labels):
            incl[lab] += n
    print(f"{total} samples")
    print("self %   function")
    for lab, n in own.most_common(args.top):
        print(f"{100 * n / total:6.1f}   {lab}")
    print("incl %   function")
    for lab, n in incl.most_common(args.top):
        print(f"{100 * n / total:6.1f}   {lab}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
