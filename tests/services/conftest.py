"""Fixtures for the Order/Customer service tests (moto in-process, self-sufficient env)."""

from collections.abc import Iterator

import pytest
from moto import mock_aws

from .iam_calls import CallRecorder
from .saga_world import World, fake_aws_env


@pytest.fixture
def world() -> Iterator[World]:
    """Fresh, empty tables and buses of both services."""
    with fake_aws_env(), mock_aws():
        yield World()


@pytest.fixture(scope="module")
def module_world() -> Iterator[World]:
    """One set of tables and buses shared by a module whose tests must not change anything."""
    with fake_aws_env(), mock_aws():
        yield World()


@pytest.fixture(autouse=True)
def task_role_calls() -> Iterator[CallRecorder]:
    """Every AWS call a service makes in any test must be one its task role grants."""
    with CallRecorder() as recorder:
        yield recorder
    denied = recorder.denied()
    assert not denied, "the service code called what its task role does not grant (components/service_task.py):\n" + (
        "\n".join(f"  {request}" for request in denied)
    )
