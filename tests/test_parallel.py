"""`make test` runs on every core (pytest-xdist, --dist loadgroup): tests that share a module-scoped
fixture are grouped onto one worker (tests/conftest.py), so that fixture is built once."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def built_once() -> list[str]:
    return []


@pytest.fixture
def built_per_test() -> list[str]:
    return []


def test_a_module_fixture_user(built_once):
    built_once.append("first")
    assert built_once[0] == "first"


def test_a_function_fixture_user(built_per_test):
    assert built_per_test == []


def test_tests_sharing_a_module_fixture_are_grouped_on_one_worker(request, built_once):
    # GIVEN this module's tests as collected
    mine = [item for item in request.session.items if item.module is request.module]
    # WHEN their xdist groups are read
    groups = {item.name: (m.args[0] if (m := item.get_closest_marker("xdist_group")) else None) for item in mine}
    # THEN both users of the module fixture share one group named after it, the other has none
    assert groups["test_a_module_fixture_user"] == groups[request.node.name] == f"{request.module.__name__}::built_once"
    assert groups["test_a_function_fixture_user"] is None
