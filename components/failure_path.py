"""The failure path of a trigger's workflow: retry what is safe, then say so with an event, then fail.

`with_failure_path` wraps the single run-task state rendered by `run_task_state_machine` into:

    CountFirstAttempt -> RunTask --ok--> end (the stopped task is the output)
                           | any error, after RunTask's own retries of ECS start errors
                           v
                      InspectFailure --TaskFailed--> ReadStoppedTask -> ReadExitCodes -> DescribeTaskFailure
                           | other                                                             v
                           v                                                             CheckBadInput --exit 2--+
                      DescribeError / DescribeErrorWithoutCause                                | other           |
                           v                                                                   v                 |
                      DecideRetry --attempt <= taskRetries--> PrepareRetry -> Backoff -> RunTask                 |
                           | no more                                                                             |
                           v                                                                                     |
                      PublishFailure (events:putEvents, one entry) <---------------------------------------------+
                           v
                      GiveUp (Fail)

Exit code 2 is the services' bad-input code: the same input would fail the same way, so it is never
retried. Everything else (another exit code, a crash, States.Timeout, an ECS start failure after its
own retries) is retried with backoff, which is safe because every use case is idempotent on the
event id. With `taskRetries` 0 the retry states are left out.

The exit codes come from the States.TaskFailed cause, which for `ecs:runTask.sync` is the stopped
task's DescribeTasks description as JSON (PascalCase: `Containers[].ExitCode`, `StoppedReason`).

Pure functions of plain values (Pulumi inputs pass through untouched): the ASL is checked as an exact dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

PUT_EVENTS = "arn:aws:states:::events:putEvents"
# The exit code the services use for input they cannot process (event_tasks_common.BAD_INPUT).
BAD_INPUT_EXIT_CODE = 2
# Backoff before retry n (1-based) is FIRST_BACKOFF_SECONDS * 2^(n-1), capped: long enough for a
# throttled dependency or a lost instance to come back, short enough to settle a saga within minutes.
FIRST_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 600
MAX_TASK_RETRIES = 10

# State names (the sandbox and operators read them in execution histories).
COUNT_FIRST_ATTEMPT = "CountFirstAttempt"
INSPECT_FAILURE = "InspectFailure"
READ_STOPPED_TASK = "ReadStoppedTask"
READ_EXIT_CODES = "ReadExitCodes"
DESCRIBE_TASK_FAILURE = "DescribeTaskFailure"
CHECK_BAD_INPUT = "CheckBadInput"
DESCRIBE_ERROR = "DescribeError"
DESCRIBE_ERROR_WITHOUT_CAUSE = "DescribeErrorWithoutCause"
DECIDE_RETRY = "DecideRetry"
PREPARE_RETRY = "PrepareRetry"
BACKOFF = "Backoff"
PUBLISH_FAILURE = "PublishFailure"
PUBLISH_TIMEOUT_SECONDS = 30
GIVE_UP = "GiveUp"

# Where the path keeps its bookkeeping in the execution's data, beside the event's own top-level
# fields (version, id, detail-type, source, account, time, region, resources, detail).
RUN = "$.taskRun"  # {"attempt": n, "waitSeconds": s}
ERROR = "$.taskError"  # the Catch output: {"Error": ..., "Cause": ...}
STOPPED = "$.stoppedTask"  # {"task": <parsed task description>, "exitCodes": [...]}
FAILURE = "$.failure"  # {"cause": "<short text for the failure event>", "badInput": bool}


@dataclass(frozen=True)
class FailurePath:
    """What a trigger's workflow does when its task fails: how often to retry, what to publish where."""

    trigger: str
    """The trigger's name (the failure event's `trigger`)."""
    service: str
    """The service whose task runs; its bus carries the failure event, its source names it."""
    bus_name: pulumi.Input[str]
    """Name of that service's bus."""
    detail_type: str
    """detail-type of the failure event (`<Trigger in PascalCase>Failed` unless overridden)."""
    task_retries: int = 2
    """Runs after the first one for a retriable failure (so at most task_retries + 1 attempts)."""

    @property
    def source(self) -> str:
        """The failure event's source: the failed service's own (`event-tasks.<service>`)."""
        return f"event-tasks.{self.service}"


def backoff_seconds(task_retries: int) -> list[int]:
    """Seconds to wait before each retry, in order."""
    return [min(FIRST_BACKOFF_SECONDS * 2**n, MAX_BACKOFF_SECONDS) for n in range(task_retries)]


def with_failure_path(definition: dict[str, Any], failure: FailurePath) -> dict[str, Any]:
    """`definition` (one Task state, its StartAt) wrapped with the retry, publish and fail states."""
    if not 0 <= failure.task_retries <= MAX_TASK_RETRIES:
        raise ValueError(f"task_retries must be 0-{MAX_TASK_RETRIES}, got {failure.task_retries}")
    task_name = definition["StartAt"]
    task = dict(definition["States"][task_name])
    task.pop("End", None)
    retry_or_give_up = DECIDE_RETRY if failure.task_retries else PUBLISH_FAILURE
    states: dict[str, Any] = {
        COUNT_FIRST_ATTEMPT: {
            "Type": "Pass",
            "Result": {"attempt": 1},
            "ResultPath": RUN,
            "Next": task_name,
        },
        task_name: {
            **task,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": ERROR, "Next": INSPECT_FAILURE}],
            "End": True,
        },
        INSPECT_FAILURE: {
            "Type": "Choice",
            "Choices": [
                {
                    # Only a TaskFailed whose cause is the task description carries an exit code;
                    # anything else would make StringToJson fail the execution without an event.
                    "And": [
                        {"Variable": f"{ERROR}.Error", "StringEquals": "States.TaskFailed"},
                        {"Variable": f"{ERROR}.Cause", "IsPresent": True},
                        {"Variable": f"{ERROR}.Cause", "IsString": True},
                        {"Variable": f"{ERROR}.Cause", "StringMatches": "{*"},
                    ],
                    "Next": READ_STOPPED_TASK,
                },
                {
                    "And": [
                        {"Variable": f"{ERROR}.Cause", "IsPresent": True},
                        {"Variable": f"{ERROR}.Cause", "IsString": True},
                    ],
                    "Next": DESCRIBE_ERROR,
                },
            ],
            "Default": DESCRIBE_ERROR_WITHOUT_CAUSE,
        },
        READ_STOPPED_TASK: {
            "Type": "Pass",
            "Parameters": {
                # Merged under the description next: a stopped task without a reason still describes.
                "defaults": {"StoppedReason": "no stopped reason"},
                "task.$": f"States.StringToJson({ERROR}.Cause)",
            },
            "ResultPath": STOPPED,
            "Next": READ_EXIT_CODES,
        },
        READ_EXIT_CODES: {
            "Type": "Pass",
            "Parameters": {
                # A wildcard, not a filter on the container's name: a container that never started has
                # no ExitCode, and a wildcard then yields [] where a filter may fail the state.
                "exitCodes.$": f"{STOPPED}.task.Containers[*].ExitCode",
                "task.$": f"States.JsonMerge({STOPPED}.defaults, {STOPPED}.task, false)",
            },
            "ResultPath": STOPPED,
            "Next": DESCRIBE_TASK_FAILURE,
        },
        DESCRIBE_TASK_FAILURE: {
            "Type": "Pass",
            "Parameters": {
                "cause.$": f"States.Format('exit codes {{}}: {{}}', States.JsonToString({STOPPED}.exitCodes), "
                f"{STOPPED}.task.StoppedReason)",
                "badInput.$": f"States.ArrayContains({STOPPED}.exitCodes, {BAD_INPUT_EXIT_CODE})",
            },
            "ResultPath": FAILURE,
            "Next": CHECK_BAD_INPUT,
        },
        CHECK_BAD_INPUT: {
            "Type": "Choice",
            "Choices": [{"Variable": f"{FAILURE}.badInput", "BooleanEquals": True, "Next": PUBLISH_FAILURE}],
            "Default": retry_or_give_up,
        },
        DESCRIBE_ERROR: _describe(f"{ERROR}.Cause", retry_or_give_up),
        DESCRIBE_ERROR_WITHOUT_CAUSE: _describe(
            f"States.Format('{{}} without a cause', {ERROR}.Error)", retry_or_give_up
        ),
    }
    if failure.task_retries:
        table = ", ".join(str(s) for s in backoff_seconds(failure.task_retries))
        states[DECIDE_RETRY] = {
            "Type": "Choice",
            "Choices": [
                {"Variable": f"{RUN}.attempt", "NumericLessThanEquals": failure.task_retries, "Next": PREPARE_RETRY}
            ],
            "Default": PUBLISH_FAILURE,
        }
        states[PREPARE_RETRY] = {
            "Type": "Pass",
            "Parameters": {
                "attempt.$": f"States.MathAdd({RUN}.attempt, 1)",
                # Backoff before retry n is the table's item n-1, n being the attempt that just failed.
                "waitSeconds.$": f"States.ArrayGetItem(States.Array({table}), States.MathAdd({RUN}.attempt, -1))",
            },
            "ResultPath": RUN,
            "Next": BACKOFF,
        }
        states[BACKOFF] = {"Type": "Wait", "SecondsPath": f"{RUN}.waitSeconds", "Next": task_name}
    states[PUBLISH_FAILURE] = {
        "Type": "Task",
        "Resource": PUT_EVENTS,
        "Parameters": {"Entries": [failure_event_entry(failure)]},
        # PutEvents answers in milliseconds; a hung call must not hold the only failure signal.
        "TimeoutSeconds": PUBLISH_TIMEOUT_SECONDS,
        # The execution data stays what it was: GiveUp reads the error and cause from it.
        "ResultPath": None,
        "Retry": [
            # Throttling or a transient EventBridge error must not swallow the only failure signal.
            {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}
        ],
        "Next": GIVE_UP,
    }
    states[GIVE_UP] = {
        "Type": "Fail",
        # A Fail state may not report a States.* name (Amazon States Language): the execution fails
        # with the failure event's detail-type; its cause names the original error.
        "Error": failure.detail_type,
        "CausePath": f"States.Format('{{}} after {{}} attempts: {{}}', {ERROR}.Error, {RUN}.attempt, {FAILURE}.cause)",
    }
    return {
        **definition,
        "Comment": f"{definition.get('Comment', 'Run a task')}; retry up to {failure.task_retries} time(s), "
        f"then publish {failure.detail_type}",
        "StartAt": COUNT_FIRST_ATTEMPT,
        "States": states,
    }


def failure_event_entry(failure: FailurePath) -> dict[str, Any]:
    """The one PutEvents entry that tells consumers the task gave up, with the original event."""
    return {
        "EventBusName": failure.bus_name,
        "Source": failure.source,
        "DetailType": failure.detail_type,
        "Detail": {
            "trigger": failure.trigger,
            "service": failure.service,
            # Stable for the business fact: a re-run that fails again announces the same failure.
            "eventKey.$": f"States.Format('{failure.detail_type}:{{}}', $.id)",
            "error.$": f"{ERROR}.Error",
            "cause.$": f"{FAILURE}.cause",
            "executionArn.$": "$$.Execution.Id",
            "attempts.$": f"{RUN}.attempt",
            "event": {
                "id.$": "$.id",
                "detail-type.$": "$.detail-type",
                "source.$": "$.source",
                "detail.$": "$.detail",
            },
        },
    }


def failure_event_statements(bus_arn: Any, failure: FailurePath) -> list[dict[str, Any]]:
    """Let the workflow put its failure event, and only that event, on the failed service's bus."""
    return [
        {
            "Sid": "PublishTheFailureEvent",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": bus_arn,
            "Condition": {"StringEquals": {"events:source": failure.source, "events:detail-type": failure.detail_type}},
        }
    ]


def _describe(cause: str, next_state: str) -> dict[str, Any]:
    # Short by construction: the task description itself never reaches the failure event.
    return {"Type": "Pass", "Parameters": {"cause.$": cause}, "ResultPath": FAILURE, "Next": next_state}
