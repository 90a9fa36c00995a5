"""Webhook secrets encrypted at rest, over real HTTP: the owner gets them back in clear, alerts
authenticate against them (body secret and HMAC), plain secrets of a database from before
encryption are sealed when the service starts, and a row of another key is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.api.conftest import Server, serve
from tests.procs import free_port
from tradewarden.config import Settings
from tradewarden.crypto import SecretBox, key_from_secret
from tradewarden.store.db import Database
from tradewarden.store.webhook_secrets import new_webhook_secret

OTHER = SecretBox(key_from_secret("the key of another installation"))
ALERT = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1}


def _create(server: Server, name: str) -> dict[str, Any]:
    response = server.client().post("/api/v1/strategies", json={"name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _with_body_secret(server: Server, token: str, secret: str) -> int:
    return httpx.post(f"{server.url}/webhook/{token}", json={**ALERT, "secret_key": secret},
                      timeout=30).status_code


def _signed(server: Server, token: str, secret: str) -> int:
    raw = json.dumps(ALERT).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return httpx.post(f"{server.url}/webhook/{token}", content=raw, timeout=30, headers={
        "Content-Type": "application/json", "X-Signature": signature}).status_code


def _url(settings: Settings) -> str:
    return settings.resolved_database_url


def _stored(settings: Settings, strategy_id: int) -> str:
    db = Database(_url(settings))
    try:
        with db.read() as session:
            return str(session.execute(text("SELECT webhook_secret FROM strategies WHERE id = :id"),
                                       {"id": strategy_id}).scalar_one())
    finally:
        db.close()


def _store(settings: Settings, strategy_id: int, value: str) -> None:
    db = Database(_url(settings))
    try:
        with db.transaction() as session:
            session.execute(text("UPDATE strategies SET webhook_secret = :value WHERE id = :id"),
                            {"value": value, "id": strategy_id})
    finally:
        db.close()


def _file_bytes(settings: Settings) -> bytes:
    database = Path(_url(settings).removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))


def test_secrets_are_stored_encrypted_and_given_back_in_clear(
        server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = _create(server, "breakout")
    token, secret = created["webhook_token"], created["webhook_secret"]
    client = server.client()
    assert client.get(f"/api/v1/strategies/{created['id']}").json()["webhook_secret"] == secret
    assert [s["webhook_secret"] for s in client.get("/api/v1/strategies").json()] == [secret]
    stored = _stored(server.settings, created["id"])
    assert stored.startswith("gAAAAA") and server.services.box.decrypt(stored) == secret
    assert _with_body_secret(server, token, secret) == 200
    assert _signed(server, token, secret) == 200
    assert _with_body_secret(server, token, stored) == 403, "the token is not the secret"
    assert _signed(server, token, stored) == 403

    rotated = client.patch(f"/api/v1/strategies/{created['id']}",
                           json={"rotate_secret": True}).json()["webhook_secret"]
    assert rotated != secret and len(rotated) == len(secret)
    assert server.services.box.decrypt(_stored(server.settings, created["id"])) == rotated
    assert (_with_body_secret(server, token, secret), _signed(server, token, secret)) == (403, 403)
    assert (_with_body_secret(server, token, rotated), _signed(server, token, rotated)) == (
        200, 200)
    on_disk = _file_bytes(server.settings)
    for plain in (secret, rotated):
        assert plain.encode() not in on_disk
        assert plain not in caplog.text


def test_a_secret_of_another_key_is_refused_like_a_wrong_one(
        server: Server, caplog: pytest.LogCaptureFixture) -> None:
    created = _create(server, "moved")
    token, secret = created["webhook_token"], created["webhook_secret"]
    _store(server.settings, created["id"], OTHER.encrypt(secret))
    assert _with_body_secret(server, token, secret) == 403
    assert _signed(server, token, secret) == 403
    shown = server.client().get(f"/api/v1/strategies/{created['id']}")
    assert shown.status_code == 200 and shown.json()["webhook_secret"] == ""
    assert f"strategy {created['id']}: webhook alert refused" in caplog.text
    assert _counts(server) == 0


def _counts(server: Server) -> int:
    total: int = server.client().get("/api/v1/orders/stats").json()["total"]
    return total


def test_startup_seals_plain_secrets_of_an_older_database(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(data_dir=tmp_path / "data", port=free_port())
    with serve(settings) as first:
        legacy, foreign = _create(first, "legacy"), _create(first, "foreign")
    plain = new_webhook_secret()
    _store(settings, legacy["id"], plain)  # as the database held it before encryption
    foreign_token = OTHER.encrypt(foreign["webhook_secret"])
    _store(settings, foreign["id"], foreign_token)
    assert plain.encode() in _file_bytes(settings)

    with serve(settings.model_copy(update={"port": free_port()})) as second:
        sealed = _stored(settings, legacy["id"])
        assert sealed.startswith("gAAAAA") and second.services.box.decrypt(sealed) == plain
        assert _with_body_secret(second, legacy["webhook_token"], plain) == 200
        assert _signed(second, legacy["webhook_token"], plain) == 200
        assert second.client().get(f"/api/v1/strategies/{legacy['id']}").json()[
            "webhook_secret"] == plain
        assert _stored(settings, foreign["id"]) == foreign_token, "left untouched"
        assert _with_body_secret(second, foreign["webhook_token"], foreign["webhook_secret"]) == 403
        assert plain.encode() not in _file_bytes(settings)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"strategy {foreign['id']}:" in e and "cannot be decrypted" in e for e in errors)
    for secret in (plain, foreign["webhook_secret"]):
        assert secret not in caplog.text
