"""Settings come from CURSORPRINT_* variables; bad values name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from cursorprint.stream.cli import main
from cursorprint.stream.settings import SettingsError, load_settings, settings_table


def test_defaults_run_locally() -> None:
    s = load_settings(environ={})
    assert s.kafka.bootstrap == "127.0.0.1:19092"
    assert s.redis.url.startswith("redis://127.0.0.1:")
    assert s.home == Path(".cursorprint")


def test_environment_overrides_and_types() -> None:
    s = load_settings(environ={"CURSORPRINT_KAFKA_PORT": "29092", "CURSORPRINT_HOME": "/tmp/x",
                               "CURSORPRINT_LOG_LEVEL": "debug"})
    assert s.local_stack.kafka_port == 29092 and s.home == Path("/tmp/x") and s.log_level == "debug"


@pytest.mark.parametrize("var,value", [
    ("CURSORPRINT_KAFKA_PORT", "not-a-number"),
    ("CURSORPRINT_KAFKA_PORT", "70000"),
    ("CURSORPRINT_REDIS_URL", "http://x"),
    ("CURSORPRINT_KAFKA_BOOTSTRAP", "nohostport"),
    ("CURSORPRINT_LOG_LEVEL", "LOUD"),
    ("CURSORPRINT_TOPIC_PARTITIONS", "0"),
])
def test_bad_value_names_the_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var):
        load_settings(environ={var: value})


def test_unknown_variable_is_rejected() -> None:
    with pytest.raises(SettingsError, match="CURSORPRINT_KAFAK_PORT"):
        load_settings(environ={"CURSORPRINT_KAFAK_PORT": "1"})


def test_cli_reports_bad_setting(monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CURSORPRINT_REDIS_PORT", "abc")
    assert main(["settings"]) == 2
    assert "CURSORPRINT_REDIS_PORT" in capsys.readouterr().err


def test_settings_table_lists_every_variable() -> None:
    table = settings_table()
    assert "`CURSORPRINT_KAFKA_BOOTSTRAP`" in table and "`CURSORPRINT_REDIS_URL`" in table


def test_each_process_validates_only_the_sections_it_uses() -> None:
    from cursorprint.stream.settings import ROLE_SECTIONS

    env = {"CURSORPRINT_SESSION_IDLE_S": "0"}
    ingest = load_settings(environ=env, sections=ROLE_SECTIONS["ingest"])
    assert ingest.ingest.port == 8088
    with pytest.raises(SettingsError, match="CURSORPRINT_SESSION_IDLE_S"):
        ingest.sessionizer    # noqa: B018 - first use builds (and validates) the section
    with pytest.raises(SettingsError, match="CURSORPRINT_SESSION_IDLE_S"):
        load_settings(environ=env, sections=ROLE_SECTIONS["sessionizer"])


def test_replace_keeps_the_environment_and_validates_the_new_value() -> None:
    s = load_settings(environ={"CURSORPRINT_INGEST_PORT": "9000"})
    t = s.replace(worker_web_port=7000)
    assert (t.ingest.port, t.worker.web_port, s.worker.web_port) == (9000, 7000, 6066)
    with pytest.raises(SettingsError, match="CURSORPRINT_WORKER_WEB_PORT"):
        s.replace(worker_web_port=0)
    with pytest.raises(TypeError, match="worker_port"):
        s.replace(worker_port=1)
