"""Pipeline settings: bad values stop start-up with a message naming the variable."""

from __future__ import annotations

import pytest

from cursorprint.stream.settings import SettingsError, load_settings


@pytest.mark.parametrize("var,value", [
    ("CURSORPRINT_SESSION_IDLE_S", "0"),
    ("CURSORPRINT_SESSION_MAX_EVENTS", "0"),
    ("CURSORPRINT_SESSION_WINDOW_EVENTS", "-1"),
    ("CURSORPRINT_SCORER_BATCH_SIZE", "0"),
    ("CURSORPRINT_SCORER_BATCH_WITHIN_S", "-0.5"),
    ("CURSORPRINT_ALERT_THRESHOLD", "1.5"),
    ("CURSORPRINT_SITE_THRESHOLDS", "shop=high"),
    ("CURSORPRINT_SITE_THRESHOLDS", "=0.5"),
    ("CURSORPRINT_WORKER_WEB_PORT", "0"),
    ("CURSORPRINT_HEAD_CACHE_TTL_S", "-1"),
])
def test_bad_pipeline_setting_names_the_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var):
        load_settings(environ={var: value})


def test_site_thresholds_override_the_default() -> None:
    s = load_settings(environ={"CURSORPRINT_SITE_THRESHOLDS": "shop=0.6, bank=0.95",
                               "CURSORPRINT_ALERT_THRESHOLD": "0.7"})
    assert s.scorer.thresholds() == {"shop": 0.6, "bank": 0.95}
    assert s.scorer.alert_threshold == 0.7
