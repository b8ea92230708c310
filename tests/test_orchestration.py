"""Orchestrated triggers: the config contract of `steps`, the ASL as exact dicts (1, 2 and 3 steps,
with and without compensation and `when`), asl-validator on every rendering, the orchestrator's IAM,
and the stack under mocks granting exactly its steps."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pulumi_mocks import ACCOUNT, REGION, ROOT

from components import step_environment
from components.config import ConfigError, load_config
from components.orchestration import (
    SagaEvents,
    Step,
    default_detail_types,
    orchestration_statements,
    render_orchestration,
    task_result_statements,
)
from components.run_task_state_machine import FargateLaunch, TaskTarget

CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/shared"
ORDER_TD = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/order:3"
CUSTOMER_TD = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/customer:5"
BUS = "event-tasks-test-order"
EVENTS = SagaEvents(BUS, "event-tasks.order", "OrderSagaCompleted", "OrderSagaFailed")
ASL_VALIDATOR = ROOT / "tests" / "asl" / "node_modules" / ".bin" / "asl-validator"


def target(service: str, definition: str) -> TaskTarget:
    return TaskTarget(
        cluster_arn=CLUSTER,
        task_definition_arn=definition,
        container_name=service,
        pass_role_arns=[f"arn:aws:iam::{ACCOUNT}:role/{service}-task"],
        launch=FargateLaunch(subnets=["subnet-0aaaaaaa"], security_groups=["sg-0aaaaaaa"]),
    )


ORDER, CUSTOMER = target("order", ORDER_TD), target("customer", CUSTOMER_TD)
CREATE = Step(
    "create", ORDER, ["python", "-m", "order.create_pending"], compensate=["python", "-m", "order.reject_cmd"]
)
RESERVE = Step(
    "reserve",
    CUSTOMER,
    ["python", "-m", "customer.reserve_credit_cmd"],
    compensate=["python", "-m", "customer.release_credit_cmd"],
    heartbeat_seconds=60,
)
APPROVE = Step("approve", ORDER, ["python", "-m", "order.approve_cmd"], when={"reserve": ["RESERVED"]})


# ------------------------------------------------------------------------------------------------
# Expected ASL, built from the documented contract (not from the renderer)
# ------------------------------------------------------------------------------------------------

EVENT_ENV = [
    {"Name": "eventDetail", "Value.$": "States.JsonToString($.detail)"},
    {"Name": "eventId", "Value.$": "$.id"},
    {"Name": "eventDetailType", "Value.$": "$.detail-type"},
    {"Name": "eventSource", "Value.$": "$.source"},
]
ECS_RETRY = {
    "ErrorEquals": ["ECS.AmazonECSException", "AmazonECS.Unknown"],
    "IntervalSeconds": 5,
    "MaxAttempts": 3,
    "BackoffRate": 2.0,
    "JitterStrategy": "FULL",
}


def task_retry(errors, attempts=2):
    return {
        "ErrorEquals": errors,
        "IntervalSeconds": 10,
        "MaxAttempts": attempts,
        "BackoffRate": 2.0,
        "JitterStrategy": "FULL",
    }


RESULT_RETRY = task_retry(["TaskError", "States.HeartbeatTimeout", "States.Timeout"])


def run_task(service, definition, command, step, *, token=True, heartbeat=None):
    environment = [
        *EVENT_ENV,
        {"Name": "sagaStep", "Value": step},
        {"Name": "sagaResults", "Value.$": "States.JsonToString($.steps)"},
    ]
    if token:
        environment.append({"Name": "taskToken", "Value.$": "$$.Task.Token"})
    if heartbeat:
        environment.append({"Name": "taskHeartbeatSeconds", "Value": str(heartbeat)})
    return {
        "Cluster": CLUSTER,
        "TaskDefinition": definition,
        "LaunchType": "FARGATE",
        "NetworkConfiguration": {
            "AwsvpcConfiguration": {
                "Subnets": ["subnet-0aaaaaaa"],
                "SecurityGroups": ["sg-0aaaaaaa"],
                "AssignPublicIp": "DISABLED",
            }
        },
        "Overrides": {"ContainerOverrides": [{"Name": service, "Command": command, "Environment": environment}]},
        "PropagateTags": "TASK_DEFINITION",
        "Tags": [
            {"Key": "event-tasks:trigger", "Value": "order-saga"},
            {"Key": "event-tasks:event-id", "Value.$": "$.id"},
        ],
    }


def failed(step, undo):
    return {
        "Type": "Pass",
        "Parameters": {"step": step, "error.$": "$.failure.Error", "cause.$": "$.failure.Cause", "compensations": {}},
        "ResultPath": "$.failure",
        "Next": undo,
    }


def event():
    return {"id.$": "$.id", "detail-type.$": "$.detail-type", "source.$": "$.source", "detail.$": "$.detail"}


PUBLISH_RETRY = [
    {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 2,
        "MaxAttempts": 5,
        "BackoffRate": 2.0,
        "JitterStrategy": "FULL",
    }
]


def publish_completed():
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::events:putEvents",
        "Parameters": {
            "Entries": [
                {
                    "EventBusName": BUS,
                    "Source": "event-tasks.order",
                    "DetailType": "OrderSagaCompleted",
                    "Detail": {
                        "trigger": "order-saga",
                        "eventKey.$": "States.Format('OrderSagaCompleted:{}', $.id)",
                        "executionArn.$": "$$.Execution.Id",
                        "steps.$": "$.steps",
                        "event": event(),
                    },
                }
            ]
        },
        "TimeoutSeconds": 30,
        "ResultPath": None,
        "Retry": PUBLISH_RETRY,
        "End": True,
    }


def publish_failed():
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::events:putEvents",
        "Parameters": {
            "Entries": [
                {
                    "EventBusName": BUS,
                    "Source": "event-tasks.order",
                    "DetailType": "OrderSagaFailed",
                    "Detail": {
                        "trigger": "order-saga",
                        "eventKey.$": "States.Format('OrderSagaFailed:{}', $.id)",
                        "executionArn.$": "$$.Execution.Id",
                        "failedStep.$": "$.failure.step",
                        "error.$": "$.failure.error",
                        "cause.$": "$.failure.cause",
                        "compensations.$": "$.failure.compensations",
                        "steps.$": "$.steps",
                        "event": event(),
                    },
                }
            ]
        },
        "TimeoutSeconds": 30,
        "ResultPath": None,
        "Retry": PUBLISH_RETRY,
        "Next": "Fail",
    }


FAIL = {"Type": "Fail", "Error": "OrderSagaFailed", "Cause": "a step failed; see the event"}


def test_one_step_without_compensation():
    # GIVEN one result step, no compensation
    step = Step("notify", ORDER, ["python", "-m", "order.notify"])
    # WHEN rendered with 2 task retries
    asl = render_orchestration("order-saga", [step], EVENTS, 2)
    # THEN the step waits for its task token, retries, and on failure publishes and fails
    assert asl == {
        "Comment": "Saga order-saga: notify; compensate in reverse on failure",
        "StartAt": "Begin",
        "States": {
            "Begin": {"Type": "Pass", "Result": {}, "ResultPath": "$.steps", "Next": "Step-notify"},
            "Step-notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
                "Parameters": run_task("order", ORDER_TD, ["python", "-m", "order.notify"], "notify"),
                "TimeoutSeconds": 900,
                "ResultPath": "$.steps.notify",
                "Retry": [ECS_RETRY, RESULT_RETRY],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failed-notify"}],
                "Next": "PublishCompleted",
            },
            "Failed-notify": failed("notify", "PublishFailed"),
            "PublishCompleted": publish_completed(),
            "PublishFailed": publish_failed(),
            "Fail": FAIL,
        },
    }


def test_two_steps_with_compensation_undo_in_reverse_including_the_failed_step():
    # GIVEN create (compensated by reject) then reserve (compensated by release, with a heartbeat)
    asl = render_orchestration("order-saga", [CREATE, RESERVE], EVENTS, 2)
    reserve_cmd = ["python", "-m", "customer.reserve_credit_cmd"]
    release_cmd = ["python", "-m", "customer.release_credit_cmd"]
    # THEN a failure of reserve undoes reserve (it may have committed) and then create
    assert asl["States"] == {
        "Begin": {"Type": "Pass", "Result": {}, "ResultPath": "$.steps", "Next": "Step-create"},
        "Step-create": {
            "Type": "Task",
            "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
            "Parameters": run_task("order", ORDER_TD, ["python", "-m", "order.create_pending"], "create"),
            "TimeoutSeconds": 900,
            "ResultPath": "$.steps.create",
            "Retry": [ECS_RETRY, RESULT_RETRY],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failed-create"}],
            "Next": "Step-reserve",
        },
        "Failed-create": failed("create", "Undo-create"),
        "Undo-create": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.steps.create.skipped", "IsPresent": True, "Next": "PublishFailed"}],
            "Default": "Compensate-create",
        },
        "Compensate-create": {
            "Type": "Task",
            "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
            "Parameters": run_task("order", ORDER_TD, ["python", "-m", "order.reject_cmd"], "create"),
            "TimeoutSeconds": 900,
            "ResultPath": "$.failure.compensations.create",
            "Retry": [ECS_RETRY, RESULT_RETRY],
            "Catch": [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure.compensations.create", "Next": "PublishFailed"}
            ],
            "Next": "PublishFailed",
        },
        "Step-reserve": {
            "Type": "Task",
            "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
            "Parameters": run_task("customer", CUSTOMER_TD, reserve_cmd, "reserve", heartbeat=60),
            "TimeoutSeconds": 900,
            "HeartbeatSeconds": 60,
            "ResultPath": "$.steps.reserve",
            "Retry": [ECS_RETRY, RESULT_RETRY],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failed-reserve"}],
            "Next": "PublishCompleted",
        },
        "Failed-reserve": failed("reserve", "Undo-reserve"),
        "Undo-reserve": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.steps.reserve.skipped", "IsPresent": True, "Next": "Undo-create"}],
            "Default": "Compensate-reserve",
        },
        "Compensate-reserve": {
            "Type": "Task",
            "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
            "Parameters": run_task("customer", CUSTOMER_TD, release_cmd, "reserve", heartbeat=60),
            "TimeoutSeconds": 900,
            "HeartbeatSeconds": 60,
            "ResultPath": "$.failure.compensations.reserve",
            "Retry": [ECS_RETRY, RESULT_RETRY],
            "Catch": [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure.compensations.reserve", "Next": "Undo-create"}
            ],
            "Next": "Undo-create",
        },
        "PublishCompleted": publish_completed(),
        "PublishFailed": publish_failed(),
        "Fail": FAIL,
    }


def test_three_steps_a_when_skips_and_a_sync_step_has_no_token():
    # GIVEN approve runs only when reserve answered RESERVED, and a .sync notify step without a result
    notify = Step("notify", CUSTOMER, ["python", "-m", "customer.notify"], result=False, timeout_seconds=60)
    asl = render_orchestration("order-saga", [CREATE, APPROVE, notify], EVENTS, 0)
    states = asl["States"]
    # THEN the when is a Choice on the earlier result's status, skipping to the next step
    assert states["When-approve"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.steps.reserve.status", "StringEquals": "RESERVED", "Next": "Step-approve"}],
        "Default": "Skip-approve",
    }
    assert states["Skip-approve"] == {
        "Type": "Pass",
        "Result": {"skipped": True, "status": "SKIPPED"},
        "ResultPath": "$.steps.approve",
        "Next": "Step-notify",
    }
    assert states["Step-create"]["Next"] == "When-approve"
    # AND with taskRetries 0 only the ECS start errors are retried
    assert states["Step-approve"]["Retry"] == [ECS_RETRY]
    # AND an uncompensated step's failure still undoes the compensated steps before it
    assert states["Failed-approve"] == failed("approve", "Undo-create")
    assert states["Failed-notify"] == failed("notify", "Undo-create")
    # AND the .sync step keeps only the task's ARN as its result and has no token
    assert states["Step-notify"] == {
        "Type": "Task",
        "Resource": "arn:aws:states:::ecs:runTask.sync",
        "Parameters": run_task("customer", CUSTOMER_TD, ["python", "-m", "customer.notify"], "notify", token=False),
        "TimeoutSeconds": 60,
        "ResultSelector": {"status": "STOPPED", "taskArn.$": "$.TaskArn"},
        "ResultPath": "$.steps.notify",
        "Retry": [ECS_RETRY],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Failed-notify"}],
        "Next": "PublishCompleted",
    }
    assert sorted(states) == sorted(
        [
            "Begin",
            "Step-create",
            "Failed-create",
            "Undo-create",
            "Compensate-create",
            "When-approve",
            "Skip-approve",
            "Step-approve",
            "Failed-approve",
            "Step-notify",
            "Failed-notify",
            "PublishCompleted",
            "PublishFailed",
            "Fail",
        ]
    )


def test_a_when_on_several_statuses_and_steps_is_an_and_of_ors():
    step = Step(
        "ship", ORDER, ["python", "-m", "order.ship"], when={"reserve": ["RESERVED", "WAIVED"], "create": ["CREATED"]}
    )
    asl = render_orchestration("order-saga", [CREATE, RESERVE, step], EVENTS, 2)
    assert asl["States"]["When-ship"]["Choices"] == [
        {
            "And": [
                {"Variable": "$.steps.create.status", "StringEquals": "CREATED"},
                {
                    "Or": [
                        {"Variable": "$.steps.reserve.status", "StringEquals": "RESERVED"},
                        {"Variable": "$.steps.reserve.status", "StringEquals": "WAIVED"},
                    ]
                },
            ],
            "Next": "Step-ship",
        }
    ]


@pytest.mark.parametrize(
    "steps",
    [
        [Step("notify", ORDER, ["python", "-m", "order.notify"])],
        [CREATE, RESERVE],
        [CREATE, RESERVE, APPROVE],
        [CREATE, RESERVE, APPROVE, Step("notify", CUSTOMER, ["python", "-m", "customer.notify"], result=False)],
    ],
    ids=["1-step", "2-steps", "3-steps", "4-steps-with-sync"],
)
def test_every_rendering_passes_asl_validator(steps, tmp_path: Path):
    # GIVEN the ASL written as the state machine gets it
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(render_orchestration("order-saga", steps, EVENTS, 2)))
    # WHEN the reference validator reads it
    result = subprocess.run([str(ASL_VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False)
    # THEN it is valid
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_catches_a_broken_definition(tmp_path: Path):
    # GIVEN a rendering whose step points at a state that does not exist
    asl = render_orchestration("order-saga", [CREATE], EVENTS, 2)
    asl["States"]["Step-create"]["Next"] = "Nowhere"
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(asl))
    # THEN the validator refuses it (so the test above can fail)
    result = subprocess.run([str(ASL_VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode != 0


def test_detail_types_default_to_the_trigger_in_pascal_case():
    assert default_detail_types("order-saga") == ("OrderSagaCompleted", "OrderSagaFailed")


# ------------------------------------------------------------------------------------------------
# IAM
# ------------------------------------------------------------------------------------------------


def test_the_orchestrator_may_run_exactly_its_steps_revisions_and_announce_on_its_bus():
    statements = orchestration_statements(
        partition="aws",
        region=REGION,
        account_id=ACCOUNT,
        cluster_arns=[CLUSTER, CLUSTER, CLUSTER],
        task_definition_arns=[ORDER_TD, CUSTOMER_TD, ORDER_TD],
        pass_role_arns=[f"arn:aws:iam::{ACCOUNT}:role/order-task", f"arn:aws:iam::{ACCOUNT}:role/customer-task"],
        bus_arn=f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{BUS}",
        source="event-tasks.order",
        detail_types=["OrderSagaFailed", "OrderSagaCompleted"],
        sync_steps=False,
    )
    assert statements[:5] == [
        {
            "Sid": "RunTheStepsTaskDefinitionRevisions",
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": [CUSTOMER_TD, ORDER_TD],
            "Condition": {"ArnEquals": {"ecs:cluster": [CLUSTER]}},
        },
        {
            "Sid": "WatchAndStopStartedTasks",
            "Effect": "Allow",
            "Action": ["ecs:StopTask", "ecs:DescribeTasks"],
            "Resource": "*",
        },
        {
            "Sid": "TagTheTasksItStarts",
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": [f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/shared/*"],
            "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}},
        },
        {
            "Sid": "PassTheStepsTaskRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": [f"arn:aws:iam::{ACCOUNT}:role/customer-task", f"arn:aws:iam::{ACCOUNT}:role/order-task"],
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        {
            "Sid": "AnnounceOnTheOwnBus",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{BUS}",
            "Condition": {
                "StringEquals": {
                    "events:source": "event-tasks.order",
                    "events:detail-type": ["OrderSagaCompleted", "OrderSagaFailed"],
                }
            },
        },
    ]
    # AND only logs and traces follow (no managed rule: no .sync step)
    assert [s["Sid"] for s in statements[5:]] == ["DeliverExecutionLogs", "SendTraces"]


def test_a_sync_step_adds_the_managed_completion_rule():
    statements = orchestration_statements(
        partition="aws",
        region=REGION,
        account_id=ACCOUNT,
        cluster_arns=[CLUSTER],
        task_definition_arns=[ORDER_TD],
        pass_role_arns=[],
        bus_arn="arn:bus",
        source="event-tasks.order",
        detail_types=["A"],
        sync_steps=True,
    )
    assert {
        "Sid": "ManageSyncCompletionRule",
        "Effect": "Allow",
        "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
        "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForECSTaskRule",
    } in statements
    assert not any(s["Sid"] == "PassTheStepsTaskRoles" for s in statements)


def test_task_results_are_granted_as_aws_allows_them():
    assert task_result_statements() == [
        {
            "Sid": "AnswerTheStepThatStartedTheTask",
            "Effect": "Allow",
            "Action": ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
            "Resource": "*",
        }
    ]


# ------------------------------------------------------------------------------------------------
# Config
# ------------------------------------------------------------------------------------------------

SERVICES = {
    "order": {"taskDefinitionArn": ORDER_TD},
    "customer": {"taskDefinitionArn": CUSTOMER_TD},
}
SAGA_STEPS = [
    {
        "name": "create",
        "service": "order",
        "command": ["python", "-m", "order.create_pending"],
        "compensate": ["python", "-m", "order.reject_cmd"],
    },
    {
        "name": "reserve",
        "service": "customer",
        "command": ["python", "-m", "customer.reserve_credit_cmd"],
        "compensate": ["python", "-m", "customer.release_credit_cmd"],
    },
    {
        "name": "approve",
        "service": "order",
        "command": ["python", "-m", "order.approve_cmd"],
        "when": {"reserve": "RESERVED"},
    },
]


def raw_config(triggers):
    return {
        "aws:region": REGION,
        "event-tasks:environment": "cloud",
        "event-tasks:cloud": json.dumps(
            {"clusterArn": CLUSTER, "subnets": ["subnet-0aaaaaaa"], "securityGroups": ["sg-0aaaaaaa"]}
        ),
        "event-tasks:services": json.dumps(SERVICES),
        "event-tasks:triggers": json.dumps(triggers),
    }


def saga(**changes):
    trigger = {"bus": "order", "detailTypes": ["OrderRequested"], "steps": json.loads(json.dumps(SAGA_STEPS))}
    trigger.update(changes)
    return {"order-saga": trigger}


def test_an_orchestrated_trigger_loads_with_its_steps():
    config = load_config(raw_config(saga()), "test", ROOT)
    trigger = config.triggers["order-saga"]
    assert [s.name for s in trigger.steps] == ["create", "reserve", "approve"]
    assert trigger.steps[2].when == {"reserve": "RESERVED"}
    assert trigger.steps[0].result is True and trigger.steps[0].timeoutSeconds == 900
    assert trigger.services_run() == ["order", "customer"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"service": "order", "command": ["python", "-m", "order.approve"]},
            r"event-tasks:triggers\.order-saga: give either service and command \(one task\) or steps",
        ),
        ({"steps": []}, r"event-tasks:triggers\.order-saga\.steps: List should have at least 1 item"),
        ({"timeoutSeconds": 60}, r"event-tasks:triggers\.order-saga: timeoutSeconds is per step"),
    ],
)
def test_steps_exclude_a_single_task(changes, message):
    with pytest.raises(ConfigError, match=message):
        load_config(raw_config(saga(**changes)), "test", ROOT)


def test_a_trigger_needs_a_task_or_steps():
    with pytest.raises(ConfigError) as error:
        load_config(raw_config({"t": {"bus": "order", "detailTypes": ["X"]}}), "test", ROOT)
    assert error.value.problems == [
        "event-tasks:triggers.t.service: required (or give steps for an orchestration)",
        "event-tasks:triggers.t.command: required (or give steps for an orchestration)",
    ]


def step_change(index, **fields):
    steps = json.loads(json.dumps(SAGA_STEPS))
    steps[index].update(fields)
    for key, value in fields.items():
        if value is None:
            del steps[index][key]
    return saga(steps=steps)


@pytest.mark.parametrize(
    ("triggers", "message"),
    [
        (
            step_change(1, name="create"),
            r"event-tasks:triggers\.order-saga: step names must be unique; create used twice",
        ),
        (
            step_change(1, service="billing"),
            r"event-tasks:triggers\.order-saga\.steps\.1\.service: 'billing' is not a service",
        ),
        (
            step_change(1, name="Reserve Credit"),
            r"event-tasks:triggers\.order-saga\.steps\.1\.name: 'Reserve Credit' is not a step name",
        ),
        (
            step_change(0, when={"approve": "RESERVED"}),
            r"event-tasks:triggers\.order-saga\.steps\.0\.when\.approve: not an earlier step",
        ),
        (
            step_change(2, when={"reserve": ""}),
            r"event-tasks:triggers\.order-saga\.steps\.2\.when\.reserve: expected a status",
        ),
        (
            step_change(1, result=False, heartbeatSeconds=30),
            r"event-tasks:triggers\.order-saga\.steps\.1: heartbeatSeconds needs result: true",
        ),
        (
            step_change(1, heartbeatSeconds=900),
            r"event-tasks:triggers\.order-saga\.steps\.1: heartbeatSeconds \(900\) must be less than timeoutSeconds",
        ),
        (
            step_change(1, compensate=["python", " "]),
            r"event-tasks:triggers\.order-saga\.steps\.1\.compensate: has a blank argument",
        ),
        (
            step_change(1, retries=3),
            r"event-tasks:triggers\.order-saga\.steps\.1\.retries: unknown key; allowed here: command, compensate",
        ),
        (step_change(2, command=None), r"event-tasks:triggers\.order-saga\.steps\.2\.command: required"),
    ],
)
def test_bad_steps_are_refused_with_their_key(triggers, message):
    with pytest.raises(ConfigError, match=message):
        load_config(raw_config(triggers), "test", ROOT)


def test_a_when_on_a_step_without_result_is_refused():
    steps = json.loads(json.dumps(SAGA_STEPS))
    steps[1]["result"] = False
    with pytest.raises(ConfigError, match=r"steps\.2\.when\.reserve: step 'reserve' has result: false"):
        load_config(raw_config(saga(steps=steps)), "test", ROOT)


def test_a_step_whose_overrides_could_exceed_ecs_limit_is_refused():
    # GIVEN seven result steps: the last one carries six earlier results and a task token
    steps = [{"name": f"s{i}", "service": "order", "command": ["python", "-m", "order.step"]} for i in range(7)]
    # WHEN validated
    with pytest.raises(ConfigError) as error:
        load_config(raw_config(saga(steps=steps)), "test", ROOT)
    # THEN only the step that could not fit is named, with the limit
    assert error.value.problems == [
        f"event-tasks:triggers.order-saga.steps.6.command: the step's container overrides could reach "
        f"{step_environment.worst_override_chars(['python', '-m', 'order.step'], 6, result=True)} characters "
        f"(ECS allows 8192) with an event detail of {step_environment.DETAIL_MAX} and 6 earlier result(s); "
        "shorten the command or use fewer steps"
    ]


def test_a_cloud_service_run_only_by_steps_needs_its_task_definition():
    raw = raw_config(saga())
    raw["event-tasks:services"] = json.dumps({"order": SERVICES["order"], "customer": {}})
    with pytest.raises(ConfigError, match=r"services\.customer\.taskDefinitionArn: required in cloud because trigger"):
        load_config(raw, "test", ROOT)


# ------------------------------------------------------------------------------------------------
# The stack under mocks
# ------------------------------------------------------------------------------------------------


def test_the_orchestrator_is_granted_exactly_its_steps(deploy):
    # GIVEN a cloud stack with the orchestrated saga only
    deployment = deploy("test", raw_config(saga()))
    # THEN one orchestrator whose role runs exactly the two revisions and passes exactly their roles
    (machine,) = deployment.of_type("aws:sfn/stateMachine:StateMachine")
    assert machine.name == "order-saga-saga-state-machine"
    definition = machine.json("definition")
    assert definition["StartAt"] == "Begin" and "Compensate-reserve" in definition["States"]
    # (the orchestrator's policy is inline on its role)
    policy = deployment.named("order-saga-saga-role").inline_policy()
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["RunTheStepsTaskDefinitionRevisions"]["Resource"] == [CUSTOMER_TD, ORDER_TD]
    assert statements["PassTheStepsTaskRoles"]["Resource"] == [
        f"arn:aws:iam::{ACCOUNT}:role/customer-execution",
        f"arn:aws:iam::{ACCOUNT}:role/customer-task",
        f"arn:aws:iam::{ACCOUNT}:role/order-execution",
        f"arn:aws:iam::{ACCOUNT}:role/order-task",
    ]
    assert statements["AnnounceOnTheOwnBus"]["Resource"].endswith(":event-bus/event-tasks-test-order")
    # AND the rule on the order bus starts it
    (rule,) = deployment.of_type("aws:cloudwatch/eventRule:EventRule")
    assert rule.inputs["eventBusName"] == "event-tasks-test-order"
    assert json.loads(rule.inputs["eventPattern"])["detail-type"] == ["OrderRequested"]


@pytest.mark.parametrize("stack", ["local", "cloud"])
def test_both_stacks_grant_the_shipped_orchestrator_exactly_its_steps(shipped_stacks, stack):
    # GIVEN the stack's fixture, with the order-saga beside the choreography
    deployment = shipped_stacks(stack)
    # (the orchestrator's policy is inline on its role)
    policy = deployment.named("order-saga-saga-role").inline_policy()
    statements = {s["Sid"]: s for s in policy["Statement"]}
    # THEN it may run exactly the order and customer task definition revisions its steps run
    definitions = {
        "local": [
            f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/event-tasks-local-customer:1",
            f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/event-tasks-local-order:1",
        ],
        "cloud": [CUSTOMER_TD, ORDER_TD],
    }[stack]
    assert statements["RunTheStepsTaskDefinitionRevisions"]["Resource"] == definitions
    # AND pass exactly their task and execution roles, and announce only its own two detail-types
    roles = {
        "local": [
            f"arn:aws:iam::{ACCOUNT}:role/event-tasks-local-{s}-{r}"
            for s in ("customer", "order")
            for r in ("execution", "task")
        ],
        "cloud": [f"arn:aws:iam::{ACCOUNT}:role/{s}-{r}" for s in ("customer", "order") for r in ("execution", "task")],
    }[stack]
    assert statements["PassTheStepsTaskRoles"]["Resource"] == roles
    assert statements["AnnounceOnTheOwnBus"]["Condition"] == {
        "StringEquals": {
            "events:source": "event-tasks.order",
            "events:detail-type": ["OrderSagaCompleted", "OrderSagaFailed"],
        }
    }
    # AND its role publishes on the order bus, so the order bus's policy admits it
    (bus_policy,) = [p for p in deployment.of_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy") if "order" in p.name]
    assert f"event-tasks-{stack}-order-saga-states" in bus_policy.inputs["policy"]
