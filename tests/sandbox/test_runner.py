"""The task runner: an ECS task becomes a local process whose exit code is the task's."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandbox.emulator import ContainerLaunch, TaskLaunch
from sandbox.runner import TaskRun, TaskRunner, _order_of
from sandbox.scenario import Fault


@dataclass
class FakeEmulator:
    """Records what the runner reports back, like Emulator.complete_task."""

    region: str = "ap-southeast-1"
    endpoint_url: str = "http://127.0.0.1:5999"
    completed: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def complete_task(self, task_arn: str, exit_code: int | None, reason: str | None = None) -> None:
        self.completed.append((task_arn, exit_code, reason))
        self.done.set()


def launch(command: list[str], image: str = "repo/order:1", env: dict[str, str] | None = None) -> TaskLaunch:
    container = ContainerLaunch("order", image, command, env or {}, True)
    return TaskLaunch("arn:task/1", "arn:cluster", "arn:td:1", None, None, "AWS Step Functions", [], {}, [container])


@pytest.fixture
def source(tmp_path: Path) -> Path:
    (tmp_path / "probe.py").write_text(
        "import os, sys\n"
        "print(os.environ['AWS_ENDPOINT_URL'], os.environ['eventId'], os.getcwd())\n"
        "sys.exit(int(os.environ.get('EXIT', '0')))\n"
    )
    return tmp_path


def run(runner: TaskRunner, emulator: FakeEmulator, task: TaskLaunch) -> None:
    runner(task)
    assert emulator.done.wait(20), "the runner never completed the task"


@pytest.mark.parametrize("code", [0, 3])
def test_the_process_exit_code_completes_the_task(source, code):
    # GIVEN a task whose container runs a script from the image's source directory
    emulator = FakeEmulator()
    runner = TaskRunner(emulator, {"repo/order:1": source})  # type: ignore[arg-type]
    # WHEN it runs with the overrides' environment
    run(runner, emulator, launch(["python", "probe.py"], env={"eventId": "e-1", "EXIT": str(code)}))
    # THEN the exit code is reported for that task, and the process saw the emulator and its env
    assert emulator.completed == [("arn:task/1", code, None)]
    (finished,) = runner.runs
    assert finished.output.split() == ["http://127.0.0.1:5999", "e-1", str(source)]


def test_a_task_running_too_long_is_killed_like_a_stopped_container(source):
    # GIVEN a runner with a short task timeout
    emulator = FakeEmulator()
    runner = TaskRunner(emulator, {"repo/order:1": source}, timeout_seconds=0.5)  # type: ignore[arg-type]
    # WHEN the task sleeps longer
    run(runner, emulator, launch(["python", "-c", "import time; time.sleep(30)"]))
    # THEN it is reported as exit 137 with the reason
    ((_, code, reason),) = emulator.completed
    assert code == 137 and "ran longer than the sandbox's 0.5 s" in reason


def test_an_image_without_known_source_cannot_start():
    # GIVEN an image the sandbox has no source directory for
    emulator = FakeEmulator()
    runner = TaskRunner(emulator, {})  # type: ignore[arg-type]
    # WHEN it is run THEN the task stops without an exit code, like a container that never started
    run(runner, emulator, launch(["python", "-V"], image="unknown:1"))
    ((_, code, reason),) = emulator.completed
    assert code is None and reason.startswith("CannotStartContainerError: no source directory")


# -- fault injection -----------------------------------------------------------------------------

# A stand-in use case: commits and emits through botocore (stubbed), saying how far it got.
USE_CASE = """
import botocore.session
from botocore.stub import Stubber

def client(service):
    return botocore.session.get_session().create_client(
        service, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )

dynamodb, events = client("dynamodb"), client("events")
with Stubber(dynamodb) as db, Stubber(events) as bus:
    db.add_response("transact_write_items", {})
    bus.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]})
    print("deciding", flush=True)
    check = {"TableName": "t", "Key": {"pk": {"S": "a"}}, "ConditionExpression": "attribute_exists(pk)"}
    dynamodb.transact_write_items(TransactItems=[{"ConditionCheck": check}])
    print("committed", flush=True)
    events.put_events(Entries=[{"Source": "s", "DetailType": "CreditReserved", "Detail": "{}"}])
    print("emitted", flush=True)
"""


@pytest.fixture
def service(tmp_path: Path) -> Path:
    (tmp_path / "customer").mkdir()
    (tmp_path / "customer" / "__init__.py").write_text("")
    (tmp_path / "customer" / "reserve_credit.py").write_text(USE_CASE)
    return tmp_path


def run_use_case(runner: TaskRunner, order_id: str = "o-2") -> TaskRun:
    emulator = FakeEmulator()
    runner.emulator = emulator  # type: ignore[assignment]
    env = {"eventDetail": json.dumps({"orderId": order_id, "customerId": "c-1", "total": 5})}
    run(runner, emulator, launch(["python", "-m", "customer.reserve_credit"], env=env))
    return runner.runs[-1]


def lines(run: TaskRun) -> list[str]:
    return run.output.splitlines()


@pytest.mark.parametrize(
    ("when", "printed"),
    [("beforeCommit", ["deciding"]), ("afterCommit", ["deciding"]), ("afterEmit", ["deciding", "committed"])],
)
def test_a_fault_once_crashes_the_first_matching_task_at_its_point_then_lets_it_run(service, when, printed):
    # GIVEN a runner with a fault for customer.reserve_credit on order o-2, once
    fault = Fault(useCase="customer.reserve_credit", when=when, times="once", orders=["o-2"])
    runner = TaskRunner(FakeEmulator(), {"repo/order:1": service}, faults=[fault])  # type: ignore[arg-type]
    try:
        # WHEN the task runs twice for o-2
        first, second = run_use_case(runner), run_use_case(runner)
    finally:
        runner.close()
    # THEN the first crashed (137) at the point, before printing what comes after it
    assert first.exit_code == 137
    assert lines(first) == [*printed, f"sandbox fault: crashed {when} (customer.reserve_credit, order o-2)"]
    # AND the re-run went through
    assert (second.exit_code, lines(second)) == (0, ["deciding", "committed", "emitted"])


def test_a_fault_after_commit_always_crashes_a_rerun_that_commits_nothing_before_it_emits(service, tmp_path):
    # GIVEN an always-fault after commit, and a use case whose re-run finds its decision recorded
    # (it only re-emits: no TransactWriteItems)
    rerun = service / "customer" / "reserve_credit.py"
    rerun.write_text(USE_CASE.replace("    dynamodb.transact_write_items(", "    0 and dynamodb.transact_write_items("))
    fault = Fault(useCase="customer.reserve_credit", when="afterCommit", times="always")
    runner = TaskRunner(FakeEmulator(), {"repo/order:1": service}, faults=[fault])  # type: ignore[arg-type]
    # WHEN it runs twice THEN both crash before announcing the decision
    for attempt in (run_use_case(runner), run_use_case(runner)):
        assert attempt.exit_code == 137
        assert lines(attempt)[-1] == "sandbox fault: crashed afterCommit (customer.reserve_credit, order o-2)"
        assert "emitted" not in lines(attempt)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(useCase="customer.reserve_credit", when="beforeCommit", orders=["o-1"]),
        Fault(useCase="customer.release_credit", when="beforeCommit"),
    ],
)
def test_a_fault_for_another_order_or_use_case_changes_nothing(service, fault):
    # GIVEN a fault that does not match the task (order o-2 of customer.reserve_credit)
    runner = TaskRunner(FakeEmulator(), {"repo/order:1": service}, faults=[fault])  # type: ignore[arg-type]
    # WHEN it runs THEN it runs to the end
    finished = run_use_case(runner)
    assert (finished.exit_code, lines(finished)) == (0, ["deciding", "committed", "emitted"])


def test_the_order_of_a_failure_event_is_its_original_events():
    # GIVEN a compensation task triggered by a failure event (the order is in the original event)
    detail = {"trigger": "reserve-credit", "event": {"id": "e-1", "detail": {"orderId": "o-7"}}}
    # THEN its order is found there; a one-off command's comes from --order-id
    assert _order_of(["python", "-m", "order.reject"], {"eventDetail": json.dumps(detail)}) == "o-7"
    assert _order_of(["python", "-m", "order.place", "--order-id", "o-8"], {}) == "o-8"
    assert _order_of(["python", "-m", "order.reject"], {"eventDetail": "not json"}) is None
