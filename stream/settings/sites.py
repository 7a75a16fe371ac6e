"""The sites allowed to send batches: site key, signing secret and allowed page origins.

``CURSORPRINT_SITES`` holds either JSON (``{"shop": {"secret": "...", "origins": ["https://shop.example"]}}``)
or the compact form ``site=secret=origin1|origin2;site2=secret2=origin3``. An origin may use ``*``
as a wildcard inside one part (``http://127.0.0.1:*`` allows every port on loopback).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = ["SiteConfig", "parse_sites", "DEMO_SITES", "SITE_KEY_RE"]

SITE_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DEMO_SITES = ("demo=dev-demo-secret-change-me-0123456789abcdef="
              "http://127.0.0.1:*|http://localhost:*|http://[::1]:*")


@dataclass(frozen=True)
class SiteConfig:
    """One site: its key, the secret its backend signs user tokens with, its page origins."""

    key: str
    secret: str
    origins: tuple[str, ...]

    def allows_origin(self, origin: str | None) -> bool:
        """True when ``origin`` (an Origin header value) matches one of the allowed patterns."""
        if not origin:
            return False
        return any(_pattern(p).fullmatch(origin) for p in self.origins)


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(origin_pattern: str) -> re.Pattern[str]:
    pat = _PATTERNS.get(origin_pattern)
    if pat is None:
        pat = re.compile("[^/]*".join(re.escape(p) for p in origin_pattern.split("*")))
        _PATTERNS[origin_pattern] = pat
    return pat


def _check(key: object, secret: object, origins: object) -> SiteConfig:
    if not isinstance(key, str) or not SITE_KEY_RE.match(key):
        raise ValueError(f"site key {key!r} must be 1-64 characters of A-Z a-z 0-9 _ . -")
    if not isinstance(secret, str) or len(secret) < 8:
        raise ValueError(f"site {key!r}: secret must be a string of at least 8 characters")
    if not isinstance(origins, list | tuple) or not origins \
            or not all(isinstance(o, str) and o.startswith(("http://", "https://")) for o in origins):
        raise ValueError(f"site {key!r}: origins must be a non-empty list of http(s)://host[:port]")
    return SiteConfig(key, secret, tuple(o.rstrip("/") for o in origins))


def parse_sites(raw: str) -> dict[str, SiteConfig]:
    """Parse ``CURSORPRINT_SITES``; raises ``ValueError`` saying what is wrong."""
    text = raw.strip()
    sites: list[SiteConfig] = []
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
        for key, conf in obj.items():
            if not isinstance(conf, dict):
                raise ValueError(f"site {key!r}: expected an object with secret and origins")
            sites.append(_check(key, conf.get("secret"), conf.get("origins")))
    else:
        for entry in filter(None, (e.strip() for e in text.split(";"))):
            parts = entry.split("=", 2)
            if len(parts) != 3:
                raise ValueError(f"entry {entry!r}: expected site=secret=origin1|origin2")
            key, secret, origins = parts
            sites.append(_check(key, secret, [o.strip() for o in origins.split("|") if o.strip()]))
    if not sites:
        raise ValueError("no site configured")
    out: dict[str, SiteConfig] = {}
    for site in sites:
        if site.key in out:
            raise ValueError(f"site {site.key!r} is configured twice")
        out[site.key] = site
    return out
