"""One running stack (standalone paper broker + ``tradewarden run``) per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.crash.harness import Stack
from tests.trades.harness import FAST_ENV, Trading


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory,
          request: pytest.FixtureRequest) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2]),
                  env=FAST_ENV)
    stack.start_broker()
    stack.start_service()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def trading(stack: Stack) -> Trading:
    return Trading(stack)
