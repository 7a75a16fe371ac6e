"""Sites' API keys and policies (CURSORPRINT_DECIDE_SITES)."""

from __future__ import annotations

import json

import pytest

from cursorprint.stream.decide.credentials import (
    ApiKeys,
    SitePolicy,
    hash_key,
    parse_decide_sites,
)
from cursorprint.stream.settings import SettingsError, load_settings

DEFAULT = SitePolicy()


def test_compact_and_hashed_keys() -> None:
    sites = parse_decide_sites(f"shop=key-of-the-shop-0001|sha256:{hash_key('rotated-key-0002x')};"
                               "blog=key-of-the-blog-0003", DEFAULT)
    keys = ApiKeys(sites)
    assert keys.site_for("key-of-the-shop-0001").key == "shop"      # type: ignore[union-attr]
    assert keys.site_for("rotated-key-0002x").key == "shop"         # type: ignore[union-attr]
    assert keys.site_for("key-of-the-blog-0003").key == "blog"      # type: ignore[union-attr]
    assert keys.site_for("key-of-the-shop-0002") is None
    assert sites["shop"].policy == DEFAULT


def test_json_with_policy() -> None:
    raw = json.dumps({"shop": {"api_keys": ["key-of-the-shop-0001"], "step_up": 0.3,
                               "deny": 0.7, "min_seconds": 1, "min_windows": 3}})
    (site,) = parse_decide_sites(raw, DEFAULT).values()
    assert site.policy == SitePolicy(0.3, 0.7, 1.0, 3)


@pytest.mark.parametrize(("raw", "why"), [
    ("shop=short", "16"), ("shop=", "no API key"), ("nosep", "expected"),
    ("a=key-of-the-shop-0001;b=key-of-the-shop-0001", "share"),
    ("a=key-of-the-shop-0001;a=key-of-the-shop-0002", "twice"),
    ('{"a": {"api_keys": ["key-of-the-shop-0001"], "deny": 0.1}}', "step_up"),
    ('{"a": {"api_keys": ["key-of-the-shop-0001"], "typo": 1}}', "unknown field"),
    ('{"a": {"keys": []}}', "api_keys"), ("bad site!=key-of-the-shop-0001", "site key"),
    ("", "no site")])
def test_bad_configurations_say_why(raw: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_decide_sites(raw, DEFAULT)


def test_settings_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="CURSORPRINT_DECIDE_SITES"):
        load_settings(environ={"CURSORPRINT_DECIDE_SITES": "x=short"}, sections=("decide",))
    with pytest.raises(SettingsError, match="CURSORPRINT_DECIDE_STEP_UP"):
        load_settings(environ={"CURSORPRINT_DECIDE_STEP_UP": "0.95"}, sections=("decide",))
    with pytest.raises(SettingsError, match="CURSORPRINT_LIVE_SCORES_TTL_S"):
        load_settings(environ={"CURSORPRINT_LIVE_SCORES_TTL_S": "0"}, sections=("live",))
    s = load_settings(environ={}, sections=("decide", "live"))
    assert "demo" in s.decide.site_configs() and s.live.enabled
