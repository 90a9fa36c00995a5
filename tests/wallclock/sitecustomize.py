"""Moves this process's wall clock like the test run's (``TRADEWARDEN_TEST_WALL_CLOCK``).

The suite's conftest puts this folder on ``PYTHONPATH`` when the variable is set, so every
process a test starts (the service, the paper broker, CLI commands) sees the same moved clock
as the tests: the offset from the real clock is shared, and the clock keeps ticking.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

OFFSET_VARIABLE = "TRADEWARDEN_TEST_WALL_CLOCK_OFFSET_S"


def start() -> None:
    offset = os.environ.get(OFFSET_VARIABLE)
    if not offset:
        return
    import time_machine

    destination = datetime.now(UTC) + timedelta(seconds=float(offset))
    time_machine.travel(destination, tick=True).start()


start()
