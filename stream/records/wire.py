"""The wire batch (browser -> ingest) and the ``pointer-batches`` Kafka record, validated.

One schema check serves both directions: :func:`parse_wire_batch` checks what a browser posted
(untrusted, so every field, type, range and length is checked and a :class:`WireError` names the
first problem), and :meth:`PointerBatchRecord.from_bytes` checks what a consumer reads from Kafka.
A batch stays one message as a whole: the columnar events are never exploded.

Two fields are optional, so batches from collectors and tools that predate them stay valid:
``pt``, the pointer type of every event in the batch (``mouse``, ``pen`` or ``touch``; absent
means ``mouse``), and ``smp``, the sampling the page achieved (:class:`Sampling`). The
``pointer-batches`` record always carries ``pt``, and ``smp`` when the batch had it.

Everything a batch that passes may hold is safe for every consumer: strings are printable ASCII
(site and session ids by pattern, the path by :mod:`~cursorprint.stream.records.page_path`),
numbers are finite and within the documented ranges (:class:`WireLimits`; an integer beyond
±2**53 or a number that overflows a double is refused while the JSON is read, before any
conversion could overflow: :mod:`~cursorprint.stream.records.strict_json`).
``openapi/ingest.yaml`` states the same limits; a test keeps the two in step.

Records are read far more often than batches are posted (every consumer, every replay), so
:meth:`PointerBatchRecord.from_bytes` first tries a typed decode with msgspec, which checks every
type and every per-value range in C while it reads (:func:`_fast_record`); the few checks that
span fields run in Python after it. That path may only *accept*: whenever it has any doubt it
hands the bytes to the strict path (:func:`loads_json` + the checks below), which decides every
refusal and names its reason, so a poison record is refused exactly as before.

One module for the whole wire schema: every field's check sits next to the others, in the order
of the OpenAPI file.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
from dataclasses import dataclass, field
from types import GenericAlias
from typing import Annotated, Any, Literal, Union

import msgspec
import numpy as np
from msgspec import Meta

from cursorprint.model.data.trajectory import Trajectory
from cursorprint.stream.records.errors import TokenError, WireError
from cursorprint.stream.records.events import (
    BUTTON_KINDS,
    MAX_BUTTON,
    MAX_KIND,
    POINTER_MOUSE,
    POINTER_TYPES,
    SAMPLE_GAP_MS,
    SAMPLING_SOURCES,
)
from cursorprint.stream.records.page_path import MAX_PATH_CHARS, normalise_path
from cursorprint.stream.records.strict_json import (
    MAX_NUMBER_CHARS,
    MAX_SAFE_INTEGER,
    loads_json,
)

__all__ = ["WireError", "WireLimits", "WireBatch", "PointerBatchRecord", "Sampling",
           "parse_wire_batch", "loads_json", "WIRE_VERSION", "EVENT_COLUMNS", "WIRE_FIELDS",
           "OPTIONAL_FIELDS", "RECORD_FIELDS", "SAMPLING_FIELDS", "SID_RE", "SITE_RE", "USER_RE",
           "MAX_SAFE_INTEGER", "MAX_TOKEN_CHARS", "MAX_SAMPLE_COUNT", "RECORD_LIMITS"]

WIRE_VERSION = 1
EVENT_COLUMNS = ("dt", "x", "y", "k", "b")
SID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SITE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
USER_RE = re.compile(r"^[0-9a-f]{32}$")
#: fields a batch may leave out (batches from before them stay valid)
OPTIONAL_FIELDS = frozenset({"pt", "smp"})
WIRE_FIELDS = frozenset({"v", "site", "token", "sid", "seq", "path", "vp", "scr", "dpr", "t0",
                         "final", "ev"}) | OPTIONAL_FIELDS
RECORD_FIELDS = (WIRE_FIELDS - {"token"}) | {"user", "recv", "bid"}
SAMPLING_FIELDS = ("src", "n", "c", "g", "gms")
MAX_SAMPLE_COUNT = 2**31 - 1
MAX_TOKEN_CHARS = 2048
_NUM_TYPES = {int, float}
_DAY_MS = 86_400_000.0


@dataclass(frozen=True)
class WireLimits:
    """Bounds on a batch; anything outside is rejected, never clipped."""

    max_events: int = 5000
    max_coord: float = 100_000.0     # |x|, |y| in CSS pixels
    max_size: int = 100_000          # viewport / screen side in pixels
    max_dt_ms: float = 3_600_000.0   # one gap, and the whole batch span
    max_path: int = MAX_PATH_CHARS   # after normalisation
    max_seq: int = 2**31 - 1
    min_dpr: float = 0.05
    max_dpr: float = 16.0
    max_t0: float = 1e14             # epoch ms (year 5138): also bounds ``recv``
    clock_past_ms: float = 7 * _DAY_MS    # t0 may lag the server clock by this much
    clock_future_ms: float = _DAY_MS      # ... or lead it by this much


def _bad(field: str, why: str) -> WireError:
    return WireError("invalid_field", f"{field}: {why}")


def _int(obj: dict[str, Any], key: str, lo: int, hi: int) -> int:
    v = obj.get(key)
    if type(v) is not int or not lo <= v <= hi:
        raise _bad(key, f"must be an integer in [{lo}, {hi}]")
    return v


def _num(obj: dict[str, Any], key: str, lo: float, hi: float) -> float:
    v: Any = obj.get(key)
    if type(v) not in _NUM_TYPES or not lo <= v <= hi:
        raise _bad(key, f"must be a number in [{lo:g}, {hi:g}]")
    return float(v)


def _str(obj: dict[str, Any], key: str, pattern: re.Pattern[str]) -> str:
    v = obj.get(key)
    if not isinstance(v, str) or not pattern.fullmatch(v):   # `$` alone lets a final \n pass
        raise _bad(key, f"must match {pattern.pattern}")
    return v


def _size(obj: dict[str, Any], key: str, limits: WireLimits) -> tuple[int, int]:
    v = obj.get(key)
    if not isinstance(v, list) or len(v) != 2 \
            or not all(type(p) is int and 0 < p <= limits.max_size for p in v):
        raise _bad(key, f"must be [width, height], integers in [1, {limits.max_size}]")
    return int(v[0]), int(v[1])


def _events(ev: Any, limits: WireLimits, final: bool) -> dict[str, list[Any]]:
    if not isinstance(ev, dict) or set(ev) != set(EVENT_COLUMNS):
        raise _bad("ev", "must be an object with exactly the columns dt, x, y, k, b")
    cols = [ev[c] for c in EVENT_COLUMNS]
    if not all(isinstance(c, list) for c in cols):
        raise _bad("ev", "every column must be an array")
    n = len(cols[0])
    if any(len(c) != n for c in cols):
        raise _bad("ev", "columns must have the same length")
    if n > limits.max_events:
        raise WireError("too_many_events", f"ev: {n} events, at most {limits.max_events}")
    if n == 0 and not final:
        raise _bad("ev", "empty batch (only a final flush may be empty)")
    for name, col in zip(EVENT_COLUMNS, cols, strict=True):
        if not set(map(type, col)) <= _NUM_TYPES:
            raise _bad(f"ev.{name}", "must hold numbers only")
    if n == 0:
        return dict(zip(EVENT_COLUMNS, cols, strict=True))
    try:     # a caller may pass a dict that did not come through loads_json
        dt, x, y = (np.asarray(c, dtype=np.float64) for c in cols[:3])
    except OverflowError:
        raise WireError("number_out_of_range", "ev: a number does not fit a double") from None
    if not np.isfinite(dt).all() or dt.min() < 0 or dt.max() > limits.max_dt_ms:
        raise _bad("ev.dt", f"gaps must be finite, >= 0 (monotonic times) and <= "
                   f"{limits.max_dt_ms:g} ms")
    if float(dt.sum()) > limits.max_dt_ms:
        raise _bad("ev.dt", f"batch spans more than {limits.max_dt_ms:g} ms")
    for name, a in (("x", x), ("y", y)):
        if not np.isfinite(a).all() or np.abs(a).max() > limits.max_coord:
            raise _bad(f"ev.{name}", f"coordinates must be finite and within "
                       f"±{limits.max_coord:g} px")
    for name, col, hi in (("k", cols[3], MAX_KIND), ("b", cols[4], MAX_BUTTON)):
        if not all(type(v) is int and 0 <= v <= hi for v in col):
            raise _bad(f"ev.{name}", f"codes must be integers in [0, {hi}]")
    k = np.asarray(cols[3], dtype=np.int64)
    b = np.asarray(cols[4], dtype=np.int64)
    if np.isin(k, list(BUTTON_KINDS))[b == 0].any():
        raise _bad("ev.b", "a down/up event needs a button (1 left, 2 middle, 3 right)")
    return dict(zip(EVENT_COLUMNS, cols, strict=True))


@dataclass(frozen=True)
class Sampling:
    """The sampling a page achieved over one batch, as the collector counted it.

    ``src``: the event it counted on (``raw`` pointerrawupdate, ``move`` pointermove,
    ``mouse`` mousemove); ``n``: how many of them the page dispatched; ``c``: the pointer
    reports they carried (coalesced events; ``c >= n``); ``g`` and ``gms``: how many gaps
    between consecutive reports were shorter than ``SAMPLE_GAP_MS`` (movement, not pauses) and
    their sum in ms. Kept move events are in ``ev``; the collector samples them down.
    """

    src: str
    n: int
    c: int
    g: int
    gms: float

    @property
    def input_hz(self) -> float | None:
        """Reports per second while the pointer moved (the device/browser rate); ``None``
        without a gap to measure."""
        return 1000.0 * self.g / self.gms if self.g and self.gms > 0 else None

    @property
    def coalesced_per_event(self) -> float | None:
        """Pointer reports per dispatched event (1 where the browser does not coalesce)."""
        return self.c / self.n if self.n else None

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "n": self.n, "c": self.c, "g": self.g, "gms": self.gms}


def _sampling(obj: Any, limits: WireLimits) -> Sampling:
    if not isinstance(obj, dict) or set(obj) != set(SAMPLING_FIELDS):
        raise _bad("smp", f"must be an object with exactly {', '.join(SAMPLING_FIELDS)}")
    if obj["src"] not in SAMPLING_SOURCES:
        raise _bad("smp.src", f"must be one of {', '.join(SAMPLING_SOURCES)}")
    named = {f"smp.{k}": v for k, v in obj.items()}
    n, c, g = (_int(named, f"smp.{k}", 0, MAX_SAMPLE_COUNT) for k in ("n", "c", "g"))
    gms = _num(named, "smp.gms", 0.0, limits.max_dt_ms)
    if n > c or g > c:
        raise _bad("smp", "n and g must not exceed c (the reports the events carried)")
    if gms > SAMPLE_GAP_MS * g:
        raise _bad("smp.gms", f"each counted gap is shorter than {SAMPLE_GAP_MS} ms")
    return Sampling(src=obj["src"], n=n, c=c, g=g, gms=gms)


def _common(obj: Any, allowed: frozenset[str], limits: WireLimits) -> dict[str, Any]:
    """Check the fields shared by the wire batch and the Kafka record; returns them."""
    if not isinstance(obj, dict):
        raise WireError("invalid_batch", "batch must be a JSON object")
    if obj.get("v") != WIRE_VERSION or type(obj.get("v")) is not int:
        raise WireError("unsupported_version", f"v must be {WIRE_VERSION}")
    unknown = set(obj) - allowed
    if unknown:    # named by ascii() and cut short: the names are the sender's own strings
        names = sorted(ascii(k)[:40] for k in unknown)[:5]
        raise WireError("unknown_field", f"unknown fields: {', '.join(names)}")
    missing = allowed - OPTIONAL_FIELDS - set(obj)
    if missing:
        raise WireError("missing_field", f"missing fields: {', '.join(sorted(missing))}")
    final = obj["final"]
    if type(final) is not bool:
        raise _bad("final", "must be true or false")
    pt = obj.get("pt", POINTER_MOUSE)
    if pt not in POINTER_TYPES:
        raise _bad("pt", f"must be one of {', '.join(POINTER_TYPES)}")
    smp = _sampling(obj["smp"], limits) if "smp" in obj else None
    return {"pt": pt, "smp": smp,
        "site": _str(obj, "site", SITE_RE), "sid": _str(obj, "sid", SID_RE),
        "seq": _int(obj, "seq", 0, limits.max_seq),
        "path": normalise_path(obj["path"], limits.max_path),
        "vp": _size(obj, "vp", limits), "scr": _size(obj, "scr", limits),
        "dpr": _num(obj, "dpr", limits.min_dpr, limits.max_dpr),
        "t0": _num(obj, "t0", 0.0, limits.max_t0),
        "final": final, "ev": _events(obj["ev"], limits, final),
    }


RECORD_LIMITS = dataclasses.replace(WireLimits(), max_events=2**31 - 1)


@dataclass(frozen=True)
class BatchBody:
    """What a wire batch and a ``pointer-batches`` record share: page session, screen, events."""

    site: str
    sid: str
    seq: int
    path: str
    vp: tuple[int, int]
    scr: tuple[int, int]
    dpr: float
    t0: float
    final: bool
    ev: dict[str, list[Any]]
    pt: str = field(default=POINTER_MOUSE, kw_only=True)
    smp: Sampling | None = field(default=None, kw_only=True)

    @property
    def n_events(self) -> int:
        return len(self.ev["dt"])


@dataclass(frozen=True)
class WireBatch(BatchBody):
    """A validated batch as posted by the browser (still carrying its token)."""

    token: str


def parse_wire_batch(obj: Any, now_ms: float, limits: WireLimits = WireLimits()) -> WireBatch:
    """Validate a decoded wire batch against the v1 schema and ``limits``."""
    fields = _common(obj, WIRE_FIELDS, limits)
    token = obj["token"]
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        raise TokenError("token_missing", f"token must be a string of 1 to {MAX_TOKEN_CHARS} "
                         "characters")
    if not now_ms - limits.clock_past_ms <= fields["t0"] <= now_ms + limits.clock_future_ms:
        raise _bad("t0", "batch start time is too far from the server clock")
    return WireBatch(token=token, **fields)


@dataclass(frozen=True)
class PointerBatchRecord(BatchBody):
    """The value of a ``pointer-batches`` message: the wire batch without its token, plus the
    pseudonymous user key, the ingest receive time and the batch id ``f"{sid}:{seq}"``."""

    user: str
    recv: float

    @property
    def bid(self) -> str:
        return f"{self.sid}:{self.seq}"

    @property
    def key(self) -> bytes:
        """Kafka key: the page-session id."""
        return self.sid.encode()

    @classmethod
    def from_wire(cls, batch: WireBatch, user: str, recv: float) -> PointerBatchRecord:
        body = {f.name: getattr(batch, f.name) for f in dataclasses.fields(BatchBody)}
        return cls(**body, user=user, recv=recv)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": WIRE_VERSION, "site": self.site, "sid": self.sid, "seq": self.seq,
                               "path": self.path, "vp": list(self.vp), "scr": list(self.scr),
                               "dpr": self.dpr, "t0": self.t0, "final": self.final,
                               "ev": self.ev, "pt": self.pt, "user": self.user,
                               "recv": self.recv, "bid": self.bid}
        if self.smp is not None:
            out["smp"] = self.smp.to_dict()
        return out

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes, limits: WireLimits = RECORD_LIMITS) -> PointerBatchRecord:
        """Decode and validate a Kafka value; :class:`WireError` when malformed.

        The event count is not capped again (ingest capped it with its own, configurable
        limit): a record ingest accepted must never be refused here."""
        rec = _fast_record(cls, raw, limits)
        return rec if rec is not None else cls.from_bytes_strict(raw, limits)

    @classmethod
    def from_bytes_strict(cls, raw: bytes, limits: WireLimits = RECORD_LIMITS
                          ) -> PointerBatchRecord:
        """:meth:`from_bytes` by the strict path alone (the reference for the fast one)."""
        obj = loads_json(raw)
        fields = _common(obj, RECORD_FIELDS, limits)
        user = obj["user"]
        if not isinstance(user, str) or not USER_RE.fullmatch(user):
            raise _bad("user", "must be a 32-hex-digit pseudonymous key")
        recv = _num(obj, "recv", 0.0, limits.max_t0)
        rec = cls(user=user, recv=recv, **fields)
        if obj["bid"] != rec.bid:
            raise _bad("bid", "must be f'{sid}:{seq}'")
        return rec

    def to_trajectory(self) -> Trajectory:
        """Events as a :class:`Trajectory`: seconds from the batch start, screen = viewport."""
        t = np.cumsum(np.asarray(self.ev["dt"], dtype=np.float64)) / 1000.0
        return Trajectory.from_columns(
            t, self.ev["x"], self.ev["y"], self.ev["k"], self.ev["b"], screen=self.vp,
            meta={"sid": self.sid, "seq": self.seq, "user": self.user, "site": self.site,
                  "path": self.path, "t0": self.t0, "final": self.final, "pt": self.pt})


# --- the fast path for records ---------------------------------------------------------------

# A run of number characters longer than the strict parser takes (it refuses such a literal):
# every such byte made "n", the rest " ", then one substring search (a regex is 7x slower).
_NUMBER_BYTES = bytes(ord("n") if chr(c) in "-+.0123456789eE" else ord(" ") for c in range(256))
_LONG_NUMBER = b"n" * (MAX_NUMBER_CHARS + 1)
# the strict path sums the gaps with numpy (other rounding): near the limit it decides
_SUM_MARGIN = 1e-9
_normalised_path = functools.lru_cache(maxsize=1024)(normalise_path)   # paths repeat per session


def _number(lo: float, hi: float) -> Any:
    """A JSON number in ``[lo, hi]`` that stays an int or a float as written (as ``json`` reads
    it); booleans, strings and values out of range are refused by the decoder."""
    return Union[Annotated[int, Meta(ge=math.ceil(lo), le=math.floor(hi))],  # noqa: UP007
                 Annotated[float, Meta(ge=lo, le=hi)]]


def _list(item: Any) -> Any:
    return GenericAlias(list, (item,))      # list[item], built at run time (mypy: not a type)


@functools.lru_cache(maxsize=8)
def _record_decoder(limits: WireLimits) -> msgspec.json.Decoder[Any]:
    """A msgspec decoder for a ``pointer-batches`` value with every per-value rule of
    :func:`_common` for ``limits``: types, ranges, literals, exactly the known fields."""
    def integer(lo: int, hi: int) -> Any:
        return Annotated[int, Meta(ge=lo, le=hi)]

    def real(lo: float, hi: float) -> Any:          # an int is taken and made a float
        return Annotated[float, Meta(ge=lo, le=hi)]

    def size() -> Any:
        return GenericAlias(tuple, (integer(1, limits.max_size),) * 2)

    coord = _number(-limits.max_coord, limits.max_coord)
    count = integer(0, MAX_SAMPLE_COUNT)
    events = msgspec.defstruct("Events", [
        ("dt", _list(_number(0.0, limits.max_dt_ms))), ("x", _list(coord)), ("y", _list(coord)),
        ("k", _list(integer(0, MAX_KIND))), ("b", _list(integer(0, MAX_BUTTON)))],
        forbid_unknown_fields=True)
    sampling = msgspec.defstruct("Sampling", [
        ("src", Literal[SAMPLING_SOURCES]), ("n", count), ("c", count), ("g", count),
        ("gms", real(0.0, limits.max_dt_ms))], forbid_unknown_fields=True)
    record = msgspec.defstruct("Record", [
        ("v", Literal[WIRE_VERSION]), ("site", str), ("sid", str),
        ("seq", integer(0, limits.max_seq)), ("path", str), ("vp", size()), ("scr", size()),
        ("dpr", real(limits.min_dpr, limits.max_dpr)), ("t0", real(0.0, limits.max_t0)),
        ("final", bool), ("ev", events), ("user", str), ("recv", real(0.0, limits.max_t0)),
        ("bid", str), ("pt", Literal[POINTER_TYPES], POINTER_MOUSE),
        ("smp", Union[sampling, msgspec.UnsetType], msgspec.UNSET)],  # noqa: UP007
        forbid_unknown_fields=True)
    return msgspec.json.Decoder(record)


@functools.lru_cache(maxsize=1)
def _default_decoder() -> msgspec.json.Decoder[Any]:
    return _record_decoder(RECORD_LIMITS)


def _fast_record(cls: type[PointerBatchRecord], raw: bytes, limits: WireLimits
                 ) -> PointerBatchRecord | None:
    """The record when ``raw`` passes every rule of the strict path, ``None`` when the strict
    path must decide (it may still accept: e.g. non-ASCII text, a path not yet normalised).

    The decoder has checked each value; what is left spans fields or values. Records are
    written by ``json.dumps`` (ASCII only), so UTF-8 needs no check of its own here."""
    if not raw.isascii() or _LONG_NUMBER in raw.translate(_NUMBER_BYTES):
        return None
    try:    # hashing the limits for the cache costs more than the decode: the default first
        r = (_default_decoder() if limits is RECORD_LIMITS else _record_decoder(limits)
             ).decode(raw)
    except msgspec.MsgspecError:
        return None
    ev = r.ev
    n = len(ev.dt)
    if not len(ev.x) == len(ev.y) == len(ev.k) == len(ev.b) == n or n > limits.max_events \
            or (n == 0 and not r.final) \
            or sum(ev.dt) > limits.max_dt_ms * (1.0 - _SUM_MARGIN):
        return None
    if not BUTTON_KINDS.isdisjoint(ev.k) \
            and any(b == 0 for k, b in zip(ev.k, ev.b, strict=True) if k in BUTTON_KINDS):
        return None     # a down/up event needs a button
    if not (SITE_RE.fullmatch(r.site) and SID_RE.fullmatch(r.sid)
            and USER_RE.fullmatch(r.user)) or r.bid != f"{r.sid}:{r.seq}":
        return None
    smp = None
    if r.smp is not msgspec.UNSET:
        s = r.smp
        if s.n > s.c or s.g > s.c or s.gms > SAMPLE_GAP_MS * s.g:
            return None
        smp = Sampling(src=s.src, n=s.n, c=s.c, g=s.g, gms=s.gms)
    if len(r.path) > limits.max_path:      # not cached: the strict path decides
        return None
    try:
        path = _normalised_path(r.path, limits.max_path)
    except WireError:
        return None
    return cls(site=r.site, sid=r.sid, seq=r.seq, path=path, vp=r.vp, scr=r.scr, dpr=r.dpr,
               t0=r.t0, final=r.final,
               ev={"dt": ev.dt, "x": ev.x, "y": ev.y, "k": ev.k, "b": ev.b},
               pt=r.pt, smp=smp, user=r.user, recv=r.recv)
