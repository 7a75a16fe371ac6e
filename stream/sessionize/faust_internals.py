"""Every workaround for faust-streaming and every access to its internals, in one place.

The agents stay readable and these stay testable: each function takes the Faust object it needs
(a table, a consumer) and does one thing. Two classes of problem live here:

* Faust's table writes go through its producer buffer, and the flush Faust runs before it
  commits offsets gives up after 0.1 s (``faust/transport/producer.py`` ``flush_atmost``): on a
  loaded machine an offset was committed while its changelog records still sat in that buffer,
  and a kill -9 lost accepted batches from the restored state. :func:`write_table` hands each
  changelog record to the aiokafka producer, whose flush before the commit waits for the broker.
* Around a rebalance Faust's consumer can drop batches it fetched but never delivered and count
  their offsets as a gap it may commit (faust-streaming #216, #221). :func:`first_unhandled`
  tells the agent where its input really resumes, so it can read a skipped range itself.

The consumer's read and committed offsets are private attributes (``_read_offset``,
``_committed_offset``); they are read only here, and only to decide, never to change Faust.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

__all__ = ["write_table", "first_unhandled", "caught_up", "consumer_lag", "revoked_partitions"]

log = logging.getLogger(__name__)
_ABSENT = object()
_encode = msgspec.json.Encoder().encode


async def write_table(table: Any, writes: Mapping[str, Any], partition: int) -> None:
    """Apply ``writes`` to a memory-store table, each change handed to the Kafka producer before
    the caller acknowledges its events. A value of ``None`` deletes the key (a tombstone on the
    changelog, as Faust's own ``del table[key]`` sends); deleting a key the table does not hold
    sends nothing (it was written and deleted within one group: the changelog never had it).

    The records go straight to Faust's producer (what ``Topic.send`` ends in, without its
    per-message futures, sensors and debug logging), JSON-encoded as the table's schema decodes
    them at recovery (by msgspec's encoder: JSON that reads back as ``json.dumps``'s would,
    several times faster on the sessions' event lists). The memory store keeps no persisted changelog offset, so Faust's
    sent-callback is not needed. ``partition`` is the changelog partition, the one of the input
    the state belongs to (Faust's own ``table[key] = value`` takes it from the current stream
    event, which a group of events does not have)."""
    if not writes:
        return
    producer = await table.app.maybe_start_producer()
    topic = table.changelog_topic.get_topic_name()
    data = table.data
    for key, value in writes.items():
        if value is None:
            if data.pop(key, _ABSENT) is _ABSENT:
                continue
            payload = None
        else:
            data[key] = value
            # bytes are a value already encoded as the changelog carries it (a stored batch)
            payload = value if isinstance(value, bytes) else _encode(value)
        await producer.send(topic, _encode(key), payload, partition=partition,
                            timestamp=None, headers=None)


def _committed(consumer: Any, tp: Any) -> int | None:
    offset = getattr(consumer, "_committed_offset", {}).get(tp)
    return None if offset is None else int(offset)


def _read(consumer: Any, tp: Any) -> int | None:
    offset = getattr(consumer, "_read_offset", {}).get(tp)
    return None if offset is None else int(offset)


def first_unhandled(consumer: Any, tp: Any, last_handled: int | None) -> int | None:
    """The next offset of ``tp`` the agent must handle: one past the last it handled, or after
    an assignment the group's committed offset (None when not known yet).

    An input topic without transactions or compaction has no offset gaps, so a delivered offset
    beyond this one means Faust skipped the range in between."""
    if last_handled is not None:
        return last_handled + 1
    return _committed(consumer, tp)


async def caught_up(consumer: Any, tp: Any, last_handled: int | None) -> bool:
    """True when every message of ``tp`` up to its high-water mark has been handled.

    The test is on what the agent *handled*, not on Faust's read offset, which runs ahead by up
    to a stream buffer. Before the agent handled anything, it is caught up only when its start
    offset is already the end. "Don't know" is False: just after a restart the high-water mark
    is not fetched yet, and an idle close then would cut a session short while its batches still
    wait in Kafka; the next tick asks again."""
    try:
        high = consumer.highwater(tp)
        if high is None:
            return False
        if last_handled is not None:
            return last_handled + 1 >= int(high)
        # Faust's read offset starts at the committed offset (the next one to read) and becomes
        # the last delivered offset once messages flow: >= high only if none came
        read = _read(consumer, tp)
        if read is None:
            pos = await consumer.position(tp)
            return pos is not None and pos >= high
        return read >= int(high)
    except Exception as exc:  # noqa: BLE001 - not readable (e.g. during a rebalance)
        log.debug("lag of %s not readable: %s", tp, exc)
        return False


def consumer_lag(consumer: Any) -> dict[str, int]:
    """Messages waiting per input topic of this worker (high-water mark minus read offset).

    A worker's own table changelog is left out: it writes that topic and reads it only to
    recover, so a "lag" there is a stale number, not work waiting."""
    per_topic: dict[str, int] = {}
    for tp in consumer.assignment():
        if tp.topic.endswith("-changelog"):
            continue
        high = consumer.highwater(tp)
        if high is None:
            continue
        read = _read(consumer, tp)
        lag = max(0, int(high) - (read + 1 if read is not None else 0))
        per_topic[tp.topic] = per_topic.get(tp.topic, 0) + lag
    return per_topic


def revoked_partitions(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Iterable[Any]:
    """The partitions of an ``on_partitions_revoked`` signal, which Faust sends as
    ``(app, revoked, signal=...)``: positional or by keyword depending on the sender."""
    return args[0] if args else kwargs.get("revoked", ())
