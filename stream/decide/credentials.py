"""The decision service's sites: API keys of each site's backend and its decision policy.

``CURSORPRINT_DECIDE_SITES`` holds either the compact form ``site=key1|key2;site2=key3`` (the
policy from the ``CURSORPRINT_DECIDE_*`` defaults) or JSON
``{"shop": {"api_keys": [...], "step_up": 0.5, "deny": 0.9, "min_seconds": 3, "min_windows": 1}}``.
A key is either itself (16+ characters) or ``sha256:<64 hex>``, its SHA-256, so a leaked
configuration does not leak the keys. Several keys per site allow rotation.

These keys are NOT the page-token secrets of ``CURSORPRINT_SITES``: a page token lives in the
browser, an API key only in the site's backend, and either can be rotated alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["SitePolicy", "DecideSite", "parse_decide_sites", "hash_key", "ApiKeys",
           "DEMO_DECIDE_SITES"]

DEMO_DECIDE_SITES = "demo=dev-decide-key-change-me"
_SITE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HASHED_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
MIN_KEY_CHARS = 16


@dataclass(frozen=True)
class SitePolicy:
    """How a site turns a session's score into a decision. Scores are the model's probability
    that the person is NOT the account's owner: ``>= deny`` -> deny, ``>= step_up`` -> step_up,
    else allow; below ``min_seconds`` of movement or ``min_windows`` scored windows ->
    not_enough_data."""

    step_up: float = 0.5
    deny: float = 0.9
    min_seconds: float = 3.0
    min_windows: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.step_up <= self.deny <= 1.0:
            raise ValueError(f"policy needs 0 <= step_up ({self.step_up}) <= deny "
                             f"({self.deny}) <= 1")
        if self.min_seconds < 0 or self.min_windows < 0:
            raise ValueError("policy min_seconds and min_windows must be >= 0")


@dataclass(frozen=True)
class DecideSite:
    key: str
    key_hashes: frozenset[str]      # SHA-256 hex of each accepted API key
    policy: SitePolicy


def hash_key(api_key: str) -> str:
    """SHA-256 hex of an API key (what ``sha256:...`` entries hold)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def _key_hash(site: str, entry: object) -> str:
    if not isinstance(entry, str):
        raise ValueError(f"site {site!r}: API keys must be strings")
    if _HASHED_RE.match(entry):
        return entry[len("sha256:"):]
    if len(entry) < MIN_KEY_CHARS or any(c.isspace() for c in entry) or "|" in entry:
        raise ValueError(f"site {site!r}: an API key needs {MIN_KEY_CHARS}+ characters without "
                         "spaces or '|' (or sha256:<64 hex>)")
    return hash_key(entry)


def _policy(site: str, conf: dict[str, Any], default: SitePolicy) -> SitePolicy:
    unknown = set(conf) - {"api_keys", "step_up", "deny", "min_seconds", "min_windows"}
    if unknown:
        raise ValueError(f"site {site!r}: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        return SitePolicy(step_up=float(conf.get("step_up", default.step_up)),
                          deny=float(conf.get("deny", default.deny)),
                          min_seconds=float(conf.get("min_seconds", default.min_seconds)),
                          min_windows=int(conf.get("min_windows", default.min_windows)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"site {site!r}: {exc}") from None


def parse_decide_sites(raw: str, default: SitePolicy) -> dict[str, DecideSite]:
    """Parse ``CURSORPRINT_DECIDE_SITES``; ``ValueError`` says what is wrong."""
    text = raw.strip()
    entries: list[tuple[str, list[object], dict[str, Any]]] = []
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
        for site, conf in obj.items():
            if not isinstance(conf, dict) or not isinstance(conf.get("api_keys"), list):
                raise ValueError(f"site {site!r}: expected an object with api_keys (a list)")
            entries.append((site, list(conf["api_keys"]), conf))
    else:
        for entry in filter(None, (e.strip() for e in text.split(";"))):
            name, sep, listed = entry.partition("=")
            if not sep:
                raise ValueError(f"entry {entry!r}: expected site=key1|key2")
            entries.append((name.strip(), [k.strip() for k in listed.split("|") if k.strip()],
                            {}))
    out: dict[str, DecideSite] = {}
    seen: dict[str, str] = {}
    for site, keys, conf in entries:
        if not isinstance(site, str) or not _SITE_RE.match(site):
            raise ValueError(f"site key {site!r} must be 1-64 characters of A-Z a-z 0-9 _ . -")
        if site in out:
            raise ValueError(f"site {site!r} is configured twice")
        if not keys:
            raise ValueError(f"site {site!r}: no API key")
        hashes = frozenset(_key_hash(site, k) for k in keys)
        for h in hashes:
            if h in seen:
                raise ValueError(f"sites {seen[h]!r} and {site!r} share an API key")
            seen[h] = site
        out[site] = DecideSite(site, hashes, _policy(site, conf, default))
    if not out:
        raise ValueError("no site configured")
    return out


class ApiKeys:
    """Which site an ``Authorization: Bearer <key>`` belongs to (a look-up by the key's
    SHA-256, then a constant-time comparison)."""

    def __init__(self, sites: dict[str, DecideSite]) -> None:
        self.sites = sites
        self._by_hash = {h: s for s in sites.values() for h in s.key_hashes}

    def site_for(self, api_key: str) -> DecideSite | None:
        digest = hash_key(api_key)
        site = self._by_hash.get(digest)
        if site is None:
            return None
        return site if any(hmac.compare_digest(digest, h) for h in site.key_hashes) else None
