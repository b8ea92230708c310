"""The shipped failure scenarios (sandbox/scenarios/*.yaml) played on the local stack's fixture.

Each scenario is played once; one test checks that the fault happened as the scenario says, the
other that the saga settled despite it: the state machines' retries and failure events and the
compensation consumers close the failure loop.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from pulumi_mocks import FIXTURES

from components.config import load_config, read_stack_file
from sandbox.harness import Sandbox
from sandbox.provision import PROJECT_ROOT
from sandbox.scenario import load_scenario

SCENARIOS = PROJECT_ROOT / "sandbox" / "scenarios"
_played: dict[tuple[str, bool], dict[str, Any]] = {}


def played(name: str, *, cold: bool = False) -> dict[str, Any]:
    """The report and task runs of `sandbox/scenarios/<name>.yaml` on the local fixture (once per
    worker: a scenario's tests share one xdist group), with the warm runner or (`cold`) a new
    interpreter per task."""
    if (name, cold) not in _played:
        path = FIXTURES / "Pulumi.local.yaml"
        config = load_config(read_stack_file(path), "local", PROJECT_ROOT)
        with Sandbox(config, out=None, timeout_seconds=600, task_timeout_seconds=300, cold=cold) as sandbox:
            report = sandbox.play(load_scenario(SCENARIOS / f"{name}.yaml"))
            assert sandbox.runner is not None
            _played[name, cold] = {"report": report, "runs": list(sandbox.runner.runs)}
    return _played[name, cold]


def fault_lines(result: dict[str, Any], when: str, use_case: str, order_id: str) -> list[Any]:
    line = f"sandbox fault: crashed {when} ({use_case}, order {order_id})"
    return [r for r in result["runs"] if line in r.stderr]


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def comparable(report: Any, concurrent: bool) -> Any:
    """A report's summary without what differs between any two runs: its duration and the ids
    (event ids, execution ARNs) generated during the run; with orders placed concurrently, which
    orders won the race for credit (how many did is kept)."""
    summary = json.loads(UUID.sub("<id>", json.dumps(report.summary())))
    del summary["seconds"]
    if concurrent:
        summary["orders"] = sorted(Counter(summary["orders"].values()).items())
    return summary


@pytest.mark.cold
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(p.stem, marks=pytest.mark.xdist_group(f"scenario-{p.stem}"))
        for p in sorted(SCENARIOS.glob("*.yaml"))
    ],
)
def test_the_warm_and_the_cold_runner_give_the_same_summary(name):
    # GIVEN a shipped scenario
    concurrent = load_scenario(SCENARIOS / f"{name}.yaml").concurrency > 1
    # WHEN it is played with tasks forked from the zygote, and with a new interpreter per task (--cold)
    warm, cold = played(name), played(name, cold=True)
    # THEN the two summaries are the same, and each run used the runner it was given
    assert comparable(warm["report"], concurrent) == comparable(cold["report"], concurrent)
    assert warm["report"].problems == []
    assert all(r.forked for r in warm["runs"]) and not any(r.forked for r in cold["runs"])


def test_every_shipped_scenario_is_valid():
    # GIVEN the shipped scenarios THEN each loads (a bad key would fail `make demo --scenario`)
    names = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))
    assert names == [
        "approve-always-fails",
        "crash-after-commit-always",
        "crash-after-commit-once",
        "fifty-concurrent-orders",
        "orchestrated",
        "orchestrated-failures",
        "saga",
    ]
    for name in names:
        load_scenario(SCENARIOS / f"{name}.yaml")


# -- a crash after commit, once ---------------------------------------------------------------------


@pytest.mark.xdist_group("scenario-crash-after-commit-once")
def test_crash_after_commit_once_kills_the_first_reservation_after_it_committed():
    result = played("crash-after-commit-once")
    # THEN exactly one reserve_credit process for o-1 died, after its commit (60 stays reserved)
    crashed = fault_lines(result, "afterCommit", "customer.reserve_credit", "o-1")
    assert [r.exit_code for r in crashed] == [137]
    assert result["report"].customers["c-1"]["reserved"] == 60


@pytest.mark.xdist_group("scenario-crash-after-commit-once")
def test_crash_after_commit_once_settles_the_saga_normally():
    report = played("crash-after-commit-once")["report"]
    # THEN the retry published the recorded reservation: the saga ends as without the crash
    assert report.problems == []
    assert report.orders == {"o-1": "APPROVED", "o-2": "REJECTED"}
    assert report.customers == {"c-1": {"creditLimit": 100, "reserved": 60}}
    assert report.failures == []


# -- a crash after commit, always ------------------------------------------------------------------


@pytest.mark.xdist_group("scenario-crash-after-commit-always")
def test_crash_after_commit_always_kills_every_reservation_of_the_order():
    result = played("crash-after-commit-always")
    # THEN every reserve_credit process for o-1 died after the commit point; none published
    crashed = fault_lines(result, "afterCommit", "customer.reserve_credit", "o-1")
    reserving = [r for r in result["runs"] if "customer.reserve_credit" in r.command and r in crashed]
    assert crashed and reserving == crashed
    assert {r.exit_code for r in crashed} == {137}


@pytest.mark.xdist_group("scenario-crash-after-commit-always")
def test_crash_after_commit_always_rejects_the_order_and_releases_its_credit():
    report = played("crash-after-commit-always")["report"]
    # THEN o-1 is rejected, its credit released; o-2 got its credit
    assert report.problems == []
    assert report.orders == {"o-1": "REJECTED", "o-2": "APPROVED"}
    assert report.customers == {"c-1": {"creditLimit": 100, "reserved": 40}}
    # AND the failure is in the summary with the event that announced it
    (failure,) = report.failures
    assert failure["trigger"] == "reserve-credit" and failure["failureEventId"]


# -- order.approve always failing -------------------------------------------------------------------


@pytest.mark.xdist_group("scenario-approve-always-fails")
def test_approve_always_failing_never_approves_the_order():
    result = played("approve-always-fails")
    # THEN every order.approve process for o-1 died before writing, and the order is not APPROVED
    crashed = fault_lines(result, "beforeCommit", "order.approve", "o-1")
    assert crashed and {r.exit_code for r in crashed} == {137}
    assert result["report"].orders["o-1"] != "APPROVED"


@pytest.mark.xdist_group("scenario-approve-always-fails")
def test_approve_always_failing_ends_the_order_terminal_with_its_credit_released():
    report = played("approve-always-fails")["report"]
    # THEN the order is terminal and the credit consistent: rejected, nothing held
    assert report.problems == []
    assert report.orders == {"o-1": "REJECTED"}
    assert report.customers == {"c-1": {"creditLimit": 100, "reserved": 0}}
    (failure,) = report.failures
    assert failure["trigger"] == "approve-order" and failure["failureEventId"]


# -- 50 concurrent orders for one customer ------------------------------------------------------------


@pytest.mark.xdist_group("scenario-fifty-concurrent-orders")
def test_fifty_concurrent_orders_never_over_reserve():
    report = played("fifty-concurrent-orders")["report"]
    # THEN whatever else happened, the customer holds at most its limit and exactly its approved orders
    credit = [p for p in report.problems if p.startswith("customer c-1")]
    assert credit == []
    approved = Counter(report.orders.values())["APPROVED"]
    assert report.customers == {"c-1": {"creditLimit": 1000, "reserved": 30 * approved}}
    assert approved <= 33


@pytest.mark.xdist_group("scenario-fifty-concurrent-orders")
def test_fifty_concurrent_orders_all_settle_with_exactly_the_limit_used():
    report = played("fifty-concurrent-orders")["report"]
    # THEN every order settled: 33 fit, 17 are rejected
    assert report.problems == []
    assert Counter(report.orders.values()) == {"APPROVED": 33, "REJECTED": 17}
    assert report.customers == {"c-1": {"creditLimit": 1000, "reserved": 990}}


# -- the orchestrated saga ---------------------------------------------------------------------------


@pytest.mark.xdist_group("scenario-orchestrated")
def test_the_orchestrated_saga_approves_rejects_and_ignores_a_redelivered_request():
    report = played("orchestrated")["report"]
    # THEN s-1 approved with its credit held; s-2 rejected for credit, s-3 for its customer; the
    # replay of every event (OrderRequested included) changed nothing (a problem otherwise)
    assert report.problems == []
    assert report.orders == {"s-1": "APPROVED", "s-2": "REJECTED", "s-3": "REJECTED"}
    assert report.customers == {"c-1": {"creditLimit": 100, "reserved": 60}}
    # AND each saga's end was announced with every step's result; the last announcement is the
    # redelivered request's saga, whose create step found the order already settled
    assert {k: (v["outcome"], {n: r["status"] for n, r in v["steps"].items()}) for k, v in report.sagas.items()} == {
        "s-1": ("COMPLETED", {"create": "APPROVED", "reserve": "RESERVED", "approve": "APPROVED", "reject": "SKIPPED"}),
        "s-2": (
            "COMPLETED",
            {"create": "REJECTED", "reserve": "CREDIT_LIMIT_EXCEEDED", "approve": "SKIPPED", "reject": "REJECTED"},
        ),
        "s-3": (
            "COMPLETED",
            {"create": "REJECTED", "reserve": "CUSTOMER_NOT_FOUND", "approve": "SKIPPED", "reject": "REJECTED"},
        ),
    }
    # AND the first and the redelivered request each ran one saga (two executions per order)
    assert report.executions == {"SUCCEEDED": 6, "FAILED": 0}
    assert report.failures == []


@pytest.mark.xdist_group("scenario-orchestrated-failures")
def test_a_failure_at_each_step_is_compensated_and_announced():
    report = played("orchestrated-failures")["report"]
    # THEN every order is terminal and the credit adds up (the judge's checks: no problem)
    assert report.problems == []
    assert report.orders == {
        "f-approve": "REJECTED",
        "f-create": "REJECTED",
        "f-once": "APPROVED",
        "f-reserve": "REJECTED",
    }
    assert report.customers == {"c-1": {"creditLimit": 1000, "reserved": 40}}
    # AND each failed saga published OrderSagaFailed naming the step, after undoing what ran
    failed = {
        k: (v["failedStep"], {n: r.get("status") for n, r in v["compensations"].items()})
        for k, v in report.sagas.items()
        if v["outcome"] == "FAILED"
    }
    assert failed == {
        "f-create": ("create", {"create": "REJECTED"}),
        "f-reserve": ("reserve", {"reserve": "CLOSED", "create": "REJECTED"}),
        "f-approve": ("approve", {"reserve": "RELEASED", "create": "REJECTED"}),
    }
    # AND the execution of each failed saga is listed with its failure event
    assert (
        sorted((f["trigger"], f["failureEventId"] is not None) for f in report.failures) == [("order-saga", True)] * 3
    )
    # AND the step failing once after its commit was retried, not compensated
    assert report.sagas["f-once"]["outcome"] == "COMPLETED"
