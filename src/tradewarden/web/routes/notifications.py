"""Notifications: channels (add, test, remove), the per-event on/silent/off matrix per channel
and for you, quiet hours, and the recent outbox (resend what failed).

Every read and write goes through the notifications API's handlers (``api/notifications.py``)
with the signed-in user as the caller, so URL checks, encryption, masking, name uniqueness,
preference merging and the notifier reload happen exactly as for API clients.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from tradewarden.api import notifications as api
from tradewarden.notify.schemas import ChannelIn, PreferencesIn, TestIn
from tradewarden.web import notification_views as views
from tradewarden.web.access import (
    CheckedForm,
    SessionDep,
    caller_of,
    path_id,
    services_of,
    wants_json,
)
from tradewarden.web.errors import error_page, not_found
from tradewarden.web.render import page
from tradewarden.web.sessions import SessionInfo

router = APIRouter(include_in_schema=False)
RECENT = 25
CHANNEL_FIELDS = {"name": "channel_name", "url": "channel_url"}
QUIET_FIELDS = {"start": "quiet_start", "end": "quiet_end"}



async def _page(request: Request, session: SessionInfo, *, status: int = 200,
                errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                tested: dict[int, tuple[bool, str]] | None = None) -> Response:
    services, caller = services_of(request), caller_of(session)
    channels = await api.list_channels(caller, services)
    preferences = await api.get_preferences(caller, services)
    recent = await api.list_outbox(caller, services, status=None, channel_id=None,
                                   before_id=None, limit=RECENT)
    quiet = preferences.quiet_hours or {}
    return page(request, "notifications.html", active="notifications", status=status,
                channels=channels, channel_names={c.id: c.name for c in channels},
                groups=views.matrix(preferences, channels), modes=views.MODES,
                quiet=preferences.quiet_hours, labels=views.KIND_LABELS, recent=recent,
                errors=errors or {}, tested=tested or {},
                values={"quiet_start": quiet.get("start", ""), "quiet_end": quiet.get("end", ""),
                        **(values or {})})


@router.get("/notifications")
async def notifications(request: Request, session: SessionDep) -> Response:
    return await _page(request, session)


def _problems(exc: ValidationError, fields: dict[str, str], fallback: str) -> dict[str, str]:
    """Pydantic's complaints, each on the form field it is about."""
    errors: dict[str, str] = {}
    for problem in exc.errors():
        where = [str(part) for part in problem["loc"]]
        name = next((fields[part] for part in where if part in fields), fallback)
        errors.setdefault(name, str(problem["msg"]).removeprefix("Value error, "))
    return errors


def _api_problem(exc: HTTPException, fields: dict[str, str], fallback: str) -> dict[str, str]:
    detail = exc.detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        where = [str(part) for part in detail[0].get("loc", [])]
        name = next((fields[part] for part in reversed(where) if part in fields), fallback)
        return {name: str(detail[0].get("msg", ""))}
    return {fallback: str(detail)}


@router.post("/notifications/channels")
async def add_channel(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    values = {"channel_name": form.get("channel_name"),
              "channel_url": (form.raw("channel_url") or "").strip()}
    try:
        body = ChannelIn.model_validate({"name": values["channel_name"],
                                         "url": values["channel_url"]})
    except ValidationError as exc:
        return await _page(request, session, status=422, values=values,
                           errors=_problems(exc, CHANNEL_FIELDS, "channel_url"))
    try:
        await api.create_channel(body, caller_of(session), services_of(request))
    except HTTPException as exc:
        fallback = "channel_name" if exc.status_code == 409 else "channel_url"
        return await _page(request, session, status=exc.status_code, values=values,
                           errors=_api_problem(exc, CHANNEL_FIELDS, fallback))
    return RedirectResponse("/notifications?done=channel_added#channels", status_code=303)


@router.post("/notifications/channels/{channel_id}/test")
async def test_channel(channel_id: str, request: Request, session: SessionDep,
                       _form: CheckedForm) -> Response:
    number = path_id(channel_id)
    if number is None:
        return not_found(request, "channel")
    try:
        answer = await api.send_test(caller_of(session), services_of(request),
                                     TestIn(channel_ids=[number]))
    except HTTPException:
        return not_found(request, "channel")
    result = answer.results[0]
    message = (f"Test message sent to “{result.name}”." if result.ok else
               f"Test to “{result.name}” failed: {result.error or 'no answer'}")
    if wants_json(request):
        return JSONResponse({"status": "success" if result.ok else "error", "ok": result.ok,
                             "message": message}, status_code=200 if result.ok else 502)
    return await _page(request, session, tested={number: (result.ok, message)})


@router.post("/notifications/channels/{channel_id}/delete")
async def remove_channel(channel_id: str, request: Request, session: SessionDep,
                         _form: CheckedForm) -> Response:
    number = path_id(channel_id)
    if number is None:
        return not_found(request, "channel")
    try:
        await api.delete_channel(number, caller_of(session), services_of(request))
    except HTTPException:
        return not_found(request, "channel")
    return RedirectResponse("/notifications?done=channel_removed#channels", status_code=303)


async def _save(request: Request, session: SessionInfo, document: dict[str, Any],
                fields: dict[str, str], fallback: str,
                values: dict[str, str] | None = None) -> Response | None:
    """Validate ``document`` as ``PreferencesIn`` and save it; a page with the problems, or
    None when saved."""
    try:
        body = PreferencesIn.model_validate(document)
    except ValidationError as exc:
        return await _page(request, session, status=422, values=values,
                           errors=_problems(exc, fields, fallback))
    try:
        await api.put_preferences(body, caller_of(session), services_of(request))
    except HTTPException as exc:
        return await _page(request, session, status=exc.status_code, values=values,
                           errors=_api_problem(exc, fields, fallback))
    return None


@router.post("/notifications/preferences")
async def preferences(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    channels = await api.list_channels(caller_of(session), services_of(request))
    document = views.preference_changes(form.as_dict(), [c.id for c in channels])
    problem = await _save(request, session, document, {}, "preferences")
    return problem or RedirectResponse("/notifications?done=preferences_saved#preferences",
                                       status_code=303)


@router.post("/notifications/quiet-hours")
async def quiet_hours(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    values = {"quiet_start": form.get("quiet_start"), "quiet_end": form.get("quiet_end")}
    start, end = values["quiet_start"], values["quiet_end"]
    if bool(start) != bool(end):
        missing = "quiet_end" if start else "quiet_start"
        return await _page(request, session, status=422, values=values, errors={
            missing: "enter both times, or clear both to turn quiet hours off"})
    document: dict[str, Any] = {"quiet_hours": {"start": start, "end": end} if start else None}
    problem = await _save(request, session, document, QUIET_FIELDS, "quiet_end", values)
    done = "quiet_saved" if start else "quiet_off"
    return problem or RedirectResponse(f"/notifications?done={done}#quiet-hours",
                                       status_code=303)


@router.post("/notifications/outbox/{notification_id}/resend")
async def resend(notification_id: str, request: Request, session: SessionDep,
                 _form: CheckedForm) -> Response:
    number = path_id(notification_id)
    if number is None:
        return not_found(request, "notification")
    try:
        await api.resend(number, caller_of(session), services_of(request))
    except HTTPException as exc:
        if exc.status_code == 404:
            return not_found(request, "notification")
        return error_page(request, exc.status_code, str(exc.detail))
    return RedirectResponse("/notifications?done=resent#recent", status_code=303)
