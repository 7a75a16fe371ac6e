"""Signed user tokens, pseudonymous keys and the sites setting (pure logic)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from cursorprint.stream.ingest.identity import TokenError, mint_token, user_key, verify_token
from cursorprint.stream.settings import SettingsError, load_settings
from cursorprint.stream.settings.sites import parse_sites

SECRET = "site-secret-123"


def test_round_trip_gives_the_user_id() -> None:
    token = mint_token("shop", "alice", SECRET, ttl_s=60, now=1000.0)
    assert verify_token(token, "shop", SECRET, now=1059.0) == "alice"


@pytest.mark.parametrize(("token", "site", "secret", "now", "reason"), [
    (mint_token("shop", "a", SECRET, 60, now=0), "shop", SECRET, 61.0, "token_expired"),
    (mint_token("shop", "a", SECRET, 60, now=0), "shop", "other-secret", 1.0,
     "token_bad_signature"),
    (mint_token("blog", "a", SECRET, 60, now=0), "shop", SECRET, 1.0, "token_wrong_site"),
    ("no-dot", "shop", SECRET, 1.0, "token_malformed"),
    ("a.b.c", "shop", SECRET, 1.0, "token_malformed"),
    ("", "shop", SECRET, 1.0, "token_missing"),
    (None, "shop", SECRET, 1.0, "token_missing"),
    ("é.x", "shop", SECRET, 1.0, "token_malformed"),
])
def test_refused_tokens_say_why(token: object, site: str, secret: str, now: float,
                                reason: str) -> None:
    with pytest.raises(TokenError) as exc:
        verify_token(token, site, secret, now=now)
    assert exc.value.reason == reason


def _signed(payload_json: str, secret: str = SECRET) -> str:
    """A correctly signed token around any payload text (as a careless backend might mint)."""
    payload = base64.urlsafe_b64encode(payload_json.encode()).rstrip(b"=").decode()
    sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


@pytest.mark.parametrize("exp", ["NaN", "Infinity", "-Infinity", "1e999", '"9999999999"',
                                 "true", "null", "9" * 5000])
def test_exp_must_be_a_finite_number(exp: str) -> None:
    token = _signed(f'{{"u": "alice", "s": "shop", "exp": {exp}}}')
    with pytest.raises(TokenError) as exc:
        verify_token(token, "shop", SECRET, now=1.0)
    assert exc.value.reason == "token_malformed" and exc.value.status == 401


def test_huge_integer_exp_is_a_valid_far_future() -> None:
    token = _signed(f'{{"u": "alice", "s": "shop", "exp": {"9" * 400}}}')
    assert verify_token(token, "shop", SECRET, now=1.0) == "alice"


def test_statuses_are_carried_by_the_errors() -> None:
    with pytest.raises(TokenError) as exc:
        verify_token(mint_token("blog", "a", SECRET, 60, now=0), "shop", SECRET, now=1.0)
    assert exc.value.status == 403
    with pytest.raises(TokenError) as exc:
        verify_token("x.y", "shop", SECRET, now=1.0)
    assert exc.value.status == 401


def test_tampered_payload_is_refused() -> None:
    token = mint_token("shop", "alice", SECRET, 60, now=0)
    payload, sig = token.split(".")
    forged = mint_token("shop", "mallory", "guess", 60, now=0).split(".")[0]
    with pytest.raises(TokenError, match="token_bad_signature"):
        verify_token(f"{forged}.{sig}", "shop", SECRET, now=1)


def test_user_key_is_the_contract_hmac() -> None:
    expected = hmac.new(b"pseudo", b"shop:alice", hashlib.sha256).hexdigest()[:32]
    assert user_key("shop", "alice", "pseudo") == expected
    assert user_key("blog", "alice", "pseudo") != expected
    assert len(expected) == 32


def test_mint_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="ttl"):
        mint_token("shop", "a", SECRET, ttl_s=0)
    with pytest.raises(ValueError, match="user id"):
        mint_token("shop", "", SECRET)


def test_sites_compact_and_json_forms() -> None:
    compact = parse_sites("shop=abcdefgh=https://shop.example|http://127.0.0.1:*;b=12345678=https://b.io")
    assert compact["shop"].allows_origin("https://shop.example")
    assert compact["shop"].allows_origin("http://127.0.0.1:5173")
    assert not compact["shop"].allows_origin("http://127.0.0.1.evil.io:80/x")
    assert not compact["shop"].allows_origin("https://evil.example")
    assert not compact["shop"].allows_origin(None)
    as_json = parse_sites('{"shop": {"secret": "abcdefgh", "origins": ["https://shop.example"]}}')
    assert as_json["shop"].secret == "abcdefgh"


@pytest.mark.parametrize("raw", ["", "shop=short=https://a", "shop=abcdefgh=ftp://a",
                                 "shop=abcdefgh", "bad key=abcdefgh=https://a",
                                 "a=abcdefgh=https://x;a=abcdefgh=https://y", "{not json"])
def test_bad_sites_setting_names_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="CURSORPRINT_SITES"):
        load_settings(environ={"CURSORPRINT_SITES": raw})


def test_bad_ingest_numbers_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="CURSORPRINT_INGEST_CLIENT_RATE"):
        load_settings(environ={"CURSORPRINT_INGEST_CLIENT_RATE": "0"})
    with pytest.raises(SettingsError, match="CURSORPRINT_INGEST_MAX_BODY_BYTES"):
        load_settings(environ={"CURSORPRINT_INGEST_MAX_BODY_BYTES": "10"})


def test_token_mint_cli(capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    from cursorprint.stream.cli import main

    monkeypatch.setenv("CURSORPRINT_SITES", "shop=abcdefgh12=https://shop.example")
    assert main(["token", "mint", "--site", "shop", "--user", "bob", "--ttl", "60"]) == 0
    token = capsys.readouterr().out.strip()
    assert verify_token(token, "shop", "abcdefgh12") == "bob"
    assert main(["token", "mint", "--site", "nope", "--user", "bob"]) == 2
    assert "'nope': unknown site" in capsys.readouterr().err
    assert main(["token", "mint", "--site", "shop", "--user", "bob", "--ttl", "-1"]) == 2
    assert "--ttl -1" in capsys.readouterr().err
