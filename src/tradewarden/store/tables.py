"""SQLAlchemy table definitions. Alembic migrations must match these (``alembic check``)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tradewarden.store.types import Money, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT primary keys on PostgreSQL, INTEGER (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64), default="default")
    prefix: Mapped[str] = mapped_column(String(16))  # shown to the user to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # OpenAlgo-style calls with this key act on this account (None: the user's default one)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("broker_accounts.id", ondelete="CASCADE"))


class BrokerAccount(Base):
    __tablename__ = "broker_accounts"
    __table_args__ = (UniqueConstraint("broker", "name", name="uq_broker_accounts_broker_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    broker: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))  # for paper: the broker-side account id
    # the secret options (brokers/registry.py) as one JSON object, a Fernet token (crypto.py)
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # plain options only
    initial_cash: Mapped[Decimal | None] = mapped_column(Money)
    kill_switch: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)  # the user's default
    state: Mapped[str] = mapped_column(String(16), default="ready")  # registry.STATES
    state_reason: Mapped[str | None] = mapped_column(Text)
    session_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Strategy(Base):
    __tablename__ = "strategies"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_strategies_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("broker_accounts.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(64))
    webhook_token: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_secret: Mapped[str] = mapped_column(Text)  # Fernet token: store/webhook_secrets
    mode: Mapped[str] = mapped_column(String(8), default="both")  # long, short, both
    position_guards: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_amo: Mapped[bool] = mapped_column(Boolean, default=False)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Everything else of BRIEF §3.5 (sizing, limits, risk defaults, windows) as one document,
    # validated by the strategy schema; columns are added when a query needs them.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Alert(Base):
    """One received webhook alert; its legs are orders pointing back here."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_strategy_received", "strategy_id", "received_at"),)

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"))
    execution_type: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # secret removed
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_idempotency_key"),
        Index("ix_orders_user_created", "user_id", "created_at"),
        Index("ix_orders_user_status_created", "user_id", "status", "created_at"),
        Index("ix_orders_user_symbol_created", "user_id", "symbol", "created_at"),
        # the duplicate guard's look-up of identical recent orders (engine/guards.py)
        Index("ix_orders_user_symbol_price_created", "user_id", "symbol", "price",
              "created_at"),
        Index("ix_orders_user_strategy_created", "user_id", "strategy_id", "created_at"),
        Index("ix_orders_user_origin_created", "user_id", "origin", "created_at"),
        Index("ix_orders_user_reason_created", "user_id", "reason_code", "created_at"),
        # the order list's strategy filter, label side: the label's orders with no strategy
        # id, or of one other strategy, newest first (migration 0009, store/order_queries.py)
        Index("ix_orders_user_label_strategy_created", "user_id", "strategy_label",
              "strategy_id", "created_at"),
        Index("ix_orders_account_status", "account_id", "status"),
        Index("ix_orders_account_broker_order", "account_id", "broker_order_id"),
        Index("ix_orders_status_next_retry", "status", "next_retry_at"),
    )

    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("broker_accounts.id"))
    strategy_id: Mapped[int | None] = mapped_column(ForeignKey("strategies.id"))
    strategy_label: Mapped[str | None] = mapped_column(String(64))
    alert_id: Mapped[str | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    client_order_id: Mapped[str] = mapped_column(String(32), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    broker_order_id: Mapped[str | None] = mapped_column(String(64))
    exchange: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int] = mapped_column(Integer)
    filled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    average_price: Mapped[Decimal] = mapped_column(Money)
    order_type: Mapped[str] = mapped_column(String(8))
    product: Mapped[str] = mapped_column(String(8))
    price: Mapped[Decimal | None] = mapped_column(Money)
    trigger_price: Mapped[Decimal | None] = mapped_column(Money)
    variety: Mapped[str] = mapped_column(String(8))
    validity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20))
    prior_status: Mapped[str | None] = mapped_column(String(20))
    broker_status: Mapped[str | None] = mapped_column(String(64))
    reason_code: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_by: Mapped[str | None] = mapped_column(String(8))
    origin: Mapped[str] = mapped_column(String(16))
    execution_type: Mapped[str] = mapped_column(String(8))
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OrderEventRow(Base):
    """The immutable audit trail: one row per applied event, numbered per order."""

    __tablename__ = "order_events"
    __table_args__ = (
        UniqueConstraint("order_id", "sequence", name="uq_order_events_order_sequence"),
        Index("ix_order_events_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FillRow(Base):
    __tablename__ = "fills"
    __table_args__ = (
        UniqueConstraint("account_id", "broker_fill_id", name="uq_fills_account_fill"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[int] = mapped_column(ForeignKey("broker_accounts.id"))
    broker_fill_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Money)
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One scheduled job's run for one trading day; the unique key makes jobs run once."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "trading_day", name="uq_job_runs_job_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    trading_day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # running, done, failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CalendarOverrideRow(Base):
    """A local correction to the NSE library calendar for one IST date.

    ``kind`` is ``holiday`` (the day does not trade) or ``special_session`` (the day trades with
    ``open_time``-``close_time``, IST wall-clock times, e.g. Muhurat trading on a weekend).
    """

    __tablename__ = "calendar_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # holiday, special_session
    open_time: Mapped[time | None] = mapped_column(Time)  # IST, special sessions only
    close_time: Mapped[time | None] = mapped_column(Time)  # IST, special sessions only
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PositionEventRow(Base):
    """Quantity at the broker that our fills do not explain: bought or sold elsewhere."""

    __tablename__ = "position_events"
    __table_args__ = (
        Index("ix_position_events_account_symbol", "account_id", "exchange", "symbol"),
        Index("ix_position_events_user_detected", "user_id", "detected_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("broker_accounts.id"))
    exchange: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # manual_buy, manual_sell
    quantity: Mapped[int] = mapped_column(Integer)  # always positive
    expected: Mapped[int] = mapped_column(Integer)  # what our orders' fills explain
    actual: Mapped[int] = mapped_column(Integer)  # holdings + positions at the broker
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DailyStats(Base):
    """One user's order statistics for one trading day, written by the EOD job."""

    __tablename__ = "daily_stats"
    __table_args__ = (UniqueConstraint("user_id", "trading_day", name="uq_daily_stats_user_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    trading_day: Mapped[date] = mapped_column(Date)
    placed: Mapped[int] = mapped_column(Integer)  # orders created that day
    executed: Mapped[int] = mapped_column(Integer)  # filled (fully)
    rejected: Mapped[int] = mapped_column(Integer)
    denied: Mapped[int] = mapped_column(Integer)
    cancelled: Mapped[int] = mapped_column(Integer)
    expired: Mapped[int] = mapped_column(Integer)
    pending: Mapped[int] = mapped_column(Integer)  # still working at the end of the day
    retry_queue: Mapped[int] = mapped_column(Integer)  # failed or retry_pending
    success_rate: Mapped[Decimal] = mapped_column(Money)  # executed / sent to the broker, %
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- trades (issue 6): trades and per-strategy daily portfolio state ----------------------


class TradeRow(Base):
    """A managed trade (BRIEF §3.5); written by the trade recorder and the trade manager."""

    __tablename__ = "trades"
    __table_args__ = (
        Index("ix_trades_user_status", "user_id", "status"),
        Index("ix_trades_strategy_status", "strategy_id", "status"),
        Index("ix_trades_status", "status"),
        Index("ix_trades_user_closed", "user_id", "closed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("broker_accounts.id"))
    strategy_id: Mapped[int | None] = mapped_column(ForeignKey("strategies.id"))
    # the strategy / label the entry's orders are booked under (exits are booked there too,
    # so strategy positions stay right after a transfer)
    booked_strategy_id: Mapped[int | None] = mapped_column(Integer)
    booked_label: Mapped[str | None] = mapped_column(String(64))
    exchange: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))  # long, short
    product: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(Integer)  # filled entry quantity
    entry_order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), unique=True)
    entry_price: Mapped[Decimal] = mapped_column(Money)
    stop_loss: Mapped[Decimal | None] = mapped_column(Money)
    target: Mapped[Decimal | None] = mapped_column(Money)
    trailing_stop: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"kind","value"}
    best_price: Mapped[Decimal | None] = mapped_column(Money)
    trailing_level: Mapped[Decimal | None] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(8))  # active, exiting, closed
    exit_reason: Mapped[str | None] = mapped_column(String(32))
    exit_order_id: Mapped[str | None] = mapped_column(String(26))
    exited_quantity: Mapped[int] = mapped_column(Integer, default=0)
    exit_value: Mapped[Decimal] = mapped_column(Money)
    exit_price: Mapped[Decimal | None] = mapped_column(Money)
    realised_pnl: Mapped[Decimal] = mapped_column(Money)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # realised P&L before the first exit of day_base_date (IST): that day's part is the rest
    day_base_pnl: Mapped[Decimal | None] = mapped_column(Money)
    day_base_date: Mapped[date | None] = mapped_column(Date)


class TradeEventRow(Base):
    """A change made to a trade by a person (levels edited, protection loosened on request)."""

    __tablename__ = "trade_events"
    __table_args__ = (Index("ix_trade_events_trade", "trade_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trade_id: Mapped[int] = mapped_column(BigId, ForeignKey("trades.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # levels_changed
    source: Mapped[str] = mapped_column(String(16))  # api, web
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StrategyDay(Base):
    """A strategy's portfolio state for one trading day: peak P&L and the limit hit, if any
    (a hit blocks new entries for the rest of the day)."""

    __tablename__ = "strategy_days"
    __table_args__ = (
        UniqueConstraint("strategy_id", "trading_day", name="uq_strategy_days_strategy_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"))
    trading_day: Mapped[date] = mapped_column(Date)
    peak_pnl: Mapped[Decimal] = mapped_column(Money)
    limit_hit: Mapped[str | None] = mapped_column(String(32))  # an ExitReason value
    hit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- notifications (issue 7): outbox, channels, preferences -------------------------------


class NotificationChannel(Base):
    """One user's delivery channel: an apprise URL, stored only as a Fernet token."""

    __tablename__ = "notification_channels"
    __table_args__ = (
        UniqueConstraint("user_id", "name", name="uq_notification_channels_user_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    scheme: Mapped[str] = mapped_column(String(32))  # apprise schema: tgram, json, mailto…
    url_encrypted: Mapped[str] = mapped_column(Text)  # never the URL in clear
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # kind -> mode
    rate_count: Mapped[int | None] = mapped_column(Integer)  # None: the scheme's default
    rate_window_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationSettings(Base):
    """One user's notification preferences: modes per event type and quiet hours (IST)."""

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    events: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # kind -> mode
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxRow(Base):
    """One notification for one channel, written in the transaction of its event."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        UniqueConstraint("channel_id", "dedupe_key", name="uq_notification_outbox_dedupe"),
        Index("ix_notification_outbox_status_due", "status", "next_attempt_at"),
        Index("ix_notification_outbox_channel_status", "channel_id", "status", "id"),
        Index("ix_notification_outbox_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    order_id: Mapped[str | None] = mapped_column(String(26))
    dedupe_key: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12))  # pending, sent, suppressed, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)  # masked, never a URL
    digest_size: Mapped[int | None] = mapped_column(Integer)  # sent inside a digest of n
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- web dashboard (issue 8): browser sessions --------------------------------------------


class WebSession(Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_expires", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))  # synchronizer token for its forms
    client: Mapped[str | None] = mapped_column(String(64))  # address at sign-in
    user_agent: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Order-list index for the dashboard's and the native API's filters (benchmark `api`): the
# Failed/Denied tabs filtered by reason count from the index alone. (The strategy filter's
# label index is in OrderRow.__table_args__ since migration 0009.)
Index("ix_orders_user_status_reason_created", OrderRow.user_id, OrderRow.status,
      OrderRow.reason_code, OrderRow.created_at)
