"""Write parsed legacy rows as orders, through the ledger, in batches, idempotently.

Each batch is one transaction. Before a row is written its idempotency keys
(``legacy:<section>:<legacy id>``, unique per user) and broker order ids (per account) are
looked up: a row whose orders all exist already — from an earlier run, an earlier row of this
run, or the other legacy file describing the same broker order — is skipped as a duplicate.
Every event is stamped with the legacy file's own time, so the order list and its date filters
show when things happened, not when they were imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewarden.domain.lifecycle import InvalidEvent
from tradewarden.engine.ledger import Ledger, utcnow
from tradewarden.legacy import plan as planning
from tradewarden.legacy.records import LegacyOrder, LegacyRow, ParsedSection
from tradewarden.legacy.report import ImportReport, RowOutcome, SectionReport
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, Users
from tradewarden.store.tables import OrderRow

DEFAULT_BATCH_SIZE = 200

#: ``progress(label, done, total)`` after every batch.
Progress = Callable[[str, int, int], None]


class ImportRefused(Exception):
    """The import cannot start (unknown user, no paper account); nothing was written."""


@dataclass(frozen=True, slots=True)
class Target:
    user_id: int
    account_id: int
    account_name: str


class _LegacyClock:
    """The ledger's clock during the import: the legacy time of the event being written."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


@dataclass(slots=True)
class _Seen:
    """Keys and broker order ids written in this run, with the row that wrote them."""

    keys: dict[str, str] = field(default_factory=dict)
    broker_ids: dict[str, str] = field(default_factory=dict)


class LegacyImporter:
    def __init__(self, db: Database, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 progress: Progress | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.db = db
        self.batch_size = batch_size
        self.progress = progress
        self.imported_at = clock()
        self._clock = _LegacyClock(self.imported_at)
        self.ledger = Ledger(db, clock=self._clock)

    def target(self, username: str) -> Target:
        """The user's first paper account (``ImportRefused`` when there is none)."""
        with self.db.read() as session:
            user = Users(session).get_by_name(username)
            if user is None:
                raise ImportRefused(f"no user named {username!r}")
            paper = [a for a in Accounts(session).for_user(user.id) if a.broker == "paper"]
            if not paper:
                raise ImportRefused(
                    f"user {username!r} has no paper account; add one with "
                    f"`tradewarden accounts add --user {username} --broker paper --name NAME`")
            return Target(user.id, paper[0].id, paper[0].name)

    def run(self, username: str, sections: Sequence[ParsedSection]) -> ImportReport:
        """Import every section; the report accounts for every input row."""
        target = self.target(username)
        report = ImportReport(user=username, account=f"{target.account_name} "
                                                     f"(id {target.account_id})")
        seen = _Seen()
        for section in sections:
            result = SectionReport(label=section.label, rows=section.total)
            result.invalid.extend(RowOutcome(i.ref, i.reason) for i in section.invalid)
            done = len(section.invalid)  # progress counts every input row
            for batch in _batches(section.rows, self.batch_size):
                with self.db.transaction() as session:
                    self._import_batch(session, batch, section, target, result, seen)
                done += len(batch)
                if self.progress is not None:
                    self.progress(section.label, done, section.total)
            result.invalid.sort(key=lambda o: o.ref.number)
            result.skipped.sort(key=lambda o: o.ref.number)
            report.sections.append(result)
        return report

    def _import_batch(self, session: Session, batch: list[LegacyRow], section: ParsedSection,
                      target: Target, result: SectionReport, seen: _Seen) -> None:
        records = [o for row in batch for o in row.orders]
        keys: set[str] = {k for k in session.scalars(select(OrderRow.idempotency_key).where(
            OrderRow.user_id == target.user_id,
            OrderRow.idempotency_key.in_([o.key for o in records]))) if k}
        broker_ids: set[str] = {b for b in session.scalars(select(OrderRow.broker_order_id).where(
            OrderRow.account_id == target.account_id,
            OrderRow.broker_order_id.in_([o.broker_order_id for o in records
                                          if o.broker_order_id]))) if b}
        for row in batch:
            fresh: list[LegacyOrder] = []
            reasons: list[str] = []
            for record in row.orders:
                why = _duplicate(record, keys, broker_ids, seen)
                if why is None:
                    fresh.append(record)
                else:
                    reasons.append(why)
            if not fresh:
                result.skipped.append(RowOutcome(row.ref, "; ".join(reasons)))
                continue
            try:
                planned = planning.plan(
                    LegacyRow(row.ref, tuple(fresh), row.raw), user_id=target.user_id,
                    account_id=target.account_id, file=section.file,
                    imported_at=self.imported_at)
            except InvalidEvent as exc:
                result.invalid.append(RowOutcome(row.ref, f"cannot be expressed as an order "
                                                          f"history: {exc}"))
                continue
            for item in planned:
                self._write(session, item, row)
                seen.keys[item.record.key] = str(row.ref)
                if item.record.broker_order_id:
                    seen.broker_ids[item.record.broker_order_id] = str(row.ref)
            result.imported += 1
            result.orders_created += len(planned)

    def _write(self, session: Session, item: planning.PlannedOrder, row: LegacyRow) -> None:
        """``OrderCreated`` then each step, through the ledger, at the legacy times."""
        self._clock.at = item.record.placed_at
        applied = self.ledger.create_in_session(
            session, item.order, source=planning.SOURCE,
            detail={"import": "legacy", "legacy_row": str(row.ref),
                    "imported_at": self.imported_at.isoformat()})
        for step in item.steps:
            self._clock.at = step.at
            applied = self.ledger.apply_in_session(session, item.order.id, step.event,
                                                   known=applied.order)


def _duplicate(record: LegacyOrder, keys: set[str], broker_ids: set[str],
               seen: _Seen) -> str | None:
    """Why ``record`` is already recorded, or None when it is new."""
    if record.key in seen.keys:
        return f"same legacy id as {seen.keys[record.key]}"
    if record.key in keys:
        return f"already imported ({record.key})"
    broker_id = record.broker_order_id
    if broker_id and broker_id in seen.broker_ids:
        return f"broker order {broker_id} already imported from {seen.broker_ids[broker_id]}"
    if broker_id and broker_id in broker_ids:
        return f"broker order {broker_id} is already recorded for this account"
    return None


def _batches(rows: list[LegacyRow], size: int) -> Iterator[list[LegacyRow]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]
