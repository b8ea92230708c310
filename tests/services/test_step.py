"""The shared helper's orchestration side: a step reads the earlier results, answers its task token
with its result or a failure whose error says whether a retry can help, and beats while it works."""

from __future__ import annotations

import json
import time

import pytest

from event_tasks_common import BadInput
from event_tasks_common.step import RESULT_MAX, StepInput, encode_result, read_step_input, run_step


class Orchestrator:
    """Records what a step sends to Step Functions (the client's three task-token calls)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def send_task_success(self, **kwargs):
        self.calls.append(("success", kwargs))

    def send_task_failure(self, **kwargs):
        self.calls.append(("failure", kwargs))

    def send_task_heartbeat(self, **kwargs):
        self.calls.append(("heartbeat", kwargs))


ENV = {"taskToken": "tok-1", "sagaStep": "approve", "sagaResults": json.dumps({"reserve": {"status": "RESERVED"}})}


def test_a_step_answers_its_token_with_its_result():
    # GIVEN a step whose use case reads the earlier reservation
    orchestrator = Orchestrator()

    def handler(argv, step: StepInput):
        return {"status": "APPROVED", "after": step.status("reserve")}

    # WHEN it runs with a task token
    code = run_step(handler, [], ENV, orchestrator)
    # THEN it exits 0 and sends its result, compact, once
    assert code == 0
    assert orchestrator.calls == [
        ("success", {"taskToken": "tok-1", "output": '{"after":"RESERVED","status":"APPROVED"}'})
    ]


def test_bad_input_is_a_failure_the_orchestrator_does_not_retry(capsys):
    orchestrator = Orchestrator()

    def handler(argv, step):
        raise BadInput("eventDetail.total", "expected a positive integer, got -1")

    code = run_step(handler, [], ENV, orchestrator)
    assert code == 2
    assert orchestrator.calls == [
        (
            "failure",
            {
                "taskToken": "tok-1",
                "error": "BadInput",
                "cause": "exit code 2: BadInput: eventDetail.total: expected a positive integer, got -1",
            },
        )
    ]
    assert capsys.readouterr().err.strip() == "bad input: eventDetail.total: expected a positive integer, got -1"


def test_any_other_error_is_a_task_error_the_orchestrator_retries():
    orchestrator = Orchestrator()

    def handler(argv, step):
        raise RuntimeError("throttled\nby DynamoDB")

    assert run_step(handler, [], ENV, orchestrator) == 1
    ((kind, call),) = orchestrator.calls
    assert (kind, call["error"], call["cause"]) == (
        "failure",
        "TaskError",
        "exit code 1: RuntimeError: throttled by DynamoDB",
    )


def test_a_result_later_steps_could_not_carry_fails_the_step():
    orchestrator = Orchestrator()
    code = run_step(lambda argv, step: {"status": "OK", "blob": "x" * RESULT_MAX}, [], ENV, orchestrator)
    assert code == 1
    assert orchestrator.calls[0][1]["error"] == "TaskError"
    assert "must stay within 256 characters" in orchestrator.calls[0][1]["cause"]


@pytest.mark.parametrize("result", [{}, {"status": ""}, {"status": 3}])
def test_a_result_needs_a_status(result):
    with pytest.raises(ValueError, match="needs a non-empty string status"):
        encode_result(result)


def test_a_long_step_beats_while_it_works():
    # GIVEN a heartbeat of 0.6 s (a beat every 0.2 s) and a use case that takes 0.7 s
    orchestrator = Orchestrator()

    def handler(argv, step):
        time.sleep(0.7)
        return {"status": "DONE"}

    run_step(handler, [], {**ENV, "taskHeartbeatSeconds": "0.6"}, orchestrator)
    kinds = [kind for kind, _ in orchestrator.calls]
    # THEN heartbeats came before the answer, and none after it
    assert kinds[-1] == "success" and kinds.count("heartbeat") >= 2 and set(kinds[:-1]) == {"heartbeat"}


def test_without_a_token_only_the_exit_code_speaks(capsys):
    code = run_step(lambda argv, step: {"status": "DONE"}, [], {"sagaResults": "{}"})
    assert code == 0
    assert capsys.readouterr().out.strip() == 'result: {"status":"DONE"}'


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[1]", r"sagaResults: expected a JSON object of step name -> result object"),
        ('{"a": 1}', r"sagaResults: expected a JSON object of step name -> result object"),
        ("{", r"sagaResults: not valid JSON"),
    ],
)
def test_bad_results_are_bad_input(raw, message):
    with pytest.raises(BadInput, match=message):
        read_step_input({"sagaResults": raw})


def test_asking_for_a_step_that_did_not_run_is_bad_input():
    with pytest.raises(BadInput, match=r"sagaResults\.reserve: no status"):
        StepInput("approve", {}).status("reserve")
