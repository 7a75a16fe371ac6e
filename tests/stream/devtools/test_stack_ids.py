"""The Kafka cluster id the local stack formats its log directory with."""

from __future__ import annotations

import base64
import uuid

import pytest

from cursorprint.stream.devtools import stack


def test_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xf8 as first byte encodes to "-" in URL-safe base64; the tool would read it as an option
    dashed = uuid.UUID(bytes=bytes([0xF8]) + bytes(15))
    plain = uuid.UUID(bytes=bytes([0x10]) + bytes(15))
    assert base64.urlsafe_b64encode(dashed.bytes).decode().startswith("-")
    draws = iter([dashed, dashed, plain])
    monkeypatch.setattr(stack.uuid, "uuid4", lambda: next(draws))
    cid = stack._kafka_cluster_id()
    assert cid == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=")
    assert len(cid) == 22


def test_cluster_ids_are_random() -> None:
    ids = {stack._kafka_cluster_id() for _ in range(200)}
    assert len(ids) == 200 and not any(i.startswith("-") for i in ids)
