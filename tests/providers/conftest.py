"""Fixtures of the hosted-adapter tests: one emulator per test, on a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hosted_helpers import JOB_SECONDS

pytest.importorskip("starlette")


@pytest.fixture
def emulator() -> Iterator[Any]:
    from tuneport.emulator import ManualClock, running

    with running(clock=ManualClock(), job_seconds=JOB_SECONDS, file_seconds=1.0,
                 deploy_seconds=5.0) as emu:
        yield emu
