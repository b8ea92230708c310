"""The failure path renderer and its grant, as exact dicts: retries, the bad-input exit, the failure
event and the one PutEvents permission."""

import copy

import pytest

from components import naming
from components.failure_path import (
    FailurePath,
    backoff_seconds,
    failure_event_statements,
    with_failure_path,
)
from components.run_task_state_machine import FargateLaunch, TaskTarget, render_definition

CLUSTER = "arn:aws:ecs:ap-southeast-1:123456789012:cluster/shared"
TASK_DEF = "arn:aws:ecs:ap-southeast-1:123456789012:task-definition/customer:5"
BUS_ARN = "arn:aws:events:ap-southeast-1:123456789012:event-bus/event-tasks-test-customer"
TARGET = TaskTarget(CLUSTER, TASK_DEF, "customer", [], FargateLaunch(["subnet-0a1b2c3d"], ["sg-0c1d2e3f"]))
COMMAND = ["python", "-m", "customer.reserve_credit"]


def failure(**overrides):
    return FailurePath(
        **{
            "trigger": "reserve-credit",
            "service": "customer",
            "bus_name": "event-tasks-test-customer",
            "detail_type": "ReserveCreditFailed",
            **overrides,
        }
    )


def run_task_state():
    """The state `render_definition` renders, as the failure path must keep it (plus its Catch)."""
    state = copy.deepcopy(render_definition(TARGET, COMMAND, 600, trigger="reserve-credit")["States"]["RunTask"])
    del state["End"]
    return state


def describe(cause, next_state):
    return {"Type": "Pass", "Parameters": {"cause.$": cause}, "ResultPath": "$.failure", "Next": next_state}


def expected_states(next_after_describe, detail_type="ReserveCreditFailed"):
    """Every state but the retry ones, for a failure path whose describe states go to `next_after_describe`."""
    return {
        "CountFirstAttempt": {"Type": "Pass", "Result": {"attempt": 1}, "ResultPath": "$.taskRun", "Next": "RunTask"},
        "RunTask": {
            **run_task_state(),
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.taskError", "Next": "InspectFailure"}],
            "End": True,
        },
        "InspectFailure": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.taskError.Error", "StringEquals": "States.TaskFailed"},
                        {"Variable": "$.taskError.Cause", "IsPresent": True},
                        {"Variable": "$.taskError.Cause", "IsString": True},
                        {"Variable": "$.taskError.Cause", "StringMatches": "{*"},
                    ],
                    "Next": "ReadStoppedTask",
                },
                {
                    "And": [
                        {"Variable": "$.taskError.Cause", "IsPresent": True},
                        {"Variable": "$.taskError.Cause", "IsString": True},
                    ],
                    "Next": "DescribeError",
                },
            ],
            "Default": "DescribeErrorWithoutCause",
        },
        "ReadStoppedTask": {
            "Type": "Pass",
            "Parameters": {
                "defaults": {"StoppedReason": "no stopped reason"},
                "task.$": "States.StringToJson($.taskError.Cause)",
            },
            "ResultPath": "$.stoppedTask",
            "Next": "ReadExitCodes",
        },
        "ReadExitCodes": {
            "Type": "Pass",
            "Parameters": {
                "exitCodes.$": "$.stoppedTask.task.Containers[*].ExitCode",
                "task.$": "States.JsonMerge($.stoppedTask.defaults, $.stoppedTask.task, false)",
            },
            "ResultPath": "$.stoppedTask",
            "Next": "DescribeTaskFailure",
        },
        "DescribeTaskFailure": {
            "Type": "Pass",
            "Parameters": {
                "cause.$": "States.Format('exit codes {}: {}', States.JsonToString($.stoppedTask.exitCodes), "
                "$.stoppedTask.task.StoppedReason)",
                "badInput.$": "States.ArrayContains($.stoppedTask.exitCodes, 2)",
            },
            "ResultPath": "$.failure",
            "Next": "CheckBadInput",
        },
        "CheckBadInput": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.failure.badInput", "BooleanEquals": True, "Next": "PublishFailure"}],
            "Default": next_after_describe,
        },
        "DescribeError": describe("$.taskError.Cause", next_after_describe),
        "DescribeErrorWithoutCause": describe(
            "States.Format('{} without a cause', $.taskError.Error)", next_after_describe
        ),
        "PublishFailure": {
            "Type": "Task",
            "Resource": "arn:aws:states:::events:putEvents",
            "Parameters": {
                "Entries": [
                    {
                        "EventBusName": "event-tasks-test-customer",
                        "Source": "event-tasks.customer",
                        "DetailType": detail_type,
                        "Detail": {
                            "trigger": "reserve-credit",
                            "service": "customer",
                            "eventKey.$": f"States.Format('{detail_type}:{{}}', $.id)",
                            "error.$": "$.taskError.Error",
                            "cause.$": "$.failure.cause",
                            "executionArn.$": "$$.Execution.Id",
                            "attempts.$": "$.taskRun.attempt",
                            "event": {
                                "id.$": "$.id",
                                "detail-type.$": "$.detail-type",
                                "source.$": "$.source",
                                "detail.$": "$.detail",
                            },
                        },
                    }
                ]
            },
            "TimeoutSeconds": 30,
            "ResultPath": None,
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}],
            "Next": "GiveUp",
        },
        "GiveUp": {
            "Type": "Fail",
            "Error": detail_type,
            "CausePath": "States.Format('{} after {} attempts: {}', $.taskError.Error, $.taskRun.attempt, "
            "$.failure.cause)",
        },
    }


def test_default_failure_path_retries_twice_with_backoff_then_publishes_and_fails():
    # GIVEN the run-task workflow and a trigger with the default two retries
    definition = render_definition(TARGET, COMMAND, 600, trigger="reserve-credit")
    # WHEN the failure path wraps it
    wrapped = with_failure_path(definition, failure(task_retries=2))
    # THEN the whole ASL is the run-task state with its Catch, the inspection, two backed-off retries,
    # the failure event and the Fail state
    assert wrapped == {
        "Comment": "Run customer with python -m customer.reserve_credit and wait for it to stop; "
        "retry up to 2 time(s), then publish ReserveCreditFailed",
        "StartAt": "CountFirstAttempt",
        "States": {
            **expected_states("DecideRetry"),
            "DecideRetry": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.taskRun.attempt", "NumericLessThanEquals": 2, "Next": "PrepareRetry"}],
                "Default": "PublishFailure",
            },
            "PrepareRetry": {
                "Type": "Pass",
                "Parameters": {
                    "attempt.$": "States.MathAdd($.taskRun.attempt, 1)",
                    "waitSeconds.$": "States.ArrayGetItem(States.Array(30, 60), States.MathAdd($.taskRun.attempt, -1))",
                },
                "ResultPath": "$.taskRun",
                "Next": "Backoff",
            },
            "Backoff": {"Type": "Wait", "SecondsPath": "$.taskRun.waitSeconds", "Next": "RunTask"},
        },
    }
    # AND the run-task workflow it wrapped is unchanged
    assert definition == render_definition(TARGET, COMMAND, 600, trigger="reserve-credit")


def test_no_retries_and_an_overridden_detail_type():
    # GIVEN taskRetries 0 and a failureDetailType override
    wrapped = with_failure_path(
        render_definition(TARGET, COMMAND, 600, trigger="reserve-credit"), failure(task_retries=0, detail_type="Broke")
    )
    # THEN there are no retry states: every failure goes straight to the failure event, named as overridden
    assert wrapped["States"] == expected_states("PublishFailure", detail_type="Broke")
    assert wrapped["Comment"].endswith("; retry up to 0 time(s), then publish Broke")


def test_the_run_task_state_keeps_retrying_ecs_start_errors_itself():
    # WHEN wrapped
    state = with_failure_path(render_definition(TARGET, COMMAND, 600, trigger="reserve-credit"), failure())["States"][
        "RunTask"
    ]
    # THEN its own Retry still covers only errors before the container ran; the Catch takes the rest
    assert (
        state["Retry"]
        == render_definition(TARGET, COMMAND, 600, trigger="reserve-credit")["States"]["RunTask"]["Retry"]
    )
    assert [c["ErrorEquals"] for c in state["Catch"]] == [["States.ALL"]]


def test_backoff_doubles_from_30_seconds_and_stops_at_10_minutes():
    # THEN the table grows 30, 60, 120... and never waits more than 600 s
    assert backoff_seconds(0) == []
    assert backoff_seconds(10) == [30, 60, 120, 240, 480, 600, 600, 600, 600, 600]


@pytest.mark.parametrize("retries", [-1, 11])
def test_a_retry_count_out_of_range_is_refused(retries):
    # GIVEN a retry count the config would refuse WHEN rendered THEN it fails loudly
    with pytest.raises(ValueError, match=r"task_retries must be 0-10"):
        with_failure_path(
            render_definition(TARGET, COMMAND, 600, trigger="reserve-credit"), failure(task_retries=retries)
        )


def test_the_workflow_may_put_only_its_failure_event_on_one_bus():
    # THEN PutEvents is granted on the failed service's bus only, for its source and detail-type only
    assert failure_event_statements(BUS_ARN, failure()) == [
        {
            "Sid": "PublishTheFailureEvent",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": BUS_ARN,
            "Condition": {
                "StringEquals": {"events:source": "event-tasks.customer", "events:detail-type": "ReserveCreditFailed"}
            },
        }
    ]


@pytest.mark.parametrize(
    ("trigger", "detail_type"),
    [("reserve-credit", "ReserveCreditFailed"), ("reject-failed-order", "RejectFailedOrderFailed"), ("a", "AFailed")],
)
def test_the_default_failure_detail_type_is_the_trigger_in_pascal_case(trigger, detail_type):
    assert naming.failure_detail_type(trigger) == detail_type
