"""Daily jobs: due times, once per trading day, crash take-over, races, failures."""

from __future__ import annotations

import asyncio
import os
import socket
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tradewarden.engine.calendar import IST, TradingCalendar
from tradewarden.engine.scheduler import (
    EOD_CLEANUP,
    MARKET_CLOSE,
    MARKET_OPEN,
    PREMARKET_RETRY,
    JobContext,
    JobHandler,
    Owner,
    RunStatus,
    Scheduler,
)
from tradewarden.store.calendar_overrides import CalendarOverride, CalendarOverrides
from tradewarden.store.db import Database
from tradewarden.store.tables import JobRun

TUESDAY = date(2026, 1, 27)
REPUBLIC_DAY = date(2026, 1, 26)
MUHURAT_SUNDAY = date(2026, 11, 8)
ALL_JOBS = (PREMARKET_RETRY, MARKET_OPEN, MARKET_CLOSE, EOD_CLEANUP)


def ist(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), IST).astimezone(UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Recorder:
    """Job handlers that count their calls."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.contexts: list[JobContext] = []

    def handler(self, delay: float = 0.0, error: Exception | None = None) -> JobHandler:
        async def run(context: JobContext) -> dict[str, Any]:
            self.calls[context.job] += 1
            self.contexts.append(context)
            if delay:
                await asyncio.sleep(delay)
            if error is not None:
                raise error
            return {"ok": context.job}
        return run


def make(db: Database, recorder: Recorder, now: datetime, *,
         calendar: TradingCalendar | None = None, owner: Owner | None = None,
         jobs: tuple[str, ...] = ALL_JOBS, **kwargs: Any) -> Scheduler:
    scheduler = Scheduler(db, calendar or TradingCalendar(), clock=Clock(now), owner=owner,
                          refresh_overrides_every=kwargs.pop("refresh", None), **kwargs)
    for name in jobs:
        scheduler.register(name, recorder.handler())
    return scheduler


def runs(db: Database) -> dict[str, JobRun]:
    with db.read() as session:
        return {row.job: row for row in session.scalars(select(JobRun))}


def process_owner(token: str) -> Owner:
    """This host and pid with another process-start token: a previous incarnation."""
    return Owner(socket.gethostname(), os.getpid(), token)


# -- due times (pure) ------------------------------------------------------------------------

@pytest.mark.parametrize(("hh", "mm", "expected"), [
    (8, 59, []),
    (9, 0, [PREMARKET_RETRY]),
    (9, 7, [PREMARKET_RETRY]),
    (9, 8, []),  # the pre-market window is missed, not caught up
    (9, 15, [MARKET_OPEN]),
    (15, 30, [MARKET_OPEN, MARKET_CLOSE]),
    (18, 0, [MARKET_OPEN, MARKET_CLOSE, EOD_CLEANUP]),
    (23, 59, [MARKET_OPEN, MARKET_CLOSE, EOD_CLEANUP]),
])
def test_due_jobs_on_a_regular_day(sqlite_db: Database, hh: int, mm: int,
                                   expected: list[str]) -> None:
    scheduler = make(sqlite_db, Recorder(), ist(TUESDAY, hh, mm))
    assert [job.name for job, _ in scheduler.due(ist(TUESDAY, hh, mm))] == expected


def test_nothing_is_due_on_holidays(sqlite_db: Database) -> None:
    calendar = TradingCalendar().with_overrides([CalendarOverride.holiday(TUESDAY)])
    scheduler = make(sqlite_db, Recorder(), ist(TUESDAY, 19), calendar=calendar)
    assert scheduler.due(ist(REPUBLIC_DAY, 19)) == []  # library holiday
    assert scheduler.due(ist(TUESDAY, 19)) == []  # override holiday


def test_special_session_moves_the_jobs(sqlite_db: Database) -> None:
    calendar = TradingCalendar().with_overrides(
        [CalendarOverride.special_session(MUHURAT_SUNDAY, time(18, 15), time(19, 15))])
    scheduler = make(sqlite_db, Recorder(), ist(MUHURAT_SUNDAY, 10), calendar=calendar)
    names = lambda hh, mm: [job.name for job, _ in scheduler.due(ist(MUHURAT_SUNDAY, hh, mm))]  # noqa: E731
    assert names(10, 0) == []
    assert names(18, 0) == [PREMARKET_RETRY]
    assert names(18, 15) == [MARKET_OPEN]
    assert names(19, 14) == [MARKET_OPEN]  # EOD at 18:00 waits for the session close
    assert names(19, 15) == [MARKET_OPEN, MARKET_CLOSE, EOD_CLEANUP]


def test_unregistered_jobs_are_not_due(sqlite_db: Database) -> None:
    scheduler = make(sqlite_db, Recorder(), ist(TUESDAY, 19), jobs=(MARKET_CLOSE,))
    assert [job.name for job, _ in scheduler.due(ist(TUESDAY, 19))] == [MARKET_CLOSE]
    with pytest.raises(KeyError, match="unknown job"):
        scheduler.register("square_off", Recorder().handler())


# -- running once per day --------------------------------------------------------------------

async def test_each_job_runs_once_per_trading_day_across_restarts(db: Database) -> None:
    recorder = Recorder()
    now = ist(TUESDAY, 19)
    first = make(db, recorder, now)
    outcomes = await first.run_due(now)
    assert [(o.job, o.status) for o in outcomes] == [
        (MARKET_OPEN, RunStatus.DONE), (MARKET_CLOSE, RunStatus.DONE),
        (EOD_CLEANUP, RunStatus.DONE)]
    assert await first.run_due(now + timedelta(minutes=5)) == []
    restarted = make(db, recorder, now, owner=process_owner("next-boot"))
    assert await restarted.run_due(now + timedelta(minutes=10)) == []
    assert recorder.calls == Counter({MARKET_OPEN: 1, MARKET_CLOSE: 1, EOD_CLEANUP: 1})

    rows = runs(db)
    assert {row.status for row in rows.values()} == {"done"}
    eod = rows[EOD_CLEANUP]
    assert eod.trading_day == TUESDAY
    assert eod.started_at == now and eod.finished_at == now
    assert eod.detail["result"] == {"ok": EOD_CLEANUP}
    assert eod.detail["attempt"] == 1 and "lease_expires_at" not in eod.detail

    # The next trading day runs them again.
    wednesday = ist(TUESDAY + timedelta(days=1), 19)
    assert len(await restarted.run_due(wednesday)) == 3
    assert recorder.calls[EOD_CLEANUP] == 2


async def test_interrupted_run_is_rerun_exactly_once_after_restart(db: Database) -> None:
    now = ist(TUESDAY, 15, 31)
    crashed_recorder = Recorder()
    crashed = make(db, crashed_recorder, now, owner=process_owner("boot-1"),
                   jobs=(MARKET_CLOSE,))
    # The "crash": the run is claimed, then the process dies before it finishes.
    claim = await db.run(crashed._claim, MARKET_CLOSE, TUESDAY, now)
    assert claim is not None
    assert runs(db)[MARKET_CLOSE].status == "running"

    recorder = Recorder()
    later = now + timedelta(seconds=5)  # well within the 60 s lease: detected by process token
    restarted = make(db, recorder, later, owner=process_owner("boot-2"), jobs=(MARKET_CLOSE,))
    outcomes = await restarted.run_due(later)
    assert [(o.job, o.status, o.attempt) for o in outcomes] == [
        (MARKET_CLOSE, RunStatus.DONE, 2)]
    again = make(db, recorder, later, owner=process_owner("boot-3"), jobs=(MARKET_CLOSE,))
    assert await again.run_due(later + timedelta(minutes=1)) == []
    assert await restarted.run_due(later + timedelta(minutes=1)) == []
    assert recorder.calls == Counter({MARKET_CLOSE: 1})
    assert crashed_recorder.calls == Counter()

    row = runs(db)[MARKET_CLOSE]
    assert row.status == "done" and row.started_at == later
    assert row.detail["attempt"] == 2
    assert row.detail["owner"]["process"] == "boot-2"
    [interrupted] = row.detail["interrupted"]
    assert interrupted["attempt"] == 1 and interrupted["owner"]["process"] == "boot-1"


async def test_run_of_another_host_is_taken_over_only_after_its_lease(db: Database) -> None:
    now = ist(TUESDAY, 10)
    elsewhere = make(db, Recorder(), now, jobs=(MARKET_OPEN,),
                     owner=Owner("other-host", 4242, "boot-x"))
    assert await db.run(elsewhere._claim, MARKET_OPEN, TUESDAY, now) is not None

    recorder = Recorder()
    here = make(db, recorder, now, jobs=(MARKET_OPEN,))
    assert await here.run_due(now + timedelta(seconds=30)) == []  # lease (60 s) still valid
    assert recorder.calls == Counter()
    outcomes = await here.run_due(now + timedelta(seconds=61))
    assert [(o.status, o.attempt) for o in outcomes] == [(RunStatus.DONE, 2)]
    assert recorder.calls == Counter({MARKET_OPEN: 1})


async def test_a_job_that_keeps_crashing_is_abandoned(db: Database) -> None:
    now = ist(TUESDAY, 10)
    first = make(db, Recorder(), now, owner=process_owner("boot-1"), jobs=(MARKET_OPEN,))
    await db.run(first._claim, MARKET_OPEN, TUESDAY, now)
    second = make(db, Recorder(), now, owner=process_owner("boot-2"), jobs=(MARKET_OPEN,))
    retaken = await db.run(second._claim, MARKET_OPEN, TUESDAY, now)  # re-run, crashes again
    assert retaken is not None and getattr(retaken, "attempt", None) == 2

    recorder = Recorder()
    third = make(db, recorder, now, owner=process_owner("boot-3"), jobs=(MARKET_OPEN,))
    outcomes = await third.run_due(now)
    assert [(o.status, o.attempt) for o in outcomes] == [(RunStatus.FAILED, 2)]
    assert recorder.calls == Counter()
    row = runs(db)[MARKET_OPEN]
    assert row.status == "failed" and row.finished_at == now
    assert row.detail["error"].startswith("abandoned: interrupted 2 time(s)")
    assert [i["owner"]["process"] for i in row.detail["interrupted"]] == ["boot-1", "boot-2"]
    assert await third.run_due(now + timedelta(hours=1)) == []


async def test_two_instances_racing_run_the_job_once(db: Database) -> None:
    now = ist(TUESDAY, 15, 31)
    other_db = Database(db.url, pool_size=4)  # a second "process": its own engine and pool
    try:
        recorder = Recorder()
        schedulers = []
        for database in (db, other_db, db, other_db):
            scheduler = make(database, recorder, now, jobs=())
            scheduler.register(MARKET_CLOSE, recorder.handler(delay=0.2))
            schedulers.append(scheduler)
        results = await asyncio.gather(*(s.run_due(now) for s in schedulers))
        assert sorted(len(r) for r in results) == [0, 0, 0, 1]
        assert recorder.calls == Counter({MARKET_CLOSE: 1})
        # Passes during and after the run do not run it again either.
        later = await asyncio.gather(*(s.run_due(now + timedelta(seconds=1)) for s in schedulers))
        assert all(r == [] for r in later)
        assert recorder.calls == Counter({MARKET_CLOSE: 1})
        assert runs(db)[MARKET_CLOSE].status == "done"
    finally:
        other_db.close()


async def test_failed_job_is_recorded_and_not_retried_that_day(db: Database) -> None:
    now = ist(TUESDAY, 18, 1)
    recorder = Recorder()
    scheduler = make(db, recorder, now, jobs=())
    scheduler.register(EOD_CLEANUP, recorder.handler(error=RuntimeError("archive disk full")))
    [outcome] = await scheduler.run_due(now)
    assert outcome.status is RunStatus.FAILED
    assert outcome.detail["error"] == "RuntimeError: archive disk full"
    row = runs(db)[EOD_CLEANUP]
    assert row.status == "failed" and row.finished_at == now
    assert row.detail["error"] == "RuntimeError: archive disk full"
    assert "Traceback" in row.detail["traceback"]

    assert await scheduler.run_due(now + timedelta(minutes=1)) == []
    restarted = make(db, recorder, now, owner=process_owner("next-boot"), jobs=())
    restarted.register(EOD_CLEANUP, recorder.handler())
    assert await restarted.run_due(now + timedelta(hours=1)) == []
    assert recorder.calls == Counter({EOD_CLEANUP: 1})


async def test_lease_is_renewed_while_a_long_job_runs(sqlite_db: Database) -> None:
    now = ist(TUESDAY, 10)
    clock = Clock(now)
    started, release = asyncio.Event(), asyncio.Event()
    calls = Counter[str]()

    async def slow(context: JobContext) -> None:
        calls[context.job] += 1
        started.set()
        await release.wait()

    lease = timedelta(seconds=0.15)
    runner = Scheduler(sqlite_db, TradingCalendar(), clock=clock, lease=lease,
                       refresh_overrides_every=None)
    runner.register(MARKET_OPEN, slow)
    task = asyncio.create_task(runner.run_due(now))
    await started.wait()
    clock.now = now + timedelta(seconds=10)  # far past the first lease
    await asyncio.sleep(0.3)  # several heartbeats (every 50 ms)
    other = Scheduler(sqlite_db, TradingCalendar(), clock=clock, lease=lease,
                      refresh_overrides_every=None)
    other.register(MARKET_OPEN, slow)
    assert await other.run_due(clock.now) == []
    release.set()
    [outcome] = await task
    assert outcome.status is RunStatus.DONE
    assert calls == Counter({MARKET_OPEN: 1})


# -- the loop --------------------------------------------------------------------------------

async def test_loop_runs_due_jobs_and_stops(sqlite_db: Database) -> None:
    recorder = Recorder()
    scheduler = make(sqlite_db, recorder, ist(TUESDAY, 15, 45), interval=0.01)
    scheduler.start()
    for _ in range(200):
        if recorder.calls[MARKET_CLOSE]:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # a few more passes
    await scheduler.stop()
    assert recorder.calls == Counter({MARKET_OPEN: 1, MARKET_CLOSE: 1})


async def test_stop_during_a_job_releases_it_for_the_next_start(sqlite_db: Database) -> None:
    now = ist(TUESDAY, 10)
    started = asyncio.Event()

    async def hangs(context: JobContext) -> None:
        started.set()
        await asyncio.Event().wait()

    first = Scheduler(sqlite_db, TradingCalendar(), clock=Clock(now), interval=0.01,
                      refresh_overrides_every=None)
    first.register(MARKET_OPEN, hangs)
    first.start()
    await started.wait()
    await first.stop(grace=0.05)
    row = runs(sqlite_db)[MARKET_OPEN]
    assert row.status == "running" and row.detail["released"] is True

    recorder = Recorder()
    # Same process, new instance, same instant: the released lease lets it re-run at once.
    second = make(sqlite_db, recorder, now, jobs=(MARKET_OPEN,))
    [outcome] = await second.run_due(now)
    assert (outcome.status, outcome.attempt) == (RunStatus.DONE, 2)


async def test_overrides_are_refreshed_from_the_database(db: Database) -> None:
    with db.transaction() as session:
        CalendarOverrides(session).put(CalendarOverride.holiday(TUESDAY, "closure"))
    recorder = Recorder()
    calendar = TradingCalendar()
    scheduler = make(db, recorder, ist(TUESDAY, 19), calendar=calendar,
                     refresh=timedelta(minutes=1))
    assert await scheduler.run_due(ist(TUESDAY, 19)) == []
    assert not calendar.is_trading_day(TUESDAY)  # the shared instance was updated in place
    assert recorder.calls == Counter()


FRIDAY = date(2026, 1, 23)  # the trading day before TUESDAY (Monday is Republic Day)


async def test_an_eod_missed_while_down_runs_once_at_the_next_start(db: Database) -> None:
    recorder = Recorder()
    friday = make(db, recorder, ist(FRIDAY, 16))
    assert [o.job for o in await friday.run_due()] == [MARKET_OPEN, MARKET_CLOSE]
    # down from 16:00 Friday (before the 18:00 EOD) to Tuesday morning
    tuesday = make(db, recorder, ist(TUESDAY, 9, 30), owner=process_owner("tuesday"))
    caught = await tuesday.catch_up()
    assert [(o.job, o.trading_day, o.status) for o in caught] == [
        (EOD_CLEANUP, FRIDAY, RunStatus.DONE)]
    assert recorder.contexts[-1].trading_day == FRIDAY
    assert await tuesday.catch_up() == []
    again = make(db, recorder, ist(TUESDAY, 9, 45), owner=process_owner("restart"))
    assert await again.catch_up() == []  # recorded: a second start does not run it again
    assert recorder.calls[EOD_CLEANUP] == 1
    # today's jobs are unaffected
    assert [o.job for o in await again.run_due()] == [MARKET_OPEN]


async def test_nothing_is_caught_up_for_a_day_the_service_never_saw_or_finished(
        db: Database) -> None:
    recorder = Recorder()
    fresh = make(db, recorder, ist(TUESDAY, 9, 30))
    assert await fresh.catch_up() == []  # a new installation: no run at all on Friday
    friday = make(db, recorder, ist(FRIDAY, 19), owner=process_owner("friday"))
    assert len(await friday.run_due()) == 3  # open, close and EOD all ran on Friday
    tuesday = make(db, recorder, ist(TUESDAY, 9, 30), owner=process_owner("tuesday"))
    assert await tuesday.catch_up() == []
    assert recorder.calls[EOD_CLEANUP] == 1


async def test_the_loop_catches_up_before_its_first_pass(sqlite_db: Database) -> None:
    recorder = Recorder()
    await make(sqlite_db, recorder, ist(FRIDAY, 16)).run_due()
    tuesday = make(sqlite_db, recorder, ist(TUESDAY, 9, 30), owner=process_owner("tuesday"),
                   interval=0.05)
    tuesday.start()
    for _ in range(100):
        if recorder.calls[EOD_CLEANUP] and recorder.calls[MARKET_OPEN] == 2:
            break
        await asyncio.sleep(0.02)
    await tuesday.stop()
    assert recorder.calls[EOD_CLEANUP] == 1
    assert [c.trading_day for c in recorder.contexts if c.job == EOD_CLEANUP] == [FRIDAY]
