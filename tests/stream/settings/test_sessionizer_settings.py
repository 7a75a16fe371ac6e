"""Sessionizer settings: the rolling windows' time rule and its event bound."""

from __future__ import annotations

import pytest

from cursorprint.stream.settings import SettingsError, load_settings, settings_table


def test_rolling_windows_default_to_a_few_seconds_of_movement_bounded_by_events() -> None:
    s = load_settings(environ={}).sessionizer
    assert (s.first_window_seconds, s.window_seconds) == (4.0, 6.0)
    assert (s.first_window_events, s.window_events) == (1024, 2048)
    s = load_settings(environ={"CURSORPRINT_SESSION_WINDOW_SECONDS": "2.5",
                               "CURSORPRINT_SESSION_FIRST_WINDOW_SECONDS": "0"}).sessionizer
    assert (s.first_window_seconds, s.window_seconds) == (0.0, 2.5)
    table = settings_table()
    assert "`CURSORPRINT_SESSION_WINDOW_SECONDS`" in table
    assert "`CURSORPRINT_SESSION_FIRST_WINDOW_SECONDS`" in table


@pytest.mark.parametrize("var", ["CURSORPRINT_SESSION_WINDOW_SECONDS",
                                 "CURSORPRINT_SESSION_FIRST_WINDOW_SECONDS"])
@pytest.mark.parametrize("value", ["-1", "nan"])
def test_a_negative_window_time_names_the_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var):
        load_settings(environ={var: value})
