"""The page path a batch carries, normalised at the door so no query string, fragment, e-mail
address or identifier reaches Kafka, and every byte of it is printable ASCII.

The collector sends ``location.pathname`` (already percent-encoded ASCII), but anyone with a page
token can post any string, and the path travels on to ``pointer-batches``, ``sessions`` and
``session-scores``. :func:`normalise_path`, in this order:

1. cuts the path at the first ``?`` or ``#`` (query strings and fragments carry ids and tokens);
2. refuses a path that does not start with ``/`` or holds a lone UTF-16 surrogate (valid JSON,
   but not Unicode: it cannot be written as UTF-8 downstream);
3. percent-encodes (as UTF-8) every character outside :data:`PATH_CHARS`, the RFC 3986 path
   characters, and a ``%`` that does not start a ``%XX`` escape, so control characters, spaces,
   quotes and non-ASCII text become ``%XX``;
4. replaces each ``/``-separated segment that looks like an identifier (judged on its
   percent-decoded text) by :data:`REDACTED`: one that holds an ``@`` (an e-mail address), is
   all digits (a numeric id), holds 5 or more digits in a row (an id, a phone or card number),
   8 or more hex digits in a row with a digit among them (hashes, UUID parts), or 16 or more
   letters and digits in a row with both kinds (tokens, session ids, base64);
5. refuses a result longer than ``max_len`` characters.

The result is a fixed point: normalising it again changes nothing, so a consumer may re-check
a record's path with the same function.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from cursorprint.stream.records.errors import WireError

__all__ = ["normalise_path", "PATH_CHARS", "PATH_RE", "REDACTED", "MAX_PATH_CHARS"]

#: characters a normalised path consists of (RFC 3986 ``pchar`` and ``/``)
PATH_CHARS = "A-Za-z0-9-._~!$&'()*+,;=:@%/"
PATH_RE = re.compile(r"^/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$")
REDACTED = ":redacted"
MAX_PATH_CHARS = 2048
_QUOTE_SAFE = "!$&'()*+,;=:@%/"           # quote() always keeps letters, digits and -._~
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DIGITS = re.compile(r"[0-9]{5,}")
_HEX = re.compile(r"[0-9A-Fa-f]{8,}")
_ALNUM = re.compile(r"[A-Za-z0-9]{16,}")


def _looks_like_id(segment: str) -> bool:
    text = unquote(segment, errors="replace")
    if "@" in text or (text.isascii() and text.isdigit()) or _DIGITS.search(text):
        return True
    if any(any(c.isdigit() for c in m.group()) for m in _HEX.finditer(text)):
        return True
    return any(any(c.isdigit() for c in run) and any(c.isalpha() for c in run)
               for run in (m.group() for m in _ALNUM.finditer(text)))


def normalise_path(path: object, max_len: int = MAX_PATH_CHARS) -> str:
    """``path`` normalised and redacted as the module says; :class:`WireError` when refused."""
    if not isinstance(path, str):
        raise WireError("invalid_field", "path: must be a string")
    cut = min((i for i in (path.find("?"), path.find("#")) if i >= 0), default=len(path))
    path = path[:cut]
    if not path.startswith("/"):
        raise WireError("invalid_field", "path: must start with /")
    try:
        encoded = quote(_STRAY_PERCENT.sub("%25", path), safe=_QUOTE_SAFE, errors="strict")
    except UnicodeEncodeError:
        raise WireError("invalid_field", "path: holds a lone UTF-16 surrogate (not Unicode "
                        "text)") from None
    out = "/".join(REDACTED if seg and _looks_like_id(seg) else seg
                   for seg in encoded.split("/"))
    if len(out) > max_len:
        raise WireError("invalid_field", f"path: longer than {max_len} characters once "
                        "normalised")
    return out
