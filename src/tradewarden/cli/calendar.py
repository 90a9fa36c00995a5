"""``tradewarden calendar add-holiday | add-session | list | remove``: the override table.

Dates are IST calendar dates (``YYYY-MM-DD``); session times are IST wall-clock ``HH:MM``.
A running engine picks changes up on its next override refresh (about a minute).
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, time
from typing import Any

from tradewarden.cli import CliError
from tradewarden.cli.common import add_database_options, open_database, settings_from
from tradewarden.store.calendar_overrides import (
    CalendarOverride,
    CalendarOverrides,
    OverrideKind,
)


def register(subparsers: Any) -> None:
    calendar = subparsers.add_parser("calendar", help="market calendar overrides")
    actions = calendar.add_subparsers(dest="calendar_command", metavar="ACTION", required=True)

    holiday = actions.add_parser("add-holiday", help="mark a date as a market holiday")
    holiday.add_argument("date", help="IST date, YYYY-MM-DD")
    holiday.add_argument("--note", default="", help="why (shown by list)")
    add_database_options(holiday)
    holiday.set_defaults(handler=_add_holiday)

    session = actions.add_parser("add-session",
                                 help="add a special trading session (e.g. Muhurat trading)")
    session.add_argument("date", help="IST date, YYYY-MM-DD")
    session.add_argument("--open", dest="open_time", required=True, help="IST open, HH:MM")
    session.add_argument("--close", dest="close_time", required=True, help="IST close, HH:MM")
    session.add_argument("--note", default="", help="why (shown by list)")
    add_database_options(session)
    session.set_defaults(handler=_add_session)

    listing = actions.add_parser("list", help="list overrides")
    listing.add_argument("--from", dest="start", default=None, help="first date, YYYY-MM-DD")
    listing.add_argument("--to", dest="end", default=None, help="last date, YYYY-MM-DD")
    add_database_options(listing)
    listing.set_defaults(handler=_list)

    remove = actions.add_parser("remove", help="remove the override of a date")
    remove.add_argument("date", help="IST date, YYYY-MM-DD")
    add_database_options(remove)
    remove.set_defaults(handler=_remove)


def parse_date(value: str, what: str = "date") -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise CliError(f"invalid {what} {value!r}: expected YYYY-MM-DD") from None


def parse_time(value: str, what: str) -> time:
    try:
        parsed = datetime.strptime(value.strip(), "%H:%M").replace(tzinfo=UTC)
    except ValueError:
        raise CliError(f"invalid {what} {value!r}: expected HH:MM (24-hour, IST)") from None
    return parsed.time()


def _describe(override: CalendarOverride) -> str:
    if override.kind is OverrideKind.HOLIDAY:
        return f"holiday on {override.day}"
    assert override.open_time is not None and override.close_time is not None
    return (f"special session on {override.day} "
            f"{override.open_time:%H:%M}-{override.close_time:%H:%M} IST")


def _put(args: argparse.Namespace, override: CalendarOverride) -> int:
    with open_database(settings_from(args)) as db, db.transaction() as session:
        previous = CalendarOverrides(session).put(override)
    action = f"replaced {_describe(previous)} with" if previous is not None else "added"
    print(f"{action} {_describe(override)}")
    return 0


def _add_holiday(args: argparse.Namespace) -> int:
    return _put(args, CalendarOverride.holiday(parse_date(args.date), note=args.note))


def _add_session(args: argparse.Namespace) -> int:
    day = parse_date(args.date)
    opens = parse_time(args.open_time, "--open")
    closes = parse_time(args.close_time, "--close")
    try:
        override = CalendarOverride.special_session(day, opens, closes, note=args.note)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    return _put(args, override)


def _list(args: argparse.Namespace) -> int:
    start = parse_date(args.start, "--from") if args.start else None
    end = parse_date(args.end, "--to") if args.end else None
    if start is not None and end is not None and start > end:
        raise CliError("--from must not be after --to")
    with open_database(settings_from(args)) as db, db.read() as session:
        overrides = CalendarOverrides(session).in_range(start, end)
    if not overrides:
        print("no calendar overrides")
        return 0
    print(f"{'DATE':<10}  {'WEEKDAY':<9}  {'KIND':<15}  {'IST HOURS':<11}  NOTE")
    for override in overrides:
        hours = (f"{override.open_time:%H:%M}-{override.close_time:%H:%M}"
                 if override.open_time and override.close_time else "-")
        weekday = f"{override.day:%A}"
        line = (f"{override.day.isoformat():<10}  {weekday:<9}  {override.kind.value:<15}  "
                f"{hours:<11}  {override.note}")
        print(line.rstrip())
    return 0


def _remove(args: argparse.Namespace) -> int:
    day = parse_date(args.date)
    with open_database(settings_from(args)) as db, db.transaction() as session:
        removed = CalendarOverrides(session).remove(day)
    if not removed:
        raise CliError(f"no calendar override on {day}")
    print(f"removed the override on {day}")
    return 0
