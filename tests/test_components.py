"""Each component alone under Pulumi mocks: its children, their wiring and its exposed outputs."""

import json

import pulumi
import pytest

from components.bus_rules_role import BusRulesRole, BusRulesRoleArgs
from components.execution_logs import ExecutionLogs, ExecutionLogsArgs
from components.failure_path import FailurePath
from components.iam import AwsContext
from components.run_task_state_machine import (
    FargateLaunch,
    RunTaskStateMachine,
    RunTaskStateMachineArgs,
    TaskTarget,
)
from components.service_bus import ServiceBus, ServiceBusArgs
from components.task_trigger_rule import TaskTriggerRule, TaskTriggerRuleArgs

CTX = AwsContext(partition="aws", region="ap-southeast-1", account_id="123456789012")
MACHINE_ARN = "arn:aws:states:ap-southeast-1:123456789012:stateMachine:sm"
RULES_ROLE_ARN = "arn:aws:iam::123456789012:role/et-test-order-rules"
LOG_DESTINATION = "arn:aws:logs:ap-southeast-1:123456789012:log-group:/aws/vendedlogs/states/et-test:*"
CUSTOMER_BUS_ARN = "arn:aws:events:ap-southeast-1:123456789012:event-bus/et-test-customer"


def children(mocks, typ):
    return [r for r in mocks.resources if r.typ == typ]


def test_service_bus(mocks, evaluate):
    # WHEN a ServiceBus is declared
    outputs = evaluate(
        lambda: {
            "arn": (bus := ServiceBus("order", ServiceBusArgs(bus_name="et-test-order", service="order"))).arn,
            "name": bus.name,
        }
    )
    # THEN it is one named custom bus whose ARN and name it exposes
    (resource,) = children(mocks, "aws:cloudwatch/eventBus:EventBus")
    assert resource.name == "order-bus" and resource.inputs["name"] == "et-test-order"
    assert outputs == {
        "name": "et-test-order",
        "arn": "arn:aws:events:ap-southeast-1:123456789012:event-bus/et-test-order",
    }
    assert [r.typ for r in mocks.resources if not r.custom] == ["event-tasks:index:ServiceBus"]


def rule_args(**overrides):
    return TaskTriggerRuleArgs(
        **{
            "aws": CTX,
            "bus_name": "et-test-order",
            "rule_name": "et-test-reserve",
            "dead_letter_queue_name": "et-test-reserve-dlq",
            "detail_types": ["OrderCreated"],
            "source": "event-tasks.order",
            "state_machine_arn": MACHINE_ARN,
            "role_arn": RULES_ROLE_ARN,
            **overrides,
        }
    )


def test_task_trigger_rule_targets_the_machine_on_the_same_bus(mocks, evaluate):
    # WHEN a rule is declared on a custom bus
    outputs = evaluate(
        lambda: {
            "dlq": (r := TaskTriggerRule("reserve", rule_args())).dead_letter_queue_url,
            "arn": r.arn,
            "name": r.name,
        }
    )
    # THEN the rule matches the detail-type from the bus owner's source on that bus
    (rule,) = children(mocks, "aws:cloudwatch/eventRule:EventRule")
    assert rule.inputs["eventBusName"] == "et-test-order"
    assert rule.json("eventPattern") == {"source": ["event-tasks.order"], "detail-type": ["OrderCreated"]}
    # AND the target names the same bus, the bus's rules role, the DLQ and the retry policy
    (target,) = children(mocks, "aws:cloudwatch/eventTarget:EventTarget")
    (queue,) = children(mocks, "aws:sqs/queue:Queue")
    assert target.inputs["eventBusName"] == "et-test-order"
    assert target.inputs["arn"] == MACHINE_ARN
    assert target.inputs["roleArn"] == RULES_ROLE_ARN
    assert target.inputs["deadLetterConfig"] == {"arn": queue.state["arn"]}
    assert target.inputs["retryPolicy"] == {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 10}
    assert outputs == {"dlq": queue.state["url"], "arn": rule.state["arn"], "name": "et-test-reserve"}
    # AND it is three resources: no role of its own, the queue's policy inline on the queue
    assert sorted(r.typ for r in mocks.resources if r.custom) == [
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:sqs/queue:Queue",
    ]


def test_task_trigger_rule_dead_letter_queue_admits_only_its_rule(mocks, evaluate):
    # WHEN a rule is declared with a custom retry policy
    evaluate(lambda: TaskTriggerRule("reserve", rule_args(maximum_event_age_seconds=600, maximum_retry_attempts=2)).arn)
    (rule,) = children(mocks, "aws:cloudwatch/eventRule:EventRule")
    (queue,) = children(mocks, "aws:sqs/queue:Queue")
    (target,) = children(mocks, "aws:cloudwatch/eventTarget:EventTarget")
    # THEN the DLQ is encrypted, keeps messages 14 days and, by its own policy, accepts only this
    # rule's failures, on itself (its ARN, known from its name before it exists)
    assert queue.inputs["sqsManagedSseEnabled"] is True
    assert queue.inputs["messageRetentionSeconds"] == 1209600
    assert queue.json("policy")["Statement"] == [
        {
            "Sid": "DeadLetterFromTheRule",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue.state["arn"],
            "Condition": {"ArnEquals": {"aws:SourceArn": rule.state["arn"]}},
        }
    ]
    assert target.inputs["retryPolicy"] == {"maximumEventAgeInSeconds": 600, "maximumRetryAttempts": 2}


def test_bus_rules_role_is_assumed_only_by_the_bus_rules_and_starts_only_their_machines(mocks, evaluate):
    # GIVEN two state machines targeted by the order bus's rules (given out of order, one twice)
    other = "arn:aws:states:ap-southeast-1:123456789012:stateMachine:other"
    args = BusRulesRoleArgs(
        aws=CTX,
        bus_name="et-test-order",
        role_name="et-test-order-rules",
        state_machine_arns=[other, MACHINE_ARN, other],
    )
    # WHEN the bus's rules role is declared
    outputs = evaluate(lambda: {"role": BusRulesRole("order-rules", args).role_arn})
    # THEN it is one role, its policy inline, exposed by ARN
    (role,) = [r for r in mocks.resources if r.custom]
    assert role.typ == "aws:iam/role:Role" and role.name == "order-rules-role"
    assert outputs == {"role": role.state["arn"]}
    # AND the role and its inline policy carry the physical name given (project and stack in it)
    assert role.inputs["name"] == "et-test-order-rules"
    assert [p["name"] for p in role.inputs["inlinePolicies"]] == ["et-test-order-rules"]
    # AND events.amazonaws.com may assume it only for a rule of this bus, in this account
    assert role.json("assumeRolePolicy")["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnLike": {"aws:SourceArn": "arn:aws:events:ap-southeast-1:123456789012:rule/et-test-order/*"},
            },
        }
    ]
    # AND it may start exactly those state machines, nothing else
    (inline,) = role.inputs["inlinePolicies"]
    assert json.loads(inline["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StartTheTargetStateMachines",
                "Effect": "Allow",
                "Action": "states:StartExecution",
                "Resource": sorted([MACHINE_ARN, other]),
            }
        ],
    }


def test_a_bus_without_rules_gets_no_rules_role(mocks, evaluate):
    # GIVEN a bus whose events no trigger routes
    args = BusRulesRoleArgs(aws=CTX, bus_name="et-test-order", role_name="et-test-order-rules", state_machine_arns=[])
    # WHEN / THEN a role allowed to start nothing is refused, and nothing is created
    with pytest.raises(ValueError, match="order-rules: a bus without rules needs no rules role"):
        evaluate(lambda: BusRulesRole("order-rules", args).role_arn)
    assert [r for r in mocks.resources if r.custom] == []


def test_execution_logs_is_one_retained_log_group_exposed_as_a_logging_destination(mocks, evaluate):
    # WHEN the stack's execution logs are declared
    args = ExecutionLogsArgs(log_group_name="/aws/vendedlogs/states/et-test", retention_days=30)
    outputs = evaluate(lambda: {"destination": ExecutionLogs("executions", args).destination})
    # THEN it is one log group with the retention, whose ARN ending :* is the destination
    (logs,) = [r for r in mocks.resources if r.custom]
    assert (logs.typ, logs.name) == ("aws:cloudwatch/logGroup:LogGroup", "executions-logs")
    assert logs.inputs["name"] == "/aws/vendedlogs/states/et-test"
    assert logs.inputs["retentionInDays"] == 30
    assert outputs == {"destination": f"{logs.state['arn']}:*"}


def machine_args(**overrides):
    target = TaskTarget(
        cluster_arn="arn:aws:ecs:ap-southeast-1:123456789012:cluster/shared",
        task_definition_arn=pulumi.Output.from_input(
            "arn:aws:ecs:ap-southeast-1:123456789012:task-definition/customer:5"
        ),
        container_name="customer",
        pass_role_arns=["arn:aws:iam::123456789012:role/customer-task"],
        launch=FargateLaunch(["subnet-0a1b2c3d"], ["sg-0c1d2e3f"]),
    )
    return RunTaskStateMachineArgs(
        **{
            "aws": CTX,
            "state_machine_name": "et-test-reserve",
            "log_destination": pulumi.Output.from_input(LOG_DESTINATION),
            "role_name": "et-test-reserve-states",
            "target": target,
            "command": ["python", "-m", "customer.reserve_credit"],
            "failure": FailurePath(
                trigger="reserve-credit",
                service="customer",
                bus_name=pulumi.Output.from_input("et-test-customer"),
                detail_type="ReserveCreditFailed",
                task_retries=1,
            ),
            "failure_bus_arn": pulumi.Output.from_input(CUSTOMER_BUS_ARN),
            "timeout_seconds": 300,
            **overrides,
        }
    )


def test_run_task_state_machine(mocks, evaluate):
    # WHEN a state machine is declared for a target whose ARN is an Output
    outputs = evaluate(
        lambda: {
            "arn": (m := RunTaskStateMachine("reserve", machine_args())).arn,
            "name": m.name,
            "role_arn": m.role_arn,
        }
    )
    (machine,) = children(mocks, "aws:sfn/stateMachine:StateMachine")
    (role,) = children(mocks, "aws:iam/role:Role")
    (inline,) = role.inputs["inlinePolicies"]
    policy = json.loads(inline["policy"])
    # THEN it is two resources: the state machine and its role, the role's policy inline on it
    assert sorted(r.typ for r in mocks.resources if r.custom) == [
        "aws:iam/role:Role",
        "aws:sfn/stateMachine:StateMachine",
    ]
    # AND it is a Standard workflow whose definition is the rendered ASL with the resolved ARN
    assert machine.inputs["type"] == "STANDARD"
    assert machine.inputs["name"] == "et-test-reserve"
    definition = machine.json("definition")
    assert definition["States"]["RunTask"]["Parameters"]["TaskDefinition"] == (
        "arn:aws:ecs:ap-southeast-1:123456789012:task-definition/customer:5"
    )
    assert definition["States"]["RunTask"]["TimeoutSeconds"] == 300
    # AND the run-task state is wrapped by the failure path, which publishes on the resolved bus
    assert definition["StartAt"] == "CountFirstAttempt"
    assert definition["States"]["RunTask"]["Catch"][0]["Next"] == "InspectFailure"
    assert definition["States"]["DecideRetry"]["Choices"][0]["NumericLessThanEquals"] == 1
    (entry,) = definition["States"]["PublishFailure"]["Parameters"]["Entries"]
    assert (entry["EventBusName"], entry["Source"], entry["DetailType"]) == (
        "et-test-customer",
        "event-tasks.customer",
        "ReserveCreditFailed",
    )
    # AND it logs to the given (the stack's) log group, and traces with X-Ray
    assert machine.inputs["loggingConfiguration"] == {
        "level": "ERROR",
        "includeExecutionData": True,
        "logDestination": LOG_DESTINATION,
    }
    assert machine.inputs["tracingConfiguration"] == {"enabled": True}
    # AND its role trusts only Step Functions for this state machine, with the .sync grants
    trust = role.json("assumeRolePolicy")["Statement"][0]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"]["ArnLike"] == {"aws:SourceArn": outputs["arn"]}
    assert machine.inputs["roleArn"] == role.state["arn"]
    sids = [s["Sid"] for s in policy["Statement"]]
    assert sids == [
        "RunTheTaskDefinitionRevision",
        "WatchAndStopStartedTasks",
        "TagTheTasksItStarts",
        "ManageSyncCompletionRule",
        "PassTaskRolesToEcs",
        "PublishTheFailureEvent",
        "DeliverExecutionLogs",
        "SendTraces",
    ]
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["PassTaskRolesToEcs"]["Resource"] == ["arn:aws:iam::123456789012:role/customer-task"]
    # AND it may put its failure event on the customer bus only, with its own source and detail-type
    assert statements["PublishTheFailureEvent"] == {
        "Sid": "PublishTheFailureEvent",
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": CUSTOMER_BUS_ARN,
        "Condition": {
            "StringEquals": {"events:source": "event-tasks.customer", "events:detail-type": "ReserveCreditFailed"}
        },
    }
    assert outputs == {"arn": machine.state["arn"], "name": "et-test-reserve", "role_arn": role.state["arn"]}


# The local environment's components, each alone: what they expose is what their consumers use.


def test_service_table_alone(mocks, evaluate):
    from components.service_table import ServiceTable, ServiceTableArgs

    # WHEN a table component is declared
    outputs = evaluate(
        lambda: {"arn": (t := ServiceTable("order", ServiceTableArgs(table_name="et-order"))).arn, "name": t.name}
    )
    # THEN it is one table with the key schema the services use, and it exposes its name and ARN
    (table,) = children(mocks, "aws:dynamodb/table:Table")
    assert (table.name, table.inputs["hashKey"], table.inputs["rangeKey"]) == ("order-table", "pk", "sk")
    assert outputs == {"name": "et-order", "arn": table.state["arn"]}


def test_service_image_alone(mocks, evaluate):
    from components.service_image import ServiceImage, ServiceImageArgs

    # WHEN an image component is declared
    args = ServiceImageArgs(
        repository_name="et-order", context="service_images", dockerfile="service_images/order/Dockerfile"
    )
    outputs = evaluate(
        lambda: {"uri": (i := ServiceImage("order", args)).image_uri, "url": i.repository_url, "arn": i.repository_arn}
    )
    # THEN the image is built into the component's own repository, whose URL and ARN it exposes
    (repository,) = children(mocks, "aws:ecr/repository:Repository")
    (image,) = children(mocks, "docker-build:index:Image")
    assert image.inputs["tags"] == [f"{repository.state['repositoryUrl']}:latest"]
    # AND its URI pins the pushed digest, not the mutable tag
    assert outputs == {
        "uri": f"{repository.state['repositoryUrl']}@{image.state['digest']}",
        "url": repository.state["repositoryUrl"],
        "arn": repository.state["arn"],
    }


def test_service_task_alone(mocks, evaluate):
    from components.service_task import ServiceTask, ServiceTaskArgs

    # WHEN a task component is declared for a service's bus and table
    args = ServiceTaskArgs(
        aws=CTX,
        family="et-order",
        container_name="order",
        image_uri="repo/order@sha256:0",
        repository_arn="arn:aws:ecr:ap-southeast-1:123456789012:repository/et-order",
        bus_name="et-order",
        bus_arn="arn:aws:events:ap-southeast-1:123456789012:event-bus/et-order",
        table_name="et-order",
        table_arn="arn:aws:dynamodb:ap-southeast-1:123456789012:table/et-order",
        event_source="event-tasks.order",
        log_group_name="/ecs/et-order",
        task_role_name="et-order-task",
        execution_role_name="et-order-execution",
    )
    outputs = evaluate(
        lambda: {
            "td": (t := ServiceTask("order", args)).task_definition_arn,
            "task": t.task_role_arn,
            "exec": t.execution_role_arn,
        }
    )
    # THEN the task definition runs with the two roles it exposes, named after the component
    # (logical names) and as the caller asked (physical names)
    (definition,) = children(mocks, "aws:ecs/taskDefinition:TaskDefinition")
    roles = {r.name: (r.inputs["name"], r.state["arn"]) for r in children(mocks, "aws:iam/role:Role")}
    assert roles == {
        "order-task-role": ("et-order-task", outputs["task"]),
        "order-execution-role": ("et-order-execution", outputs["exec"]),
    }
    assert (definition.inputs["taskRoleArn"], definition.inputs["executionRoleArn"]) == (
        outputs["task"],
        outputs["exec"],
    )
    assert outputs["td"] == definition.state["arn"]


def test_local_network_alone(mocks, evaluate):
    from components.network import LocalNetwork, LocalNetworkArgs

    # WHEN a network is declared over two zones
    outputs = evaluate(
        lambda: {
            "vpc": (
                n := LocalNetwork(
                    "network",
                    LocalNetworkArgs(availability_zones=["ap-southeast-1a", "ap-southeast-1b"], name_prefix="et-"),
                )
            ).vpc_id,
            "subnets": n.public_subnet_ids,
        }
    )
    # THEN it exposes its VPC and one public subnet per zone
    (vpc,) = children(mocks, "aws:ec2/vpc:Vpc")
    subnets = children(mocks, "aws:ec2/subnet:Subnet")
    assert outputs["vpc"] == vpc.state["id"]
    assert sorted(outputs["subnets"]) == sorted(s.state["id"] for s in subnets) and len(subnets) == 2


def test_to_json_is_what_output_json_dumps_gives(mocks, evaluate):
    from components.iam import to_json

    # GIVEN a plain document, and one with Outputs nested in dicts and lists (one of them secret)
    plain = {"Version": "2012-10-17", "Statement": [{"Resource": ["a", "b"], "Condition": {"X": 1}}]}
    arn = pulumi.Output.from_input("arn:aws:states:ap-southeast-1:123456789012:stateMachine:sm")
    nested = {"Statement": [{"Resource": [arn, "b"], "Condition": {"S": pulumi.Output.secret("s")}}], "N": None}
    # WHEN both are serialised by to_json and by Output.json_dumps
    outputs = evaluate(
        lambda: {
            "plain": to_json(plain),
            "nested": to_json(nested),
            "expected": pulumi.Output.json_dumps(nested),
            "secret": pulumi.Output.from_input(to_json(nested)).is_secret(),
        }
    )
    # THEN a plain document is a plain string at once, and the rest equals json_dumps' result
    assert to_json(plain) == json.dumps(plain)
    assert outputs["nested"] == outputs["expected"]
    assert json.loads(outputs["nested"])["Statement"][0]["Resource"][0] == MACHINE_ARN
    # AND a secret inside keeps the document secret
    assert outputs["secret"] is True


def test_to_json_of_an_unknown_value_is_unknown_as_with_json_dumps(evaluate):
    from components.iam import to_json

    # GIVEN a document holding a value unknown at preview (an ARN not yet created)
    unknown = pulumi.Output(set(), _future(None), _future(False))
    document = {"Resource": [unknown]}
    # WHEN it is serialised THEN the JSON is unknown too (never "null" in the policy)
    known = evaluate(lambda: pulumi.Output.all(to_json(document).is_known(), to_json({"a": 1})))
    assert known == [False, '{"a": 1}']


def _future(value):
    import asyncio

    future = asyncio.get_event_loop().create_future()
    future.set_result(value)
    return future
