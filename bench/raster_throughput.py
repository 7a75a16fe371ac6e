"""Rasterizer throughput: events/s on one core, vectorised numpy vs a naive Pillow loop.

Both draw the same windows (the stream's window rule) of synthetic sessions at the same size,
in one run on one machine; the ratio is what to compare across machines.

    python -m bench.raster_throughput [--events 200000] [--size 64]
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from cursorprint.model.raster import (  # noqa: E402
    LEFT_COLOUR,
    RIGHT_COLOUR,
    V0,
    VMAX,
    rasterize_batch,
)
from cursorprint.model.synthetic import synth_users  # noqa: E402
from cursorprint.model.trajectory import (  # noqa: E402
    BUTTON_LEFT,
    BUTTON_RIGHT,
    KIND_DOWN,
    Trajectory,
)
from cursorprint.model.windows import cut  # noqa: E402


def naive_pillow(windows: list[Trajectory], size: int) -> np.ndarray:
    """Reference: one ImageDraw.line call per segment, one ellipse per click."""
    out = np.zeros((len(windows), size, size, 3), dtype=np.float32)
    log_top = math.log1p(VMAX / V0)
    for i, w in enumerate(windows):
        img = Image.new("RGB", (size, size))
        draw = ImageDraw.Draw(img)
        x0, x1, y0, y1 = w.x.min(), w.x.max(), w.y.min(), w.y.max()
        side = max(x1 - x0, y1 - y0, 0.05 * max(w.screen))
        span = size - 1 - 2 * (max(1, size // 32) + 1)
        u = (w.x - (x0 + x1) / 2) / side * span + size / 2
        v = (w.y - (y0 + y1) / 2) / side * span + size / 2
        scale = float(max(w.screen))
        ts, xs, ys = w.t.tolist(), w.x.tolist(), w.y.tolist()
        us, vs = u.tolist(), v.tolist()
        for j in range(len(w) - 1):
            dt = max(ts[j + 1] - ts[j], 1e-3)
            sp = math.hypot(xs[j + 1] - xs[j], ys[j + 1] - ys[j]) / scale / dt
            s = min(1.0, math.log1p(sp / V0) / log_top)
            draw.line([(us[j], vs[j]), (us[j + 1], vs[j + 1])],
                      fill=(int(255 * s), 64, int(255 * (1 - s))))
        r = max(1, size // 32)
        for j in np.flatnonzero(w.kind == KIND_DOWN):
            col = {BUTTON_LEFT: LEFT_COLOUR, BUTTON_RIGHT: RIGHT_COLOUR}.get(int(w.button[j]))
            if col is not None:
                draw.ellipse([u[j] - r, v[j] - r, u[j] + r, v[j] + r],
                             fill=tuple(int(255 * a) for a in col))
        out[i] = np.asarray(img, dtype=np.float32) / 255.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000, help="session events to draw")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=512, help="windows per vectorised call")
    args = ap.parse_args()
    trajs = synth_users(8, 1, args.events // 8, seed=0)
    windows = [w for tr in trajs for w in cut(tr)[0]]
    n_events = sum(len(w) for w in windows)
    rasterize_batch(windows[:8], args.size)
    t = time.perf_counter()
    for i in range(0, len(windows), args.chunk):
        rasterize_batch(windows[i:i + args.chunk], args.size)
    vec = time.perf_counter() - t
    sample = windows[: max(1, len(windows) // 10)]
    n_sample = sum(len(w) for w in sample)
    t = time.perf_counter()
    naive_pillow(sample, args.size)
    pil = time.perf_counter() - t
    v_rate, p_rate = n_events / vec, n_sample / pil
    print(f"windows: {len(windows)} of the window rule, {n_events} window events, "
          f"size {args.size}px")
    print(f"vectorised numpy : {v_rate / 1e6:6.2f} M events/s (one core)")
    print(f"naive Pillow loop: {p_rate / 1e6:6.2f} M events/s (on {len(sample)} windows)")
    print(f"ratio            : {v_rate / p_rate:6.1f}x")


if __name__ == "__main__":
    main()
