"""The emulator's moto workarounds: each defect still exists in moto 5.2.5 (tests named
`test_moto_still_...`, which fail loudly once moto fixes it) and each patched behaviour matches AWS."""

from __future__ import annotations

import collections
import contextlib
import copy
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.events.models import Rule
from moto.moto_api import state_manager
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs import (
    StateTaskServiceEcs,
)

from sandbox.emulator import Emulator, TaskLaunch, active, start_in_process, start_server

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/states"
COMMAND = ["python", "-m", "customer.reserve_credit"]
ECS_RETRIES = [{"ErrorEquals": ["ECS.AmazonECSException", "ECS.ThrottlingException"], "MaxAttempts": 3}]


# ---------------------------------------------------------------------------------------------
# Fixtures (here, not in a conftest.py: a second `conftest` module would shadow the one that
# tests/*.py import names from)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """The patched emulator, in process; a quick `.sync` poll keeps each execution ~0.1 s."""
    emulator = start_in_process(REGION, sync_poll_seconds=0.02)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def unpatched() -> Iterator[None]:
    """moto exactly as shipped (no workaround installed), with Step Functions executing."""
    assert active() is None, "an emulator leaked from another test: its patches are still on"
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def immediate_ecs_tasks() -> Iterator[None]:
    """moto's own task lifecycle, collapsed: a task is STOPPED at its first describe."""
    state_manager.set_transition("ecs::task", {"progression": "immediate"})
    try:
        yield
    finally:
        state_manager.unset_transition("ecs::task")


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def client(service: str, emu: Emulator | None = None) -> Any:
    return emu.boto3_client(service) if emu else boto3.client(service, region_name=REGION)


def still_broken(broken: bool, defect: str, workaround: str) -> None:
    assert broken, f"moto fixed {defect}: remove {workaround} from sandbox/emulator.py"


def fargate_service(
    emu: Emulator | None = None, *, dns_hostnames: bool = True, container_memory: int | None = 512
) -> dict[str, Any]:
    """A VPC, subnet, security group, cluster and the `customer` FARGATE task definition."""
    ec2, ecs = client("ec2", emu), client("ecs", emu)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    if dns_hostnames:
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    cluster = ecs.create_cluster(clusterName="customer")["cluster"]["clusterArn"]
    definition = ecs.register_task_definition(
        family="customer",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "customer",
                "image": "customer:latest",
                **({"memory": container_memory} if container_memory else {}),
                "environment": [{"name": "SERVICE", "value": "customer"}],
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    return {"cluster": cluster, "task_definition": definition, "subnet": subnet, "group": group}


def run_task_parameters(service: dict[str, Any]) -> dict[str, Any]:
    """The project's runTask.sync Parameters (FARGATE flavour), event fields in the environment."""
    return {
        "Cluster": service["cluster"],
        "TaskDefinition": service["task_definition"],
        "LaunchType": "FARGATE",
        "NetworkConfiguration": {
            "AwsvpcConfiguration": {
                "Subnets": [service["subnet"]],
                "SecurityGroups": [service["group"]],
                "AssignPublicIp": "DISABLED",
            }
        },
        "Overrides": {
            "ContainerOverrides": [
                {
                    "Name": "customer",
                    "Command": COMMAND,
                    "Environment": [
                        {"Name": "eventDetail", "Value.$": "States.JsonToString($.detail)"},
                        {"Name": "eventId", "Value.$": "$.id"},
                        {"Name": "eventDetailType", "Value.$": "$.detail-type"},
                        {"Name": "eventSource", "Value.$": "$.source"},
                    ],
                }
            ]
        },
    }


def run_fargate_task(ecs: Any, service: dict[str, Any]) -> dict:
    network = {"awsvpcConfiguration": {"subnets": [service["subnet"]], "securityGroups": [service["group"]]}}
    return ecs.run_task(
        cluster=service["cluster"],
        taskDefinition=service["task_definition"],
        launchType="FARGATE",
        networkConfiguration=network,
    )


def run_task_machine(sfn: Any, parameters: dict[str, Any], **state: Any) -> str:
    definition = {
        "StartAt": "Run",
        "States": {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Parameters": parameters,
                "TimeoutSeconds": 60,
                "End": True,
                **state,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    return sfn.create_state_machine(name="reserve-credit", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]


EVENT = {"id": "4b0c1d2e", "detail-type": "OrderPlaced", "source": "order", "detail": {"orderId": "o-1"}}


def execute(sfn: Any, machine: str, payload: dict[str, Any] = EVENT, timeout: float = 10) -> dict:
    execution = sfn.start_execution(
        stateMachineArn=machine, name=f"run-{time.monotonic_ns()}", input=json.dumps(payload)
    )
    return finished(sfn, execution["executionArn"], timeout)


def finished(sfn: Any, execution_arn: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING after {timeout} s"
        time.sleep(0.02)
    return described


class ExitWith:
    """A task runner standing in for the harness: records launches, exits with `code` after `delay` s."""

    def __init__(self, emu: Emulator, code: int | None = 0, delay: float = 0.01):
        self.emu, self.code, self.delay, self.launches = emu, code, delay, []

    def __call__(self, launch: TaskLaunch) -> None:
        self.launches.append(launch)
        if self.code is not None:
            threading.Timer(self.delay, self.emu.complete_task, (launch.task_arn, self.code)).start()


def ec2_capacity(emu: Emulator, memory: int) -> dict[str, Any]:
    """An EC2 cluster with an ASG capacity provider, one container instance, a bridge task def."""
    ec2, ecs = client("ec2", emu), client("ecs", emu)
    asg = f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:1:autoScalingGroupName/workers"
    ecs.create_capacity_provider(name="workers", autoScalingGroupProvider={"autoScalingGroupArn": asg})
    cluster = ecs.create_cluster(clusterName="workers")["cluster"]["clusterArn"]
    ecs.put_cluster_capacity_providers(
        cluster=cluster, capacityProviders=["workers"], defaultCapacityProviderStrategy=[]
    )
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
    ecs.register_container_instance(
        cluster=cluster, instanceIdentityDocument=json.dumps({"instanceId": instance["InstanceId"]})
    )
    definition = ecs.register_task_definition(
        family="customer",
        containerDefinitions=[{"name": "customer", "image": "customer:latest", "memory": memory}],
    )["taskDefinition"]["taskDefinitionArn"]
    return {
        "Cluster": cluster,
        "TaskDefinition": definition,
        "CapacityProviderStrategy": [{"CapacityProvider": "workers", "Weight": 1, "Base": 0}],
        "PlacementStrategy": [
            {"Type": "spread", "Field": "instanceId"},
            {"Type": "binpack", "Field": "cpu"},
            {"Type": "random"},
        ],
        "Overrides": {"ContainerOverrides": [{"Name": "customer", "Command": COMMAND}]},
    }


def bus_with_rule(emu: Emulator | None, targets: list[dict[str, Any]], *, state: str = "ENABLED") -> Any:
    events = client("events", emu)
    events.create_event_bus(Name="order")
    events.put_rule(
        Name="order-placed",
        EventBusName="order",
        EventPattern=json.dumps({"detail-type": ["OrderPlaced"]}),
        State=state,
    )
    events.put_targets(Rule="order-placed", EventBusName="order", Targets=targets)
    return events


def order_placed(events: Any, order_id: str = "o-1") -> str:
    entry = {
        "EventBusName": "order",
        "Source": "order",
        "DetailType": "OrderPlaced",
        "Detail": json.dumps({"orderId": order_id}),
    }
    return events.put_events(Entries=[entry])["Entries"][0]["EventId"]


def pass_machine(emu: Emulator | None, name: str = "echo") -> str:
    definition = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
    return client("stepfunctions", emu).create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]


def queue(emu: Emulator | None, name: str) -> tuple[str, str]:
    sqs = client("sqs", emu)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def messages(emu: Emulator | None, url: str) -> list[dict]:
    answer = client("sqs", emu).receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return answer.get("Messages", [])


# ---------------------------------------------------------------------------------------------
# A: ECS parameter / result casing
# ---------------------------------------------------------------------------------------------


def test_moto_still_passes_pascal_case_ecs_parameters_to_botocore(unpatched: None) -> None:
    # GIVEN moto as shipped and a runTask.sync state with the project's PascalCase Parameters
    sfn = client("stepfunctions")
    machine = run_task_machine(sfn, run_task_parameters(fargate_service()))

    # WHEN an execution runs it
    result = execute(sfn, machine)

    # THEN it fails States.Runtime with the KeyError cause 'Cluster'
    still_broken(
        result.get("error") == "States.Runtime" and result.get("cause", "").endswith("'Cluster'"),
        "ECS parameter normalisation",
        "workaround A (_workaround_a_ecs_casing)",
    )


def test_run_task_sync_gets_pascal_case_parameters_and_returns_the_task_as_aws_does(emu: Emulator) -> None:
    # GIVEN the project's FARGATE runTask.sync state and a runner whose process exits 0
    sfn = client("stepfunctions", emu)
    machine = run_task_machine(sfn, run_task_parameters(fargate_service(emu)), Retry=ECS_RETRIES)
    runner = ExitWith(emu, 0)
    emu.set_task_runner(runner)

    # WHEN an execution runs it with an EventBridge event as input
    result = execute(sfn, machine)

    # THEN the runner got the task with the overrides resolved against the definition
    assert result["status"] == "SUCCEEDED", result.get("cause")
    (launch,) = runner.launches
    assert (launch.launch_type, launch.started_by) == ("FARGATE", "AWS Step Functions")
    (container,) = launch.containers
    assert (container.name, container.command, container.essential) == ("customer", COMMAND, True)
    assert container.environment == {
        "SERVICE": "customer",
        "eventDetail": '{"orderId":"o-1"}',
        "eventId": "4b0c1d2e",
        "eventDetailType": "OrderPlaced",
        "eventSource": "order",
    }
    # AND the state's result is the DescribeTasks task in PascalCase, timestamps in epoch ms
    task = json.loads(result["output"])
    assert task["TaskArn"] == launch.task_arn
    assert (task["LastStatus"], task["StopCode"]) == ("STOPPED", "EssentialContainerExited")
    assert task["StoppedReason"] == "Essential container in task exited"
    assert [(c["Name"], c["ExitCode"]) for c in task["Containers"]] == [("customer", 0)]
    assert task["Overrides"]["ContainerOverrides"][0]["Command"] == COMMAND
    assert isinstance(task["StoppedAt"], int)


def test_capacity_provider_and_placement_strategies_reach_ecs(emu: Emulator) -> None:
    # GIVEN a runTask.sync state using an ASG capacity provider and placement strategies
    sfn = client("stepfunctions", emu)
    machine = run_task_machine(sfn, ec2_capacity(emu, memory=256))
    runner = ExitWith(emu, 0)
    emu.set_task_runner(runner)

    # WHEN it runs
    result = execute(sfn, machine)

    # THEN ECS received the strategy (camelCase, no launch type) and the task ran
    assert result["status"] == "SUCCEEDED", result.get("cause")
    (launch,) = runner.launches
    assert launch.launch_type is None
    assert launch.capacity_provider_strategy == [{"capacityProvider": "workers", "weight": 1, "base": 0}]


def test_moto_still_drops_the_tags_of_run_task() -> None:
    # GIVEN moto's list of the RunTask parameters its ECS integration passes on
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_ecs

    # THEN Tags is not among them: a state's task tags would silently vanish
    still_broken(
        "Tags" not in state_task_service_ecs._SUPPORTED_API_PARAM_BINDINGS["runtask"],
        "RunTask Tags in the ECS integration",
        "Tags from workaround A (_ecs_supported_parameters)",
    )


def test_run_task_tags_reach_the_task_with_the_event_id_resolved(emu: Emulator) -> None:
    # GIVEN the project's task tags on a runTask.sync state: the trigger, and the event's id by path
    sfn, ecs = client("stepfunctions", emu), client("ecs", emu)
    parameters = {
        **run_task_parameters(fargate_service(emu)),
        "PropagateTags": "TASK_DEFINITION",
        "Tags": [
            {"Key": "event-tasks:trigger", "Value": "reserve-credit"},
            {"Key": "event-tasks:event-id", "Value.$": "$.id"},
        ],
    }
    runner = ExitWith(emu, 0)
    emu.set_task_runner(runner)

    # WHEN an execution runs it for an event
    result = execute(sfn, run_task_machine(sfn, parameters, Retry=ECS_RETRIES))

    # THEN the task ECS created carries both tags, the event id resolved from the input
    assert result["status"] == "SUCCEEDED", result.get("cause")
    (launch,) = runner.launches
    (task,) = ecs.describe_tasks(cluster=launch.cluster_arn, tasks=[launch.task_arn], include=["TAGS"])["tasks"]
    assert {t["key"]: t["value"] for t in task["tags"]} == {
        "event-tasks:trigger": "reserve-credit",
        "event-tasks:event-id": EVENT["id"],
    }


# ---------------------------------------------------------------------------------------------
# B: EventBridge → state machine
# ---------------------------------------------------------------------------------------------


def test_moto_still_cannot_deliver_to_state_machine_targets(unpatched: None) -> None:
    # GIVEN moto as shipped and a rule on a custom bus targeting a state machine
    events = bus_with_rule(None, [{"Id": "machine", "Arn": pass_machine(None)}])

    # WHEN a matching event is put
    try:
        order_placed(events)
        raised: Exception | None = None
    except Exception as exc:
        raised = exc

    # THEN moto refuses with NotImplementedError
    still_broken(
        isinstance(raised, NotImplementedError),
        "EventBridge → Step Functions targets",
        "workaround B (_workaround_b_state_machine_targets)",
    )


def test_rule_starts_one_execution_per_event_with_the_whole_event_as_input(emu: Emulator) -> None:
    # GIVEN a rule on a custom bus with a state machine target and an SQS target
    machine = pass_machine(emu)
    copy_url, copy_arn = queue(emu, "copies")
    events = bus_with_rule(emu, [{"Id": "machine", "Arn": machine}, {"Id": "copy", "Arn": copy_arn}])

    # WHEN two matching events are put
    ids = [order_placed(events, "o-1"), order_placed(events, "o-2")]

    # THEN each started its own execution whose input is the event exactly as EventBridge sends it
    sfn = client("stepfunctions", emu)
    deliveries = emu.events.by_outcome("delivered")
    assert [d.event["id"] for d in deliveries] == ids
    inputs = [json.loads(finished(sfn, d.execution_arn)["input"]) for d in deliveries]
    for event_id, order_id, sent in zip(ids, ["o-1", "o-2"], inputs, strict=True):
        time_ = sent.pop("time")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", time_)
        assert sent == {
            "version": "0",
            "id": event_id,
            "detail-type": "OrderPlaced",
            "source": "order",
            "account": ACCOUNT,
            "region": REGION,
            "resources": [],
            "detail": {"orderId": order_id},
        }
    assert len({d.execution_arn for d in deliveries}) == 2
    # AND the SQS target got each event exactly once, and both were recorded as emitted
    assert len(messages(emu, copy_url)) == 2
    assert [e["id"] for e in emu.events.emitted] == ids


def test_target_input_path_selects_what_the_execution_receives(emu: Emulator) -> None:
    # GIVEN a state machine target with InputPath $.detail
    events = bus_with_rule(emu, [{"Id": "machine", "Arn": pass_machine(emu), "InputPath": "$.detail"}])

    # WHEN a matching event is put
    order_placed(events, "o-9")

    # THEN the execution's input is the event's detail only
    (delivery,) = emu.events.deliveries
    started = finished(client("stepfunctions", emu), delivery.execution_arn)
    assert json.loads(started["input"]) == {"orderId": "o-9"}


def test_disabled_rule_starts_nothing(emu: Emulator) -> None:
    # GIVEN a DISABLED rule targeting a state machine
    events = bus_with_rule(emu, [{"Id": "machine", "Arn": pass_machine(emu)}], state="DISABLED")

    # WHEN a matching event is put
    order_placed(events)

    # THEN the event is emitted but nothing is delivered
    assert (len(emu.events.emitted), emu.events.deliveries) == (1, [])


def test_failed_start_goes_to_the_dead_letter_queue_with_eventbridge_attributes(emu: Emulator) -> None:
    # GIVEN a target naming a state machine that does not exist, with an SQS dead-letter queue
    missing = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:gone"
    dlq_url, dlq_arn = queue(emu, "order-dlq")
    events = bus_with_rule(emu, [{"Id": "machine", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn}}])

    # WHEN a matching event is put
    event_id = order_placed(events)

    # THEN the event lands in the DLQ with the attributes EventBridge documents
    (message,) = messages(emu, dlq_url)
    assert json.loads(message["Body"])["id"] == event_id
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes.pop("ERROR_MESSAGE")
    assert attributes == {
        "RULE_ARN": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/order/order-placed",
        "TARGET_ARN": missing,
        "ERROR_CODE": "NO_RESOURCE",
    }
    # AND the log says so
    (delivery,) = emu.events.deliveries
    assert (delivery.outcome, delivery.dlq_arn) == ("dead-lettered", dlq_arn)


def test_failed_start_without_dead_letter_queue_is_logged_loudly(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a target naming a state machine that does not exist, without a dead-letter queue
    missing = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:gone"
    events = bus_with_rule(emu, [{"Id": "machine", "Arn": missing}])

    # WHEN a matching event is put
    with caplog.at_level(logging.ERROR, logger="sandbox.emulator"):
        event_id = order_placed(events)

    # THEN it is recorded as dropped and logged as an ERROR naming the event
    (delivery,) = emu.events.deliveries
    assert delivery.outcome == "dropped" and delivery.error.startswith("NO_RESOURCE")
    assert any(r.levelno == logging.ERROR and event_id in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------------------------
# C: exit codes through the task runner
# ---------------------------------------------------------------------------------------------


def test_moto_still_reports_exit_code_zero_and_stops_tasks_by_itself(unpatched: None) -> None:
    # GIVEN moto as shipped and a FARGATE task started with boto3
    service = fargate_service()
    ecs = client("ecs")
    task_arn = run_fargate_task(ecs, service)["tasks"][0]["taskArn"]

    # WHEN nobody stops it and it is only described
    seen = [ecs.describe_tasks(cluster=service["cluster"], tasks=[task_arn])["tasks"][0] for _ in range(5)]

    # THEN it reported exit code 0 while running and walked to STOPPED on its own
    still_broken(
        seen[0]["containers"][0].get("exitCode") == 0
        and seen[-1]["lastStatus"] == "STOPPED"
        and seen[-1]["containers"][0].get("exitCode") == 0,
        "ECS exit codes / task lifecycle",
        "workaround C (_workaround_c_exit_codes)",
    )


def test_non_zero_exit_fails_the_state_with_states_task_failed(emu: Emulator) -> None:
    # GIVEN a runTask.sync state retrying ECS API errors only, and a runner whose process exits 3
    sfn = client("stepfunctions", emu)
    machine = run_task_machine(sfn, run_task_parameters(fargate_service(emu)), Retry=ECS_RETRIES)
    runner = ExitWith(emu, 3)
    emu.set_task_runner(runner)

    # WHEN an execution runs it
    result = execute(sfn, machine)

    # THEN it fails States.TaskFailed once (no retry), the cause being the stopped task as JSON
    assert (result["status"], result.get("error")) == ("FAILED", "States.TaskFailed")
    cause = json.loads(result["cause"])
    assert cause["StoppedReason"] == "Essential container in task exited"
    assert [(c["Name"], c["ExitCode"]) for c in cause["Containers"]] == [("customer", 3)]
    assert len(runner.launches) == 1


def test_task_stays_running_until_the_runner_completes_it(emu: Emulator) -> None:
    # GIVEN a runner that never finishes by itself, and a task started with plain boto3
    runner = ExitWith(emu, code=None)
    emu.set_task_runner(runner)
    service = fargate_service(emu)
    ecs = client("ecs", emu)
    task_arn = run_fargate_task(ecs, service)["tasks"][0]["taskArn"]

    def describe() -> dict:
        return ecs.describe_tasks(cluster=service["cluster"], tasks=[task_arn])["tasks"][0]

    # WHEN it is described many times, then completed with exit code 7
    polled = [describe() for _ in range(6)]
    assert emu.running_tasks() == [task_arn]
    emu.complete_task(task_arn, 7, reason="OutOfMemoryError: Container killed")

    # THEN it stayed RUNNING without an exit code, and stopped with 7 and the reason
    assert {(t["lastStatus"], "exitCode" in t["containers"][0]) for t in polled} == {("RUNNING", False)}
    stopped = describe()
    assert (stopped["lastStatus"], stopped["stoppedReason"]) == (
        "STOPPED",
        "OutOfMemoryError: Container killed",
    )
    assert stopped["containers"][0]["exitCode"] == 7
    assert emu.running_tasks() == []
    with pytest.raises(KeyError, match="not a running task"):
        emu.complete_task(task_arn, 0)


def test_runner_that_cannot_start_the_task_fails_the_state(emu: Emulator) -> None:
    # GIVEN a runner that raises
    def broken(launch: TaskLaunch) -> None:
        raise FileNotFoundError("python")

    sfn = client("stepfunctions", emu)
    machine = run_task_machine(sfn, run_task_parameters(fargate_service(emu)))
    emu.set_task_runner(broken)

    # WHEN an execution runs the task
    result = execute(sfn, machine)

    # THEN the task stopped without an exit code and the state failed States.TaskFailed
    assert (result["status"], result.get("error")) == ("FAILED", "States.TaskFailed")
    cause = json.loads(result["cause"])
    assert cause["StoppedReason"].startswith("CannotStartContainerError")
    assert "ExitCode" not in cause["Containers"][0]


def test_without_a_runner_tasks_behave_as_moto_ships_them(emu: Emulator, immediate_ecs_tasks: None) -> None:
    # GIVEN no runner and moto's lifecycle collapsed to "stopped at first look"
    sfn = client("stepfunctions", emu)
    machine = run_task_machine(sfn, run_task_parameters(fargate_service(emu)))

    # WHEN an execution runs the task
    result = execute(sfn, machine)

    # THEN moto's exit code 0 decides: the state succeeds
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert json.loads(result["output"])["Containers"][0]["ExitCode"] == 0


# ---------------------------------------------------------------------------------------------
# C: a `.sync` state learns of its task's stop from complete_task, not from polling
# ---------------------------------------------------------------------------------------------

# moto's `.sync` loop would sleep this long between two looks at a running task: a state that
# still depended on polling would not end within any of these tests' deadlines.
NEVER = 3600


@pytest.fixture
def unpolled() -> Iterator[Emulator]:
    """The patched emulator, in process, with moto's `.sync` poll at one hour."""
    emulator = start_in_process(REGION, sync_poll_seconds=NEVER)
    try:
        yield emulator
    finally:
        emulator.stop()


def count_describe_tasks(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """DescribeTasks calls per task ARN, counted at the ECS backend (in process and over HTTP)."""
    from moto.ecs.models import EC2ContainerServiceBackend

    calls: collections.Counter[str] = collections.Counter()
    describe = EC2ContainerServiceBackend.describe_tasks

    def counted(self: Any, cluster_str: str, tasks: list[str], *args: Any, **kwargs: Any) -> Any:
        calls.update(tasks)
        return describe(self, cluster_str, tasks, *args, **kwargs)

    monkeypatch.setattr(EC2ContainerServiceBackend, "describe_tasks", counted)
    return calls


def count_describe_task_definition(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """DescribeTaskDefinition requests per task definition, counted where moto's server answers them
    (moto's own RunTask reads the definition from its backend, which is not a request)."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    calls: collections.Counter[str] = collections.Counter()
    describe = EC2ContainerServiceResponse.describe_task_definition

    def counted(self: Any) -> Any:
        calls[self._get_param("taskDefinition")] += 1
        return describe(self)

    monkeypatch.setattr(EC2ContainerServiceResponse, "describe_task_definition", counted)
    return calls


def launched(runner: ExitWith, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not runner.launches:
        assert time.monotonic() < deadline, f"no task started within {timeout} s"
        time.sleep(0.02)


@pytest.mark.parametrize(("code", "status", "error"), [(0, "SUCCEEDED", None), (3, "FAILED", "States.TaskFailed")])
def test_sync_state_ends_when_its_task_is_completed_without_polling(
    unpolled: Emulator, code: int, status: str, error: str | None
) -> None:
    # GIVEN a runTask.sync state, moto's poll at one hour, and a task that exits `code` after 0.3 s
    sfn = client("stepfunctions", unpolled)
    machine = run_task_machine(sfn, run_task_parameters(fargate_service(unpolled)))
    runner = ExitWith(unpolled, code, delay=0.3)
    unpolled.set_task_runner(runner)

    # WHEN an execution runs it
    result = execute(sfn, machine, timeout=30)

    # THEN the exit code decided the execution, as with polling: AWS's outcome and cause
    assert (result["status"], result.get("error")) == (status, error), result.get("cause")
    task = json.loads(result["output"] if code == 0 else result["cause"])
    assert task["TaskArn"] == runner.launches[0].task_arn
    assert [c["ExitCode"] for c in task["Containers"]] == [code]


def test_sync_state_describes_its_task_once_over_http(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a server emulator with moto's default-like 0.1 s poll, and three executions whose
    # tasks each run 0.5 s (a polled state would describe its task about five times)
    with start_server(REGION, sync_poll_seconds=0.1) as emu:
        sfn = emu.boto3_client("stepfunctions")
        machine = run_task_machine(sfn, run_task_parameters(fargate_service(emu)))
        runner = ExitWith(emu, 0, delay=0.5)
        emu.set_task_runner(runner)
        with monkeypatch.context() as patched:
            described = count_describe_tasks(patched)
            definitions = count_describe_task_definition(patched)

            # WHEN the three run at once
            started = [
                sfn.start_execution(stateMachineArn=machine, name=f"run-{n}", input=json.dumps(EVENT))["executionArn"]
                for n in range(3)
            ]
            results = [finished(sfn, arn, timeout=30) for arn in started]

        # THEN each succeeded, its state having described its task exactly once
        assert [r["status"] for r in results] == ["SUCCEEDED"] * 3, [r.get("cause") for r in results]
        assert described == {launch.task_arn: 1 for launch in runner.launches}
        assert len(runner.launches) == 3
        # AND their task definition (one revision, which never changes) was described once for all
        # three, to find its essential containers
        assert list(definitions.values()) == [1]


def test_a_task_stopped_before_its_state_looks_resolves_at_once(
    unpolled: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a runner that completes each task before RunTask even returns (moto's poll at one hour)
    sfn = client("stepfunctions", unpolled)
    machine = run_task_machine(sfn, run_task_parameters(fargate_service(unpolled)))
    launches: list[TaskLaunch] = []

    def instant(launch: TaskLaunch) -> None:
        launches.append(launch)
        unpolled.complete_task(launch.task_arn, 0)

    unpolled.set_task_runner(instant)
    described = count_describe_tasks(monkeypatch)

    # WHEN an execution runs it
    result = execute(sfn, machine, timeout=30)

    # THEN the state found the task STOPPED at its first look and succeeded with it
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert json.loads(result["output"])["TaskArn"] == launches[0].task_arn
    assert described == {launches[0].task_arn: 1}


def test_a_timed_out_sync_state_still_fails_states_timeout(unpolled: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a runTask.sync state with a 1 s TimeoutSeconds whose task never ends by itself
    sfn = client("stepfunctions", unpolled)
    machine = run_task_machine(sfn, run_task_parameters(fargate_service(unpolled)), TimeoutSeconds=1)
    runner = ExitWith(unpolled, code=None)
    unpolled.set_task_runner(runner)
    described = count_describe_tasks(monkeypatch)

    # WHEN an execution runs it, and the task is completed after the state timed out
    result = execute(sfn, machine, timeout=30)
    unpolled.complete_task(runner.launches[0].task_arn, 0)
    time.sleep(0.5)

    # THEN the state failed States.Timeout; it never polled the task, and its wait had ended
    # before the task stopped (no one described it then either)
    assert (result["status"], result.get("error")) == ("FAILED", "States.Timeout")
    assert described == {}


def test_a_stopped_executions_state_stops_waiting_for_its_task(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a runTask.sync state (60 s timeout) whose task never ends, and the thread its state
    # runs on (where the resolver waits for the task) recorded
    from sandbox.emulator import _ecs_build_sync_resolver

    waiting: list[threading.Thread] = []

    def recording_thread(*args: Any, **kwargs: Any) -> Any:
        waiting.append(threading.current_thread())
        return _ecs_build_sync_resolver(*args, **kwargs)

    monkeypatch.setattr(StateTaskServiceEcs, "_build_sync_resolver", recording_thread)
    sfn = client("stepfunctions", emu)
    machine = run_task_machine(sfn, run_task_parameters(fargate_service(emu)))
    runner = ExitWith(emu, code=None)
    emu.set_task_runner(runner)
    execution = sfn.start_execution(stateMachineArn=machine, name="stopped", input=json.dumps(EVENT))["executionArn"]
    launched(runner)
    time.sleep(0.5)  # the state is waiting for its task by now

    # WHEN the execution is stopped while its task still runs
    sfn.stop_execution(executionArn=execution, error="Operator", cause="stopped by hand")
    result = finished(sfn, execution, timeout=30)

    # THEN it was ABORTED (as soon as with polling: well before the state's timeout) and the
    # state's thread ended without waiting for the task
    assert result["status"] == "ABORTED"
    (thread,) = waiting
    thread.join(5)
    assert not thread.is_alive(), "the stopped execution's state is still waiting for its task"
    assert emu.running_tasks() == [runner.launches[0].task_arn]


def token_machine(sfn: Any, emu: Emulator, **state: Any) -> str:
    """A runTask.sync state whose container gets the state's task token as TOKEN."""
    parameters = run_task_parameters(fargate_service(emu))
    token = {"Name": "TOKEN", "Value.$": "$$.Task.Token"}
    parameters["Overrides"]["ContainerOverrides"][0]["Environment"].append(token)
    return run_task_machine(sfn, parameters, **state)


def test_an_answer_on_the_sync_states_token_still_ends_it(unpolled: Emulator) -> None:
    # GIVEN a runTask.sync state (60 s timeout) whose task never ends by itself but holds the token
    sfn = client("stepfunctions", unpolled)
    machine = token_machine(sfn, unpolled)
    runner = ExitWith(unpolled, code=None)
    unpolled.set_task_runner(runner)
    execution = sfn.start_execution(stateMachineArn=machine, name="answered", input=json.dumps(EVENT))
    launched(runner)
    time.sleep(0.5)  # the state is waiting for its task by now

    # WHEN the task answers SendTaskFailure on that token
    token = runner.launches[0].containers[0].environment["TOKEN"]
    sfn.send_task_failure(taskToken=token, error="Customer.Rejected", cause="over the limit")

    # THEN the answer ends the state, as moto's next poll would have seen it, long before its timeout
    result = finished(sfn, execution["executionArn"], timeout=30)
    assert (result["status"], result.get("error")) == ("FAILED", "Customer.Rejected")


def test_a_sync_states_heartbeat_timeout_still_ends_it(unpolled: Emulator) -> None:
    # GIVEN a runTask.sync state with a 1 s heartbeat and a 60 s timeout, whose task never beats nor ends
    sfn = client("stepfunctions", unpolled)
    machine = token_machine(sfn, unpolled, HeartbeatSeconds=1)
    unpolled.set_task_runner(ExitWith(unpolled, code=None))

    # WHEN an execution runs it
    result = execute(sfn, machine, timeout=30)

    # THEN the heartbeat ended it (moto names it States.Timeout), not the 60 s timeout
    assert (result["status"], result.get("error")) == ("FAILED", "States.Timeout")


# ---------------------------------------------------------------------------------------------
# D: error names
# ---------------------------------------------------------------------------------------------


def catching_ecs_errors(sfn: Any, parameters: dict[str, Any]) -> str:
    """A runTask.sync state retrying ECS API errors once, then catching them into `Caught`."""
    return run_task_machine(
        sfn,
        parameters,
        Retry=[{"ErrorEquals": ["ECS.AmazonECSException"], "IntervalSeconds": 1, "MaxAttempts": 1}],
        Catch=[{"ErrorEquals": ["ECS.AmazonECSException"], "Next": "Caught"}],
    )


def test_moto_still_reports_ecs_api_errors_as_states_runtime(unpatched: None) -> None:
    # GIVEN moto as shipped and a state catching ECS.AmazonECSException around a RunTask that
    # fails in ECS: moto drops these camelCase keys (not in its list), so RunTask targets the
    # missing "default" cluster instead of tripping over workaround A's defect first
    service = fargate_service()
    sfn = client("stepfunctions")
    machine = catching_ecs_errors(sfn, {"cluster": service["cluster"], "taskDefinition": service["task_definition"]})

    # WHEN an execution runs it
    result = execute(sfn, machine)

    # THEN the error is States.Runtime, which the Catch does not match
    still_broken(
        (result["status"], result.get("error")) == ("FAILED", "States.Runtime"),
        "ECS error names",
        "workaround D (_workaround_d_error_names)",
    )


def test_ecs_api_error_is_ecs_amazon_ecs_exception_for_retry_and_catch(emu: Emulator) -> None:
    # GIVEN a runTask.sync state on an unknown cluster, retrying once and catching ECS errors
    service = fargate_service(emu)
    sfn = client("stepfunctions", emu)
    machine = catching_ecs_errors(sfn, {**run_task_parameters(service), "Cluster": "no-such-cluster"})

    # WHEN an execution runs it
    result = execute(sfn, machine)

    # THEN it was retried once, then caught with AWS's error name and cause format
    assert result["status"] == "SUCCEEDED", result.get("cause")
    history = sfn.get_execution_history(executionArn=result["executionArn"])["events"]
    failures = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    assert failures == ["ECS.AmazonECSException"] * 2
    caught = json.loads(result["output"])
    assert caught["Error"] == "ECS.AmazonECSException"
    assert "(Service: AmazonECS; Status Code: 400; Error Code: ClusterNotFoundException;" in caught["Cause"]


def test_run_task_that_places_nothing_fails_amazon_ecs_unknown(emu: Emulator) -> None:
    # GIVEN an EC2 capacity whose only instance (7482 MiB) cannot hold an 8000 MiB task
    sfn = client("stepfunctions", emu)
    machine = run_task_machine(sfn, ec2_capacity(emu, memory=8000))
    emu.set_task_runner(ExitWith(emu, 0))

    # WHEN a runTask.sync execution runs it
    result = execute(sfn, machine)

    # THEN the state fails as AWS fails a RunTask answer with Failures
    assert (result["status"], result.get("error")) == ("FAILED", "AmazonECS.Unknown")


# ---------------------------------------------------------------------------------------------
# E: task-level sizes
# ---------------------------------------------------------------------------------------------


def test_moto_still_needs_container_memory_when_the_task_is_sized(unpatched: None) -> None:
    # GIVEN moto as shipped and a FARGATE task definition sized at task level only, as the program's are
    service = fargate_service(container_memory=None)

    # WHEN a task is run
    try:
        run_fargate_task(client("ecs"), service)
        raised: Exception | None = None
    except Exception as exc:
        raised = exc

    # THEN moto crashes summing the containers' memory
    still_broken(
        isinstance(raised, TypeError) and "NoneType" in str(raised),
        "task definitions sized at task level only",
        "workaround E (_workaround_e_task_level_sizes)",
    )


def test_task_level_sizes_run_and_are_what_a_task_reserves(emu: Emulator) -> None:
    # GIVEN a FARGATE service and an EC2 capacity (one 7482 MiB instance), both sized at task level only
    ecs = client("ecs", emu)
    fargate = fargate_service(emu, container_memory=None)
    cluster = ec2_capacity(emu, memory=256)["Cluster"]
    sized = ecs.register_task_definition(
        family="sized", memory="4096", containerDefinitions=[{"name": "customer", "image": "customer:latest"}]
    )["taskDefinition"]["taskDefinitionArn"]

    # WHEN a FARGATE task is run, and two 4096 MiB tasks are asked of the instance
    fargate_tasks = run_fargate_task(ecs, fargate)["tasks"]
    ec2_tasks = ecs.run_task(
        cluster=cluster, taskDefinition=sized, count=2, capacityProviderStrategy=[{"capacityProvider": "workers"}]
    )["tasks"]

    # THEN the FARGATE task runs, and only one 4096 MiB task fits on the instance
    assert (len(fargate_tasks), len(ec2_tasks)) == (1, 1)


def test_moto_still_shares_one_parser_scope_stack_between_parses(unpatched: None) -> None:
    # GIVEN moto as shipped
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    # WHEN two parsers are made THEN they share the same scope stack, a class attribute
    first, second = Preprocessor(), Preprocessor()
    still_broken(
        first._query_language_per_scope is second._query_language_per_scope,
        "the Preprocessor's shared _query_language_per_scope",
        "workaround F (_workaround_f_parser_threads)",
    )


def test_concurrent_parses_of_the_definition_do_not_interfere(emu: Emulator) -> None:
    # GIVEN the patched emulator and a definition with nested scopes
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    definition = json.dumps(
        {
            "StartAt": "Run",
            "States": {
                "Run": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::ecs:runTask.sync",
                    "End": True,
                    "Parameters": {
                        "Cluster": "c",
                        "TaskDefinition": "t",
                        "Overrides": {
                            "ContainerOverrides": [
                                {
                                    "Name": "n",
                                    "Environment": [
                                        {"Name": "eventDetail", "Value.$": "States.JsonToString($.detail)"}
                                    ],
                                }
                            ]
                        },
                    },
                    "Retry": [{"ErrorEquals": ["ECS.AmazonECSException"], "MaxAttempts": 3}],
                }
            },
        }
    )
    errors: list[BaseException] = []

    def parse_many() -> None:
        try:
            for _ in range(60):
                AmazonStateLanguageParser.parse(definition)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    # WHEN parsers are made THEN each has its own scope stack
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    assert Preprocessor()._query_language_per_scope is not Preprocessor()._query_language_per_scope

    # AND WHEN eight threads parse it at once
    threads = [threading.Thread(target=parse_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN every parse succeeds (unpatched, about one in a few thousand fails with IndexError)
    assert errors == []


# ---------------------------------------------------------------------------------------------
# Workaround G: serializable DynamoDB transactions
# ---------------------------------------------------------------------------------------------

CREDIT_TABLE = "credit"


def credit_table(emu: Emulator | None, limit: int) -> Any:
    dynamodb = client("dynamodb", emu)
    dynamodb.create_table(
        TableName=CREDIT_TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    dynamodb.put_item(
        TableName=CREDIT_TABLE, Item={"pk": {"S": "c-1"}, "limit": {"N": str(limit)}, "reserved": {"N": "0"}}
    )
    return dynamodb


def reserve(emu: Emulator | None, order_id: str, amount: int, limit: int) -> bool:
    """customer.reserve_credit's transaction: the order's decision, and reserved += amount within the limit."""
    try:
        client("dynamodb", emu).transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": CREDIT_TABLE,
                        "Item": {"pk": {"S": f"decision#{order_id}"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": CREDIT_TABLE,
                        "Key": {"pk": {"S": "c-1"}},
                        "UpdateExpression": "SET reserved = reserved + :amount",
                        "ConditionExpression": "reserved <= :most",
                        "ExpressionAttributeValues": {
                            ":amount": {"N": str(amount)},
                            ":most": {"N": str(limit - amount)},
                        },
                    }
                },
            ]
        )
        return True
    except ClientError as error:
        # By its code: a class from another client's factory may not be the one raised here.
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        return False


def credit_state(emu: Emulator | None) -> tuple[int, set[str]]:
    items = client("dynamodb", emu).scan(TableName=CREDIT_TABLE)["Items"]
    (customer,) = [i for i in items if i["pk"]["S"] == "c-1"]
    return int(customer["reserved"]["N"]), {
        i["pk"]["S"].removeprefix("decision#") for i in items if i["pk"]["S"] != "c-1"
    }


def two_reservations_interleaved(emu: Emulator | None, monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Two 60-of-100 reservations forced to interleave: both have checked their conditions (and taken
    moto's rollback snapshot) before either writes the counter, unless something serialises them."""
    from moto.dynamodb.models import DynamoDBBackend

    credit_table(emu, 100)
    both_checked = threading.Barrier(2, timeout=0.5)
    update_item = DynamoDBBackend.update_item

    def update_when_both_checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):  # serialised: the other never comes
            both_checked.wait()
        return update_item(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", update_when_both_checked)
    results: dict[str, bool] = {}
    threads = [
        threading.Thread(target=lambda o=order: results.__setitem__(o, reserve(emu, o, 60, 100)))
        for order in ("o-1", "o-2")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_moto_still_races_concurrent_transactions(unpatched: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN moto as shipped and two reservations of 60 against a limit of 100, forced to interleave
    results = two_reservations_interleaved(None, monkeypatch)

    # WHEN both have run
    reserved, decisions = credit_state(None)

    # THEN the outcome is not a serial one (AWS: exactly one commits, its decision kept, 60 reserved):
    # either both committed (120 reserved) or the loser's rollback erased the winner's commit
    winners = {order for order, won in results.items() if won}
    still_broken(
        (reserved, decisions) != (60, winners) or len(winners) != 1,
        f"racing TransactWriteItems (got winners {winners}, reserved {reserved}, decisions {decisions})",
        "workaround G (_workaround_g_dynamodb_transactions)",
    )


def test_transactions_are_serializable_when_forced_to_interleave(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the patched emulator and the same forced interleaving
    results = two_reservations_interleaved(emu, monkeypatch)

    # WHEN both have run
    reserved, decisions = credit_state(emu)

    # THEN exactly one committed, and what it committed is all there is
    winners = {order for order, won in results.items() if won}
    assert len(winners) == 1
    assert (reserved, decisions) == (60, winners)


def test_thirty_concurrent_reservations_reserve_exactly_the_limit(emu: Emulator) -> None:
    # GIVEN a limit of 100 and thirty writers reserving 10 each at once
    credit_table(emu, 100)
    results: dict[str, bool] = {}
    start = threading.Barrier(30)

    def writer(order: str) -> None:
        start.wait()
        results[order] = reserve(emu, order, 10, 100)

    threads = [threading.Thread(target=writer, args=(f"o-{n}",)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)  # a guard against a hang, generous for a loaded machine

    # THEN exactly ten committed, 100 is reserved, and the ten decisions are the winners'
    winners = {order for order, won in results.items() if won}
    assert (len(results), len(winners)) == (30, 10)
    assert credit_state(emu) == (100, winners)


# ---------------------------------------------------------------------------------------------
# Workaround O: a cancelled transaction restores its items, not copies of whole tables
# ---------------------------------------------------------------------------------------------


def count_table_copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the DynamoDB tables deep-copied from now on (each copy still made)."""
    from moto.dynamodb.models.table import Table

    copied: list[str] = []

    def deepcopy(self: Any, memo: dict[int, Any]) -> Any:
        copied.append(self.name)
        return copy._reconstruct(self, memo, *self.__reduce_ex__(4))  # what deepcopy does without the hook

    monkeypatch.setattr(Table, "__deepcopy__", deepcopy, raising=False)
    return copied


def ledger(emu: Emulator | None) -> Any:
    """A table with a range key and two items: (a, 1) x=1 and (b, 1) x=1."""
    dynamodb = client("dynamodb", emu)
    dynamodb.create_table(
        TableName="ledger",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
    )
    for pk in ("a", "b"):
        dynamodb.put_item(TableName="ledger", Item={"pk": {"S": pk}, "sk": {"N": "1"}, "x": {"N": "1"}})
    return dynamodb


def write_ledger(dynamodb: Any, check: str) -> bool:
    """Put (a, 2), update (a, 1), delete (b, 1), and check that (a, 1) has x = `check`: True if committed."""
    try:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "ledger", "Item": {"pk": {"S": "a"}, "sk": {"N": "2"}, "x": {"N": "9"}}}},
                {
                    "Update": {
                        "TableName": "ledger",
                        "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}},
                        "UpdateExpression": "SET x = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {"Delete": {"TableName": "ledger", "Key": {"pk": {"S": "b"}, "sk": {"N": "1"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "credit",
                        "Key": {"pk": {"S": "c-1"}},
                        "ConditionExpression": "reserved = :check",
                        "ExpressionAttributeValues": {":check": {"N": check}},
                    }
                },
            ]
        )
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        return False


def ledger_items(dynamodb: Any) -> list[tuple[str, str, str]]:
    items = dynamodb.scan(TableName="ledger")["Items"]
    return sorted((i["pk"]["S"], i["sk"]["N"], i["x"]["N"]) for i in items)


def test_moto_still_copies_whole_tables_for_every_transaction(unpatched: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN moto as shipped and a transaction of two operations on one table
    credit_table(None, 100)
    copied = count_table_copies(monkeypatch)
    # WHEN it commits
    assert reserve(None, "o-1", 10, 100)
    # THEN moto deep-copied the whole table, once per operation, though nothing was cancelled
    still_broken(copied == [CREDIT_TABLE] * 2, f"whole-table snapshots (copied: {copied})", "workaround O")


def test_a_cancelled_transaction_restores_exactly_its_items_and_copies_no_table(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a table with a range key, a table without, and every table copy counted
    dynamodb = ledger(emu)
    credit_table(emu, 100)
    before = ledger_items(dynamodb)
    copied = count_table_copies(monkeypatch)
    # WHEN a transaction that puts, updates and deletes is cancelled by its last condition, and so
    # is a reservation over the limit (it had put its decision first)
    cancelled = write_ledger(dynamodb, check="5")
    over = reserve(emu, "o-1", 200, 100)
    # THEN neither changed anything (the new items are gone, the updated and deleted ones are back)
    assert (cancelled, over) == (False, False)
    assert ledger_items(dynamodb) == before == [("a", "1", "1"), ("b", "1", "1")]
    assert credit_state(emu) == (0, set())
    # AND when the condition holds, the same transaction commits all of its writes
    assert write_ledger(dynamodb, check="0")
    assert ledger_items(dynamodb) == [("a", "1", "2"), ("a", "2", "9")]
    # AND no table was copied for any of them
    assert copied == []


# ---------------------------------------------------------------------------------------------
# Workaround S: IAM calls under concurrency
# ---------------------------------------------------------------------------------------------

TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})


def create_role_while_another_is_created(emu: Emulator | None, monkeypatch: pytest.MonkeyPatch) -> BaseException | None:
    """CreateRole with another thread's CreateRole forced into the middle of its walk over the roles."""
    from moto.iam.models import IAMBackend, iam_backends

    client("iam", emu).create_role(RoleName="r-0", AssumeRolePolicyDocument=TRUST)
    other = threading.Thread(
        target=lambda: client("iam", emu).create_role(RoleName="r-2", AssumeRolePolicyDocument=TRUST)
    )

    def roles_while_another_is_created(self: Any) -> Any:
        roles = iter(self.roles.values())
        yield next(roles)
        if other.ident is None:
            other.start()
            other.join(0.5)  # serialised: the other waits until the walk is over
        yield from roles

    monkeypatch.setattr(IAMBackend, "get_roles", roles_while_another_is_created)
    backend = iam_backends[ACCOUNT]["global"]
    try:
        backend.create_role("r-1", TRUST, "/", None, "", [], None)
        return None
    except RuntimeError as exc:
        return exc
    finally:
        other.join(10)


def test_moto_still_crashes_create_role_while_another_role_is_created(
    unpatched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN moto as shipped WHEN a role is created while CreateRole checks the names in use
    raised = create_role_while_another_is_created(None, monkeypatch)
    # THEN CreateRole crashes
    still_broken(
        raised is not None and "changed size during iteration" in str(raised),
        "CreateRole racing CreateRole",
        "workaround S (_workaround_s_iam_calls)",
    )


def test_create_role_answers_while_another_role_is_created(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the patched emulator WHEN a role is created while CreateRole checks the names in use
    raised = create_role_while_another_is_created(emu, monkeypatch)
    # THEN both are created, one after the other
    assert raised is None
    names = {r["RoleName"] for r in client("iam", emu).list_roles()["Roles"]}
    assert {"r-0", "r-1", "r-2"} <= names


# ---------------------------------------------------------------------------------------------
# Workaround P: a state machine's definition is parsed once, not once per execution
# ---------------------------------------------------------------------------------------------


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The definitions the ASL parser parses from now on."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    parsed: list[str] = []
    parse = AmazonStateLanguageParser.parse

    def counting(definition: str) -> Any:
        parsed.append(definition)
        return parse(definition)

    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(counting))
    return parsed


def test_moto_still_parses_the_definition_for_every_execution(unpatched: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN moto as shipped and a state machine
    machine = pass_machine(None)
    parsed = count_parses(monkeypatch)
    # WHEN it runs twice
    for _ in range(2):
        assert execute(client("stepfunctions"), machine)["status"] == "SUCCEEDED"
    # THEN its definition was parsed again for each execution
    still_broken(len(parsed) == 2, f"a parse per execution ({len(parsed)} parses)", "workaround P")


def test_executions_share_one_parse_and_each_keeps_its_own_retry_count(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a runTask.sync state retried twice on States.TaskFailed (short backoff), then caught,
    # and a runner whose every task exits 3
    sfn = client("stepfunctions", emu)
    retry = [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 2}]
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    machine = run_task_machine(sfn, run_task_parameters(fargate_service(emu)), Retry=retry, Catch=catch)
    emu.set_wait_scale(0.01)
    runner = ExitWith(emu, 3)
    emu.set_task_runner(runner)
    parsed = count_parses(monkeypatch)
    # WHEN four executions run at once
    arns = [
        sfn.start_execution(stateMachineArn=machine, name=f"run-{n}", input=json.dumps(EVENT))["executionArn"]
        for n in range(4)
    ]
    results = [finished(sfn, arn, timeout=60) for arn in arns]
    # THEN the definition was parsed at most once for all of them, and each execution counted its
    # own attempts (three tasks each: the first and two retries) before it was caught
    assert len(parsed) <= 1
    assert [r["status"] for r in results] == ["SUCCEEDED"] * 4
    for arn in arns:
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        assert sum(e["type"] == "TaskSubmitted" for e in events) == 3
    assert len(runner.launches) == 12


def unique_pass_definition() -> str:
    """A definition no earlier test parsed (the shared parse outlives an emulator)."""
    return json.dumps(
        {"Comment": str(uuid.uuid4()), "StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
    )


def test_moto_still_parses_the_definition_for_every_state_machine_created(
    unpatched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN moto as shipped
    sfn, definition = client("stepfunctions"), unique_pass_definition()
    parsed = count_parses(monkeypatch)
    # WHEN two state machines are created with one definition
    for name in ("one", "two"):
        sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)
    # THEN it was parsed for each
    still_broken(len(parsed) == 2, f"a parse per state machine created ({len(parsed)} parses)", "workaround P")


def test_a_definition_is_parsed_once_for_its_state_machines_and_their_executions(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the patched emulator and a definition it has never seen
    sfn, definition = client("stepfunctions", emu), unique_pass_definition()
    parsed = count_parses(monkeypatch)
    # WHEN two state machines are created with it and each runs once
    machines = [
        sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)["stateMachineArn"]
        for name in ("one", "two")
    ]
    results = [execute(sfn, machine) for machine in machines]
    # THEN it was parsed once, for the first creation, and both ran
    assert parsed == [definition]
    assert [r["status"] for r in results] == ["SUCCEEDED", "SUCCEEDED"]
    # AND an invalid definition is still refused, each time it is sent
    for name in ("bad-one", "bad-two"):
        with pytest.raises(ClientError, match="ASLParserException"):
            sfn.create_state_machine(name=name, definition='{"StartAt": "Nowhere", "States": {}}', roleArn=ROLE)


# ---------------------------------------------------------------------------------------------
# Workarounds Q and R: JSONPaths parsed once, the ASL interpreter's clients made once
# ---------------------------------------------------------------------------------------------


def count_jsonpath_parsers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per jsonpath_ng parser built from now on."""
    from jsonpath_ng.ext.parser import ExtendedJsonPathParser

    built: list[int] = []
    init = ExtendedJsonPathParser.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(ExtendedJsonPathParser, "__init__", counting)
    return built


def test_moto_still_builds_a_jsonpath_parser_for_every_event_it_sends(
    unpatched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN moto as shipped and a rule whose target is a queue (moto's own delivery)
    _, arn = queue(None, "q")
    events = bus_with_rule(None, [{"Id": "q", "Arn": arn}])
    built = count_jsonpath_parsers(monkeypatch)
    # WHEN two events are put
    order_placed(events, "o-1")
    order_placed(events, "o-2")
    # THEN a parser was built for every path of the default input map, for each event again
    still_broken(len(built) >= 4, f"a JSONPath parser per path and event ({len(built)} built)", "workaround Q")


def test_paths_are_parsed_once_and_events_and_states_still_read_them(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the patched emulator, a rule targeting a queue, and a state machine reading `$.detail`
    url, arn = queue(emu, "q")
    events = bus_with_rule(emu, [{"Id": "q", "Arn": arn}])
    sfn = client("stepfunctions", emu)
    definition = {"StartAt": "Pick", "States": {"Pick": {"Type": "Pass", "InputPath": "$.detail", "End": True}}}
    machine = sfn.create_state_machine(name="pick", definition=json.dumps(definition), roleArn=ROLE)
    order_placed(events, "o-0")  # the first use of each path parses it
    execute(sfn, machine["stateMachineArn"])
    built = count_jsonpath_parsers(monkeypatch)
    # WHEN more events are put and the machine runs again
    order_placed(events, "o-1")
    order_placed(events, "o-2")
    result = execute(sfn, machine["stateMachineArn"])
    # THEN no parser was built, and the queue and the state got what the paths select
    assert built == []
    assert [json.loads(m["Body"])["detail"]["orderId"] for m in messages(emu, url)] == ["o-0", "o-1", "o-2"]
    assert json.loads(result["output"]) == EVENT["detail"]


def test_moto_still_makes_a_client_for_every_state_call(unpatched: None) -> None:
    # GIVEN moto as shipped WHEN its ASL interpreter asks twice for the same ECS client
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    first, second = (boto_client_for(region=REGION, service="ecs") for _ in range(2))
    # THEN it got two
    still_broken(first is not second, "a boto3 client per state call", "workaround R")


def test_executions_share_the_interpreters_ecs_client(emu: Emulator) -> None:
    # GIVEN the patched emulator and a runTask.sync state whose tasks exit 0
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_ecs

    sfn = client("stepfunctions", emu)
    machine = run_task_machine(sfn, run_task_parameters(fargate_service(emu)))
    emu.set_task_runner(ExitWith(emu, 0))
    made: list[Any] = []
    shared = state_task_service_ecs.boto_client_for

    def recording(*args: Any, **kwargs: Any) -> Any:
        made.append(shared(*args, **kwargs))
        return made[-1]

    state_task_service_ecs.boto_client_for = recording
    try:
        # WHEN two executions run
        results = [execute(sfn, machine) for _ in range(2)]
    finally:
        state_task_service_ecs.boto_client_for = shared
    # THEN both succeeded, and every call of every state was made with one client, whose pool
    # takes every execution at once
    assert [r["status"] for r in results] == ["SUCCEEDED"] * 2
    assert len(made) >= 4 and all(c is made[0] for c in made)
    assert made[0].meta.config.max_pool_connections == 100


# ---------------------------------------------------------------------------------------------
# Workaround K: ECS task bookkeeping under concurrency
# ---------------------------------------------------------------------------------------------


def describe_while_a_task_starts(emu: Emulator | None, monkeypatch: pytest.MonkeyPatch) -> BaseException | None:
    """DescribeTasks with another thread's RunTask forced into the middle of its walk over the tasks."""
    from moto.ecs.models import Task, ecs_backends

    service = fargate_service(emu)
    first = run_fargate_task(client("ecs", emu), service)["tasks"][0]["taskArn"]
    advance = Task.advance
    other = threading.Thread(target=lambda: run_fargate_task(client("ecs", emu), service))

    def advance_while_another_starts(self: Any) -> None:
        if not other.is_alive() and other.ident is None:
            other.start()
            other.join(0.5)  # serialised: the other waits until the walk is over
        advance(self)

    monkeypatch.setattr(Task, "advance", advance_while_another_starts)
    try:
        ecs_backends[ACCOUNT][REGION].describe_tasks(service["cluster"], [first])
        return None
    except RuntimeError as exc:
        return exc
    finally:
        other.join(10)


def test_moto_still_crashes_describe_tasks_while_a_task_starts(
    unpatched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN moto as shipped WHEN a task starts while DescribeTasks walks the tasks
    raised = describe_while_a_task_starts(None, monkeypatch)
    # THEN DescribeTasks crashes
    still_broken(
        raised is not None and "changed size during iteration" in str(raised),
        "DescribeTasks racing RunTask",
        "workaround K (_workaround_k_ecs_tasks)",
    )


def test_describe_tasks_answers_while_a_task_starts(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the patched emulator WHEN a task starts while DescribeTasks walks the tasks
    raised = describe_while_a_task_starts(emu, monkeypatch)
    # THEN DescribeTasks answers, and the other task started after it
    assert raised is None
    assert len(client("ecs", emu).list_tasks(cluster="customer")["taskArns"]) == 2


# ---------------------------------------------------------------------------------------------
# Workaround L: a fresh task token for every attempt
# ---------------------------------------------------------------------------------------------


class FailFirst:
    """A runner whose first task exits 1 and every later one exits 0 after `seconds`."""

    def __init__(self, emu: Emulator, seconds: float):
        self.emu, self.seconds, self.launches = emu, seconds, []

    def __call__(self, launch: TaskLaunch) -> None:
        self.launches.append(launch)
        code, delay = (1, 0.01) if len(self.launches) == 1 else (0, self.seconds)
        threading.Timer(delay, self._complete, (launch.task_arn, code)).start()

    def _complete(self, task_arn: str, code: int) -> None:
        with contextlib.suppress(KeyError):  # the execution already ended and the test stopped the emulator
            self.emu.complete_task(task_arn, code)


def retried_sync_task(emu: Emulator) -> tuple[dict, FailFirst]:
    """A runTask.sync state (60 s timeout) retrying States.TaskFailed once; the retry's task takes 0.5 s."""
    sfn = client("stepfunctions", emu)
    retry = [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    machine = run_task_machine(sfn, run_task_parameters(fargate_service(emu)), Retry=retry)
    runner = FailFirst(emu, 0.5)
    emu.set_task_runner(runner)
    return execute(sfn, machine), runner


def test_moto_still_times_out_a_retried_sync_task_at_once(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the emulator with moto's own per-state task token (workaround L taken out)
    from sandbox.emulator import _moto_task_service_eval_execution

    monkeypatch.setattr(StateTaskServiceCallback, "_eval_execution", _moto_task_service_eval_execution)

    # WHEN the first task fails and the retry's task needs 0.5 s
    result, runner = retried_sync_task(emu)

    # THEN the retry "timed out" long before its 60 s, though its task was started
    still_broken(
        (result["status"], result.get("error"), len(runner.launches)) == ("FAILED", "States.Timeout", 2),
        f"the retried .sync attempt's reused task token (got {result['status']} {result.get('error')})",
        "workaround L (_workaround_l_retry_token)",
    )


def test_a_retried_sync_task_waits_for_its_own_task(emu: Emulator) -> None:
    # GIVEN the patched emulator WHEN the first task fails and the retry's task needs 0.5 s
    result, runner = retried_sync_task(emu)
    # THEN the retry waited for its task and the execution succeeded with it
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))
    assert len(runner.launches) == 2
    assert json.loads(result["output"])["TaskArn"] == runner.launches[1].task_arn


# ---------------------------------------------------------------------------------------------
# Sharp edge left to the harness, and the emulator's own lifecycle
# ---------------------------------------------------------------------------------------------


def test_moto_still_needs_dns_hostnames_for_awsvpc_tasks(unpatched: None) -> None:
    # GIVEN a FARGATE service whose VPC has DNS hostnames off (AWS's default for new VPCs)
    service = fargate_service(dns_hostnames=False)

    # WHEN a task is run
    try:
        run_fargate_task(client("ecs"), service)
        raised: Exception | None = None
    except Exception as exc:
        raised = exc

    # THEN moto crashes on the network interface's missing DNS name
    assert isinstance(raised, AttributeError) and "private_dns_name" in str(raised), (
        "moto fixed awsvpc tasks without DNS hostnames: drop that note from sandbox/emulator.py's docstring"
    )


# ---------------------------------------------------------------------------------------------
# M: replays honour their window and FilterArns
# ---------------------------------------------------------------------------------------------


def archived_bus(emu: Emulator | None) -> tuple[Any, str, str, dict[str, str]]:
    """The `order` bus with its archive and two rules, each copying to its own queue; one event
    from long ago and one from now archived. Returns (events, archive ARN, bus ARN, queue URL per rule)."""
    events = client("events", emu)
    bus = events.create_event_bus(Name="order")["EventBusArn"]
    archive = events.create_archive(ArchiveName="order", EventSourceArn=bus, RetentionDays=7)["ArchiveArn"]
    urls = {}
    for name in ("first", "second"):
        url, arn = queue(emu, name)
        events.put_rule(Name=name, EventBusName="order", EventPattern=json.dumps({"detail-type": ["OrderPlaced"]}))
        events.put_targets(Rule=name, EventBusName="order", Targets=[{"Id": name, "Arn": arn}])
        urls[name] = url
    old = {"EventBusName": "order", "Source": "order", "DetailType": "OrderPlaced", "Detail": "{}", "Time": 1_000_000}
    events.put_events(Entries=[old, {k: v for k, v in old.items() if k != "Time"}])
    for url in urls.values():
        client("sqs", emu).purge_queue(QueueUrl=url)
    return events, archive, bus, urls


def replay_last_minute_to_first(events: Any, archive: str, bus: str) -> None:
    first = events.describe_rule(Name="first", EventBusName="order")["Arn"]
    now = time.time()
    events.start_replay(
        ReplayName="r",
        EventSourceArn=archive,
        EventStartTime=now - 60,
        EventEndTime=now + 60,
        Destination={"Arn": bus, "FilterArns": [first]},
    )


def test_moto_still_replays_outside_the_window_and_past_the_filter(unpatched: None) -> None:
    # GIVEN moto as shipped, an archived event from 1970 and one from now, two rules
    events, archive, bus, urls = archived_bus(None)
    # WHEN the last minute is replayed to the first rule only
    replay_last_minute_to_first(events, archive, bus)
    # THEN moto sends both events, to both rules
    still_broken(
        len(messages(None, urls["first"])) == 2 and len(messages(None, urls["second"])) == 2,
        "replays ignoring EventStartTime/EventEndTime and Destination.FilterArns",
        "workaround M (_workaround_m_replay_window_and_filters)",
    )


def test_a_replay_sends_only_its_window_to_only_its_rules(emu: Emulator) -> None:
    # GIVEN an archived event from 1970 and one from now, two rules
    events, archive, bus, urls = archived_bus(emu)
    # WHEN the last minute is replayed to the first rule only
    replay_last_minute_to_first(events, archive, bus)
    # THEN only the recent event reaches only the first rule, marked as replayed, and it is done
    (replayed,) = messages(emu, urls["first"])
    assert json.loads(replayed["Body"])["replay-name"] == "r"
    assert messages(emu, urls["second"]) == []
    assert events.describe_replay(ReplayName="r")["State"] == "COMPLETED"


def test_a_replayed_event_reaches_a_state_machine_target(emu: Emulator) -> None:
    # GIVEN an archived bus whose rule targets a state machine, and one event put on it
    events = bus_with_rule(emu, [{"Id": "machine", "Arn": pass_machine(emu)}])
    bus = events.describe_event_bus(Name="order")["Arn"]
    archive = events.create_archive(ArchiveName="order", EventSourceArn=bus)["ArchiveArn"]
    original = order_placed(events)
    # WHEN the window is replayed
    now = time.time()
    events.start_replay(
        ReplayName="r", EventSourceArn=archive, EventStartTime=now - 60, EventEndTime=now + 60, Destination={"Arn": bus}
    )
    # THEN the state machine was started a second time with the same event (under a new id)
    deliveries = emu.events.by_outcome("delivered")
    assert len(deliveries) == 2 and deliveries[0].event["id"] == original
    assert deliveries[1].event["detail"] == deliveries[0].event["detail"]
    assert deliveries[1].event["id"] != original


# ---------------------------------------------------------------------------------------------
# N: moto's server lists its own package once, not on every request
# ---------------------------------------------------------------------------------------------


def package_listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every os.listdir of moto's own package directory from now on."""
    import moto

    package = os.path.realpath(os.path.dirname(moto.__file__))
    listed: list[str] = []
    listdir = os.listdir

    def counted(path: Any = ".") -> list[str]:
        if isinstance(path, str) and os.path.realpath(path) == package:
            listed.append(path)
        return listdir(path)

    monkeypatch.setattr(os, "listdir", counted)
    return listed


def route_two_ecs_requests() -> None:
    """What moto's server does to find the backend of two boto3 ECS requests."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    dispatcher = DomainDispatcherApplication(create_app=lambda service: None)
    for _ in range(2):
        assert dispatcher.get_backend_for_host(f"ecs.{REGION}.amazonaws.com") == "ecs"


def test_moto_still_lists_its_package_on_every_request(unpatched: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN moto as shipped, and the listings of its package directory counted
    listed = package_listings(monkeypatch)
    # WHEN its server's dispatcher routes two requests
    route_two_ecs_requests()
    # THEN it listed (and stat'ed) the whole package once per request
    still_broken(
        len(listed) == 2,
        f"moto's server listing its package on every request (listed {len(listed)} times for 2)",
        "workaround N (_workaround_n_module_listing)",
    )


def test_moto_modules_are_listed_once_with_the_same_names(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the patched emulator, and the listings of moto's package directory counted from now on
    import moto.backends

    from sandbox.emulator import _moto_list_of_moto_modules

    listed = package_listings(monkeypatch)

    # WHEN its server's dispatcher routes two requests, and the module names are asked for
    route_two_ecs_requests()
    names = list(moto.backends.list_of_moto_modules())

    # THEN nothing listed the package again, and the names are exactly moto's, in moto's order
    assert listed == []
    assert names == list(_moto_list_of_moto_modules())
    assert "ecs" in names and "stepfunctions" in names
    # AND stopping the emulator gives moto its own function back
    emu.stop()
    assert moto.backends.list_of_moto_modules is _moto_list_of_moto_modules


# ---------------------------------------------------------------------------------------------
# The emulator's own lifecycle
# ---------------------------------------------------------------------------------------------


def test_only_one_emulator_at_a_time_and_stop_removes_the_patches(emu: Emulator) -> None:
    # GIVEN an active emulator
    assert active() is emu

    # WHEN a second one is started, then the first is stopped
    with pytest.raises(RuntimeError, match="already active"):
        start_in_process()
    emu.stop()

    # THEN nothing is active and moto's own EventBridge delivery is back
    assert active() is None
    assert Rule.send_to_targets.__module__ == "moto.events.models"


def test_server_mode_runs_event_to_task_over_http_and_restores_the_process() -> None:
    # GIVEN a server emulator and a rule → runTask.sync state machine → runner exiting 0
    port_before = os.environ.get("MOTO_PORT")
    with start_server(REGION, sync_poll_seconds=0.02) as emu:
        assert emu.endpoint_url == f"http://127.0.0.1:{os.environ['MOTO_PORT']}"
        sfn = emu.boto3_client("stepfunctions")
        machine = run_task_machine(sfn, run_task_parameters(fargate_service(emu)))
        runner = ExitWith(emu, 0)
        emu.set_task_runner(runner)
        events = bus_with_rule(emu, [{"Id": "machine", "Arn": machine}])

        # WHEN an event is put over HTTP
        event_id = order_placed(events)

        # THEN the execution ran the task with the event and succeeded
        (delivery,) = emu.events.deliveries
        result = finished(sfn, delivery.execution_arn)
        assert result["status"] == "SUCCEEDED", result.get("cause")
        assert runner.launches[0].containers[0].environment["eventId"] == event_id

    # AND leaving it restored the process: no patches, MOTO_PORT as before
    assert (active(), os.environ.get("MOTO_PORT")) == (None, port_before)


def test_an_execution_still_running_is_stopped_with_its_emulator_and_reaches_no_later_one() -> None:
    # GIVEN a server emulator whose execution waits 2 s, then puts an event on the order bus
    late = {
        "StartAt": "Later",
        "States": {
            "Later": {"Type": "Wait", "Seconds": 2, "Next": "Announce"},
            "Announce": {
                "Type": "Task",
                "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {
                    "Entries": [{"EventBusName": "order", "Source": "late", "DetailType": "Late", "Detail": {}}]
                },
                "End": True,
            },
        },
    }
    with start_server(REGION) as first:
        first.boto3_client("events").create_event_bus(Name="order")
        sfn = first.boto3_client("stepfunctions")
        machine = sfn.create_state_machine(name="late", definition=json.dumps(late), roleArn=ROLE)["stateMachineArn"]
        sfn.start_execution(stateMachineArn=machine, name="e-1", input="{}")
        # WHEN the emulator stops while the execution waits (a run that timed out), and another starts
    with start_server(REGION) as later:
        later.boto3_client("events").create_event_bus(Name="order")
        deadline = time.monotonic() + 3.5
        while not later.events.emitted and time.monotonic() < deadline:
            time.sleep(0.05)
        # THEN the stopped execution put nothing on the later emulator's bus: it was stopped with its
        # own (its state's calls go to localhost:$MOTO_PORT, which is now the later one's server)
        assert later.events.emitted == []
