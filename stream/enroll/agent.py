"""The enrollment agent: ``trusted-sessions`` (sessions known to be the owner's) -> heads.

Each session enrolls once however often Kafka delivers it (:meth:`Enroller.add_trusted`), and
only mouse sessions enroll: another pointer type is dead-lettered with reason ``not_mouse``.

Runs on the scorer worker's model thread (:class:`~cursorprint.stream.score.runtime.ModelRuntime`)
so enrollment embeds with exactly the model that scores; a new head is published through the
head store and picked up by every scorer without a restart.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.types import AgentT

from cursorprint.stream.records import topics
from cursorprint.stream.records.dead_letter import SendDeadLetter
from cursorprint.stream.records.errors import CursorprintError, Unavailable
from cursorprint.stream.records.events import POINTER_MOUSE
from cursorprint.stream.records.reasons import REASON_NOT_MOUSE
from cursorprint.stream.records.session import SessionRecord, SessionRecordError
from cursorprint.stream.score.runtime import ModelRuntime

__all__ = ["add_enroller"]

log = logging.getLogger(__name__)


class NotMouse(CursorprintError):
    """A trusted session whose pointer is not a mouse: the mouse model's heads never learn
    from it."""


def add_enroller(app: faust.App, runtime: ModelRuntime, send_dead: SendDeadLetter) -> AgentT:
    """Add the ``enroll`` agent to ``app``; returns the agent."""
    trusted = app.topic(topics.TRUSTED_SESSIONS, key_serializer="raw", value_serializer="raw")

    @app.agent(trusted, name="enroll")
    async def enroll(stream: Any) -> None:
        enroller = (await runtime.ready()).enroller
        async for event in stream.events():
            raw = bytes(event.value or b"")
            try:
                rec = SessionRecord.from_bytes(raw)
                if rec.pointer != POINTER_MOUSE:
                    raise NotMouse(f"{REASON_NOT_MOUSE}: a {rec.pointer} session cannot enroll "
                                   "a head of the mouse model")
                got = await runtime.run(enroller.add_trusted, rec.user, rec.session_id,
                                        rec.to_trajectory())
                if got is None:
                    log.info("enroll: a trusted session delivered again; already enrolled")
                else:
                    log.info("enroll: a user now has %d trusted windows (head %s)", got[1],
                             got[0])
            # a trusted session the stores could not take is dead-lettered too, not lost: an
            # operator can send it again once Redis is back, and later sessions still enroll.
            # A session that is not mouse input is dead-lettered (visible to an operator: the
            # scorer never forwards one, so something upstream is wrong), never enrolled.
            except (SessionRecordError, ValueError, Unavailable, NotMouse) as exc:
                await send_dead(topics.TRUSTED_SESSIONS, f"{type(exc).__name__}: {exc}", raw,
                                event.message.partition, event.message.offset)

    return enroll
