"""The checks a ``POST /v1/batches`` passes before its batch may be produced, in order of cost.

The client's rate, the content type, the body's size and arrival time, strict JSON, the v1
schema (every limit of :mod:`cursorprint.stream.records.wire`, the path normalised and redacted),
the site key, the page origin, the site's rate and the user token (a JWT: signature, algorithm,
audience, expiry); then the user id is swapped for the pseudonymous key. Every refusal is a
:class:`~cursorprint.stream.records.errors.RejectedInput` (or subclass) that carries its own
HTTP status and reason, so the service answers it as it is.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from cursorprint.stream.ingest.identity import user_key, verify_token
from cursorprint.stream.ingest.ratelimit import TokenBuckets
from cursorprint.stream.metrics import INGEST_BODY_BYTES
from cursorprint.stream.records.errors import RejectedInput
from cursorprint.stream.records.wire import (
    PointerBatchRecord,
    WireLimits,
    loads_json,
    parse_wire_batch,
)
from cursorprint.stream.settings import Settings

__all__ = ["BatchChecks", "CONTENT_TYPES", "MAX_FORWARDED_FOR_CHARS"]

CONTENT_TYPES = frozenset({"text/plain", "application/json"})
MAX_FORWARDED_FOR_CHARS = 64


def _retry_after(wait_s: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, round(wait_s)))}


class BatchChecks:
    """Site table, limits and rate buckets of one ingest process; :meth:`admit` runs them."""

    def __init__(self, settings: Settings) -> None:
        self.ingest = settings.ingest
        self.sites = settings.ingest.site_configs()
        self.limits = WireLimits(max_events=settings.ingest.max_events)
        self.client_buckets = TokenBuckets(settings.ingest.client_rate,
                                           settings.ingest.client_burst)
        self.site_buckets = TokenBuckets(settings.ingest.site_rate, settings.ingest.site_burst)

    def client_address(self, request: web.Request) -> str:
        if self.ingest.trust_proxy:
            first = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
            if first:
                return first[:MAX_FORWARDED_FOR_CHARS]
        return request.remote or "unknown"

    def origin_allowed_anywhere(self, origin: str | None) -> bool:
        return any(site.allows_origin(origin) for site in self.sites.values())

    async def read_body(self, request: web.Request) -> bytes:
        """The body, at most ``max_body_bytes`` (413) within ``body_timeout_s`` (408)."""
        limit = self.ingest.max_body_bytes
        too_large = RejectedInput("body_too_large", f"body is larger than {limit} bytes",
                                  status=413)
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.ingest.body_timeout_s):
                while chunk := await request.content.readany():
                    size += len(chunk)
                    if size > limit:
                        raise too_large
                    chunks.append(chunk)
        except TimeoutError:
            raise RejectedInput("body_timeout", "the request body did not arrive in "
                                f"{self.ingest.body_timeout_s:g} s", status=408) from None
        return b"".join(chunks)

    async def admit(self, request: web.Request) -> PointerBatchRecord:
        """The ``pointer-batches`` record of an acceptable request; raises every refusal."""
        wait = self.client_buckets.take(self.client_address(request))
        if wait:
            raise RejectedInput("rate_limited_client", "too many batches from this client",
                                status=429, headers=_retry_after(wait))
        if request.content_type not in CONTENT_TYPES:
            raise RejectedInput("unsupported_media_type",
                                f"Content-Type {request.content_type[:80]!r}: use text/plain or "
                                "application/json", status=415)
        body = await self.read_body(request)
        INGEST_BODY_BYTES.observe(len(body))
        now_ms = time.time() * 1000.0
        batch = parse_wire_batch(loads_json(body), now_ms, self.limits)
        site = self.sites.get(batch.site)
        if site is None:
            raise RejectedInput("unknown_site", f"site {batch.site!r} is not configured",
                                status=403)
        origin = request.headers.get("Origin")
        if not site.allows_origin(origin):
            raise RejectedInput("origin_not_allowed", f"origin {ascii(origin)[:200]} is not "
                                f"allowed for site {site.key!r}", status=403)
        wait = self.site_buckets.take(site.key)
        if wait:
            raise RejectedInput("rate_limited_site", "too many batches for this site",
                                status=429, headers=_retry_after(wait))
        user_id = verify_token(batch.token, site.key, site.secret)
        return PointerBatchRecord.from_wire(
            batch, user_key(site.key, user_id, self.ingest.pseudonym_secret), recv=now_ms)
