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

Everything is vectorised over all segments of all windows of a batch (no Python loop per
segment or per window beyond collecting arrays).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cursorprint.model.trajectory import (
    BUTTON_LEFT,
    BUTTON_RIGHT,
    KIND_DOWN,
    KIND_HIDDEN,
    KIND_LEAVE,
    Trajectory,
)

__all__ = ["DEFAULT_SIZE", "CHANNELS", "speed_to_unit", "speed_colour", "rasterize",
           "rasterize_batch", "LEFT_COLOUR", "RIGHT_COLOUR", "V0", "VMAX"]

DEFAULT_SIZE = 64
CHANNELS = 3
V0 = 0.05      # screen lengths per second: the knee of the log speed scale
VMAX = 10.0    # screen lengths per second mapped to the top of the colour map
MIN_BOX = 0.05  # smallest frame side, as a fraction of the screen's longer side
LEFT_COLOUR = np.array([0.0, 1.0, 0.0], dtype=np.float32)
RIGHT_COLOUR = np.array([1.0, 0.0, 0.0], dtype=np.float32)
_LOG_TOP = float(np.log1p(VMAX / V0))


def speed_to_unit(v: np.ndarray) -> np.ndarray:
    """Speed (screen lengths / s) to the colour-map position ``s`` in [0, 1]."""
    return np.clip(np.log1p(np.maximum(v, 0.0) / V0) / _LOG_TOP, 0.0, 1.0).astype(np.float32)


def speed_colour(s: np.ndarray) -> np.ndarray:
    """Colour map position(s) ``s`` in [0, 1] to RGB: ``(s, 0.25, 1 - s)``."""
    s = np.asarray(s, dtype=np.float32)
    return np.stack([s, np.full_like(s, 0.25), 1.0 - s], axis=-1)


def _disc(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    dy, dx = np.meshgrid(r, r, indexing="ij")
    inside = dx * dx + dy * dy <= radius * radius + radius * 0.5
    return np.stack([dx[inside], dy[inside]], axis=1)


def rasterize(traj: Trajectory, size: int = DEFAULT_SIZE, frame: str = "bbox") -> np.ndarray:
    """One window as a ``(size, size, 3)`` float32 image."""
    return rasterize_batch([traj], size, frame)[0]


def rasterize_batch(windows: Sequence[Trajectory], size: int = DEFAULT_SIZE,
                    frame: str = "bbox") -> np.ndarray:
    """Many windows as ``(n, size, size, 3)`` float32 images, vectorised per group of windows.

    Groups of ``_GROUP`` windows keep the per-pixel accumulators cache-sized.
    """
    if size < 8:
        raise ValueError(f"raster size must be >= 8 pixels, got {size}")
    if frame not in ("bbox", "screen"):
        raise ValueError(f"raster frame must be 'bbox' or 'screen', got {frame!r}")
    out = np.zeros((len(windows), size, size, CHANNELS), dtype=np.float32)
    for i in range(0, len(windows), _GROUP):
        _draw(windows[i:i + _GROUP], size, frame, out[i:i + _GROUP])
    return out


_GROUP = 32


def _draw(windows: Sequence[Trajectory], size: int, frame: str, out: np.ndarray) -> None:
    n_win = len(windows)
    if n_win == 0:
        return
    lens = np.array([len(w) for w in windows], dtype=np.int64)
    if lens.sum() == 0:
        return
    t = np.concatenate([w.t for w in windows]).astype(np.float64)
    x = np.concatenate([w.x for w in windows]).astype(np.float64)
    y = np.concatenate([w.y for w in windows]).astype(np.float64)
    kind = np.concatenate([w.kind for w in windows])
    button = np.concatenate([w.button for w in windows])
    win = np.repeat(np.arange(n_win), lens)
    scale_px = np.array([float(max(w.screen[0], w.screen[1], 1)) for w in windows])
    ev_scale = scale_px[win]
    radius = max(1, size // 32)
    margin = radius + 1
    span = float(size - 1 - 2 * margin)

    # Frame per window: centre and side in screen pixels.
    nonempty = lens > 0
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    if frame == "bbox":
        idx = starts[nonempty]
        x0 = np.full(n_win, np.inf)
        x1 = np.full(n_win, -np.inf)
        y0 = np.full(n_win, np.inf)
        y1 = np.full(n_win, -np.inf)
        x0[nonempty] = np.minimum.reduceat(x, idx)
        x1[nonempty] = np.maximum.reduceat(x, idx)
        y0[nonempty] = np.minimum.reduceat(y, idx)
        y1[nonempty] = np.maximum.reduceat(y, idx)
        side = np.maximum(np.maximum(x1 - x0, y1 - y0), MIN_BOX * scale_px)
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    else:
        w_px = np.array([float(w.screen[0]) for w in windows])
        h_px = np.array([float(w.screen[1]) for w in windows])
        side, cx, cy = scale_px, w_px / 2.0, h_px / 2.0
    u = (x - cx[win]) / side[win] * span + size / 2.0
    v = (y - cy[win]) / side[win] * span + size / 2.0

    # Segments between consecutive events of the same window.
    same = win[1:] == win[:-1]
    draw = same & (kind[:-1] != KIND_LEAVE) & (kind[:-1] != KIND_HIDDEN)
    seg = np.flatnonzero(draw)
    if len(seg):
        dist = np.hypot(x[seg + 1] - x[seg], y[seg + 1] - y[seg]) / ev_scale[seg]
        dt = np.maximum(t[seg + 1] - t[seg], 1e-3)
        speed = speed_to_unit(dist / dt)
        du, dv = u[seg + 1] - u[seg], v[seg + 1] - v[seg]
        n_pts = np.ceil(np.maximum(np.abs(du), np.abs(dv))).astype(np.int64) + 1
        total = int(n_pts.sum())
        sid = np.repeat(np.arange(len(seg)), n_pts)
        first = np.cumsum(n_pts) - n_pts
        frac = (np.arange(total) - first[sid]) / np.maximum(n_pts - 1, 1)[sid]
        pu = np.rint(u[seg][sid] + frac * du[sid])
        pv = np.rint(v[seg][sid] + frac * dv[sid])
        np.clip(pu, 0, size - 1, out=pu)
        np.clip(pv, 0, size - 1, out=pv)
        flat = ((win[seg][sid] * size + pv.astype(np.int64)) * size + pu.astype(np.int64))
        # Mean colour-map position per touched pixel.
        m = n_win * size * size
        cnt = np.bincount(flat, minlength=m)
        acc = np.bincount(flat, weights=speed[sid], minlength=m)
        hit = np.flatnonzero(cnt)
        plane = out.reshape(m, CHANNELS)
        plane[hit] = speed_colour(acc[hit] / cnt[hit])

    # Click discs: left first, then right on top.
    disc = _disc(radius)
    plane = out.reshape(n_win * size * size, CHANNELS)
    for btn, col in ((BUTTON_LEFT, LEFT_COLOUR), (BUTTON_RIGHT, RIGHT_COLOUR)):
        cl = np.flatnonzero((kind == KIND_DOWN) & (button == btn))
        if not len(cl):
            continue
        cu = np.rint(u[cl])[:, None] + disc[None, :, 0]
        cv = np.rint(v[cl])[:, None] + disc[None, :, 1]
        cu = np.clip(cu, 0, size - 1).astype(np.int64)
        cv = np.clip(cv, 0, size - 1).astype(np.int64)
        flat = (win[cl][:, None] * size + cv) * size + cu
        plane[flat.ravel()] = col
