"""Notifications API (BRIEF §4.4, §7): channels, preferences, test sends, the outbox.

Channel URLs are write-only: responses show ``scheme://…`` and nothing else. Validation
errors are 422 with the field and write nothing; another user's channel or notification is 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response

from tradewarden.api.deps import CallerDep, ServicesDep
from tradewarden.notify.channels import scheme_of, validate_url
from tradewarden.notify.events import DEFAULT_MODES, Mode, NotificationKind, resolve_mode
from tradewarden.notify.messages import render
from tradewarden.notify.outbox import STATUSES
from tradewarden.notify.preferences import ChannelInfo
from tradewarden.notify.repository import NameTaken, NotificationStore, NotResendable
from tradewarden.notify.schemas import (
    ChannelCheckOut,
    ChannelIn,
    ChannelOut,
    ChannelPatch,
    EventPreference,
    OutboxOut,
    PreferencesIn,
    PreferencesOut,
    RateLimitIn,
    RateLimitOut,
    TestIn,
    TestOut,
)
from tradewarden.store.tables import NotificationChannel, OutboxRow

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
ChannelId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _unprocessable(loc: list[str | int], msg: str) -> HTTPException:
    return HTTPException(422, detail=[{"loc": loc, "msg": msg, "type": "value_error"}])


def _channel_out(row: NotificationChannel, services: ServicesDep) -> ChannelOut:
    limit = services.notifier.sender.limit_of(ChannelInfo.of(row))
    return ChannelOut(
        id=row.id, name=row.name, scheme=row.scheme, url=f"{row.scheme}://…",
        enabled=row.enabled, created_at=row.created_at, updated_at=row.updated_at,
        rate_limit=RateLimitOut(count=limit.count, per_seconds=limit.window_s,
                                default=row.rate_count is None))


def _checked_url(url: str, loc: list[str | int]) -> str:
    url = url.strip()
    problem = validate_url(url)
    if problem is not None:
        raise _unprocessable(loc, problem)
    return url


def _rate(limit: RateLimitIn | None) -> tuple[int, int] | None:
    if limit is None:
        return None
    return limit.count, round(limit.per_seconds * 1000)


@router.get("/channels", response_model=list[ChannelOut])
async def list_channels(caller: CallerDep, services: ServicesDep) -> list[ChannelOut]:
    def query() -> list[ChannelOut]:
        with services.db.read() as session:
            return [_channel_out(row, services)
                    for row in NotificationStore(session, caller.user_id).channels()]

    return await services.db.run(query)


@router.post("/channels", response_model=ChannelOut, status_code=201)
async def create_channel(body: ChannelIn, caller: CallerDep,
                         services: ServicesDep) -> ChannelOut:
    """Add a channel (``{"name": …, "url": "<apprise URL>"}``); the URL is stored encrypted."""
    url = _checked_url(body.url, ["body", "url"])
    token = services.notifier.box.encrypt(url)

    def write() -> ChannelOut:
        with services.db.transaction() as session:
            row = NotificationStore(session, caller.user_id).add_channel(
                body.name, scheme_of(url), token, enabled=body.enabled,
                rate=_rate(body.rate_limit))
            return _channel_out(row, services)

    try:
        created = await services.db.run(write)
    except NameTaken as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    await services.notifier.reload()
    return created


@router.get("/channels/{channel_id}", response_model=ChannelOut)
async def get_channel(channel_id: ChannelId, caller: CallerDep,
                      services: ServicesDep) -> ChannelOut:
    def query() -> ChannelOut | None:
        with services.db.read() as session:
            row = NotificationStore(session, caller.user_id).channel(channel_id)
            return _channel_out(row, services) if row is not None else None

    found = await services.db.run(query)
    if found is None:
        raise HTTPException(404, detail="channel not found")
    return found


@router.patch("/channels/{channel_id}", response_model=ChannelOut)
async def update_channel(channel_id: ChannelId, body: ChannelPatch, caller: CallerDep,
                         services: ServicesDep) -> ChannelOut:
    """Rename, replace the URL, enable/disable, or set the rate limit (null: default)."""
    changes: dict[str, Any] = {}
    sent = body.model_fields_set
    for name in ("name", "enabled"):
        if name in sent:
            if getattr(body, name) is None:
                raise _unprocessable(["body", name], "must not be null")
            changes[name] = getattr(body, name)
    if "url" in sent:
        if body.url is None:
            raise _unprocessable(["body", "url"], "must not be null")
        url = _checked_url(body.url, ["body", "url"])
        changes.update(url_encrypted=services.notifier.box.encrypt(url), scheme=scheme_of(url))
    if "rate_limit" in sent:
        rate = _rate(body.rate_limit)
        changes.update(rate_count=rate[0] if rate else None,
                       rate_window_ms=rate[1] if rate else None)

    def write() -> ChannelOut | None:
        with services.db.transaction() as session:
            store = NotificationStore(session, caller.user_id)
            row = store.channel(channel_id)
            if row is None:
                return None
            return _channel_out(store.update_channel(row, **changes), services)

    try:
        updated = await services.db.run(write)
    except NameTaken as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    if updated is None:
        raise HTTPException(404, detail="channel not found")
    await services.notifier.reload()
    return updated


@router.delete("/channels/{channel_id}", status_code=204)
async def delete_channel(channel_id: ChannelId, caller: CallerDep,
                         services: ServicesDep) -> Response:
    """Remove a channel and its queued notifications."""
    def write() -> bool:
        with services.db.transaction() as session:
            store = NotificationStore(session, caller.user_id)
            row = store.channel(channel_id)
            if row is None:
                return False
            store.delete_channel(row)
            return True

    if not await services.db.run(write):
        raise HTTPException(404, detail="channel not found")
    await services.notifier.reload()
    return Response(status_code=204)


def _preferences(session: Any, user_id: int) -> PreferencesOut:
    store = NotificationStore(session, user_id)
    settings = store.settings()
    user_modes: dict[str, str] = dict(settings.events or {}) if settings else {}
    channels = store.channels()
    events: dict[str, EventPreference] = {}
    for kind in NotificationKind:
        mode = resolve_mode(kind.value, {}, user_modes)
        overrides = {str(c.id): resolve_mode(kind.value, c.preferences or {}, user_modes)
                     for c in channels if kind.value in (c.preferences or {})}
        events[kind.value] = EventPreference(mode=mode, default=DEFAULT_MODES[kind],
                                             channels=overrides)
    quiet = None
    if settings and settings.quiet_start is not None and settings.quiet_end is not None:
        quiet = {"start": f"{settings.quiet_start:%H:%M}", "end": f"{settings.quiet_end:%H:%M}"}
    return PreferencesOut(quiet_hours=quiet, events=events)


@router.get("/preferences", response_model=PreferencesOut)
async def get_preferences(caller: CallerDep, services: ServicesDep) -> PreferencesOut:
    """Modes per event type (``on`` / ``silent`` / ``off``), per-channel overrides, quiet
    hours (IST)."""
    def query() -> PreferencesOut:
        with services.db.read() as session:
            return _preferences(session, caller.user_id)

    return await services.db.run(query)


@router.put("/preferences", response_model=PreferencesOut)
async def put_preferences(body: PreferencesIn, caller: CallerDep,
                          services: ServicesDep) -> PreferencesOut:
    """Change preferences: send only what changes; ``null`` resets (``quiet_hours: null``
    turns quiet hours off)."""
    def plain(modes: dict[NotificationKind, Mode | None]) -> dict[str, str | None]:
        return {k.value: (v.value if v is not None else None) for k, v in modes.items()}

    def write() -> PreferencesOut:
        with services.db.transaction() as session:
            store = NotificationStore(session, caller.user_id)
            owned = {c.id for c in store.channels()}
            for channel_id in body.channels or {}:
                if channel_id not in owned:
                    raise _unprocessable(["body", "channels", channel_id], "no such channel")
            quiet = body.quiet_hours
            store.save_preferences(
                events=plain(body.events) if body.events is not None else None,
                channels={c: plain(m) for c, m in (body.channels or {}).items()},
                quiet=(quiet.start.replace(tzinfo=None), quiet.end.replace(tzinfo=None))
                if quiet else None,
                set_quiet="quiet_hours" in body.model_fields_set)
            return _preferences(session, caller.user_id)

    result = await services.db.run(write)
    await services.notifier.reload()
    return result


@router.post("/test", response_model=TestOut)
async def send_test(caller: CallerDep, services: ServicesDep,
                    body: TestIn | None = None) -> TestOut:
    """Send a test message to each of the caller's channels (or those listed) and report
    per channel."""
    wanted = body.channel_ids if body is not None else None
    results = await services.notifier.send_test(caller.user_id, wanted)
    if wanted is not None:
        missing = sorted(set(wanted) - {r.channel_id for r in results})
        if missing:
            raise HTTPException(404, detail=f"channel not found: {missing[0]}")
    outs = [ChannelCheckOut(channel_id=r.channel_id, name=r.name, url=r.url, ok=r.ok,
                            error=r.error) for r in results]
    return TestOut(ok=bool(outs) and all(r.ok for r in outs), results=outs,
                   message=None if outs else "no notification channels configured")


def _outbox_out(row: OutboxRow) -> OutboxOut:
    message = render(row.kind, row.payload or {}, row.severity)
    return OutboxOut(id=row.id, channel_id=row.channel_id, kind=row.kind,
                     severity=row.severity, status=row.status, order_id=row.order_id,
                     attempts=row.attempts, last_error=row.last_error,
                     digest_size=row.digest_size, text=message.line(),
                     created_at=row.created_at, next_attempt_at=row.next_attempt_at,
                     sent_at=row.sent_at)


@router.get("/outbox", response_model=list[OutboxOut])
async def list_outbox(
    caller: CallerDep, services: ServicesDep,
    status: Annotated[str | None, Query(description="pending, sent, suppressed or failed")]
    = None,
    channel_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62, description="page: ids below this")]
    = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OutboxOut]:
    """The caller's recent notifications, newest first."""
    if status is not None and status not in STATUSES:
        raise _unprocessable(["query", "status"], f"must be one of {', '.join(STATUSES)}")

    def query() -> list[OutboxOut]:
        with services.db.read() as session:
            rows = NotificationStore(session, caller.user_id).outbox(
                status=status, channel_id=channel_id, limit=limit, before_id=before_id)
            return [_outbox_out(row) for row in rows]

    return await services.db.run(query)


@router.post("/outbox/{notification_id}/resend", response_model=OutboxOut)
async def resend(notification_id: Annotated[int, Path(ge=1, le=2**62)], caller: CallerDep,
                 services: ServicesDep) -> OutboxOut:
    """Queue a failed (or suppressed) notification again, due now (409 otherwise)."""
    def write() -> OutboxOut | None:
        with services.db.transaction() as session:
            row = NotificationStore(session, caller.user_id).resend(notification_id)
            return _outbox_out(row) if row is not None else None

    try:
        found = await services.db.run(write)
    except NotResendable as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    if found is None:
        raise HTTPException(404, detail="notification not found")
    services.notifier.sender.wake()
    return found
