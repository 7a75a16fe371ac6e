"""User tokens (standard JWTs) and pseudonymous user keys.

The browser cannot be trusted with a user id, so a site's backend hands the page a JWT signed
with the site's secret: HS256, ``sub`` = the user id, ``aud`` = the site key, ``iat`` and
``exp`` (NumericDate seconds), minted by any language's JWT library. Ingest verifies it with
PyJWT and replaces the id by :func:`user_key`, a keyed hash, so no raw user id is ever stored
downstream.

Verification pins the algorithm to HS256 (a token saying ``none``, ``HS512`` or ``RS256`` is
refused before any key is used, so there is no algorithm confusion), requires all four claims,
checks ``aud`` against the site the batch names, and allows :data:`LEEWAY_S` of clock skew
between the site's backend and ingest on ``exp``, ``iat`` and ``nbf``. The pre-JWT cursorprint
format (``<payload>.<signature>``, one dot) is refused as ``token_legacy_format``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from typing import Any

import jwt

from cursorprint.stream.records.errors import TokenError
from cursorprint.stream.records.wire import MAX_TOKEN_CHARS

__all__ = ["TokenError", "mint_token", "verify_token", "user_key", "MAX_TOKEN_CHARS",
           "ALGORITHM", "LEEWAY_S", "REQUIRED_CLAIMS"]

ALGORITHM = "HS256"
#: clock skew allowed between the site's backend and ingest (seconds), on exp, iat and nbf
LEEWAY_S = 30.0
REQUIRED_CLAIMS = ("sub", "aud", "exp", "iat")
_NUMERIC_CLAIMS = ("exp", "iat", "nbf")


def mint_token(site: str, user_id: str, secret: str, ttl_s: float = 3600.0,
               now: float | None = None) -> str:
    """A JWT (HS256, ``sub`` = ``user_id``, ``aud`` = ``site``) issued at ``now`` that expires
    ``ttl_s`` seconds later. What a site's backend does with its own JWT library."""
    if not user_id:
        raise ValueError("user id must not be empty")
    if ttl_s <= 0:
        raise ValueError(f"ttl must be > 0 seconds, got {ttl_s}")
    iat = int(time.time() if now is None else now)
    claims = {"sub": user_id, "aud": site, "iat": iat, "exp": int(iat + ttl_s)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _legacy(token: str) -> bool:
    """The pre-JWT format had exactly one dot; a JWS compact token has two."""
    return token.count(".") == 1


def _claims(token: str, site: str, secret: str, leeway_s: float) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise TokenError("token_malformed", "not a JWT (header.payload.signature, base64url "
                         "JSON)") from None
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise TokenError("token_algorithm_not_allowed",
                         f"alg {ascii(alg)[:40]} is not allowed: sign with {ALGORITHM}")
    try:
        return jwt.decode(token, secret, algorithms=[ALGORITHM], audience=site,
                          leeway=leeway_s,
                          options={"require": list(REQUIRED_CLAIMS), "strict_aud": True})
    except jwt.InvalidSignatureError:
        raise TokenError("token_bad_signature", "signature does not match the site's "
                         "secret") from None
    except jwt.ExpiredSignatureError:
        raise TokenError("token_expired", "token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("token_not_yet_valid", "token is issued in the future (iat or nbf "
                         f"later than now + {leeway_s:g} s): check the backend's clock") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("token_malformed", f"claim {exc.claim!r} is missing: a token needs "
                         f"{', '.join(REQUIRED_CLAIMS)}") from None
    except jwt.InvalidAudienceError:
        # the signature is good by now: only the claim's shape or value is wrong
        aud = jwt.decode(token, options={"verify_signature": False}).get("aud")
        if not isinstance(aud, str):
            raise TokenError("token_malformed", "claim 'aud' must be one string: the site "
                             "key") from None
        raise TokenError("token_wrong_site", f"token was minted for another site than {site!r}",
                         status=403) from None
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError) as exc:
        raise TokenError("token_malformed", f"invalid JWT: {str(exc)[:120]}") from None


def verify_token(token: object, site: str, secret: str, leeway_s: float = LEEWAY_S) -> str:
    """The user id (``sub``) of ``token`` if it is an HS256 JWT signed by ``secret``, for
    ``site`` (``aud``), issued and not expired (within ``leeway_s`` of clock skew).

    Raises :class:`TokenError`: 401 ``token_missing``, ``token_malformed``,
    ``token_legacy_format``, ``token_algorithm_not_allowed``, ``token_bad_signature``,
    ``token_expired``, ``token_not_yet_valid``; 403 ``token_wrong_site``. The time claims must
    be finite numbers (PyJWT reads them through ``int()``, which would accept ``"9999999999"``
    or ``true``); ``sub`` a non-empty string.
    """
    if not isinstance(token, str) or not token:
        raise TokenError("token_missing", "no user token in the batch")
    if len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise TokenError("token_malformed", f"a JWT is at most {MAX_TOKEN_CHARS} ASCII "
                         "characters")
    if _legacy(token):
        raise TokenError("token_legacy_format", "pre-JWT cursorprint tokens are no longer "
                         "accepted: mint a JWT (HS256; sub, aud, iat, exp)")
    claims = _claims(token, site, secret, leeway_s)
    for name in _NUMERIC_CLAIMS:
        value = claims.get(name)
        if name in claims and not (type(value) is int
                                   or type(value) is float and math.isfinite(value)):
            raise TokenError("token_malformed", f"claim {name!r} must be a finite number "
                             "(NumericDate seconds)")
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        raise TokenError("token_malformed", "claim 'sub' must be a non-empty string")
    return sub


def user_key(site: str, user_id: str, secret: str) -> str:
    """Pseudonymous key of a user: hex HMAC-SHA256(secret, f"{site}:{user_id}")[:32]."""
    return hmac.new(secret.encode(), f"{site}:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]
