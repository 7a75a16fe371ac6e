"""Rasterizer throughput: events/s on one core, vectorised numpy vs a naive Pillow loop.

Both draw the same windows (the stream's window rule) of synthetic sessions at the same size,
in one run on one machine, interleaved, medians of several repetitions; the ratio is what to
compare across machines. Also the stream's case: one window per call (per-call overhead).

    taskset -c 0 python -m bench.raster_throughput [--events 200000] [--size 64] [--reps 5]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from cursorprint.model.data.synthetic import synth_users  # noqa: E402
from cursorprint.model.data.trajectory import (  # noqa: E402
    BUTTON_LEFT,
    BUTTON_RIGHT,
    KIND_DOWN,
    Trajectory,
)
from cursorprint.model.features.raster import (  # noqa: E402
    LEFT_COLOUR,
    RIGHT_COLOUR,
    V0,
    VMAX,
    rasterize_batch,
)
from cursorprint.model.features.windows import cut  # noqa: E402


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


def _rate(fn: Callable[[], object], n_events: int, reps: int) -> float:
    """Median events/s of ``reps`` timed calls (the machine is shared: the median resists
    another job's bursts better than one call)."""
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n_events / float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000, help="session events to draw")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=512, help="windows per vectorised call")
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions (median reported)")
    args = ap.parse_args()
    for name in ("events", "size", "chunk", "reps"):
        if getattr(args, name) <= 0:
            ap.error(f"--{name} must be positive, got {getattr(args, name)}")
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) != 1:
        print("note: not pinned to one core; run under `taskset -c 0` for a per-core figure")
    trajs = synth_users(8, 1, args.events // 8, seed=0)
    per_session = [cut(tr)[0] for tr in trajs]
    windows = [w for ws in per_session for w in ws]
    n_events = sum(len(w) for w in windows)
    sample = windows[: max(1, len(windows) // 10)]
    n_sample = sum(len(w) for w in sample)

    def batched() -> None:
        for i in range(0, len(windows), args.chunk):
            rasterize_batch(windows[i:i + args.chunk], args.size)

    def one_window_per_call() -> None:
        for w in sample:
            rasterize_batch([w], args.size)

    batched()                       # warm-up: allocator, caches, lazy imports
    naive_pillow(sample[:8], args.size)
    rates: dict[str, list[float]] = {"batch": [], "single": [], "pillow": []}
    for _ in range(args.reps):      # interleaved, so a burst of load hits all three alike
        rates["batch"].append(_rate(batched, n_events, 1))
        rates["single"].append(_rate(one_window_per_call, n_sample, 1))
        rates["pillow"].append(_rate(lambda: naive_pillow(sample, args.size), n_sample, 1))
    v_rate, s_rate, p_rate = (float(np.median(rates[k])) for k in ("batch", "single", "pillow"))
    print(f"windows: {len(windows)} of the window rule, {n_events} window events, "
          f"size {args.size}px, median of {args.reps} interleaved repetitions")
    print(f"vectorised numpy, {args.chunk} windows/call: {v_rate / 1e6:6.2f} M events/s")
    print(f"vectorised numpy, 1 window/call   : {s_rate / 1e6:6.2f} M events/s "
          f"(on {len(sample)} windows)")
    print(f"naive Pillow loop                 : {p_rate / 1e6:6.2f} M events/s "
          f"(on {len(sample)} windows)")
    print(f"ratio batch / Pillow              : {v_rate / p_rate:6.1f}x")
    print(f"ratio 1 window / Pillow           : {s_rate / p_rate:6.1f}x")


if __name__ == "__main__":
    main()
