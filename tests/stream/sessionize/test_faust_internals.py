"""The Faust workarounds, on stand-ins of the consumer and table objects they read (pure logic:
what each function decides from the offsets Faust reports)."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP

from cursorprint.stream.sessionize import faust_internals as fi

TP0 = TP("pointer-batches", 0)


class Consumer:
    def __init__(self, high: dict[TP, int | None], read: dict[TP, int] | None = None,
                 committed: dict[TP, int] | None = None, position: int | None = None) -> None:
        self._high = high
        self._read_offset = read or {}
        self._committed_offset = committed or {}
        self._position = position

    def highwater(self, tp: TP) -> int | None:
        return self._high.get(tp)

    async def position(self, tp: TP) -> int | None:
        return self._position

    def assignment(self) -> set[TP]:
        return set(self._high)


def test_first_unhandled_follows_the_agent_then_the_committed_offset() -> None:
    consumer = Consumer({TP0: 50}, committed={TP0: 12})
    assert fi.first_unhandled(consumer, TP0, last_handled=20) == 21
    assert fi.first_unhandled(consumer, TP0, last_handled=None) == 12
    assert fi.first_unhandled(Consumer({TP0: 50}), TP0, last_handled=None) is None


def test_caught_up_only_when_the_agent_handled_up_to_the_high_water_mark() -> None:
    run = asyncio.run
    assert run(fi.caught_up(Consumer({TP0: 10}), TP0, last_handled=9))
    assert not run(fi.caught_up(Consumer({TP0: 10}), TP0, last_handled=8))
    # nothing handled yet: Faust's read offset (ahead of the agent) decides only then
    assert run(fi.caught_up(Consumer({TP0: 10}, read={TP0: 10}), TP0, None))
    assert not run(fi.caught_up(Consumer({TP0: 10}, read={TP0: 4}), TP0, None))
    assert run(fi.caught_up(Consumer({TP0: 10}, position=10), TP0, None))
    # high-water mark not fetched yet (just after a restart): "don't know" is not caught up
    assert not run(fi.caught_up(Consumer({TP0: None}), TP0, last_handled=100))


def test_caught_up_is_false_when_the_consumer_cannot_answer() -> None:
    class Rebalancing(Consumer):
        def highwater(self, tp: TP) -> int | None:
            raise RuntimeError("not assigned")

    assert not asyncio.run(fi.caught_up(Rebalancing({}), TP0, last_handled=3))


def test_consumer_lag_sums_partitions_and_leaves_out_changelogs() -> None:
    tp1 = TP("pointer-batches", 1)
    changelog = TP("cursorprint-sessionizer-sessionizer-state-changelog", 0)
    consumer = Consumer({TP0: 10, tp1: 5, changelog: 99, TP("sessions", 0): None},
                        read={TP0: 7, changelog: 3})
    assert fi.consumer_lag(consumer) == {"pointer-batches": 2 + 5}


def test_write_table_sends_each_change_and_a_tombstone_for_a_deletion() -> None:
    sent: list[tuple[Any, ...]] = []

    class Producer:
        async def send(self, topic: str, key: bytes, value: bytes | None, *, partition: int,
                       timestamp: Any, headers: Any) -> None:
            sent.append((topic, key, value, partition))

    class App:
        async def maybe_start_producer(self) -> Producer:
            return Producer()

    class Changelog:
        def get_topic_name(self) -> str:
            return "app-state-changelog"

    class Table:
        app = App()
        changelog_topic = Changelog()
        data: dict[str, Any] = {"gone": 1}

    table = Table()
    asyncio.run(fi.write_table(table, {"kept": {"n": 1}, "gone": None, "never": None},
                               partition=3))
    assert table.data == {"kept": {"n": 1}}
    # JSON keys and values as the table's schema reads them back; "never" was not in the table
    assert sent == [("app-state-changelog", b'"kept"', b'{"n":1}', 3),
                    ("app-state-changelog", b'"gone"', None, 3)]


def test_revoked_partitions_accepts_both_signal_forms() -> None:
    assert list(fi.revoked_partitions(({TP0},), {})) == [TP0]
    assert list(fi.revoked_partitions((), {"revoked": {TP0}})) == [TP0]
    assert list(fi.revoked_partitions((), {})) == []
