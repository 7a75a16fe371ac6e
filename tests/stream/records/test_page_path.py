"""The page path at the door: no query, fragment, e-mail or identifier; printable ASCII only."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cursorprint.stream.records.errors import WireError
from cursorprint.stream.records.page_path import PATH_RE, REDACTED, normalise_path


@pytest.mark.parametrize(("raw", "want"), [
    ("/", "/"),
    ("/checkout/step-2", "/checkout/step-2"),
    ("/blog/2024/hello-world", f"/blog/{REDACTED}/hello-world"),   # all digits: an id?
    ("/v2/page-3/x1", "/v2/page-3/x1"),
    ("/search?q=alice%40example.com&token=abc", "/search"),
    ("/a#frag?x", "/a"),
    ("/users/42/profile", f"/users/{REDACTED}/profile"),
    ("/order-1234567", f"/{REDACTED}"),
    ("/u/alice@example.com", f"/u/{REDACTED}"),
    ("/u/alice%40example.com/", f"/u/{REDACTED}/"),
    ("/s/550e8400-e29b-41d4-a716-446655440000", f"/s/{REDACTED}"),
    ("/x/deadbeef", "/x/deadbeef"),
    ("/x/a1b2c3d4e5", f"/x/{REDACTED}"),
    ("/t/eyJhbGciOiJIUzI1NiJ9", f"/t/{REDACTED}"),
    ("/a-very-long-article-slug-without-numbers", "/a-very-long-article-slug-without-numbers"),
    ("/path;jsessionid=1A2B3C4D5E6F7A8B9C0D", f"/{REDACTED}"),
    ("/caf\u00e9 menu", "/caf%C3%A9%20menu"),
    ("/a\nb\x00<script>", "/a%0Ab%00%3Cscript%3E"),
    ("/100%/x%zz/%41", "/100%25/x%25zz/%41"),
    ("/\U0001F600", "/%F0%9F%98%80"),
])
def test_normalise_path(raw: str, want: str) -> None:
    assert normalise_path(raw) == want


@pytest.mark.parametrize("raw", ["", "relative", "?/x", "/\ud800", "/ok/\udfff/x", 7, None,
                                 "/" + "a/" * 1100])
def test_refused_paths(raw: object) -> None:
    with pytest.raises(WireError) as exc:
        normalise_path(raw)
    assert exc.value.status == 422 and exc.value.reason == "invalid_field"


@settings(max_examples=400, deadline=None)
@given(st.text(min_size=0, max_size=300).map(lambda s: "/" + s))
def test_any_string_is_normalised_to_a_fixed_point_or_refused(raw: str) -> None:
    try:
        out = normalise_path(raw)
    except WireError as exc:
        assert exc.status == 422
        return
    assert PATH_RE.match(out) and out.isascii() and out.isprintable()
    out.encode("utf-8")
    assert normalise_path(out) == out
    assert "?" not in out and "#" not in out
    for seg in out.split("/"):
        text = unquote(seg, errors="replace")
        assert seg == REDACTED or ("@" not in text and not re.search(r"[0-9]{5}", text))
