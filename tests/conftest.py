"""Shared test fixtures: fake AWS credentials, `mocks`/`evaluate`/`deploy` over the type-aware Pulumi
`Mocks` of `pulumi_mocks.py` (which tests import from directly), and
`local_stack` / `cloud_stack`: the shipped stacks, evaluated once per test session (per xdist
worker) and handed to each test as a copy."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_mocks import FAKE_AWS_ENV, Deployment, Mocks, deploy_under_mocks, evaluate_under_mocks


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never let a test reach a real account, whatever the developer's shell exports.
    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `make test` (pytest-xdist, --dist loadgroup), the tests that share a module-scoped
    fixture run on one worker, so the fixture (e.g. a whole sandbox run) is built once, not once per
    worker. Without xdist the mark means nothing."""
    for item in items:
        definitions = getattr(item, "_fixtureinfo", None)
        for name in item.fixturenames if definitions else ():
            found = definitions.name2fixturedefs.get(name)
            if found and found[-1].scope == "module":
                item.add_marker(pytest.mark.xdist_group(f"{item.module.__name__}::{name}"))
                break


@pytest.fixture
def mocks() -> Mocks:
    return Mocks()


@pytest.fixture
def evaluate(mocks: Mocks) -> Callable[..., Any]:
    """Run `fn` as a Pulumi program under mocks, wait for every registration, return its resolved value."""

    def run(fn: Callable[[], Any], stack: str = "test") -> Any:
        return evaluate_under_mocks(mocks, fn, stack)

    return run


@pytest.fixture
def deploy(mocks: Mocks) -> Callable[..., Deployment]:
    """Evaluate the whole program for `stack` with `raw` config (default: the fixture Pulumi.<stack>.yaml)."""

    def run(stack: str, raw: dict[str, Any] | None = None) -> Deployment:
        return deploy_under_mocks(mocks, stack, raw)

    return run


@pytest.fixture(scope="session")
def shipped_stacks() -> Callable[[str], Deployment]:
    """The fixture tests/fixtures/Pulumi.<stack>.yaml evaluated once per session (per xdist worker), with its own
    `Mocks`; every call returns a deep copy, so a test that changes what it got changes nothing for
    the next one. Evaluated lazily from a test's fixture, so `fake_aws_env` is already in place."""
    evaluated: dict[str, Deployment] = {}

    def get(stack: str) -> Deployment:
        if stack not in evaluated:
            evaluated[stack] = deploy_under_mocks(Mocks(), stack)
        return copy.deepcopy(evaluated[stack])

    return get


@pytest.fixture
def local_stack(shipped_stacks: Callable[[str], Deployment]) -> Deployment:
    """The local fixture under mocks (shared evaluation, private copy)."""
    return shipped_stacks("local")


@pytest.fixture
def cloud_stack(shipped_stacks: Callable[[str], Deployment]) -> Deployment:
    """The cloud fixture under mocks (shared evaluation, private copy)."""
    return shipped_stacks("cloud")
