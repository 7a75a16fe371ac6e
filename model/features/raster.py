"""Session windows drawn as pictures: the mouse path coloured by speed, clicks as circles.

Why pictures: the network (a VGG16-derived CNN) sees the shape, rhythm and click habits of a
window of motion at once; the same function runs offline (training, evaluation) and online
(the stream's scorer), deterministic for the same input.

Encoding (float32 RGB in [0, 1], black background):

* **Frame.** Each window is framed by its own bounding box: a square of side
  ``max(box width, box height, 5 % of the screen's longer side)`` centred on the box, mapped
  onto the image minus a margin for the click circles. Coordinates are therefore scale-free:
  the same motion recorded at another screen resolution (all pixels times k) gives the same
  picture. ``frame="screen"`` instead maps the whole screen (longer side) onto the image.
* **Speed colour map.** Segment speed ``v`` in screen lengths per second (pixels divided by the
  screen's longer side, so also resolution-free) becomes ``s = clip(log1p(v / 0.05) /
  log1p(10 / 0.05), 0, 1)``; the segment is drawn with colour ``(R, G, B) = (s, 0.25, 1 - s)``:
  slow = blue, fast = orange-red. Red rises and blue falls strictly with speed. Where segments
  overlap, a pixel takes the colour of their mean ``s`` (order-independent, deterministic).
* **Clicks.** Left-button presses are filled green discs ``(0, 1, 0)``, right-button presses
  red discs ``(1, 0, 0)``, radius ``max(1, size // 32)`` px, drawn over the path (right after
  left). The path never has G = 1 or G = 0, so discs cannot be confused with it.
* Segments that start at a ``leave`` or ``hidden`` event are not drawn (the pointer was gone).
* **Encodings.** ``"speed"`` is the above. ``"speed_time"`` also puts *when* a segment was
  drawn into the green channel, ``G = 0.1 + 0.8 * (t_start - t_first) / (t_last - t_first)``
  of the window (per-pixel mean like ``s``): the plain picture cannot tell a stroke from A to
  B from one from B to A, nor which of two crossing strokes came first; with G it can (and with
  the speed colour, where the pointer sped up or slowed down). G stays in [0.1, 0.9], so the
  click discs remain unmistakable. A model stores its encoding in ``model.json``.

Everything is vectorised over all segments of all windows of a batch (no Python loop per
segment or per window beyond collecting arrays).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from cursorprint.model.data.trajectory import (
    BUTTON_LEFT,
    BUTTON_RIGHT,
    KIND_DOWN,
    KIND_HIDDEN,
    KIND_LEAVE,
    Trajectory,
)

__all__ = ["DEFAULT_SIZE", "CHANNELS", "ENCODINGS", "speed_to_unit", "speed_colour",
           "rasterize", "rasterize_batch", "LEFT_COLOUR", "RIGHT_COLOUR", "V0", "VMAX"]

DEFAULT_SIZE = 64
CHANNELS = 3
V0 = 0.05      # screen lengths per second: the knee of the log speed scale
VMAX = 10.0    # screen lengths per second mapped to the top of the colour map
MIN_BOX = 0.05  # smallest frame side, as a fraction of the screen's longer side
LEFT_COLOUR = np.array([0.0, 1.0, 0.0], dtype=np.float32)
RIGHT_COLOUR = np.array([1.0, 0.0, 0.0], dtype=np.float32)
_LOG_TOP = float(np.log1p(VMAX / V0))
ENCODINGS = ("speed", "speed_time")


def speed_to_unit(v: np.ndarray) -> np.ndarray:
    """Speed (screen lengths / s) to the colour-map position ``s`` in [0, 1]."""
    return np.clip(np.log1p(np.maximum(v, 0.0) / V0) / _LOG_TOP, 0.0, 1.0).astype(np.float32)


def speed_colour(s: np.ndarray) -> np.ndarray:
    """Colour map position(s) ``s`` in [0, 1] to RGB: ``(s, 0.25, 1 - s)``."""
    s = np.asarray(s, dtype=np.float32)
    return np.stack([s, np.full_like(s, 0.25), 1.0 - s], axis=-1)


@functools.lru_cache(maxsize=8)
def _disc(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    dy, dx = np.meshgrid(r, r, indexing="ij")
    inside = dx * dx + dy * dy <= radius * radius + radius * 0.5
    offsets = np.stack([dx[inside], dy[inside]], axis=1)
    offsets.flags.writeable = False     # shared through the cache
    return offsets


def rasterize(traj: Trajectory, size: int = DEFAULT_SIZE, frame: str = "bbox",
              encoding: str = "speed") -> np.ndarray:
    """One window as a ``(size, size, 3)`` float32 image."""
    return rasterize_batch([traj], size, frame, encoding)[0]


def rasterize_batch(windows: Sequence[Trajectory], size: int = DEFAULT_SIZE,
                    frame: str = "bbox", encoding: str = "speed") -> np.ndarray:
    """Many windows as ``(n, size, size, 3)`` float32 images, vectorised per group of windows.

    Groups of ``_GROUP`` windows keep the per-pixel accumulators cache-sized.
    """
    if size < 8:
        raise ValueError(f"raster size must be >= 8 pixels, got {size}")
    if frame not in ("bbox", "screen"):
        raise ValueError(f"raster frame must be 'bbox' or 'screen', got {frame!r}")
    if encoding not in ENCODINGS:
        raise ValueError(f"raster encoding must be one of {ENCODINGS}, got {encoding!r}")
    out = np.zeros((len(windows), size, size, CHANNELS), dtype=np.float32)
    for i in range(0, len(windows), _GROUP):
        _draw(windows[i:i + _GROUP], size, frame, encoding == "speed_time", out[i:i + _GROUP])
    return out


_GROUP = 32


def _raise_not_finite(windows: Sequence[Trajectory]) -> None:
    for i, w in enumerate(windows):
        for name in ("t", "x", "y"):
            col = np.asarray(getattr(w, name), dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(col))
            if len(bad):
                raise ValueError(f"cannot rasterize: window {i} has {name}={col[bad[0]]} "
                                 f"at event {int(bad[0])} (coordinates and times must be finite)")


def _draw(windows: Sequence[Trajectory], size: int, frame: str, time_green: bool,
          out: np.ndarray) -> None:
    """Draw ``windows`` into ``out`` (zeros), float32 throughout, no Python loop per segment.

    Each segment ``i -> i+1`` becomes ``n_i = ceil(max(|du|, |dv|)) + 1`` evenly spaced points
    (its start repeated with ``np.repeat`` plus an integer step index), so every step is one
    numpy pass over all points of all windows; one pair of ``bincount`` calls gives each
    touched pixel its mean colour-map position.
    """
    n_win = len(windows)
    lens = np.fromiter((len(w.t) for w in windows), np.int64, n_win)
    n = int(lens.sum())
    if n == 0:
        return
    f32 = np.float32
    t = np.concatenate([w.t for w in windows])
    x = np.concatenate([w.x for w in windows], dtype=f32)
    y = np.concatenate([w.y for w in windows], dtype=f32)
    kind = np.concatenate([w.kind for w in windows])
    if not np.isfinite(x.sum() + y.sum() + t.sum()):   # one cheap check, details on failure
        _raise_not_finite(windows)
    scale_px = np.fromiter((max(w.screen[0], w.screen[1], 1) for w in windows), f32, n_win)
    radius = max(1, size // 32)
    span = f32(size - 1 - 2 * (radius + 1))
    ends = np.cumsum(lens)
    nonempty = lens > 0

    # Frame per window (centre and side in screen pixels) -> pixel coordinates u, v.
    if frame == "bbox":
        idx = (ends - lens)[nonempty]
        x0, x1, y0, y1 = (np.zeros(n_win, f32) for _ in range(4))
        x0[nonempty] = np.minimum.reduceat(x, idx)
        x1[nonempty] = np.maximum.reduceat(x, idx)
        y0[nonempty] = np.minimum.reduceat(y, idx)
        y1[nonempty] = np.maximum.reduceat(y, idx)
        side = np.maximum(np.maximum(x1 - x0, y1 - y0), f32(MIN_BOX) * scale_px)
        cx, cy = (x0 + x1) * f32(0.5), (y0 + y1) * f32(0.5)
    else:
        side = scale_px
        cx = np.fromiter((w.screen[0] for w in windows), f32, n_win) * f32(0.5)
        cy = np.fromiter((w.screen[1] for w in windows), f32, n_win) * f32(0.5)
    gain = span / side
    half = f32(size / 2.0)
    g_ev = np.repeat(gain, lens)
    u = x * g_ev
    u += np.repeat(half - cx * gain, lens)
    v = y * g_ev
    v += np.repeat(half - cy * gain, lens)
    # Events off the frame (screen frame only) sit on its edge; segments stay inside.
    np.clip(u, 0, size - 1, out=u)
    np.clip(v, 0, size - 1, out=v)

    # Segments between consecutive events: speed colour and number of points.
    du, dv = np.diff(u), np.diff(v)
    dt = np.maximum(np.diff(t), 1e-3).astype(f32)
    speed = np.hypot(np.diff(x), np.diff(y))
    speed /= dt
    speed *= np.repeat(f32(1.0) / scale_px, lens)[:-1]
    s = speed_to_unit(speed)
    n_pts = np.ceil(np.maximum(np.abs(du), np.abs(dv))).astype(np.int64)
    n_pts += 1
    last = ends[nonempty] - 1                       # no segment across windows
    n_pts[last[last < n - 1]] = 0
    k_from = kind[:-1]
    n_pts[(k_from == KIND_LEAVE) | (k_from == KIND_HIDDEN)] = 0
    total = int(n_pts.sum())
    plane = out.reshape(n_win * size * size, CHANNELS)
    if total:
        den = np.maximum(n_pts - 1, 1).astype(f32)
        du /= den
        dv /= den
        j = np.arange(total, dtype=f32)             # step index within its segment
        j -= np.repeat((np.cumsum(n_pts) - n_pts).astype(f32), n_pts)
        pu = np.repeat(du, n_pts)
        pu *= j
        pu += np.repeat(u[:-1] + f32(0.5), n_pts)  # + 0.5 then truncation = rounding
        pv = np.repeat(dv, n_pts)
        pv *= j
        pv += np.repeat(v[:-1] + f32(0.5), n_pts)
        flat = np.repeat(np.repeat(np.arange(n_win) * (size * size), lens)[:-1], n_pts)
        flat += pv.astype(np.int64) * size
        flat += pu.astype(np.int64)
        m = n_win * size * size
        cnt = np.bincount(flat, minlength=m)
        acc = np.bincount(flat, weights=np.repeat(s, n_pts), minlength=m)
        hit = np.flatnonzero(cnt > 0)              # (much faster on bool than on int)
        mean = (acc[hit] / cnt[hit]).astype(f32)
        plane[hit, 0] = mean
        plane[hit, 2] = 1.0 - mean
        if time_green:
            first_ev = np.minimum(ends - lens, n - 1)    # (clipped for empty windows)
            t_first = np.repeat(t[first_ev], lens)
            t_span = np.repeat(t[np.maximum(ends - 1, 0)] - t[first_ev], lens)
            g = ((t - t_first) / np.maximum(t_span, 1e-9))[:-1] * 0.8 + 0.1
            g_acc = np.bincount(flat, weights=np.repeat(g, n_pts), minlength=m)
            plane[hit, 1] = g_acc[hit] / cnt[hit]
        else:
            plane[hit, 1] = 0.25

    # Click discs: left first, then right on top.
    button = np.concatenate([w.button for w in windows])
    down = kind == KIND_DOWN
    if not down.any():
        return
    disc = _disc(radius)
    win = np.repeat(np.arange(n_win), lens)
    for btn, col in ((BUTTON_LEFT, LEFT_COLOUR), (BUTTON_RIGHT, RIGHT_COLOUR)):
        cl = np.flatnonzero(down & (button == btn))
        if not len(cl):
            continue
        cu = np.clip(np.rint(u[cl])[:, None] + disc[None, :, 0], 0, size - 1).astype(np.int64)
        cv = np.clip(np.rint(v[cl])[:, None] + disc[None, :, 1], 0, size - 1).astype(np.int64)
        plane[((win[cl][:, None] * size + cv) * size + cu).ravel()] = col
