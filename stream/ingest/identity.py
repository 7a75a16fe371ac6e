"""Signed user tokens and pseudonymous user keys.

The browser cannot be trusted with a user id, so a site's backend hands the page a token signed
with the site's secret (HMAC-SHA256 over ``{"u", "s", "exp"}``); ingest verifies it and replaces the
id by :func:`user_key`, a keyed hash, so no raw user id is ever stored downstream.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time

from cursorprint.stream.records.errors import TokenError
from cursorprint.stream.records.wire import MAX_TOKEN_CHARS

__all__ = ["TokenError", "mint_token", "verify_token", "user_key", "MAX_TOKEN_CHARS"]

def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload_b64: str) -> str:
    return _b64e(hmac.new(secret.encode(), payload_b64.encode("ascii"), hashlib.sha256).digest())


def mint_token(site: str, user_id: str, secret: str, ttl_s: float = 3600.0,
               now: float | None = None) -> str:
    """A token for ``user_id`` on ``site`` that expires ``ttl_s`` seconds from ``now``."""
    if not user_id:
        raise ValueError("user id must not be empty")
    if ttl_s <= 0:
        raise ValueError(f"ttl must be > 0 seconds, got {ttl_s}")
    exp = int((time.time() if now is None else now) + ttl_s)
    body = json.dumps({"u": user_id, "s": site, "exp": exp}, separators=(",", ":"))
    payload = _b64e(body.encode())
    return f"{payload}.{_sign(secret, payload)}"


def verify_token(token: object, site: str, secret: str, now: float | None = None) -> str:
    """The user id inside ``token`` if it is signed by ``secret``, for ``site`` and not expired.

    Raises :class:`TokenError` (401) with reason ``token_missing``, ``token_malformed``,
    ``token_bad_signature`` or ``token_expired``, or ``token_wrong_site`` (403). ``exp`` must be
    a finite number: a signed ``NaN`` would compare as never expired.
    """
    if not isinstance(token, str) or not token:
        raise TokenError("token_missing", "no user token in the batch")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise TokenError("token_malformed", "expected <payload>.<signature>")
    payload, signature = token.split(".")
    try:
        payload.encode("ascii")
        signature.encode("ascii")
    except UnicodeEncodeError:
        raise TokenError("token_malformed", "token is not base64url") from None
    if not hmac.compare_digest(_sign(secret, payload), signature):
        raise TokenError("token_bad_signature", "signature does not match the site's secret")
    try:
        claims = json.loads(_b64d(payload))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise TokenError("token_malformed", "payload is not base64url JSON") from None
    if not isinstance(claims, dict):
        raise TokenError("token_malformed", "payload is not a JSON object")
    user, tsite, exp = claims.get("u"), claims.get("s"), claims.get("exp")
    if not isinstance(user, str) or not user or not isinstance(tsite, str) \
            or not isinstance(exp, int | float) or isinstance(exp, bool) \
            or (isinstance(exp, float) and not math.isfinite(exp)):
        raise TokenError("token_malformed", "payload needs u (string), s (string), exp (a finite "
                         "number)")
    if tsite != site:
        raise TokenError("token_wrong_site", f"token was minted for another site than {site!r}",
                         status=403)
    if exp <= (time.time() if now is None else now):
        raise TokenError("token_expired", "token has expired")
    return user


def user_key(site: str, user_id: str, secret: str) -> str:
    """Pseudonymous key of a user: hex HMAC-SHA256(secret, f"{site}:{user_id}")[:32]."""
    return hmac.new(secret.encode(), f"{site}:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]
