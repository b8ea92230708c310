"""Fixtures for the emulator tests: the patched emulator, moto as shipped, fast ECS tasks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from moto.moto_api import state_manager

from sandbox.emulator import Emulator, active, start_in_process

REGION = "us-east-1"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """The patched emulator, in process; a quick `.sync` poll keeps each execution ~0.1 s."""
    emulator = start_in_process(REGION, sync_poll_seconds=0.02)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def unpatched() -> Iterator[None]:
    """moto exactly as shipped (no workaround installed), with Step Functions executing."""
    assert active() is None, "an emulator leaked from another test: its patches are still on"
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def immediate_ecs_tasks() -> Iterator[None]:
    """moto's own task lifecycle, collapsed: a task is STOPPED at its first describe."""
    state_manager.set_transition("ecs::task", {"progression": "immediate"})
    try:
        yield
    finally:
        state_manager.unset_transition("ecs::task")
