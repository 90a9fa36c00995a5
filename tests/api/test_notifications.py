"""Notifications API over real HTTP: channels, preferences, test sends (API and CLI), the
outbox with re-send, validation, per-user isolation, and URLs never readable in clear."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Server
from tests.notify.sinks import JsonSink
from tests.procs import free_port, tradewarden
from tradewarden.notify.outbox import alert

SECRET_PASSWORD = "S3cretPassw0rdQ7"
SECRET_PATH = "hook-9f8e7d6c"


@pytest.fixture
def quick_notify(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short retry and polling intervals for the server started after this fixture."""
    for name, value in (("POLL_INTERVAL_S", "0.05"), ("RETRY_INITIAL_S", "0.1"),
                        ("RETRY_MAX_S", "0.3"), ("MAX_ATTEMPTS", "3")):
        monkeypatch.setenv(f"TRADEWARDEN_NOTIFY_{name}", value)


@pytest.fixture
def nserver(quick_notify: None, server: Server) -> Server:
    return server


@pytest.fixture
def sink() -> Iterator[JsonSink]:
    running = JsonSink().start()
    yield running
    running.stop()


def create(server: Server, key: str | None = None, **body: Any) -> Any:
    return server.client(key).post("/api/v1/notifications/channels", json=body)


def test_channel_crud_masks_the_url_and_isolates_users(nserver: Server, sink: JsonSink) -> None:
    client = nserver.client()
    made = create(nserver, name="desk", url=sink.url)
    assert made.status_code == 201, made.text
    channel = made.json()
    assert (channel["url"], channel["scheme"], channel["enabled"]) == ("json://…", "json", True)
    assert channel["rate_limit"] == {"count": 10, "per_seconds": 1.0, "default": True}
    assert str(sink.port) not in made.text
    assert create(nserver, name="desk", url=sink.url).status_code == 409
    path = f"/api/v1/notifications/channels/{channel['id']}"
    patched = client.patch(path, json={"name": "phone", "enabled": False,
                                       "rate_limit": {"count": 1, "per_seconds": 3}})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["enabled"]) == ("phone", False)
    assert patched.json()["rate_limit"] == {"count": 1, "per_seconds": 3.0, "default": False}
    tg = client.patch(path, json={"url": "tgram://123456789:AAEfake_token/-100200300",
                                  "rate_limit": None})
    assert tg.json()["url"] == "tgram://…"
    assert tg.json()["rate_limit"] == {"count": 20, "per_seconds": 60.0, "default": True}
    assert [c["name"] for c in client.get("/api/v1/notifications/channels").json()] == ["phone"]

    other = nserver.add_user("bob", "paper-bob")
    stranger = nserver.client(other)
    assert stranger.get("/api/v1/notifications/channels").json() == []
    assert stranger.get(path).status_code == 404
    assert stranger.patch(path, json={"enabled": True}).status_code == 404
    assert stranger.delete(path).status_code == 404
    assert stranger.post("/api/v1/notifications/test",
                         json={"channel_ids": [channel["id"]]}).status_code == 404
    borrowed = stranger.put("/api/v1/notifications/preferences",
                            json={"channels": {str(channel["id"]): {"order_placed": "on"}}})
    assert borrowed.status_code == 422
    assert borrowed.json()["detail"][0]["loc"] == ["body", "channels", channel["id"]]
    assert create(nserver, other, name="desk", url=sink.url).status_code == 201, (
        "names are per user")

    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "url": "not a url"}, ["body", "url"]),
    ({"name": "x", "url": "tgram://not-a-token/123"}, ["body", "url"]),
    ({"name": "x", "url": "nosuchservice://host/path"}, ["body", "url"]),
    ({"name": "x", "url": "json://"}, ["body", "url"]),
    ({"url": "json://127.0.0.1/hook"}, ["body", "name"]),
    ({"name": "x" * 65, "url": "json://127.0.0.1/hook"}, ["body", "name"]),
    ({"name": "x", "url": "json://127.0.0.1/hook", "colour": "red"}, ["body", "colour"]),
    ({"name": "x", "url": "json://127.0.0.1/hook", "rate_limit": {"count": 0,
                                                                 "per_seconds": 1}},
     ["body", "rate_limit", "count"]),
])
def test_invalid_channels_are_422_with_the_field_and_write_nothing(
        nserver: Server, body: dict[str, Any], field: list[str]) -> None:
    response = create(nserver, **body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == field
    assert "not-a-token" not in response.text and "nosuchservice://host" not in response.text
    assert nserver.client().get("/api/v1/notifications/channels").json() == []


def test_preferences_defaults_changes_and_resets(nserver: Server, sink: JsonSink) -> None:
    client = nserver.client()
    channel = create(nserver, name="desk", url=sink.url).json()["id"]
    initial = client.get("/api/v1/notifications/preferences").json()
    assert initial["timezone"] == "Asia/Kolkata" and initial["quiet_hours"] is None
    events = initial["events"]
    assert events["order_executed"] == {"mode": "on", "default": "on", "channels": {}}
    assert events["order_placed"]["mode"] == "silent"
    assert events["retry_retried"]["mode"] == "off"
    assert len(events) == 19
    changed = client.put("/api/v1/notifications/preferences", json={
        "quiet_hours": {"start": "22:30", "end": "07:00"},
        "events": {"order_placed": "off", "order_expired": "silent"},
        "channels": {str(channel): {"order_placed": "on"}}})
    assert changed.status_code == 200, changed.text
    view = changed.json()
    assert view["quiet_hours"] == {"start": "22:30", "end": "07:00"}
    assert view["events"]["order_placed"] == {"mode": "off", "default": "silent",
                                              "channels": {str(channel): "on"}}
    assert view["events"]["order_expired"]["mode"] == "silent"
    reset = client.put("/api/v1/notifications/preferences", json={
        "quiet_hours": None, "events": {"order_placed": None},
        "channels": {str(channel): {"order_placed": None}}}).json()
    assert reset["quiet_hours"] is None
    assert reset["events"]["order_placed"] == {"mode": "silent", "default": "silent",
                                               "channels": {}}
    assert reset["events"]["order_expired"]["mode"] == "silent", "untouched keys stay"


@pytest.mark.parametrize(("body", "loc"), [
    ({"events": {"order_plaed": "on"}}, ["body", "events", "order_plaed", "[key]"]),
    ({"events": {"order_placed": "loud"}}, ["body", "events", "order_placed"]),
    ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, ["body", "quiet_hours"]),
    ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, ["body", "quiet_hours", "start"]),
    ({"channels": {"999": {"order_placed": "on"}}}, ["body", "channels", 999]),
    ({"mute_everything": True}, ["body", "mute_everything"]),
])
def test_invalid_preferences_are_422_and_change_nothing(
        nserver: Server, body: dict[str, Any], loc: list[Any]) -> None:
    client = nserver.client()
    before = client.get("/api/v1/notifications/preferences").json()
    response = client.put("/api/v1/notifications/preferences",
                          json={"events": {"order_executed": "off"}, **body})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:len(loc)] == loc
    assert client.get("/api/v1/notifications/preferences").json() == before


def test_test_message_per_channel_from_api_and_cli(nserver: Server, sink: JsonSink) -> None:
    good = create(nserver, name="good", url=sink.url).json()["id"]
    bad = create(nserver, name="bad", url=f"json://127.0.0.1:{free_port()}/x").json()["id"]
    report = nserver.client().post("/api/v1/notifications/test").json()
    assert report["ok"] is False
    results = {r["channel_id"]: r for r in report["results"]}
    assert results[good] == {"channel_id": good, "name": "good", "url": "json://…", "ok": True,
                             "error": None}
    assert (results[bad]["ok"], results[bad]["error"]) == (False, "connection failed")
    only = nserver.client().post("/api/v1/notifications/test", json={"channel_ids": [good]})
    assert only.json()["ok"] is True and len(only.json()["results"]) == 1
    assert nserver.client().post("/api/v1/notifications/test",
                                 json={"channel_ids": [999]}).status_code == 404

    data_dir = str(nserver.settings.data_dir)
    cli = tradewarden("notify", "test", "--user", "admin", "--data-dir", data_dir)
    assert cli.returncode == 1, cli.stderr
    assert "ok    good (json://…)" in cli.stdout
    assert "FAIL  bad (json://…): connection failed" in cli.stdout
    assert str(sink.port) not in cli.stdout + cli.stderr
    one = tradewarden("notify", "test", "--user", "admin", "--channel", "good",
                      "--data-dir", data_dir)
    assert one.returncode == 0 and one.stdout.count("ok ") == 1
    nobody = tradewarden("notify", "test", "--user", "nobody", "--data-dir", data_dir)
    assert nobody.returncode == 2 and "no user named 'nobody'" in nobody.stderr
    assert len(sink.lines()) == 4
    assert all(line.startswith("🔔 Tradewarden test message") for line in sink.lines())


def test_failed_notifications_are_listed_and_can_be_resent(nserver: Server) -> None:
    sink = JsonSink()  # down
    client = nserver.client()
    create(nserver, name="pager", url=sink.url)
    nserver.run(alert(nserver.services.db, None, "warning", "disk almost full"))

    def failed() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = client.get("/api/v1/notifications/outbox",
                                                params={"status": "failed"}).json()
        return rows

    nserver.wait_for(lambda: len(failed()) == 1)
    (row,) = failed()
    assert (row["kind"], row["attempts"], row["last_error"]) == ("system_alert", 3,
                                                                 "connection failed")
    assert row["text"].startswith("🟠 WARNING: disk almost full")
    other = nserver.add_user("carol", "paper-carol")
    resend_path = f"/api/v1/notifications/outbox/{row['id']}/resend"
    assert nserver.client(other).post(resend_path).status_code == 404
    assert nserver.client(other).get("/api/v1/notifications/outbox").json() == []
    sink.start()
    try:
        again = client.post(resend_path)
        assert again.status_code == 200 and again.json()["status"] == "pending"
        sink.wait_for(lambda: len(sink.lines()) == 1)
        nserver.wait_for(lambda: client.get(
            "/api/v1/notifications/outbox").json()[0]["status"] == "sent")
    finally:
        sink.stop()
    assert client.post(resend_path).status_code == 409
    assert client.get("/api/v1/notifications/outbox",
                      params={"status": "bogus"}).status_code == 422


def test_channel_urls_are_not_readable_in_the_database_or_the_logs(
        nserver: Server, sink: JsonSink, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret_url = f"json://alice:{SECRET_PASSWORD}@127.0.0.1:{sink.port}/{SECRET_PATH}"
    dead_url = f"json://alice:{SECRET_PASSWORD}@127.0.0.1:{free_port()}/{SECRET_PATH}"
    client = nserver.client()
    assert create(nserver, name="secret", url=secret_url).status_code == 201
    assert create(nserver, name="dead", url=dead_url).status_code == 201
    assert client.post("/api/v1/notifications/test").status_code == 200
    nserver.run(alert(nserver.services.db, None, "critical", "engine stopped"))
    sink.wait_for(lambda: len(sink.lines()) >= 2)
    nserver.wait_for(lambda: any(r["last_error"] for r in client.get(
        "/api/v1/notifications/outbox").json()))
    assert sink.received()[0].path == f"/{SECRET_PATH}", "the real URL was used"
    listing = client.get("/api/v1/notifications/channels").text
    outbox = client.get("/api/v1/notifications/outbox").text
    database = Path(nserver.settings.resolved_database_url.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    for secret in (SECRET_PASSWORD, SECRET_PATH):
        assert secret not in listing and secret not in outbox
        assert secret.encode() not in stored
        assert secret not in caplog.text
    assert "notification delivery to channel" in caplog.text, "failures are logged, masked"
