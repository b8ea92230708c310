"""The cyclic collector is paused while the program is evaluated, and put back by the harnesses."""

from __future__ import annotations

import gc
import json
import runpy

import pulumi
import pytest
from pulumi_mocks import ROOT, evaluate_under_mocks, stack_config

from components.collector import pause_during_evaluation


@pytest.fixture
def collector_restored():
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_pausing_stops_the_collector_and_resuming_puts_it_back(collector_restored):
    # GIVEN the collector on
    gc.enable()
    # WHEN it is paused THEN it is off
    resume = pause_during_evaluation()
    assert not gc.isenabled()
    # AND resuming turns it on again
    resume()
    assert gc.isenabled()


def test_resuming_leaves_off_a_collector_that_was_off(collector_restored):
    # GIVEN a process that turned the collector off itself
    gc.disable()
    # WHEN an evaluation pauses and then resumes it
    pause_during_evaluation()()
    # THEN it stays off: the process's own choice is kept
    assert not gc.isenabled()


def test_the_tests_evaluate_the_program_with_the_collector_paused(mocks, collector_restored):
    # GIVEN the collector on
    gc.enable()
    seen = []
    # WHEN a program is evaluated under mocks, looking at the collector from inside an apply (after
    # the program function has returned, while registrations are still being awaited)
    evaluate_under_mocks(mocks, lambda: pulumi.Output.from_input("x").apply(lambda _: seen.append(gc.isenabled())))
    # THEN it was paused during the evaluation and is on again after it
    assert seen == [False]
    assert gc.isenabled()


def test_the_program_pauses_the_collector(mocks, monkeypatch, collector_restored):
    # GIVEN the engine's config bag holding the cloud fixture, and the collector on
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(stack_config("cloud")))
    monkeypatch.delenv("PULUMI_CONFIG_SECRET_KEYS", raising=False)
    monkeypatch.chdir(ROOT)
    pulumi.runtime.set_mocks(mocks, project="event-tasks", stack="cloud", preview=False)
    gc.enable()
    seen = []

    @pulumi.runtime.test
    def program():
        # WHEN __main__.py runs as the language host runs it
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        seen.append(gc.isenabled())
        return pulumi.Output.from_input(None)

    program()
    # THEN it paused the collector before building, and the stack was built
    assert seen == [False]
    assert any(r.typ == "aws:sfn/stateMachine:StateMachine" for r in mocks.resources)
