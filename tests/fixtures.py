"""Fixtures shared by every test folder, registered once through ``pytest_plugins``.

The stack is a real Kafka broker and a real redis-server, started once per test session through
the same launcher as ``cursorprint stack up`` (never mocked, never skipped)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.settings import Settings
from tests.support.paths import DATASETS
from tests.support.stack import private_settings


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the shared private stack of this test session."""
    return private_settings(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def stack(stack_settings: Settings) -> Iterator[Stack]:
    """The running local stack (Kafka + Redis); torn down at the end of the session."""
    st = Stack(stack_settings)
    st.up()
    yield st
    st.down()


@pytest.fixture(scope="session")
def balabit_dir() -> Path:
    path = DATASETS / "balabit"
    assert path.is_dir(), f"the Balabit data set is expected at {path}"
    return path


@pytest.fixture(scope="session")
def sapimouse_dir() -> Path:
    path = DATASETS / "sapimouse"
    assert path.is_dir(), f"the SapiMouse data set is expected at {path}"
    return path
