"""Live scores of page sessions in Redis, for a bounded time: what the decision call reads.

The scorer writes every scored part of a page session (rolling windows and closed segments)
here after publishing it; ``POST /v1/decisions`` reads them back in ONE round trip; ``POST
/v1/feedback`` labels the session. Keys hold pseudonymous ids only: the hash of a page session
is keyed by :func:`session_digest` of its page-session id (a BLAKE2 digest, never the raw id),
and its owner is ``<site>|<user key>`` (the pseudonymous key ingest made, never the raw user id).

Redis layout (:mod:`.keys`), hash ``cursorprint:live:<digest>``, expiring ``ttl_s`` after its
last write:

=============  ============================================================================
field          value
=============  ============================================================================
``owner``      ``<site>|<user key>``: set by the first writer; parts of another owner are not
               stored, a label of another owner is not set
``p:<id>``     one scored part (:class:`LivePart`, JSON); ``<id>`` = ``<segment>:<part>``
               (segment ``n`` of ``<sid>~n``, part ``final`` or the rolling window index)
``n``          parts stored (bounded by ``max_parts``: later new parts are dropped)
``label``      ``owner_confirmed`` or ``fraud_confirmed`` (set once; feedback)
``f:<id>``     closed part ``<id>`` was forwarded to ``trusted-sessions`` (claimed once)
``nf``         parts forwarded (bounded by the caller's ``max_forward``)
=============  ============================================================================

Every multi-step change is one Lua script (atomic, one round trip): writing parts returns the
label as it was at that instant and setting the label returns the parts as they were, so a
closed part is forwarded either by the feedback call (it was there) or by the scorer (the label
was there), and the claim fields make each forward happen once.

Feedback labels also go to the stream ``cursorprint:labels`` (``XADD ... MAXLEN ~``), the
pseudonymous labels ``cursorprint decide labels`` exports for evaluation.

:class:`RedisLiveScores` uses ``redis.asyncio``: both callers (the scorer's agent and the
decision service) run on an event loop, and a decision must not wait for a thread pool.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cursorprint.stream.records.errors import Unavailable
from cursorprint.stream.stores.client import REDIS_UNAVAILABLE
from cursorprint.stream.stores.keys import LABELS_STREAM, LIVE_PREFIX, live_key

__all__ = ["LivePart", "LiveState", "LiveWrite", "RedisLiveScores", "session_digest",
           "split_session_id", "owner_of", "LABEL_OWNER", "LABEL_FRAUD", "LABELS"]

LABEL_OWNER = "owner_confirmed"
LABEL_FRAUD = "fraud_confirmed"
LABELS = (LABEL_OWNER, LABEL_FRAUD)


def split_session_id(session_id: str) -> tuple[str, int]:
    """``(page-session id, segment)`` of a ``sessions`` record's id (``<sid>~n`` is segment n
    of page session ``sid``; ``~`` never occurs in a wire session id)."""
    base, sep, seg = session_id.partition("~")
    return base, (int(seg) if sep and seg.isdigit() else 0)


def session_digest(sid: str) -> str:
    """The pseudonymous id of page session ``sid`` (any segment's id gives the same)."""
    base, _ = split_session_id(sid)
    return hashlib.blake2b(base.encode(), digest_size=16, person=b"cp-live-sid").hexdigest()


def owner_of(site: str, user_key: str) -> str:
    """The ``owner`` field: site keys never contain ``|``."""
    return f"{site}|{user_key}"


@dataclass(frozen=True)
class LivePart:
    """One scored part of a page session, as the decision call needs it."""

    segment: int
    part: str | int               # "final" or the rolling window index
    cause: str                    # exit | idle | cap | window
    score: float
    n_windows: int                # windows the score is made of
    reasons: list[str]
    model_version: str
    head_version: str
    n_events: int
    seconds: float                # seconds of movement in the part
    scored_at: float              # epoch ms
    src: tuple[int, int] | None = None   # (partition, offset) of its `sessions` record

    @property
    def id(self) -> str:
        return f"{self.segment}:{self.part}"

    @property
    def closed(self) -> bool:
        """A closed segment (holds every event of it), not a rolling window."""
        return self.cause != "window"

    def to_json(self) -> str:
        obj = asdict(self)
        obj["src"] = list(self.src) if self.src is not None else None
        return json.dumps(obj, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> LivePart:
        obj = json.loads(raw)
        src = obj.get("src")
        return cls(segment=int(obj["segment"]), part=obj["part"], cause=str(obj["cause"]),
                   score=float(obj["score"]), n_windows=int(obj["n_windows"]),
                   reasons=[str(r) for r in obj["reasons"]],
                   model_version=str(obj["model_version"]),
                   head_version=str(obj["head_version"]), n_events=int(obj["n_events"]),
                   seconds=float(obj["seconds"]), scored_at=float(obj["scored_at"]),
                   src=(int(src[0]), int(src[1])) if src else None)


@dataclass
class LiveState:
    """What is known about one page session: its owner, parts, label and forwarded parts."""

    owner: str | None = None
    parts: list[LivePart] = field(default_factory=list)
    label: str | None = None
    forwarded: set[str] = field(default_factory=set)
    created_label: bool = False          # set_label: this call set the label

    @property
    def known(self) -> bool:
        return self.owner is not None

    @classmethod
    def from_fields(cls, fields: Mapping[Any, Any]) -> LiveState:
        """From the hash's fields (bytes or str keys and values); unreadable parts skipped."""
        state = cls()
        for k, v in fields.items():
            key = k.decode() if isinstance(k, bytes) else str(k)
            val = v.decode() if isinstance(v, bytes) else str(v)
            if key == "owner":
                state.owner = val
            elif key == "label":
                state.label = val
            elif key.startswith("p:"):
                try:
                    state.parts.append(LivePart.from_json(val))
                except (ValueError, KeyError, TypeError, IndexError):
                    continue
            elif key.startswith("f:"):
                state.forwarded.add(key[2:])
        # a hash has no order; windows scored in one micro-batch share scored_at, so the
        # window index breaks the tie
        state.parts.sort(key=lambda p: (p.segment, p.closed, p.scored_at,
                                        p.part if isinstance(p.part, int) else 0))
        return state


@dataclass(frozen=True)
class LiveWrite:
    """What writing a session's parts found: parts stored, whether the owner matched, the
    label at that instant and how many parts were forwarded so far."""

    written: int
    owner_ok: bool
    label: str | None
    n_forwarded: int


_RECORD = """
local key = KEYS[1]
local owner = redis.call('HGET', key, 'owner')
if not owner then redis.call('HSET', key, 'owner', ARGV[1]); owner = ARGV[1] end
if owner ~= ARGV[1] then return {-1, '', 0} end
local n = tonumber(redis.call('HGET', key, 'n') or '0')
local written = 0
for i = 4, #ARGV, 2 do
  if redis.call('HEXISTS', key, ARGV[i]) == 1 then
    redis.call('HSET', key, ARGV[i], ARGV[i + 1]); written = written + 1
  elseif n < tonumber(ARGV[3]) then
    redis.call('HSET', key, ARGV[i], ARGV[i + 1]); n = n + 1; written = written + 1
  end
end
redis.call('HSET', key, 'n', n)
redis.call('PEXPIRE', key, ARGV[2])
return {written, redis.call('HGET', key, 'label') or '',
        tonumber(redis.call('HGET', key, 'nf') or '0')}
"""

_SET_LABEL = """
local key = KEYS[1]
local owner = redis.call('HGET', key, 'owner')
local created = 0
if not owner then redis.call('HSET', key, 'owner', ARGV[1]); owner = ARGV[1] end
if owner == ARGV[1] and redis.call('HSETNX', key, 'label', ARGV[2]) == 1 then created = 1 end
redis.call('PEXPIRE', key, ARGV[3])
local out = {created}
for _, v in ipairs(redis.call('HGETALL', key)) do out[#out + 1] = v end
return out
"""

_CLAIM = """
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return {} end
local nf = tonumber(redis.call('HGET', key, 'nf') or '0')
local got = {}
for i = 2, #ARGV do
  if nf >= tonumber(ARGV[1]) then break end
  if redis.call('HSETNX', key, 'f:' .. ARGV[i], '1') == 1 then
    nf = nf + 1; got[#got + 1] = ARGV[i]
  end
end
redis.call('HSET', key, 'nf', nf)
return got
"""

_RELEASE = """
local key = KEYS[1]
local c = 0
for i = 1, #ARGV do c = c + redis.call('HDEL', key, 'f:' .. ARGV[i]) end
if c > 0 and redis.call('EXISTS', key) == 1 then redis.call('HINCRBY', key, 'nf', -c) end
return c
"""


def connect_async(url: str, timeout_s: float | None) -> Any:
    """A ``redis.asyncio.Redis`` for ``url`` (connects on first use, inside the running loop).

    Kept here until :mod:`.client` grows an async twin of :func:`~.client.connect`."""
    import redis.asyncio

    return redis.asyncio.Redis.from_url(url, socket_timeout=timeout_s,
                                        socket_connect_timeout=timeout_s)


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class RedisLiveScores:
    """:class:`~cursorprint.stream.stores.base.LiveScores` on ``redis.asyncio``. Every method
    raises :class:`~cursorprint.stream.records.errors.Unavailable` when Redis fails."""

    def __init__(self, client: Any, *, ttl_s: float = 3600.0, max_parts: int = 256,
                 labels_max: int = 1_000_000, prefix: str = LIVE_PREFIX,
                 labels_stream: str = LABELS_STREAM) -> None:
        self.redis = client
        self.ttl_ms = int(ttl_s * 1000)
        self.max_parts = max_parts
        self.labels_max = labels_max
        self.prefix = prefix
        self.labels_stream = labels_stream
        self._record = client.register_script(_RECORD)
        self._set_label = client.register_script(_SET_LABEL)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, timeout_s: float | None = 0.5, **kw: Any) -> RedisLiveScores:
        return cls(connect_async(url, timeout_s), **kw)

    def key(self, sid: str) -> str:
        """The hash of page session ``sid`` (for tools and the latency benchmark)."""
        return live_key(session_digest(sid), self.prefix)

    async def close(self) -> None:
        await self.redis.aclose()

    async def _call(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except Exception as exc:  # noqa: BLE001 - any client/connection error
            raise Unavailable(REDIS_UNAVAILABLE, f"live scores ({what}): {exc}") from exc

    async def record(self, sid: str, owner: str, parts: Sequence[LivePart]) -> LiveWrite:
        args: list[Any] = [owner, self.ttl_ms, self.max_parts]
        for p in parts:
            args += ["p:" + p.id, p.to_json()]
        written, label, nf = await self._call(
            "record", self._record(keys=[self.key(sid)], args=args))
        return LiveWrite(max(int(written), 0), int(written) >= 0, _text(label) or None, int(nf))

    async def read(self, sid: str) -> LiveState:
        return LiveState.from_fields(await self._call("read", self.redis.hgetall(self.key(sid))))

    async def set_label(self, sid: str, owner: str, label: str) -> LiveState:
        out = await self._call("set_label", self._set_label(
            keys=[self.key(sid)], args=[owner, label, self.ttl_ms]))
        flat = out[1:]
        state = LiveState.from_fields(dict(zip(flat[::2], flat[1::2], strict=True)))
        state.created_label = int(out[0]) == 1
        return state

    async def claim_forward(self, sid: str, part_ids: Iterable[str], max_forward: int
                            ) -> list[str]:
        ids = list(part_ids)
        if not ids:
            return []
        got = await self._call("claim", self._claim(keys=[self.key(sid)],
                                                    args=[max_forward, *ids]))
        return [_text(g) for g in got]

    async def release_forward(self, sid: str, part_ids: Iterable[str]) -> None:
        ids = list(part_ids)
        if ids:
            await self._call("release", self._release(keys=[self.key(sid)], args=ids))

    async def append_label(self, fields: Mapping[str, str]) -> None:
        await self._call("append_label", self.redis.xadd(
            self.labels_stream, dict(fields), maxlen=self.labels_max, approximate=True))

    async def labels(self, count: int | None = None) -> list[dict[str, str]]:
        rows = await self._call("labels", self.redis.xrange(self.labels_stream, count=count))
        return [{_text(k): _text(v) for k, v in fields.items()} for _, fields in rows]
