"""Private Kafka + Redis stacks for tests, through the same launcher as ``cursorprint stack up``."""

from __future__ import annotations

from pathlib import Path

from cursorprint.stream.devtools.stack import Stack
from cursorprint.stream.devtools.stack import private_settings as stack_settings
from cursorprint.stream.settings import Settings
from tests.support.paths import REPO

__all__ = ["private_settings", "PrivateRedis"]


def private_settings(home: Path) -> Settings:
    """Settings of a private stack: free ports, its own home, the shared jar cache."""
    return stack_settings(home, REPO / ".cursorprint" / "kafka-jars", partitions=2)


class PrivateRedis:
    """A redis-server of a test's own (the project's launcher, append-only file on), for tests
    that stop and restart Redis without touching the shared stack."""

    def __init__(self, home: Path) -> None:
        self.stack = Stack(private_settings(home))
        self.url = self.stack.settings.redis.url

    def start(self) -> None:
        self.stack.start_redis()

    def stop(self) -> None:
        self.stack.stop_redis()
