"""``accounts login N --request-token T`` against a stub Kite token endpoint on 127.0.0.1:
the checksum and form it sends, the token stored encrypted, the account ready until the next
06:00 IST, and one-line errors with nothing written."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tradewarden.broker_sessions import kite_session_expiry
from tradewarden.cli import main
from tradewarden.clock import IST
from tradewarden.store.db import Database
from tradewarden.store.repositories import Users
from tradewarden.store.tables import BrokerAccount

API_KEY = "kiteapp7"
SECRET = "zq9AppSecretNeverShown"
GOOD_REQUEST = "reqTokenGood123"
ACCESS = "zq9AccessTokenFromKite"


class StubKite:
    """``POST /session/token`` answering Kite's envelopes; records what it received."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                stub.received.append((self.path, form, dict(self.headers.items())))
                token = form.get("request_token", [""])[0]
                expected = hashlib.sha256((API_KEY + token + SECRET).encode()).hexdigest()
                body: dict[str, Any]
                if self.path != "/session/token":
                    status, body = 404, {"status": "error", "message": "no route",
                                         "error_type": "GeneralException"}
                elif token == GOOD_REQUEST and form.get("checksum") == [expected]:
                    status, body = 200, {"status": "success", "data": {
                        "user_id": "ZX1234", "access_token": ACCESS,
                        "login_time": "2026-01-01 08:00:00"}}
                else:
                    status, body = 403, {"status": "error", "error_type": "TokenException",
                                         "message": "Token is invalid or has expired."}
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kite() -> Iterator[StubKite]:
    stub = StubKite()
    yield stub
    stub.close()


@pytest.fixture
def data(tmp_path: Path) -> tuple[str, str]:
    return ("--data-dir", str(tmp_path / "data"))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _setup(capsys: pytest.CaptureFixture[str], data: tuple[str, str], base_url: str) -> None:
    assert _run(capsys, "users", "create", "alice", *data)[0] == 0
    code, _, err = _run(capsys, "accounts", "add", "--user", "alice", "--broker", "kite",
                        "--name", "zk1", "--option", f"api_key={API_KEY}",
                        "--option", f"api_secret={SECRET}", "--option", f"base_url={base_url}",
                        *data)
    assert code == 0, err


def _account(data: tuple[str, str]) -> BrokerAccount:
    db = Database(f"sqlite:///{Path(data[1]) / 'tradewarden.db'}")
    try:
        with db.read() as session:
            user = Users(session).require("alice")
            account = session.query(BrokerAccount).filter_by(user_id=user.id).one()
            session.expunge(account)
            return account
    finally:
        db.close()


def test_login_exchanges_the_token_and_stores_it_encrypted(
        capsys: pytest.CaptureFixture[str], data: tuple[str, str], kite: StubKite) -> None:
    _setup(capsys, data, kite.url)
    assert _account(data).state == "login_required"

    code, out, err = _run(capsys, "accounts", "login", "zk1", "--request-token", GOOD_REQUEST,
                          *data)
    assert code == 0, err
    assert "state ready" in out and "ZX1234" in out
    assert ACCESS not in out + err and SECRET not in out + err

    [(path, form, headers)] = kite.received
    assert path == "/session/token"
    assert form == {"api_key": [API_KEY], "request_token": [GOOD_REQUEST],
                    "checksum": [hashlib.sha256(
                        (API_KEY + GOOD_REQUEST + SECRET).encode()).hexdigest()]}
    assert headers.get("X-Kite-Version") == "3"
    assert "x-www-form-urlencoded" in headers.get("Content-Type", "")

    account = _account(data)
    assert account.state == "ready" and account.state_reason is None
    assert account.session_expires_at is not None
    expires = account.session_expires_at.astimezone(IST)
    assert (expires.hour, expires.minute) == (6, 0)
    raw = (Path(data[1]) / "tradewarden.db").read_bytes()
    assert ACCESS.encode() not in raw and SECRET.encode() not in raw
    assert account.credentials_encrypted and ACCESS not in account.credentials_encrypted

    code, listed, _ = _run(capsys, "accounts", "list", *data)
    assert code == 0 and ACCESS not in listed and "06:00 IST" in listed


@pytest.mark.parametrize("token", ["reqTokenWrong", "reqTokenUsedOrExpired"])
def test_a_refused_token_is_a_one_line_error_and_writes_nothing(
        capsys: pytest.CaptureFixture[str], data: tuple[str, str], kite: StubKite,
        token: str) -> None:
    _setup(capsys, data, kite.url)
    before = _account(data)
    code, out, err = _run(capsys, "accounts", "login", "zk1", "--request-token", token, *data)
    assert code == 2 and out == ""
    assert err.startswith("error: Kite refused the request token") and err.count("\n") == 1
    after = _account(data)
    assert (after.state, after.credentials_encrypted, after.session_expires_at) == (
        before.state, before.credentials_encrypted, before.session_expires_at)


def test_an_unreachable_kite_is_a_one_line_error(
        capsys: pytest.CaptureFixture[str], data: tuple[str, str], kite: StubKite) -> None:
    kite.close()  # nothing listens there any more
    _setup(capsys, data, kite.url)
    code, _, err = _run(capsys, "accounts", "login", "zk1", "--request-token", GOOD_REQUEST,
                        *data)
    assert code == 2 and err.startswith("error: the token exchange with Kite failed")
    assert err.count("\n") == 1 and _account(data).state == "login_required"


def test_login_refuses_unknown_and_non_kite_accounts(
        capsys: pytest.CaptureFixture[str], data: tuple[str, str], kite: StubKite) -> None:
    _setup(capsys, data, kite.url)
    assert _run(capsys, "accounts", "add", "--user", "alice", "--broker", "paper", "--name",
                "pp1", *data)[0] == 0
    code, _, err = _run(capsys, "accounts", "login", "nope", "--request-token", "x", *data)
    assert code == 2 and "no account named 'nope'" in err
    code, _, err = _run(capsys, "accounts", "login", "pp1", "--request-token", "x", *data)
    assert code == 2 and "not kite" in err and not kite.received


@pytest.mark.parametrize("hour, minute, days", [(5, 59, 0), (6, 0, 1), (9, 15, 1), (23, 59, 1)])
def test_a_kite_session_ends_at_the_next_six_in_the_morning_ist(
        hour: int, minute: int, days: int) -> None:
    login = datetime(2026, 3, 10, hour, minute, tzinfo=IST).astimezone(UTC)
    expected = datetime(2026, 3, 10, 6, 0, tzinfo=IST) + timedelta(days=days)
    assert kite_session_expiry(login) == expected
