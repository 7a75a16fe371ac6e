"""Signed user tokens, pseudonymous keys and the sites setting (pure logic)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from cursorprint.stream.ingest.identity import (
    LEEWAY_S,
    TokenError,
    mint_token,
    user_key,
    verify_token,
)
from cursorprint.stream.settings import SettingsError, load_settings
from cursorprint.stream.settings.sites import parse_sites

SECRET = "site-secret-for-the-identity-tests"     # >= 32 bytes, as RFC 7518 wants for HS256
DROP = object()    # a claim left out


def now() -> int:
    """Read when a test runs, never at collection: a slow run must not age the tokens."""
    return int(time.time())


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": "alice", "aud": "shop", "iat": now() - 5, "exp": now() + 600}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not DROP}


def signed(payload: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256",
           headers: dict[str, Any] | None = None) -> str:
    """A JWT as a site's backend mints it with PyJWT."""
    return jwt.encode(payload, secret, algorithm=algorithm, headers=headers)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def raw_jwt(header: str, payload: str, secret: str = SECRET) -> str:
    """A correctly HS256-signed JWT around any header and payload text (a careless backend)."""
    signing_input = f"{_b64(header.encode())}.{_b64(payload.encode())}"
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(sig)}"


def refused(token: object, site: str = "shop", secret: str = SECRET, **kw: Any) -> TokenError:
    with pytest.raises(TokenError) as exc:
        verify_token(token, site, secret, **kw)
    return exc.value


def test_minted_token_is_a_standard_jwt() -> None:
    token = mint_token("shop", "alice", SECRET, ttl_s=60, now=1000.0)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    got = jwt.decode(token, SECRET, algorithms=["HS256"], audience="shop",
                     options={"verify_exp": False})
    assert got == {"sub": "alice", "aud": "shop", "iat": 1000, "exp": 1060}


def test_round_trip_gives_the_user_id() -> None:
    assert verify_token(mint_token("shop", "alice", SECRET, ttl_s=60), "shop", SECRET) == "alice"


def test_any_libraries_token_is_accepted() -> None:
    """Extra claims (iss, jti, nbf) and a kid header are fine; only the four are required."""
    token = signed(claims(iss="https://shop.example", jti="x1", nbf=now() - 5),
                   headers={"kid": "2025-01"})
    assert verify_token(token, "shop", SECRET) == "alice"
    assert verify_token(signed(claims(exp=now() + 600.5, iat=float(now()))), "shop", SECRET) \
        == "alice"


def test_clock_skew_within_the_leeway_is_accepted() -> None:
    assert LEEWAY_S >= 10
    skew = LEEWAY_S - 5
    expired_lately = signed(claims(exp=int(now() - skew)))
    issued_ahead = signed(claims(iat=int(now() + skew)))
    assert verify_token(expired_lately, "shop", SECRET) == "alice"
    assert verify_token(issued_ahead, "shop", SECRET) == "alice"
    assert refused(expired_lately, leeway_s=0).reason == "token_expired"
    assert refused(issued_ahead, leeway_s=0).reason == "token_not_yet_valid"


@pytest.mark.parametrize(("payload", "reason", "status"), [
    (lambda: claims(exp=now() - 3600), "token_expired", 401),
    (lambda: claims(exp=int(now() - LEEWAY_S - 5)), "token_expired", 401),
    (lambda: claims(iat=int(now() + LEEWAY_S + 60)), "token_not_yet_valid", 401),
    (lambda: claims(nbf=int(now() + LEEWAY_S + 60)), "token_not_yet_valid", 401),
    (lambda: claims(aud="blog"), "token_wrong_site", 403),
    (lambda: claims(aud=["shop", "blog"]), "token_malformed", 401),
    (lambda: claims(sub=DROP), "token_malformed", 401),
    (lambda: claims(aud=DROP), "token_malformed", 401),
    (lambda: claims(exp=DROP), "token_malformed", 401),
    (lambda: claims(iat=DROP), "token_malformed", 401),
    (lambda: claims(sub=""), "token_malformed", 401),
    (lambda: claims(sub=42), "token_malformed", 401),
    (lambda: claims(exp="99999999999"), "token_malformed", 401),
    (lambda: claims(exp=True), "token_expired", 401),      # PyJWT reads it as int(True) == 1
    (lambda: claims(iat=str(now())), "token_malformed", 401),
])
def test_refused_claims_say_why(payload: Callable[[], dict[str, Any]], reason: str,
                                status: int) -> None:
    err = refused(signed(payload()))
    assert (err.reason, err.status) == (reason, status), err.detail


@pytest.mark.parametrize("exp", ["NaN", "Infinity", "-Infinity", "1e999", "null", "9" * 5000])
def test_exp_must_be_a_finite_number(exp: str) -> None:
    token = raw_jwt('{"alg":"HS256","typ":"JWT"}',
                    f'{{"sub":"alice","aud":"shop","iat":{now()},"exp":{exp}}}')
    err = refused(token)
    assert (err.reason, err.status) == ("token_malformed", 401), err.detail


def test_huge_integer_exp_is_a_valid_far_future() -> None:
    token = raw_jwt('{"alg":"HS256"}', f'{{"sub":"alice","aud":"shop","iat":1,"exp":{"9" * 400}}}')
    assert verify_token(token, "shop", SECRET) == "alice"


def test_wrong_secret_and_tampering_are_bad_signatures() -> None:
    assert refused(signed(claims(), secret="another-secret-of-32-bytes-or-more")).reason \
        == "token_bad_signature"
    head, _, sig = signed(claims()).split(".")
    forged = signed(claims(sub="mallory"), secret="guess-guess-guess-guess-guess-guess").split(".")[1]
    assert refused(f"{head}.{forged}.{sig}").reason == "token_bad_signature"


@pytest.mark.parametrize("header", [
    '{"alg":"none","typ":"JWT"}', '{"alg":"None"}', '{"alg":"HS512"}', '{"alg":"HS384"}',
    '{"alg":"RS256"}', '{"alg":"ES256"}', '{"typ":"JWT"}', '{"alg":["HS256"]}',
])
def test_only_hs256_is_allowed(header: str) -> None:
    """``alg`` is pinned: ``none`` (even with an empty signature), another HMAC strength, and
    the asymmetric algorithms (the classic confusion: a public key used as an HMAC secret)."""
    payload = '{"sub":"alice","aud":"shop","iat":1,"exp":99999999999}'
    err = refused(raw_jwt(header, payload))
    assert (err.reason, err.status) == ("token_algorithm_not_allowed", 401)
    unsigned = raw_jwt(header, payload).rsplit(".", 1)[0] + "."
    assert refused(unsigned).reason == "token_algorithm_not_allowed"


def test_hs512_signed_with_the_right_secret_is_still_refused() -> None:
    token = signed(claims(), secret=SECRET * 2, algorithm="HS512")
    assert refused(token, secret=SECRET * 2).reason == "token_algorithm_not_allowed"


def test_legacy_tokens_are_refused_with_their_own_reason() -> None:
    """The pre-JWT format: base64url({"u","s","exp"}) "." base64url(HMAC-SHA256)."""
    body = _b64(b'{"u":"alice","s":"shop","exp":99999999999}')
    sig = _b64(hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest())
    err = refused(f"{body}.{sig}")
    assert (err.reason, err.status) == ("token_legacy_format", 401)
    assert "JWT" in err.detail


@pytest.mark.parametrize(("token", "reason"), [
    ("", "token_missing"),
    (None, "token_missing"),
    (42, "token_missing"),
    ("garbage", "token_malformed"),
    ("a.b.c", "token_malformed"),
    ("a.b.c.d", "token_malformed"),
    ("é.x.y", "token_malformed"),
    ("x" * 2049, "token_malformed"),
    (_b64(b"[" * 1400) + ".e30.x", "token_malformed"),
    (_b64(b'{"alg":"HS256"}') + "." + _b64(b"[" * 1400) + ".x", "token_malformed"),
    (raw_jwt('{"alg":"HS256"}', '["not", "an", "object"]'), "token_malformed"),
    (raw_jwt('{"alg":"HS256"}', "not json"), "token_malformed"),
    (raw_jwt('"HS256"', "{}"), "token_malformed"),
])
def test_malformed_tokens_say_why(token: object, reason: str) -> None:
    err = refused(token)
    assert (err.reason, err.status) == (reason, 401), err.detail


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

    monkeypatch.setenv("CURSORPRINT_SITES", "shop=mint-cli-secret-0123456789abcdef=https://shop.example")
    assert main(["token", "mint", "--site", "shop", "--user", "bob", "--ttl", "60"]) == 0
    token = capsys.readouterr().out.strip()
    assert verify_token(token, "shop", "mint-cli-secret-0123456789abcdef") == "bob"
    assert main(["token", "mint", "--site", "nope", "--user", "bob"]) == 2
    assert "'nope': unknown site" in capsys.readouterr().err
    assert main(["token", "mint", "--site", "shop", "--user", "bob", "--ttl", "-1"]) == 2
    assert "--ttl -1" in capsys.readouterr().err


def test_a_token_minted_in_node_is_accepted() -> None:
    """What a Node backend does (README uses `jsonwebtoken`; here node's own crypto builds the
    same HS256 JWT, so no npm package is needed)."""
    import shutil
    import subprocess

    if shutil.which("node") is None:
        pytest.fail("node is required (scripts/install.sh installs it)")
    script = """
const crypto = require("node:crypto");
const [secret, site, user] = process.argv.slice(1);
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const head = b64({ alg: "HS256", typ: "JWT" }) + "." +
             b64({ sub: user, aud: site, iat: now, exp: now + 3600 });
const sig = crypto.createHmac("sha256", secret).update(head).digest("base64url");
console.log(head + "." + sig);
"""
    run = subprocess.run(["node", "-e", script, SECRET, "shop", "bob@example.com"],
                         capture_output=True, text=True, timeout=60, check=True)
    assert verify_token(run.stdout.strip(), "shop", SECRET) == "bob@example.com"
