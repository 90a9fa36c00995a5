"""Request and response bodies of the notifications API (``api/notifications.py``)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradewarden.notify.events import Mode, NotificationKind

NAME_PATTERN = r"^[\w .:@-]+$"


class RateLimitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=1, le=1000, description="messages allowed…")
    per_seconds: float = Field(ge=0.1, le=86_400, description="…in any window this long")


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    url: str = Field(min_length=4, max_length=2048, description="apprise URL (write-only)")
    enabled: bool = True
    rate_limit: RateLimitIn | None = None


class ChannelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=64, pattern=NAME_PATTERN)
    url: str | None = Field(default=None, min_length=4, max_length=2048)
    enabled: bool | None = None
    rate_limit: RateLimitIn | None = None  # null: back to the scheme's default


class RateLimitOut(BaseModel):
    count: int
    per_seconds: float
    default: bool


class ChannelOut(BaseModel):
    id: int
    name: str
    scheme: str
    url: str  # masked
    enabled: bool
    rate_limit: RateLimitOut
    created_at: datetime
    updated_at: datetime


class QuietHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: time
    end: time

    @model_validator(mode="after")
    def _window(self) -> QuietHoursIn:
        if self.start.replace(tzinfo=None) == self.end.replace(tzinfo=None):
            raise ValueError("start and end must differ (a window may cross midnight)")
        return self


class PreferencesIn(BaseModel):
    """Only what is sent changes; a null mode resets that event type to its default."""

    model_config = ConfigDict(extra="forbid")
    quiet_hours: QuietHoursIn | None = None
    events: dict[NotificationKind, Mode | None] | None = None
    channels: dict[int, dict[NotificationKind, Mode | None]] | None = None


class EventPreference(BaseModel):
    mode: Mode
    default: Mode
    channels: dict[str, Mode]  # channel id -> effective mode where it differs from ``mode``


class PreferencesOut(BaseModel):
    timezone: str = "Asia/Kolkata"
    quiet_hours: dict[str, str] | None
    events: dict[str, EventPreference]


class ChannelCheckOut(BaseModel):
    channel_id: int
    name: str
    url: str
    ok: bool
    error: str | None


class TestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel_ids: list[Annotated[int, Field(ge=1)]] | None = None


class TestOut(BaseModel):
    ok: bool
    results: list[ChannelCheckOut]
    message: str | None = None


class OutboxOut(BaseModel):
    id: int
    channel_id: int
    kind: str
    severity: str
    status: str
    order_id: str | None
    attempts: int
    last_error: str | None
    digest_size: int | None
    text: str
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
