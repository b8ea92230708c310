"""Fixtures for the Order/Customer service tests (moto in-process, self-sufficient env)."""

from collections.abc import Iterator

import pytest
from moto import mock_aws

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
