"""Named daily jobs that run at most once per trading day, recorded in ``job_runs``.

Jobs (times in IST, anchored on the day's session so special sessions move them too):

=================  ==========================================  ==============================
job                due from                                    latest start
=================  ==========================================  ==============================
premarket_retry    open - 15 min (09:00)                       open - 7 min (09:08)
market_open        open (09:15)                                end of the IST day
market_close       close (15:30)                               end of the IST day
eod_cleanup        max(18:00 or configured, close)             end of the IST day
=================  ==========================================  ==============================

A job is due on an IST date that is a trading day (overrides included) between its two times.
A job first seen after its latest start is not run that day (only the pre-market window can be
missed in practice; the others catch up, in order, when the engine starts late). A service down
from before the EOD time to the next day would miss the EOD cleanup altogether: catch-up jobs
(EOD) missed on the last trading day run once at the next start (``Scheduler.catch_up``), for
that day, if the service saw that day at all.

**Claiming** is one atomic statement: ``INSERT … ON CONFLICT DO NOTHING`` of the unique
``(job, trading_day)`` row with ``status=running``. Whoever inserts it runs the job; everyone
else reads the row. The row's ``detail`` holds the owner (host, pid, a random token per process
start, and the scheduler instance), the attempt number and a lease expiry renewed every
``lease / 3`` while the job runs.

**Crash policy.** A ``running`` row whose owner is not us is *stale* (its run was interrupted)
when either

* it was written on this host by a process that is gone: same pid as ours but another process
  token (the previous incarnation, e.g. pid 1 in a container), or a pid that no longer exists, or
* its lease has expired (any host; this is how a crash elsewhere, or a reused pid, is detected).

A stale run is taken over (``started_at`` reset, attempt + 1) under a row lock / compare-and-swap
on ``started_at`` so two instances cannot both take it. A job gets ``max_attempts`` (default 2:
the interrupted run plus one re-run); a run found stale after that is marked ``failed``
("abandoned") instead of being re-run, so a job that kills the process cannot crash-loop.
A graceful stop that cancels a running job releases its lease (expires it) so the next start
re-runs it at once.

**Failure policy.** A job that raises is recorded ``failed`` with the error in ``detail`` and is
*not* retried that trading day (the unique row blocks it); it runs again on the next trading
day. To force a re-run the same day, delete its ``job_runs`` row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tradewarden.clock import IST, utcnow
from tradewarden.engine.calendar import TradingCalendar
from tradewarden.store.calendar_overrides import load_overrides
from tradewarden.store.db import Database
from tradewarden.store.tables import JobRun

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

PREMARKET_RETRY = "premarket_retry"
MARKET_OPEN = "market_open"
MARKET_CLOSE = "market_close"
EOD_CLEANUP = "eod_cleanup"
DEFAULT_EOD_TIME = time(18, 0)
#: how far back the last trading day is looked for when catching up (long holiday stretches)
CATCH_UP_LOOKBACK_DAYS = 10
MAX_ERROR_CHARS = 4000


class RunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Anchor(StrEnum):
    OPEN = "open"  # the session open of the day
    CLOSE = "close"  # the session close of the day
    WALL = "wall"  # an IST wall-clock time, but never before the session close


@dataclass(frozen=True, slots=True)
class DailyJob:
    """When a named job is due on a trading day.

    ``anchor`` + ``offset`` give the earliest start (for ``WALL``: ``wall_time`` IST, not before
    the close); ``window`` bounds the latest start (``None``: until the end of the IST day).
    """

    name: str
    anchor: Anchor
    offset: timedelta = timedelta(0)
    wall_time: time | None = None
    window: timedelta | None = None
    #: missed on the last trading day (down through its whole window): run at the next start
    catch_up: bool = False

    def span(self, day: date, hours: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
        """(earliest, latest) start of this job on ``day`` (a trading day with ``hours``), UTC."""
        opens, closes = hours
        if self.anchor is Anchor.OPEN:
            start = opens + self.offset
        elif self.anchor is Anchor.CLOSE:
            start = closes + self.offset
        else:
            wall = datetime.combine(day, self.wall_time or DEFAULT_EOD_TIME, IST).astimezone(UTC)
            start = max(wall, closes) + self.offset
        if self.window is not None:
            return start, start + self.window
        end_of_day = datetime.combine(day + timedelta(days=1), time(0), IST).astimezone(UTC)
        return start, end_of_day


def default_jobs(eod_time: time = DEFAULT_EOD_TIME) -> tuple[DailyJob, ...]:
    """The four daily jobs of BRIEF §6 (square-off is per strategy and lives elsewhere)."""
    return (
        DailyJob(PREMARKET_RETRY, Anchor.OPEN, offset=timedelta(minutes=-15),
                 window=timedelta(minutes=8)),
        DailyJob(MARKET_OPEN, Anchor.OPEN),
        DailyJob(MARKET_CLOSE, Anchor.CLOSE),
        DailyJob(EOD_CLEANUP, Anchor.WALL, wall_time=eod_time, catch_up=True),
    )


_PROCESS_TOKEN = uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Owner:
    """Who holds a run: host and pid, a token unique per process start, and the instance."""

    host: str
    pid: int
    process: str
    instance: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @classmethod
    def current(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), _PROCESS_TOKEN)

    def as_detail(self) -> dict[str, Any]:
        return {"host": self.host, "pid": self.pid, "process": self.process,
                "instance": self.instance}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job handler is told about its run."""

    job: str
    trading_day: date
    now: datetime
    attempt: int
    hours: tuple[datetime, datetime]  # the day's session (open, close), UTC


JobHandler = Callable[[JobContext], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class JobOutcome:
    job: str
    trading_day: date
    status: RunStatus
    attempt: int
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Claim:
    run_id: int
    started_at: datetime
    attempt: int
    detail: dict[str, Any]


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class Scheduler:
    """Runs registered daily jobs when due, at most once per job and trading day."""

    def __init__(self, db: Database, calendar: TradingCalendar, *,
                 clock: Clock = utcnow,
                 jobs: Iterable[DailyJob] | None = None,
                 owner: Owner | None = None,
                 lease: timedelta = timedelta(seconds=60),
                 max_attempts: int = 2,
                 interval: float = 5.0,
                 refresh_overrides_every: timedelta | None = timedelta(minutes=1)) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._db = db
        self.calendar = calendar
        self._clock = clock
        self._jobs = {job.name: job for job in (jobs if jobs is not None else default_jobs())}
        self._handlers: dict[str, JobHandler] = {}
        self.owner = owner or Owner.current()
        self._lease = lease
        self._max_attempts = max_attempts
        self._interval = interval
        self._refresh_every = refresh_overrides_every
        self._refreshed_at: datetime | None = None
        self._settled: set[tuple[str, date]] = set()  # done/failed runs seen: never claimed again
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    # -- registration ------------------------------------------------------------------------

    @property
    def jobs(self) -> list[DailyJob]:
        return list(self._jobs.values())

    def register(self, name: str, handler: JobHandler) -> None:
        """Run ``handler`` for job ``name``; a job without a handler is never claimed."""
        if name not in self._jobs:
            raise KeyError(f"unknown job {name!r}; known: {', '.join(self._jobs)}")
        self._handlers[name] = handler

    # -- what is due -------------------------------------------------------------------------

    def due(self, now: datetime) -> list[tuple[DailyJob, date]]:
        """Registered jobs due at ``now`` (IST trading day), earliest first; pure."""
        day = now.astimezone(IST).date()
        hours = self.calendar.hours(day)
        if hours is None:
            return []
        found: list[tuple[datetime, DailyJob]] = []
        for job in self._jobs.values():
            if job.name not in self._handlers or (job.name, day) in self._settled:
                continue
            start, latest = job.span(day, hours)
            if start <= now < latest:
                found.append((start, job))
        found.sort(key=lambda pair: pair[0])
        return [(job, day) for _, job in found]

    # -- one pass ----------------------------------------------------------------------------

    async def run_due(self, now: datetime | None = None) -> list[JobOutcome]:
        """Claim and run every due job once, in order; return what this pass ran or abandoned."""
        now = now or self._clock()
        await self._maybe_refresh_overrides(now)
        outcomes: list[JobOutcome] = []
        for job, day in self.due(now):
            outcome = await self._claim_and_run(job, day, now)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    async def catch_up(self, now: datetime | None = None) -> list[JobOutcome]:
        """Run the catch-up jobs (EOD) that the last trading day before today missed.

        Only a day the service saw counts (some job has a row for it): a new installation, or
        one that was down all that day, does not run yesterday's end of day. Older days are not
        looked at.
        """
        now = now or self._clock()
        day = self._previous_trading_day(now.astimezone(IST).date())
        jobs = [job for job in self._jobs.values()
                if job.catch_up and job.name in self._handlers
                and (job.name, day) not in self._settled] if day is not None else []
        if day is None or not jobs:
            return []
        missed = await self._db.run(self._missed, [job.name for job in jobs], day)
        outcomes: list[JobOutcome] = []
        for job in jobs:
            if job.name in missed:
                log.warning("job %s for %s did not run (the service was down); running it now",
                            job.name, day)
                outcome = await self._claim_and_run(job, day, now)
                if outcome is not None:
                    outcomes.append(outcome)
        return outcomes

    def _previous_trading_day(self, today: date) -> date | None:
        for back in range(1, CATCH_UP_LOOKBACK_DAYS + 1):
            day = today - timedelta(days=back)
            if self.calendar.hours(day) is not None:
                return day
        return None

    def _missed(self, names: list[str], day: date) -> set[str]:
        """Of ``names``, those without a run on ``day`` — if any job has a run on that day."""
        with self._db.read() as session:
            ran = set(session.scalars(select(JobRun.job).where(JobRun.trading_day == day)))
        return set(names) - ran if ran else set()

    async def _claim_and_run(self, job: DailyJob, day: date,
                             now: datetime) -> JobOutcome | None:
        # A long job earlier in this pass must not leave later claims with a stale lease.
        claim_at = max(now, self._clock())
        claimed = await self._db.run(self._claim, job.name, day, claim_at)
        if claimed is None or isinstance(claimed, JobOutcome):
            return claimed
        return await self._execute(job, day, claim_at, claimed)

    async def _maybe_refresh_overrides(self, now: datetime) -> None:
        if self._refresh_every is None:
            return
        if self._refreshed_at is not None and now - self._refreshed_at < self._refresh_every:
            return
        try:
            overrides = await self._db.run(load_overrides, self._db)
        except Exception:
            log.exception("loading calendar overrides failed; keeping the previous ones")
            return
        self.calendar.set_overrides(overrides)
        self._refreshed_at = now

    async def _execute(self, job: DailyJob, day: date, now: datetime,
                       claim: _Claim) -> JobOutcome:
        handler = self._handlers[job.name]
        hours = self.calendar.hours(day)
        assert hours is not None
        context = JobContext(job.name, day, now, claim.attempt, hours)
        log.info("job %s for %s started (attempt %d)", job.name, day, claim.attempt)
        heartbeat = asyncio.create_task(self._heartbeat(claim))
        try:
            result = await handler(context)
        except asyncio.CancelledError:
            heartbeat.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self._db.run(self._release, claim))
            raise
        except Exception as exc:
            await _cancel(heartbeat)
            error = f"{type(exc).__name__}: {exc}"
            log.exception("job %s for %s failed", job.name, day)
            detail = {"error": error,
                      "traceback": traceback.format_exc()[-MAX_ERROR_CHARS:]}
            return await self._finish(job.name, day, claim, RunStatus.FAILED, detail)
        await _cancel(heartbeat)
        log.info("job %s for %s done", job.name, day)
        return await self._finish(job.name, day, claim, RunStatus.DONE, {"result": result or {}})

    async def _finish(self, name: str, day: date, claim: _Claim, status: RunStatus,
                      extra: dict[str, Any]) -> JobOutcome:
        detail = {**claim.detail, **extra}
        detail.pop("lease_expires_at", None)
        finished = await self._db.run(self._write_finish, claim, status, detail, self._clock())
        if not finished:
            log.warning("job %s for %s: run was taken over by another instance; result of "
                        "this attempt not recorded", name, day)
        self._settled.add((name, day))
        return JobOutcome(name, day, status, claim.attempt, detail)

    async def _heartbeat(self, claim: _Claim) -> None:
        period = max(self._lease.total_seconds() / 3, 0.05)
        while True:
            await asyncio.sleep(period)
            try:
                alive = await self._db.run(self._renew, claim, self._clock())
            except Exception:
                log.exception("renewing the lease of job run %d failed", claim.run_id)
                continue
            if not alive:
                log.warning("job run %d lost its lease", claim.run_id)
                return

    # -- blocking DB work (on the DB thread pool) --------------------------------------------

    def _new_detail(self, now: datetime, attempt: int,
                    previous: dict[str, Any] | None = None) -> dict[str, Any]:
        detail: dict[str, Any] = dict(previous or {})
        detail.update(owner=self.owner.as_detail(), attempt=attempt,
                      lease_expires_at=_iso(now + self._lease))
        return detail

    def _claim(self, name: str, day: date, now: datetime) -> _Claim | JobOutcome | None:
        """Atomically claim ``(name, day)``: a new row, or a takeover of a stale ``running`` one.

        Returns the claim, an outcome when a stale run was abandoned, or ``None`` when the run
        belongs to someone else (running) or is settled (done/failed).
        """
        detail = self._new_detail(now, 1)
        with self._db.transaction() as session:
            values = {"job": name, "trading_day": day, "status": RunStatus.RUNNING.value,
                      "started_at": now, "finished_at": None, "detail": detail}
            insert = (postgresql.insert(JobRun) if self._db.dialect == "postgresql"
                      else sqlite.insert(JobRun))
            statement = insert.values(**values).on_conflict_do_nothing(
                index_elements=["job", "trading_day"]).returning(JobRun.id)
            run_id = session.execute(statement).scalar_one_or_none()
            if run_id is not None:
                return _Claim(run_id, now, 1, detail)
            return self._take_over(session, name, day, now)

    def _take_over(self, session: Session, name: str, day: date,
                   now: datetime) -> _Claim | JobOutcome | None:
        query = select(JobRun).where(JobRun.job == name, JobRun.trading_day == day)
        if self._db.dialect == "postgresql":
            query = query.with_for_update()
        row = session.scalars(query).one()
        if row.status != RunStatus.RUNNING.value:
            self._settled.add((name, day))
            return None
        previous = dict(row.detail or {})
        if not self._is_stale(previous, now):
            return None
        attempt = int(previous.get("attempt", 1))
        interrupted = [*previous.get("interrupted", []),
                       {"attempt": attempt, "started_at": _iso(row.started_at),
                        "owner": previous.get("owner")}]
        if attempt >= self._max_attempts:
            detail = {**previous, "interrupted": interrupted,
                      "error": f"abandoned: interrupted {attempt} time(s), "
                               f"max_attempts={self._max_attempts}"}
            detail.pop("lease_expires_at", None)
            row.status, row.finished_at, row.detail = RunStatus.FAILED.value, now, detail
            self._settled.add((name, day))
            log.error("job %s for %s abandoned after %d interrupted attempt(s)",
                      name, day, attempt)
            return JobOutcome(name, day, RunStatus.FAILED, attempt, detail)
        detail = self._new_detail(now, attempt + 1, {**previous, "interrupted": interrupted})
        result = session.execute(
            update(JobRun)
            .where(JobRun.id == row.id, JobRun.status == RunStatus.RUNNING.value,
                   JobRun.started_at == row.started_at)
            .values(started_at=now, finished_at=None, detail=detail))
        if not getattr(result, "rowcount", 0):
            return None
        log.warning("job %s for %s: taking over interrupted attempt %d (owner %s)",
                    name, day, attempt, previous.get("owner"))
        return _Claim(row.id, now, attempt + 1, detail)

    def _is_stale(self, detail: dict[str, Any], now: datetime) -> bool:
        """Whether a ``running`` row's run was interrupted (see the module docstring)."""
        owner = detail.get("owner") or {}
        if owner.get("process") != self.owner.process and owner.get("host") == self.owner.host:
            pid = owner.get("pid")
            if pid == self.owner.pid or (isinstance(pid, int) and not _pid_alive(pid)):
                return True
        expires = detail.get("lease_expires_at")
        if not isinstance(expires, str):
            return True
        try:
            return datetime.fromisoformat(expires) <= now
        except ValueError:
            return True

    def _owned(self, session: Session, claim: _Claim) -> JobRun | None:
        """The claimed row, locked, if this claim still holds it (compare-and-swap key)."""
        query = select(JobRun).where(
            JobRun.id == claim.run_id, JobRun.status == RunStatus.RUNNING.value,
            JobRun.started_at == claim.started_at)
        if self._db.dialect == "postgresql":
            query = query.with_for_update()
        return session.scalars(query).first()

    def _renew(self, claim: _Claim, now: datetime) -> bool:
        with self._db.transaction() as session:
            row = self._owned(session, claim)
            if row is None:
                return False
            row.detail = {**(row.detail or {}), "lease_expires_at": _iso(now + self._lease)}
            return True

    def _release(self, claim: _Claim) -> None:
        with self._db.transaction() as session:
            row = self._owned(session, claim)
            if row is not None:
                row.detail = {**(row.detail or {}), "lease_expires_at": _iso(claim.started_at),
                              "released": True}

    def _write_finish(self, claim: _Claim, status: RunStatus, detail: dict[str, Any],
                      now: datetime) -> bool:
        with self._db.transaction() as session:
            row = self._owned(session, claim)
            if row is None:
                return False
            row.status, row.finished_at, row.detail = status.value, now, detail
            return True

    # -- loop --------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Start the loop: one :meth:`run_due` pass every ``interval`` seconds."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self._loop(), name="scheduler")
        return self._task

    async def stop(self, grace: float = 10.0) -> None:
        """Stop the loop; a job still running after ``grace`` seconds is cancelled."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=grace)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        try:
            await self.catch_up(self._clock())
        except Exception:
            log.exception("catching up missed jobs failed")
        while not self._stopping.is_set():
            try:
                await self.run_due(self._clock())
            except Exception:
                log.exception("scheduler pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
