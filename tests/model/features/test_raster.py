"""Rasterizer properties: click colours, speed colour map, resolution invariance, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from cursorprint.model.data.synthetic import synth_users
from cursorprint.model.data.trajectory import (
    BUTTON_LEFT,
    BUTTON_NONE,
    BUTTON_RIGHT,
    KIND_DOWN,
    KIND_LEAVE,
    KIND_MOVE,
    KIND_UP,
    Trajectory,
)
from cursorprint.model.features.raster import (
    LEFT_COLOUR,
    RIGHT_COLOUR,
    rasterize,
    rasterize_batch,
    speed_colour,
    speed_to_unit,
)


def _clicks() -> Trajectory:
    # A path across the screen with a left click at (200, 200) and a right click at (800, 600).
    t = [0.0, 0.1, 0.2, 0.25, 0.5, 0.6, 0.7, 0.8]
    x = [100, 200, 200, 200, 500, 800, 800, 900]
    y = [100, 200, 200, 200, 400, 600, 600, 700]
    k = [KIND_MOVE, KIND_MOVE, KIND_DOWN, KIND_UP, KIND_MOVE, KIND_MOVE, KIND_DOWN, KIND_MOVE]
    b = [BUTTON_NONE, BUTTON_NONE, BUTTON_LEFT, BUTTON_LEFT, BUTTON_NONE, BUTTON_NONE,
         BUTTON_RIGHT, BUTTON_NONE]
    return Trajectory.from_columns(t, x, y, k, b, (1920, 1080))


def _pixel(size: int, x: float, y: float) -> tuple[int, int]:
    # bbox frame of _clicks: x 100..900, y 100..700 -> side 800 centred at (500, 400)
    radius = max(1, size // 32)
    span = size - 1 - 2 * (radius + 1)
    return (int(round((y - 400) / 800 * span + size / 2)),
            int(round((x - 500) / 800 * span + size / 2)))


def test_click_circles_have_their_colours_at_the_click_positions() -> None:
    img = rasterize(_clicks(), 64)
    r, c = _pixel(64, 200, 200)
    assert np.allclose(img[r, c], LEFT_COLOUR)
    r, c = _pixel(64, 800, 600)
    assert np.allclose(img[r, c], RIGHT_COLOUR)
    # nothing else in the picture is pure green or pure red outside the two discs
    green = np.all(np.isclose(img, LEFT_COLOUR), axis=-1).sum()
    red = np.all(np.isclose(img, RIGHT_COLOUR), axis=-1).sum()
    assert 5 <= green <= 25 and 5 <= red <= 25


def test_speed_colour_map_is_monotone() -> None:
    v = np.logspace(-3, 2, 200)
    s = speed_to_unit(v)
    assert np.all(np.diff(s) >= 0) and s[0] < 0.05 and s[-1] == 1.0
    col = speed_colour(s)
    assert np.all(np.diff(col[:, 0]) >= 0) and np.all(np.diff(col[:, 2]) <= 0)
    assert np.allclose(col[:, 1], 0.25)


@pytest.mark.parametrize("duration", [0.1, 1.0, 10.0])
def test_drawn_path_colour_follows_speed(duration: float) -> None:
    def line(d: float) -> np.ndarray:
        n = 50
        tr = Trajectory.from_columns(np.linspace(0, d, n), np.linspace(100, 900, n),
                                     np.linspace(300, 500, n), np.zeros(n), np.zeros(n),
                                     (1920, 1080))
        img = rasterize(tr, 64)
        drawn = img.sum(axis=-1) > 0
        return img[drawn].mean(axis=0)

    fast, slow = line(duration), line(duration * 4)
    assert fast[0] > slow[0] and fast[2] < slow[2]


def test_same_motion_at_another_resolution_gives_nearly_the_same_image() -> None:
    tr = synth_users(1, 1, 600, seed=3)[0]
    for k in (0.5, 1.5, 2.0):
        scaled = Trajectory.from_columns(tr.t, tr.x * k, tr.y * k, tr.kind, tr.button,
                                         (int(tr.screen[0] * k), int(tr.screen[1] * k)))
        for frame in ("bbox", "screen"):
            a, b = rasterize(tr, 64, frame), rasterize(scaled, 64, frame)
            assert np.abs(a - b).mean() < 0.01, (k, frame)


def test_deterministic_and_batch_equals_single() -> None:
    trs = synth_users(2, 1, 500, seed=4)
    batch = rasterize_batch(trs, 48)
    assert batch.shape == (2, 48, 48, 3) and batch.dtype == np.float32
    assert np.array_equal(batch, rasterize_batch(trs, 48))
    assert np.array_equal(batch[1], rasterize(trs[1], 48))
    assert 0.0 <= batch.min() and batch.max() <= 1.0 and batch.max() > 0


def test_no_segment_after_pointer_left_and_empty_input() -> None:
    tr = Trajectory.from_columns([0, 0.1, 0.2], [0, 100, 1000], [0, 0, 0],
                                 [KIND_MOVE, KIND_LEAVE, KIND_MOVE], [0, 0, 0], (1920, 1080))
    img = rasterize(tr, 64)
    row = img[img.sum(axis=(1, 2)) > 0]
    assert row.shape[0] >= 1
    drawn_cols = np.flatnonzero(img.sum(axis=(0, 2)) > 0)
    assert drawn_cols.max() < 32          # the jump to x=1000 after "leave" is not drawn
    assert rasterize_batch([], 32).shape == (0, 32, 32, 3)
    empty = Trajectory.from_columns([], [], [], [], [], (800, 600))
    assert rasterize(empty, 32).max() == 0
    with pytest.raises(ValueError, match="size"):
        rasterize(tr, 4)
    with pytest.raises(ValueError, match="frame"):
        rasterize(tr, 32, "page")


def test_up_events_do_not_draw_circles() -> None:
    tr = Trajectory.from_columns([0, 0.1, 0.2], [0, 100, 200], [0, 50, 0],
                                 [KIND_MOVE, KIND_UP, KIND_MOVE], [0, BUTTON_LEFT, 0], (1920, 1080))
    img = rasterize(tr, 64)
    assert not np.any(np.all(np.isclose(img, LEFT_COLOUR), axis=-1))


def test_a_long_segment_is_a_connected_line_from_end_to_end() -> None:
    # Two events far apart: every column between them has a drawn pixel, both ends included.
    # Frame: side 1000 (the y extent) centred at x=500, span 64 - 1 - 2 * 3 = 57 pixels, so
    # x=100 -> 32 - 0.4 * 57 = 9.2 and x=900 -> 54.8.
    tr = Trajectory.from_columns([0, 0.5], [100, 900], [0, 1000], [KIND_MOVE, KIND_MOVE],
                                 [0, 0], (1920, 1080))
    img = rasterize(tr, 64)
    cols = np.flatnonzero(img.sum(axis=(0, 2)) > 0)
    assert cols.min() == 9 and cols.max() == 55
    assert np.array_equal(cols, np.arange(cols.min(), cols.max() + 1))


def test_non_finite_input_is_a_clear_error() -> None:
    good = synth_users(1, 1, 300, seed=5)[0]
    bad = Trajectory.from_columns([0, 0.1, 0.2], [0, float("nan"), 3], [0, 1, 2],
                                  [KIND_MOVE] * 3, [0, 0, 0], (800, 600))
    with pytest.raises(ValueError, match=r"window 1 has x=nan at event 1"):
        rasterize_batch([good, bad], 32)


def test_speed_time_encoding_puts_time_order_in_green() -> None:
    # Left to right at constant speed: green rises along the stroke, red and blue as "speed".
    n = 60
    tr = Trajectory.from_columns(np.linspace(0, 2, n), np.linspace(100, 900, n),
                                 np.full(n, 500.0), np.zeros(n), np.zeros(n), (1920, 1080))
    timed, plain = rasterize(tr, 64, encoding="speed_time"), rasterize(tr, 64)
    drawn = timed.sum(axis=-1) > 0
    assert np.array_equal(drawn, plain.sum(axis=-1) > 0)
    assert np.allclose(timed[..., [0, 2]], plain[..., [0, 2]])
    green_by_col = [timed[:, c, 1][drawn[:, c]].mean() for c in range(64) if drawn[:, c].any()]
    assert np.all(np.diff(green_by_col) > 0)
    assert 0.1 <= min(green_by_col) and max(green_by_col) <= 0.9
    # the reversed stroke gives the mirrored green ramp: direction is now visible
    back = Trajectory.from_columns(tr.t, tr.x[::-1], tr.y, tr.kind, tr.button, tr.screen)
    assert rasterize(back, 64, encoding="speed_time")[..., 1][drawn].mean() == pytest.approx(
        timed[..., 1][drawn].mean(), abs=0.02)
    assert not np.allclose(rasterize(back, 64, encoding="speed_time"), timed)
    with pytest.raises(ValueError, match="encoding"):
        rasterize(tr, 64, encoding="sepia")
