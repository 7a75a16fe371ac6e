"""The ``sessions`` topic record: one closed page session (or a rolling window of an open one).

Key = pseudonymous user key, value = UTF-8 JSON with columnar events (times in seconds from
``t0``, rounded to 0.1 ms). Compact trajectories only, never images: the scorer rasterizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from cursorprint.model.data.datasets import DatasetError, trajectory_from_session_record
from cursorprint.model.data.trajectory import Trajectory
from cursorprint.stream.records.errors import RecordError
from cursorprint.stream.records.events import POINTER_MOUSE, POINTER_TYPES

__all__ = ["SessionRecord", "SessionRecordError", "CAUSES", "SESSION_RECORD_VERSION",
           "POINTER_MIXED", "SESSION_POINTERS"]

SESSION_RECORD_VERSION = 1
CAUSES = ("exit", "idle", "cap", "window")
_FIELDS = ("v", "session_id", "user", "site", "path", "screen", "part", "cause", "t0",
           "closed_at", "t", "x", "y", "k", "b")
#: a session whose batches came from more than one pointer type
POINTER_MIXED = "mixed"
#: what a session record's ``pointer`` says; only "mouse" sessions meet the mouse model
SESSION_POINTERS = (*POINTER_TYPES, POINTER_MIXED)


class SessionRecordError(RecordError):
    """A ``sessions`` message that cannot be decoded; the message names the field."""


@dataclass(frozen=True)
class SessionRecord:
    """A compact session trajectory, as published by the sessionizer."""

    session_id: str
    user: str
    site: str
    path: str
    screen: tuple[int, int]
    part: str | int          # "final" or the rolling window index
    cause: str               # exit | idle | cap | window
    t0: float                # epoch ms of the first event's batch start
    closed_at: float         # epoch ms
    t: list[float]
    x: list[float]
    y: list[float]
    k: list[int]
    b: list[int]
    # optional on the wire (records from before it are mouse sessions)
    pointer: str = POINTER_MOUSE

    @property
    def key(self) -> bytes:
        return self.user.encode()

    @property
    def n_events(self) -> int:
        return len(self.t)

    def to_dict(self) -> dict[str, Any]:
        return {"v": SESSION_RECORD_VERSION, "session_id": self.session_id, "user": self.user,
                "site": self.site, "path": self.path, "screen": list(self.screen),
                "part": self.part, "cause": self.cause, "t0": self.t0,
                "closed_at": self.closed_at, "t": self.t, "x": self.x, "y": self.y,
                "k": self.k, "b": self.b, "pointer": self.pointer}

    def to_bytes(self) -> bytes:
        # msgspec writes compact JSON that reads back to the same values as json.dumps's,
        # several times faster (a record carries every event of a window or session)
        return _to_json(self.to_dict())

    @classmethod
    def from_bytes(cls, raw: bytes) -> SessionRecord:
        """Decode and check a ``sessions`` value; :class:`SessionRecordError` when malformed."""
        return cls.decode(raw)[0]

    @classmethod
    def decode(cls, raw: bytes) -> tuple[SessionRecord, Trajectory]:
        """:meth:`from_bytes` and the record's events as a :class:`Trajectory` (decoding builds
        it to check the columns; the scorer needs it, so it is not built twice)."""
        try:
            obj = _from_json(raw)
        except msgspec.DecodeError as exc:
            raise SessionRecordError(f"sessions record is not UTF-8 JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise SessionRecordError("sessions record must be a JSON object")
        missing = [f for f in _FIELDS if f not in obj]
        if missing:
            raise SessionRecordError(f"sessions record lacks fields: {', '.join(missing)}")
        if obj["v"] != SESSION_RECORD_VERSION:
            raise SessionRecordError(f"sessions record v must be {SESSION_RECORD_VERSION}")
        for name in ("session_id", "user", "site", "path", "cause"):
            if not isinstance(obj[name], str) or not obj[name]:
                raise SessionRecordError(f"sessions record field {name!r} must be a string")
        if obj["cause"] not in CAUSES:
            raise SessionRecordError(f"sessions record cause {obj['cause']!r} not in {CAUSES}")
        part = obj["part"]
        if part != "final" and (type(part) is not int or part < 0):
            raise SessionRecordError(f"sessions record part must be 'final' or an index >= 0, "
                                     f"got {part!r}")
        for name in ("t0", "closed_at"):
            if type(obj[name]) not in (int, float):
                raise SessionRecordError(f"sessions record field {name!r} must be a number")
        pointer = obj.get("pointer", POINTER_MOUSE)
        if pointer not in SESSION_POINTERS:
            raise SessionRecordError(f"sessions record pointer {pointer!r} not in "
                                     f"{SESSION_POINTERS}")
        rec = cls(session_id=obj["session_id"], user=obj["user"], site=obj["site"],
                  path=obj["path"], screen=(0, 0), part=part, cause=obj["cause"],
                  t0=float(obj["t0"]), closed_at=float(obj["closed_at"]), t=obj["t"],
                  x=obj["x"], y=obj["y"], k=obj["k"], b=obj["b"], pointer=pointer)
        traj = _trajectory(obj)   # checks columns and screen
        return SessionRecord(**{**rec.__dict__, "screen": traj.screen}), traj

    @classmethod
    def from_trajectory(cls, traj: Trajectory, *, session_id: str, user: str, site: str,
                        path: str = "/", part: str | int = "final", cause: str = "exit",
                        t0: float = 0.0, closed_at: float = 0.0,
                        pointer: str = POINTER_MOUSE) -> SessionRecord:
        """A record carrying ``traj``'s columns as they are (tools, tests, benchmarks)."""
        return cls(session_id=session_id, user=user, site=site, path=path, screen=traj.screen,
                   part=part, cause=cause, t0=t0, closed_at=closed_at,
                   t=[float(v) for v in traj.t], x=[float(v) for v in traj.x],
                   y=[float(v) for v in traj.y], k=[int(v) for v in traj.kind],
                   b=[int(v) for v in traj.button], pointer=pointer)

    def to_trajectory(self) -> Trajectory:
        """The events as a :class:`Trajectory` (the same reader offline tools use)."""
        return _trajectory(self.to_dict())


_to_json = msgspec.json.Encoder().encode
_from_json = msgspec.json.Decoder().decode


def _trajectory(obj: dict[str, Any]) -> Trajectory:
    try:
        return trajectory_from_session_record(obj)
    except DatasetError as exc:
        raise SessionRecordError(str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise SessionRecordError(f"sessions record has a bad value: {exc}") from None
