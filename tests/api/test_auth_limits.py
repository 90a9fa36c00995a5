"""Failure limits of API keys and sign-ins: per address, per key prefix and per user, never
refusing a valid credential because of someone else's failures; forwarded headers believed
only from configured proxies; log redaction."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from tradewarden.api.auth import MAX_FAILURES, Authenticator, AuthError, FailureLimiter
from tradewarden.cli.run import proxy_options
from tradewarden.config import Settings
from tradewarden.logs import install_redaction, redact
from tradewarden.store.db import Database
from tradewarden.store.repositories import ApiKeys, Users
from tradewarden.web.signin import PAIR_LIMIT, USER_LIMIT, LoginLimiter


def _issue(db: Database, username: str) -> str:
    with db.transaction() as session:
        return ApiKeys(session).create(Users(session).create(username)).key


async def _status(auth: Authenticator, key: str | None, client: str) -> int:
    try:
        await auth.authenticate(key, client)
    except AuthError as exc:
        return exc.status
    return 200


async def test_a_valid_key_is_served_from_an_address_locked_by_failures(
        sqlite_db: Database) -> None:
    key = _issue(sqlite_db, "trader")
    auth = Authenticator(sqlite_db)
    guesses = [await _status(auth, f"tw_guess_{i:03d}_0123456789abcdefgh", "10.0.0.1")
               for i in range(MAX_FAILURES)] + [await _status(auth, None, "10.0.0.1")]
    assert guesses == [403] * MAX_FAILURES + [429]
    assert await _status(auth, key, "10.0.0.1") == 200
    auth._cache.clear()
    assert await _status(auth, key, "10.0.0.1") == 200
    assert await _status(auth, "tw_one_more_guess_0123456789", "10.0.0.1") == 429
    assert await _status(auth, "tw_other_guess_0123456789ab", "10.0.0.2") == 403


async def test_guesses_at_one_key_prefix_are_limited_across_addresses(
        sqlite_db: Database) -> None:
    key = _issue(sqlite_db, "target")
    auth = Authenticator(sqlite_db)
    prefix = key[:10]
    for i in range(MAX_FAILURES):
        assert await _status(auth, f"{prefix}guess{i:03d}abcdefghijklmnop", f"10.1.0.{i}") == 403
    assert await _status(auth, f"{prefix}guess999abcdefghijklmnop", "10.1.1.1") == 429
    assert await _status(auth, key, "10.1.1.1") == 200  # the owner is not refused


def test_failure_limiter_memory_is_bounded() -> None:
    limiter = FailureLimiter(limit=3, window_s=60, max_names=100)
    for _ in range(50):
        limiter.record("hammer")
    for i in range(1000):
        limiter.record(f"name-{i}")
    assert limiter.failures("name-999") == 1
    assert len(limiter._failures) <= 100
    assert all(len(window) <= 3 for window in limiter._failures.values())


def test_flooding_the_limiter_with_new_names_does_not_lift_a_block() -> None:
    limiter = FailureLimiter(limit=3, window_s=60, max_names=100)
    for _ in range(3):
        limiter.record("10.6.6.6")
    limiter.record("key:early")
    assert limiter.blocked("10.6.6.6")
    for i in range(1000):  # random keys: a new prefix each time, several sweeps
        limiter.record(f"key:{i}")
    assert limiter.blocked("10.6.6.6")
    assert limiter.failures("key:early") == 0  # the least recently failed went first
    assert limiter.failures("key:999") == 1
    assert len(limiter._failures) <= 100


def test_sign_in_limits_never_lock_out_a_clean_address() -> None:
    limiter = LoginLimiter()
    for _ in range(PAIR_LIMIT):
        limiter.record("10.0.0.1", "victim")
    assert limiter.blocked("10.0.0.1", "victim")
    assert not limiter.blocked("10.0.0.1", "someone-else")
    assert not limiter.blocked("10.0.0.2", "Victim")
    # a guesser spread over many addresses: past the user limit, each failing address stops
    for i in range(USER_LIMIT):
        limiter.record(f"10.2.0.{i}", "victim")
    assert limiter.blocked("10.2.0.0", "victim")  # one failure for this user was its last
    assert not limiter.blocked("10.3.0.1", "victim")  # the victim's own address signs in
    assert not limiter.blocked("10.2.0.0", "other")


def test_forwarded_headers_are_believed_only_from_configured_proxies() -> None:
    assert proxy_options(Settings()) == {"proxy_headers": False, "forwarded_allow_ips": []}
    trusting = Settings(trusted_proxies="127.0.0.1, 10.0.0.0/8")
    assert proxy_options(trusting) == {"proxy_headers": True,
                                       "forwarded_allow_ips": ["127.0.0.1", "10.0.0.0/8"]}
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(trusted_proxies="*")


@pytest.mark.parametrize(("line", "secret"), [
    ('127.0.0.1:5 - "WebSocket /api/v1/ws?apikey=tw_abcdefghijklmnopqrstuvwxyz" 101',
     "tw_abcdefghijklmnopqrstuvwxyz"),
    ("< x-api-key: plain-admin-key-0123456789", "plain-admin-key-0123456789"),
    ("< Authorization: Bearer some.jwt.value", "some.jwt.value"),
    ("< cookie: tw_session=SeSsIoNvAlUe; theme=dark", "SeSsIoNvAlUe"),
    ("(b'cookie', b'tw_session=SeSsIoNvAlUe')", "SeSsIoNvAlUe"),
    ('POST /webhook/WhTokenValue123 HTTP/1.1', "WhTokenValue123"),
    ('{"apikey": "body-key-0123456789", "secret_key": "s3cr3t"}', "body-key-0123456789"),
    ('{"apikey": "body-key-0123456789", "secret_key": "s3cr3t"}', "s3cr3t"),
    ("username=a&password=hunter2&csrf_token=CsRf", "hunter2"),
    ("postgresql://tw:dbpass@db/tw", "dbpass"),
    ('"POST /api/webhooks/1234/DiScOrDtOkEn HTTP/1.1" 204', "DiScOrDtOkEn"),
    ("https://hooks.slack.com/services/T00/B00/SlAcKsEcReT", "SlAcKsEcReT"),
    ("POST https://api.telegram.org/bot123456:AAbbCC-dd/sendMessage", "AAbbCC-dd"),
    # names with a prefix, in any case and any shape
    ("grant=x&refresh_token=RtOkEn1&y=2", "RtOkEn1"),
    ("auth_token=AuThTk2", "AuThTk2"),
    ("api_secret=ApIsEc3", "ApIsEc3"),
    ('{"client_secret": "ClSeC4"}', "ClSeC4"),
    ("{'webhook_secret': b'WhSeC5'}", "WhSeC5"),
    ("jwtToken: JwTtK6 expires", "JwTtK6"),
    ("ACCESS_TOKEN=AcTk7", "AcTk7"),
    ('{"request_token":"RqTk8"}', "RqTk8"),
    ('{"totp": 918273, "mpin": 4455}', "918273"),
    ('{"totp": 918273, "mpin": 4455}', "4455"),
    ("pin=8642", "8642"),
    ("PassWord=HuNtEr9", "HuNtEr9"),
    ("login(password='two words')", "two words"),
    ('password="dq words"', "dq words"),
    # an escaped quote does not end the value
    ('{"apikey":"ab\\"cdTaIl01", "symbol": "ITC"}', "cdTaIl01"),
    ("{'password': 'ab\\'cdTaIl02'}", "cdTaIl02"),
    ('{"secret": "unterminated cdTaIl03', "cdTaIl03"),
    # notification (apprise) URLs: every part may be the secret
    ("sending to tgram://123456:TgBoTtOkEn/-100200300 failed", "TgBoTtOkEn"),
    ("pover://pouser@PoVeRtOkEn", "PoVeRtOkEn"),
    ("discord://112233/DiScOrDwHtOkEn", "DiScOrDwHtOkEn"),
    ("mailto://me:MaIlPaSs@gmail.com", "MaIlPaSs"),
    ("ntfys://NtFyToPiC", "NtFyToPiC"),
    ("https://ToKeNuSeR@hooks.example.com/x", "ToKeNuSeR"),
])
def test_redact(line: str, secret: str) -> None:
    assert secret not in redact(line)


@pytest.mark.parametrize("line", [
    "KeyError: 'symbol'",
    "mapping=1 keyboard=2 symbol=RELIANCE qty=1 price=2500 pricetype=LIMIT",
    "listening on http://127.0.0.1:8000 (database sqlite:///data/tradewarden.db)",
    "GET /api/v1/orders?status=open&page=2 HTTP/1.1",
])
def test_redact_leaves_ordinary_text_alone(line: str) -> None:
    assert redact(line) == line


@pytest.fixture
def redacting() -> Iterator[io.StringIO]:
    factory = logging.getLogRecordFactory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    install_redaction()
    try:
        yield stream
    finally:
        logging.setLogRecordFactory(factory)
        logger.removeHandler(handler)


def test_records_are_redacted_whatever_their_shape(redacting: io.StringIO) -> None:
    logger = logging.getLogger("tests.redaction")
    logger.debug("< %s: %s", "x-api-key", "plain-admin-key-0123456789")
    logger.info("%(who)s used %(key)s", {"who": "bot", "key": "tw_abcdefghijklmnopqrstuvwxyz"})
    logger.info(b"raw token=abc123secret")
    try:
        raise ValueError("bad apikey=leaky-value-99")
    except ValueError:
        logger.exception("failed")
    logger.info("percent %d%% done, nothing secret", 50)
    text = redacting.getvalue()
    for secret in ("plain-admin-key-0123456789", "tw_abcdefghijklmnopqrstuvwxyz",
                   "abc123secret", "leaky-value-99"):
        assert secret not in text
    assert "bot used tw_[redacted]" in text and "percent 50% done" in text
