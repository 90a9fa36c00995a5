"""A real ``tradewarden run`` process: no key, token, cookie or secret in its output at DEBUG,
and failure limits that a client cannot dodge (by rotating ``X-Forwarded-For``) nor aim at
someone else's valid key or password."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.procs import free_port, spawn, wait_http_ok
from tradewarden.api.ws import MAX_FRAME_BYTES, MAX_WAITING_PER_ADDRESS
from tradewarden.security import hash_password
from tradewarden.store.db import Database
from tradewarden.store.repositories import ApiKeys, Users

pytestmark = pytest.mark.slow
ADMIN_KEY = "automation-Secret-0123456789abcdefXYZ"  # not tw_-shaped: no pattern gives it away
PASSWORD = "correct horse battery staple"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ORDER = {"strategy": "script", "exchange": "NSE", "symbol": "RELIANCE", "action": "BUY",
         "quantity": "1", "pricetype": "LIMIT", "price": "2500", "product": "MIS"}


@dataclass
class Service:
    url: str
    process: subprocess.Popen[str]
    log: Path
    database_url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/ws"

    def issue_key(self) -> str:
        """Another API key for the admin (a ``tw_`` key, as the CLI and dashboard issue)."""
        db = Database(self.database_url, pool_size=1)
        try:
            with db.transaction() as session:
                return ApiKeys(session).create(Users(session).require("admin"), name="t").key
        finally:
            db.close()

    def set_password(self, username: str = "admin") -> None:
        db = Database(self.database_url, pool_size=1)
        try:
            with db.transaction() as session:
                Users(session).require(username).password_hash = hash_password(PASSWORD)
        finally:
            db.close()

    def add_user(self, name: str) -> None:
        db = Database(self.database_url, pool_size=1)
        try:
            with db.transaction() as session:
                Users(session).create(name, password_hash=hash_password(PASSWORD))
        finally:
            db.close()

    def output(self) -> str:
        return self.log.read_text()


@contextmanager
def running(tmp_path: Path, **env: str) -> Iterator[Service]:
    port = free_port()
    log = tmp_path / "service.log"
    process = spawn("run", "--port", str(port), "--data-dir", str(tmp_path / "data"),
                    cwd=tmp_path, log=log,
                    env={"TRADEWARDEN_ADMIN_API_KEY": ADMIN_KEY, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{url}/healthz", process)
        yield Service(url, process, log,
                      f"sqlite:///{tmp_path / 'data' / 'tradewarden.db'}")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def sign_in(client: httpx.Client, username: str, password: str,
            headers: dict[str, str] | None = None) -> httpx.Response:
    form = client.get("/login")
    token = TOKEN.search(form.text)
    assert token is not None
    return client.post("/login", headers=headers, data={
        "csrf_token": token.group(1), "username": username, "password": password, "next": "/"})


def hello_over(socket: object) -> dict[str, object]:
    message: dict[str, object] = json.loads(socket.recv(timeout=10))  # type: ignore[attr-defined]
    assert message["type"] == "hello", message
    return message


def test_no_key_token_or_cookie_reaches_the_log_at_debug(tmp_path: Path) -> None:
    with running(tmp_path, TRADEWARDEN_LOG_LEVEL="DEBUG") as service:
        service.set_password()
        bearer_key, body_key, query_key, message_key = (service.issue_key() for _ in range(4))
        secrets = {ADMIN_KEY, bearer_key, body_key, query_key, message_key, PASSWORD}
        with httpx.Client(base_url=service.url, timeout=30) as api:
            assert api.get("/api/v1/orders", headers={"X-API-Key": ADMIN_KEY}).status_code == 200
            assert api.get("/api/v1/orders", headers={
                "Authorization": f"Bearer {bearer_key}"}).status_code == 200
            placed = api.post("/api/v1/placeorder", json={"apikey": body_key, **ORDER})
            assert placed.status_code == 200, placed.text
            strategy = api.post("/api/v1/strategies", json={"name": "hooked"},
                                headers={"X-API-Key": ADMIN_KEY})
            assert strategy.status_code == 201, strategy.text
            hook_token = strategy.json()["webhook_token"]
            hook_secret = strategy.json()["webhook_secret"]
            secrets |= {hook_token, hook_secret}
            hooked = api.post(f"/webhook/{hook_token}", json={
                "execution_type": "entry", "secret_key": hook_secret, "legs": []})
            assert hooked.status_code < 500
            wrong = "tw_wrong_key_0123456789abcdefghijklmnop"
            secrets.add(wrong)
            assert api.get("/api/v1/orders", headers={"X-API-Key": wrong}).status_code == 403
        with connect(f"{service.ws_url}?apikey={query_key}") as socket:
            hello_over(socket)
        with connect(service.ws_url, additional_headers={"X-API-Key": ADMIN_KEY}) as socket:
            hello_over(socket)
        with connect(service.ws_url,
                     additional_headers={"Authorization": f"Bearer {bearer_key}"}) as socket:
            hello_over(socket)
        with connect(service.ws_url) as socket:  # the key in the first message, not the URL
            socket.send(json.dumps({"type": "auth", "apikey": message_key}))
            assert hello_over(socket)["data"] == {
                "user": "admin", "channels": ["order", "trade", "tick", "notification"]}
        with httpx.Client(base_url=service.url, timeout=30) as browser:
            assert sign_in(browser, "admin", PASSWORD).status_code == 303
            cookie = browser.cookies["tw_session"]
            secrets.add(cookie)
            assert browser.get("/").status_code == 200
            with connect(service.ws_url, additional_headers={"Cookie": f"tw_session={cookie}"},
                         origin=Origin(service.url)) as socket:
                hello_over(socket)
        output = service.output()
    assert "DEBUG" in output and "/api/v1/ws" in output  # the log did record these requests
    leaked = sorted(secret for secret in secrets if secret in output)
    assert not leaked, f"secrets in the log: {leaked}"


def _bad_key_attempts(url: str, count: int, forwarded: str | None = None) -> list[int]:
    statuses = []
    with httpx.Client(base_url=url, timeout=30) as api:
        for i in range(count):
            headers = {"X-API-Key": f"tw_guess_{i:04d}_0123456789abcdefghij"}
            headers["X-Forwarded-For"] = forwarded or f"10.1.2.{i + 1}"
            statuses.append(api.get("/api/v1/orders", headers=headers).status_code)
    return statuses


def test_forwarded_header_is_ignored_by_default(tmp_path: Path) -> None:
    with running(tmp_path) as service:
        service.set_password()
        # rotating X-Forwarded-For does not reset the address's API-key failure count …
        statuses = _bad_key_attempts(service.url, 11)
        assert statuses[:10] == [403] * 10 and statuses[10] == 429
        # … and the locked address's valid key still gets its orders and reads through
        with httpx.Client(base_url=service.url, timeout=30) as api:
            assert api.get("/api/v1/orders", headers={"X-API-Key": ADMIN_KEY}).status_code == 200
            placed = api.post("/api/v1/placeorder", json={"apikey": ADMIN_KEY, **ORDER})
            assert placed.status_code == 200, placed.text
            exit_all = api.post("/api/v1/closeposition", json={
                "apikey": service.issue_key(), "strategy": "script"})
            assert exit_all.status_code == 200, exit_all.text
            bearer = api.get("/api/v1/orders",
                             headers={"Authorization": f"Bearer {service.issue_key()}"})
            assert bearer.status_code == 200, bearer.text
            with connect(f"{service.ws_url}?apikey={ADMIN_KEY}") as socket:
                hello_over(socket)
            # a bad key from the locked address is still refused
            assert api.get("/api/v1/orders",
                           headers={"X-API-Key": "tw_guess_again_0123456789abcdef"}
                           ).status_code == 429
        # the same for sign-ins: five wrong passwords from "different" addresses lock the pair
        with httpx.Client(base_url=service.url, timeout=30) as browser:
            for i in range(5):
                wrong = sign_in(browser, "admin", "wrong", {"X-Forwarded-For": f"10.9.0.{i}"})
                assert wrong.status_code == 401
            locked = sign_in(browser, "admin", PASSWORD, {"X-Forwarded-For": "10.9.1.1"})
            assert locked.status_code == 429


def test_a_trusted_proxy_names_the_client(tmp_path: Path) -> None:
    with running(tmp_path, TRADEWARDEN_TRUSTED_PROXIES="127.0.0.1") as service:
        service.set_password()
        attacker = "10.66.0.1"
        statuses = _bad_key_attempts(service.url, 11, forwarded=attacker)
        assert statuses[:10] == [403] * 10 and statuses[10] == 429
        with httpx.Client(base_url=service.url, timeout=30) as api:
            other = {"X-API-Key": "tw_guess_other_0123456789abcdef", "X-Forwarded-For": "10.7.0.1"}
            assert api.get("/api/v1/orders", headers=other).status_code == 403
            valid = {"X-API-Key": ADMIN_KEY, "X-Forwarded-For": attacker}
            assert api.get("/api/v1/orders", headers=valid).status_code == 200
        with httpx.Client(base_url=service.url, timeout=30) as browser:
            for _ in range(5):
                wrong = sign_in(browser, "admin", "wrong", {"X-Forwarded-For": attacker})
                assert wrong.status_code == 401
            assert sign_in(browser, "admin", PASSWORD,
                           {"X-Forwarded-For": attacker}).status_code == 429
            # the victim, at another address, signs in
            assert sign_in(browser, "admin", PASSWORD,
                           {"X-Forwarded-For": "10.7.0.2"}).status_code == 303


def _closed_with(socket: ClientConnection) -> int | None:
    """The close code the server sent, waiting for it (a message instead fails the test)."""
    with pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=10)
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


def test_unauthenticated_live_sockets_are_bounded(tmp_path: Path) -> None:
    with running(tmp_path) as service:
        # a frame larger than the server reads closes the socket (1009) as it arrives
        with connect(service.ws_url, max_size=None) as socket:
            socket.send("x" * (MAX_FRAME_BYTES + 1))
            assert _closed_with(socket) == 1009
        # sockets waiting for their first message are capped per address: one more is closed
        # with "try again later"; a waiting socket that authenticates frees its place
        with ExitStack() as stack:
            waiting = [stack.enter_context(connect(service.ws_url))
                       for _ in range(MAX_WAITING_PER_ADDRESS)]
            with connect(service.ws_url) as extra:
                assert _closed_with(extra) == 1013
            waiting[0].send(json.dumps({"type": "auth", "apikey": ADMIN_KEY}))
            hello_over(waiting[0])
            with connect(service.ws_url) as another:
                another.send(json.dumps({"type": "auth", "apikey": ADMIN_KEY}))
                hello_over(another)
        # an address past the failure limit is refused at the handshake, before any wait …
        for i in range(10):
            with connect(service.ws_url) as socket:
                socket.send(json.dumps({"type": "auth", "apikey": f"tw_guess_{i}_0123456789abc"}))
                assert _closed_with(socket) == 1008
        with pytest.raises(InvalidStatus) as refused:
            connect(service.ws_url)
        assert refused.value.response.status_code == 429
        # … while a valid key in its handshake is still served
        with connect(service.ws_url, additional_headers={"X-API-Key": ADMIN_KEY}) as socket:
            hello_over(socket)
