"""The orchestration renderer: one Standard workflow that runs several services' tasks in order.

`render_orchestration` turns a trigger's steps into Amazon States Language; `orchestration_statements`
returns the IAM statements its role needs. Both are pure, and checked as exact dicts.

The workflow, for steps 1..n:

    Begin -> [When-<s>] -> Step-<s> -> ... -> Step-<n> -> PublishCompleted
                  |            | (after retries)
                  v            v
               Skip-<s>     Failed-<s> -> Undo-<k> -> Compensate-<k> -> Undo-<k-1> -> ... -> PublishFailed -> Fail

- A result step (`result: true`) runs with `ecs:runTask.waitForTaskToken`: the task gets `taskToken` in
  its environment and hands back a small JSON result (`{"status": ..., ...}`) with SendTaskSuccess, or
  an error with SendTaskFailure (`BadInput` is never retried; `TaskError` is). A task that dies without
  answering is caught by the heartbeat or the timeout. A `result: false` step runs with `.sync`.
- Each step's input is the triggering event plus `$.steps.<name>` for every earlier step; the task
  gets them as `sagaResults` (see step_environment.py).
- A failure at step k, after the retries, runs the compensations of steps k..1 in reverse: step k's own
  too, since it may have committed before it died, and compensations are idempotent. A step skipped by
  `when` is not compensated. A compensation is retried like a step; one that still fails is recorded
  and the rest still run.
- Then `<Trigger>Failed` is published on the trigger's own bus (the failed step, error, cause, each
  compensation's outcome, the results so far and the event) and the execution fails; on success
  `<Trigger>Completed` carries the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components import step_environment
from components.run_task_state_machine import (
    EVENT_ENVIRONMENT,
    RETRIABLE_ERRORS,
    TaskTarget,
    observability_statements,
    pass_role_statements,
    run_task_parameters,
    sync_rule_statement,
    tasks_of,
)

WAIT_FOR_TASK_TOKEN = "arn:aws:states:::ecs:runTask.waitForTaskToken"
RUN_TASK_SYNC = "arn:aws:states:::ecs:runTask.sync"
PUT_EVENTS = "arn:aws:states:::events:putEvents"

# What the services' shared helper sends with SendTaskFailure: bad input is final, anything else
# (an AWS error, a conflict) may pass on a second try, since every use case is idempotent.
BAD_INPUT_ERROR = "BadInput"
TASK_ERROR = "TaskError"
# A task that died without answering: its heartbeat or its timeout stops the state.
LOST_TASK_ERRORS = ("States.HeartbeatTimeout", "States.Timeout")
SKIPPED = {"skipped": True, "status": "SKIPPED"}
PUBLISH_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Step:
    """One step, resolved: what runs where, what undoes it, and when it runs."""

    name: str
    target: TaskTarget
    command: list[str]
    compensate: list[str] | None = None
    when: dict[str, list[str]] | None = None
    """Earlier step name -> statuses that let this step run (all must hold)."""
    result: bool = True
    timeout_seconds: int = 900
    heartbeat_seconds: int | None = None


@dataclass(frozen=True)
class SagaEvents:
    """Where and as what the orchestrator announces how a saga ended."""

    bus_name: Any
    source: str
    completed_detail_type: str
    failed_detail_type: str


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _environment(step_name: str, *, token: bool, heartbeat: int | None) -> list[dict[str, Any]]:
    environment: list[dict[str, Any]] = [{"Name": name, "Value.$": path} for name, path in EVENT_ENVIRONMENT]
    environment += [
        {"Name": step_environment.ENV_STEP, "Value": step_name},
        {"Name": step_environment.ENV_RESULTS, "Value.$": "States.JsonToString($.steps)"},
    ]
    if token:
        environment.append({"Name": step_environment.ENV_TOKEN, "Value.$": "$$.Task.Token"})
    if heartbeat is not None:
        environment.append({"Name": step_environment.ENV_HEARTBEAT, "Value": str(heartbeat)})
    return environment


def _retries(task_retries: int, *, result: bool) -> list[dict[str, Any]]:
    retries: list[dict[str, Any]] = [
        {
            # The task never started: nothing ran twice.
            "ErrorEquals": list(RETRIABLE_ERRORS),
            "IntervalSeconds": 5,
            "MaxAttempts": 3,
            "BackoffRate": 2.0,
            "JitterStrategy": "FULL",
        }
    ]
    # A .sync step cannot tell bad input from a crash (both are a non-zero exit): it retries both.
    errors = [TASK_ERROR, *LOST_TASK_ERRORS] if result else ["States.TaskFailed", "States.Timeout"]
    if task_retries:
        retries.append(
            {
                "ErrorEquals": errors,
                "IntervalSeconds": 10,
                "MaxAttempts": task_retries,
                "BackoffRate": 2.0,
                "JitterStrategy": "FULL",
            }
        )
    return retries


def _task_state(
    trigger: str,
    step: Step,
    command: list[str],
    *,
    result_path: str,
    task_retries: int,
    catch: tuple[str, str],
    next_state: str,
) -> dict[str, Any]:
    """A step's task, or its compensation's; `catch` is (ResultPath, Next) once retries are spent."""
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": WAIT_FOR_TASK_TOKEN if step.result else RUN_TASK_SYNC,
        "Parameters": run_task_parameters(
            step.target,
            command,
            _environment(step.name, token=step.result, heartbeat=step.heartbeat_seconds if step.result else None),
            trigger=trigger,
        ),
        "TimeoutSeconds": step.timeout_seconds,
    }
    if step.result and step.heartbeat_seconds is not None:
        state["HeartbeatSeconds"] = step.heartbeat_seconds
    if not step.result:
        # The .sync result is the whole task description: keep only what identifies the task.
        state["ResultSelector"] = {"status": "STOPPED", "taskArn.$": "$.TaskArn"}
    state["ResultPath"] = result_path
    state["Retry"] = _retries(task_retries, result=step.result)
    state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": catch[0], "Next": catch[1]}]
    state["Next"] = next_state
    return state


def _when(step: Step, run: str, skip: str) -> dict[str, Any]:
    conditions = []
    for ref, statuses in sorted((step.when or {}).items()):
        matches = [{"Variable": f"$.steps.{ref}.status", "StringEquals": s} for s in statuses]
        conditions.append(matches[0] if len(matches) == 1 else {"Or": matches})
    rule = conditions[0] if len(conditions) == 1 else {"And": conditions}
    return {"Type": "Choice", "Choices": [{**rule, "Next": run}], "Default": skip}


def _event() -> dict[str, Any]:
    return {"id.$": "$.id", "detail-type.$": "$.detail-type", "source.$": "$.source", "detail.$": "$.detail"}


def _publish(events: SagaEvents, detail_type: str, detail: dict[str, Any], next_state: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": PUT_EVENTS,
        "Parameters": {
            "Entries": [
                {"EventBusName": events.bus_name, "Source": events.source, "DetailType": detail_type, "Detail": detail}
            ]
        },
        # PutEvents answers in milliseconds; a hung call must not hold the saga's only announcement.
        "TimeoutSeconds": PUBLISH_TIMEOUT_SECONDS,
        "ResultPath": None,
        "Retry": [
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": 2,
                "MaxAttempts": 5,
                "BackoffRate": 2.0,
                "JitterStrategy": "FULL",
            }
        ],
    }
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def render_orchestration(trigger: str, steps: list[Step], events: SagaEvents, task_retries: int) -> dict[str, Any]:
    """The Amazon States Language of the orchestrated saga `trigger` (see the module docstring)."""
    states: dict[str, Any] = {
        "Begin": {"Type": "Pass", "Result": {}, "ResultPath": "$.steps", "Next": _entry(steps[0])},
    }
    for index, step in enumerate(steps):
        after = _entry(steps[index + 1]) if index + 1 < len(steps) else "PublishCompleted"
        if step.when:
            states[f"When-{step.name}"] = _when(step, f"Step-{step.name}", f"Skip-{step.name}")
            states[f"Skip-{step.name}"] = {
                "Type": "Pass",
                "Result": dict(SKIPPED),
                "ResultPath": f"$.steps.{step.name}",
                "Next": after,
            }
        states[f"Step-{step.name}"] = _task_state(
            trigger,
            step,
            step.command,
            result_path=f"$.steps.{step.name}",
            task_retries=task_retries,
            catch=("$.failure", f"Failed-{step.name}"),
            next_state=after,
        )
        states[f"Failed-{step.name}"] = {
            "Type": "Pass",
            "Parameters": {
                "step": step.name,
                "error.$": "$.failure.Error",
                "cause.$": "$.failure.Cause",
                "compensations": {},
            },
            "ResultPath": "$.failure",
            "Next": _undo_from(steps, index),
        }
        if step.compensate:
            undo = f"Compensate-{step.name}"
            states[f"Undo-{step.name}"] = {
                "Type": "Choice",
                # A step skipped by `when` did nothing to undo.
                "Choices": [
                    {
                        "Variable": f"$.steps.{step.name}.skipped",
                        "IsPresent": True,
                        "Next": _undo_from(steps, index - 1),
                    }
                ],
                "Default": undo,
            }
            states[undo] = _task_state(
                trigger,
                step,
                step.compensate,
                result_path=f"$.failure.compensations.{step.name}",
                task_retries=task_retries,
                # A compensation that still fails is recorded in place of its result; the rest still run.
                catch=(f"$.failure.compensations.{step.name}", _undo_from(steps, index - 1)),
                next_state=_undo_from(steps, index - 1),
            )
    states["PublishCompleted"] = _publish(
        events,
        events.completed_detail_type,
        {
            "trigger": trigger,
            # The same for a redelivered event's saga: consumers apply it once.
            "eventKey.$": f"States.Format('{events.completed_detail_type}:{{}}', $.id)",
            "executionArn.$": "$$.Execution.Id",
            "steps.$": "$.steps",
            "event": _event(),
        },
        None,
    )
    states["PublishFailed"] = _publish(
        events,
        events.failed_detail_type,
        {
            "trigger": trigger,
            "eventKey.$": f"States.Format('{events.failed_detail_type}:{{}}', $.id)",
            "executionArn.$": "$$.Execution.Id",
            "failedStep.$": "$.failure.step",
            "error.$": "$.failure.error",
            "cause.$": "$.failure.cause",
            "compensations.$": "$.failure.compensations",
            "steps.$": "$.steps",
            "event": _event(),
        },
        "Fail",
    )
    states["Fail"] = {"Type": "Fail", "Error": events.failed_detail_type, "Cause": "a step failed; see the event"}
    names = " -> ".join(s.name for s in steps)
    return {
        "Comment": f"Saga {trigger}: {names}; compensate in reverse on failure",
        "StartAt": "Begin",
        "States": states,
    }


def _entry(step: Step) -> str:
    return f"When-{step.name}" if step.when else f"Step-{step.name}"


def _undo_from(steps: list[Step], index: int) -> str:
    """The first compensation to run when step `index` (or a later one) failed."""
    for step in reversed(steps[: index + 1]):
        if step.compensate:
            return f"Undo-{step.name}"
    return "PublishFailed"


def default_detail_types(trigger: str) -> tuple[str, str]:
    """`<Trigger>Completed` and `<Trigger>Failed`."""
    return f"{_pascal(trigger)}Completed", f"{_pascal(trigger)}Failed"


def orchestration_statements(
    *,
    partition: str,
    region: str,
    account_id: str,
    cluster_arns: list[str],
    task_definition_arns: list[str],
    pass_role_arns: list[str],
    bus_arn: str,
    source: str,
    detail_types: list[str],
    sync_steps: bool,
) -> list[dict[str, Any]]:
    """What the orchestrator's role needs: run exactly its steps' task definition revisions, pass
    exactly their roles, watch and stop the tasks it started, announce on its own bus."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "RunTheStepsTaskDefinitionRevisions",
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": sorted(set(task_definition_arns)),
            "Condition": {"ArnEquals": {"ecs:cluster": sorted(set(cluster_arns))}},
        },
        {
            # Task ids are unknown until RunTask returns (AWS documents these on `*`).
            "Sid": "WatchAndStopStartedTasks",
            "Effect": "Allow",
            "Action": ["ecs:StopTask", "ecs:DescribeTasks"],
            "Resource": "*",
        },
        {
            # RunTask tags the tasks it creates (PropagateTags, Tags): ecs:TagResource at creation only.
            "Sid": "TagTheTasksItStarts",
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": sorted({tasks_of(arn) for arn in cluster_arns}),
            "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}},
        },
    ]
    if sync_steps:
        statements.append(sync_rule_statement(partition, region, account_id))
    statements += pass_role_statements("PassTheStepsTaskRoles", pass_role_arns)
    statements.append(
        {
            "Sid": "AnnounceOnTheOwnBus",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": bus_arn,
            "Condition": {"StringEquals": {"events:source": source, "events:detail-type": sorted(detail_types)}},
        }
    )
    return statements + observability_statements()


def task_result_statements() -> list[dict[str, Any]]:
    """What a task role needs to answer a result step.

    AWS lists no resource type for SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat, so they can only
    be granted on `*` (a narrower Resource denies them). What narrows them is the token: unguessable,
    valid only for the one state of the one execution that put it in the task's environment.
    """
    return [
        {
            "Sid": "AnswerTheStepThatStartedTheTask",
            "Effect": "Allow",
            "Action": ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
            "Resource": "*",
        }
    ]
