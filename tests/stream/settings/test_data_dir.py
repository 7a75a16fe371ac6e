"""CURSORPRINT_DATA_DIR: where commands find the public data sets when no folder is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from cursorprint.stream.settings import SettingsError, load_settings


def test_a_data_set_is_found_under_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "balabit").mkdir()
    general = load_settings(environ={"CURSORPRINT_DATA_DIR": str(tmp_path)}).general
    assert general.dataset("balabit") == tmp_path / "balabit"


def test_a_missing_data_set_names_the_variable_and_the_path(tmp_path: Path) -> None:
    general = load_settings(environ={"CURSORPRINT_DATA_DIR": str(tmp_path)}).general
    with pytest.raises(SettingsError) as err:
        general.dataset("sapimouse")
    assert str(err.value).startswith(f"CURSORPRINT_DATA_DIR={str(tmp_path)!r}: no sapimouse "
                                     f"data set at {tmp_path / 'sapimouse'}")
