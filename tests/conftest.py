"""Shared fixtures: a real Kafka broker and a real redis-server, started once per test session
through the same launcher as ``cursorprint stack up`` (never mocked, never skipped)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cursorprint.stream.settings import Settings, load_settings
from cursorprint.stream.stack import Stack, free_port

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO.parent / "shared" / "datasets"




def private_settings(home: Path) -> Settings:
    """Settings of a private stack: free ports, its own home, the shared jar cache."""
    kafka_port = free_port()
    redis_port = free_port()
    return load_settings(
        environ={},
        home=home,
        kafka_jars=REPO / ".cursorprint" / "kafka-jars",
        kafka_port=kafka_port,
        kafka_controller_port=free_port(),
        kafka_bootstrap=f"127.0.0.1:{kafka_port}",
        redis_port=redis_port,
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
        topic_partitions=2,
    )


class PrivateRedis:
    """A redis-server of a test's own (the project's launcher, append-only file on), for tests
    that stop and restart Redis without touching the shared stack."""

    def __init__(self, home: Path) -> None:
        self.stack = Stack(private_settings(home))
        self.url = self.stack.settings.redis_url

    def start(self) -> None:
        self.stack.start_redis()

    def stop(self) -> None:
        self.stack.stop_redis()


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
