"""Notifications in the browser: add a channel (validation, masked URL), test it against a local
JSON sink, the on/silent/off matrix, quiet hours, remove after confirming; CSRF and other users
over plain HTTP."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
from playwright.sync_api import expect

from tests.notify.sinks import JsonSink
from tests.web.conftest import WebStack, WebUser, login
from tests.web.test_security import page_token, signed_in
from tests.web.test_units import in_own_loop
from tradewarden.notify.events import Mode, NotificationKind
from tradewarden.notify.schemas import PreferencesIn
from tradewarden.web import notification_views
from tradewarden.web.live import LiveHub
from tradewarden.web.live_notifications import NotificationFeed, Queued

slow = pytest.mark.slow  # browser and HTTP tests against the running stack


@pytest.fixture
def sink() -> Iterator[JsonSink]:
    server = JsonSink().start()
    try:
        assert isinstance(server, JsonSink)
        yield server
    finally:
        server.stop()


def preferences(web: WebStack, user: WebUser) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{web.url}/api/v1/notifications/preferences",
                                       headers={"X-API-Key": user.api_key}, timeout=30).json()
    return answer


def channels(web: WebStack, user: WebUser) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = httpx.get(f"{web.url}/api/v1/notifications/channels",
                                             headers={"X-API-Key": user.api_key},
                                             timeout=30).json()
    return answer


@slow
def test_add_test_prefer_quiet_and_remove_a_channel(
        page: Any, web_stack: WebStack, sink: JsonSink, shoot: Callable[..., Any]) -> None:
    user = web_stack.add_user("notified")
    login(page, user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")

    page.get_by_label("Channel name").fill("sink")
    page.get_by_label("Apprise URL").fill("not a url")
    page.get_by_role("button", name="Add channel").click()
    expect(page.locator("#channel_url-error")).to_contain_text("not an apprise URL")
    expect(page.get_by_label("Channel name")).to_have_value("sink")
    assert channels(web_stack, user) == []  # nothing written

    page.get_by_label("Apprise URL").fill(sink.url)
    page.get_by_role("button", name="Show the URL").click()
    expect(page.get_by_label("Apprise URL")).to_have_attribute("type", "text")
    page.get_by_role("button", name="Add channel").click()
    expect(page.locator(".notice")).to_contain_text("Channel added")
    row = page.locator("#channel-list tr[data-channel-id]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("json://…")
    assert str(sink.port) not in page.content()  # the URL is never shown again
    channel_id = channels(web_stack, user)[0]["id"]

    page.get_by_role("button", name="Send a test message to sink").click()
    result = page.locator(f"#test-result-{channel_id}")
    expect(result).to_have_text("Test message sent to “sink”.")
    expect(result).to_have_class(re.compile(r"\bok\b"))
    sink.wait_for(lambda: any("test message" in line for line in sink.lines()))

    page.evaluate("window.__sameDocument = true")
    expect(page.locator("#live-status")).to_have_text("live")
    web_stack.place(user, symbol="ITC", action="BUY", quantity="1")
    recent = page.locator("#recent-notifications")
    expect(recent).to_contain_text("Order executed", timeout=60_000)  # live: no reload
    assert page.evaluate("window.__sameDocument") is True
    sink.wait_for(lambda: any("Executed: BUY 1 NSE:ITC" in line for line in sink.lines()))

    page.get_by_label("Order placed: your choice").select_option("off")
    page.get_by_label("Order executed on sink").select_option("silent")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.locator(".notice")).to_contain_text("Preferences saved")
    expect(page.get_by_label("Order placed: your choice")).to_have_value("off")
    expect(page.get_by_label("Order executed on sink")).to_have_value("silent")
    expect(page.get_by_label("Order rejected on sink")).to_have_value("")  # follows yours
    saved = preferences(web_stack, user)["events"]
    assert saved["order_placed"]["mode"] == "off"
    assert saved["order_executed"]["channels"] == {str(channel_id): "silent"}
    assert saved["order_rejected"] == {"mode": "on", "default": "on", "channels": {}}

    page.get_by_label("From (IST)").fill("22:30")
    page.get_by_role("button", name="Save quiet hours").click()
    expect(page.locator("#quiet_end-error")).to_contain_text("enter both times")
    page.get_by_label("Until (IST)").fill("22:30")
    page.get_by_role("button", name="Save quiet hours").click()
    expect(page.locator("#quiet_end-error")).to_contain_text("must differ")
    page.get_by_label("Until (IST)").fill("07:00")
    page.get_by_role("button", name="Save quiet hours").click()
    expect(page.locator("#quiet-state")).to_have_text("On: 22:30\u201307:00 IST (across midnight).")
    assert preferences(web_stack, user)["quiet_hours"] == {"start": "22:30", "end": "07:00"}
    page.evaluate("window.scrollTo(0, 0)")
    shoot("notifications", docs=True)

    page.get_by_role("button", name="Remove channel sink").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("json://…")
    shoot("notifications-remove-dialog", full_page=False)
    dialog.get_by_role("button", name="Cancel").click()
    expect(row).to_have_count(1)
    page.get_by_role("button", name="Remove channel sink").click()
    dialog.get_by_role("button", name="Remove channel").click()
    expect(page.locator(".notice")).to_contain_text("Channel removed")
    expect(row).to_have_count(0)
    assert channels(web_stack, user) == []

    page.get_by_label("From (IST)").fill("")
    page.get_by_label("Until (IST)").fill("")
    page.get_by_role("button", name="Save quiet hours").click()
    expect(page.locator("#quiet-state")).to_have_text("Off.")


@slow
def test_a_failing_channel_says_why(page: Any, web_stack: WebStack, sink: JsonSink) -> None:
    user = web_stack.add_user("failing")
    sink.status = 500
    created = httpx.post(f"{web_stack.url}/api/v1/notifications/channels", timeout=30,
                         headers={"X-API-Key": user.api_key},
                         json={"name": "down", "url": sink.url}).json()
    login(page, user)
    page.goto("/notifications")
    page.get_by_role("button", name="Send a test message to down").click()
    result = page.locator(f"#test-result-{created['id']}")
    expect(result).to_contain_text("Test to “down” failed")
    expect(result).to_have_class(re.compile(r"\bfailed\b"))


@slow
def test_notification_forms_refuse_cross_site_posts_and_other_users_get_404(
        web_stack: WebStack, sink: JsonSink) -> None:
    owner = web_stack.add_user("n-owner")
    created = httpx.post(f"{web_stack.url}/api/v1/notifications/channels", timeout=30,
                         headers={"X-API-Key": owner.api_key},
                         json={"name": "mine", "url": sink.url}).json()
    channel = created["id"]
    forms = {
        "/notifications/channels": {"channel_name": "x", "channel_url": sink.url},
        f"/notifications/channels/{channel}/test": {},
        f"/notifications/channels/{channel}/delete": {},
        "/notifications/preferences": {"mode-order_placed": "off"},
        "/notifications/quiet-hours": {"quiet_start": "22:00", "quiet_end": "06:00"},
        "/notifications/outbox/1/resend": {},
    }
    with signed_in(web_stack, owner) as client:
        token = page_token(client, "/notifications")
        for path, data in forms.items():
            refused = [
                client.post(path, data=data),
                client.post(path, data={**data, "csrf_token": "forged"}),
                client.post(path, data={**data, "csrf_token": token},
                            headers={"Origin": "https://evil.example"}),
            ]
            assert [r.status_code for r in refused] == [403, 403, 403], path
        assert [c["name"] for c in channels(web_stack, owner)] == ["mine"]  # nothing written
        assert preferences(web_stack, owner)["quiet_hours"] is None
        assert sink.received() == []  # no test message went out

    mallory = web_stack.add_user("n-mallory")
    with signed_in(web_stack, mallory) as client:
        token = page_token(client, "/notifications")
        assert "mine" not in client.get("/notifications").text
        for path in (f"/notifications/channels/{channel}/test",
                     f"/notifications/channels/{channel}/delete",
                     "/notifications/channels/abc/delete"):
            assert client.post(path, data={"csrf_token": token}).status_code == 404, path
        answer = client.post("/notifications/preferences", data={
            "csrf_token": token, f"mode-order_placed-{channel}": "off"})
        assert answer.status_code == 303  # another user's channel fields are ignored
    assert [c["name"] for c in channels(web_stack, owner)] == ["mine"]
    assert preferences(web_stack, owner)["events"]["order_placed"]["channels"] == {}
    assert sink.received() == []


# --- the pure parts: the matrix, the form mapping, the live feed's grouping --------------------


def test_the_matrix_lists_every_event_type_once() -> None:
    kinds = [kind for _, rows in notification_views.EVENT_GROUPS for kind, _, _ in rows]
    assert sorted(kinds) == sorted(NotificationKind) and len(kinds) == len(set(kinds))


def test_matrix_form_becomes_a_preferences_document() -> None:
    form = {"mode-order_placed": "silent",  # the default: stored as "default"
            "mode-order_executed": "off", "mode-order_executed-4": "", "mode-order_placed-4": "on",
            "mode-order_placed-9": "off"}  # 9 is not one of the user's channels
    document = notification_views.preference_changes(form, [4, 5])
    assert document == {"events": {"order_placed": None, "order_executed": "off"},
                        "channels": {4: {"order_placed": "on", "order_executed": None}}}
    assert PreferencesIn.model_validate(document).channels == {
        4: {NotificationKind.ORDER_PLACED: Mode.ON, NotificationKind.ORDER_EXECUTED: None}}


def test_live_feed_sends_one_message_per_notification_not_per_channel() -> None:
    in_own_loop(_grouping)


async def _grouping() -> None:
    hub = LiveHub()
    client = hub.connect(1)
    feed = NotificationFeed(cast(Any, None), hub)
    at = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    payload = {"severity": "error", "text": "Broker session expired"}
    feed._publish_queued([
        Queued(10, 1, "system_alert", "error", payload, at),
        Queued(11, 1, "system_alert", "error", payload, at),  # the same alert, another channel
        Queued(12, 2, "system_alert", "error", payload, at),  # user 2 is not connected
        Queued(13, 1, "order_placed", "info", {"symbol": "SBIN"}, at)])
    batch = await asyncio.wait_for(client.next_batch(), 5)
    assert [(m["data"]["kind"], m["data"]["channels"]) for m in batch] == [
        ("system_alert", 2), ("order_placed", 1)]
    assert "Broker session expired" in batch[0]["data"]["text"]
