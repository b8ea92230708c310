"""Each component alone under Pulumi mocks: its children, their wiring and its exposed outputs."""

import pulumi

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
            "role_name": "et-test-reserve-events",
            "detail_types": ["OrderCreated"],
            "source": "event-tasks.order",
            "state_machine_arn": MACHINE_ARN,
            **overrides,
        }
    )


def test_task_trigger_rule_targets_the_machine_on_the_same_bus(mocks, evaluate):
    # WHEN a rule is declared on a custom bus
    outputs = evaluate(
        lambda: {
            "dlq": (r := TaskTriggerRule("reserve", rule_args())).dead_letter_queue_url,
            "arn": r.arn,
            "role": r.role_arn,
        }
    )
    # THEN the rule matches the detail-type from the bus owner's source on that bus
    (rule,) = children(mocks, "aws:cloudwatch/eventRule:EventRule")
    assert rule.inputs["eventBusName"] == "et-test-order"
    assert rule.json("eventPattern") == {"source": ["event-tasks.order"], "detail-type": ["OrderCreated"]}
    # AND the target names the same bus, the role, the DLQ and the retry policy
    (target,) = children(mocks, "aws:cloudwatch/eventTarget:EventTarget")
    (queue,) = children(mocks, "aws:sqs/queue:Queue")
    (role,) = children(mocks, "aws:iam/role:Role")
    assert target.inputs["eventBusName"] == "et-test-order"
    assert target.inputs["arn"] == MACHINE_ARN
    assert target.inputs["roleArn"] == role.state["arn"]
    assert target.inputs["deadLetterConfig"] == {"arn": queue.state["arn"]}
    assert target.inputs["retryPolicy"] == {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 10}
    assert outputs == {"dlq": queue.state["url"], "arn": rule.state["arn"], "role": role.state["arn"]}


def test_task_trigger_rule_grants_are_scoped_to_the_rule_and_machine(mocks, evaluate):
    # WHEN a rule is declared with a custom retry policy
    evaluate(lambda: TaskTriggerRule("reserve", rule_args(maximum_event_age_seconds=600, maximum_retry_attempts=2)).arn)
    (rule,) = children(mocks, "aws:cloudwatch/eventRule:EventRule")
    (role,) = children(mocks, "aws:iam/role:Role")
    (policy,) = children(mocks, "aws:iam/rolePolicy:RolePolicy")
    (queue,) = children(mocks, "aws:sqs/queue:Queue")
    (queue_policy,) = children(mocks, "aws:sqs/queuePolicy:QueuePolicy")
    (target,) = children(mocks, "aws:cloudwatch/eventTarget:EventTarget")
    # THEN events.amazonaws.com may assume the role only for this rule in this account
    trust = role.json("assumeRolePolicy")["Statement"][0]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": rule.state["arn"]},
    }
    # AND the role may only start this one state machine
    assert policy.json("policy")["Statement"] == [
        {
            "Sid": "StartTheTargetStateMachine",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": MACHINE_ARN,
        }
    ]
    # AND the DLQ is encrypted, keeps messages 14 days and accepts only this rule's failures
    assert queue.inputs["sqsManagedSseEnabled"] is True
    assert queue.inputs["messageRetentionSeconds"] == 1209600
    assert queue_policy.inputs["queueUrl"] == queue.state["url"]
    assert queue_policy.json("policy")["Statement"][0]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": rule.state["arn"]}
    }
    assert target.inputs["retryPolicy"] == {"maximumEventAgeInSeconds": 600, "maximumRetryAttempts": 2}


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
            "log_group_name": "/aws/vendedlogs/states/et-test-reserve",
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
            "log_retention_days": 30,
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
    (policy,) = children(mocks, "aws:iam/rolePolicy:RolePolicy")
    (logs,) = children(mocks, "aws:cloudwatch/logGroup:LogGroup")
    # THEN it is a Standard workflow whose definition is the rendered ASL with the resolved ARN
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
    # AND it logs to its own vended log group with retention, and traces with X-Ray
    assert logs.inputs["name"] == "/aws/vendedlogs/states/et-test-reserve"
    assert logs.inputs["retentionInDays"] == 30
    assert machine.inputs["loggingConfiguration"] == {
        "level": "ERROR",
        "includeExecutionData": True,
        "logDestination": f"{logs.state['arn']}:*",
    }
    assert machine.inputs["tracingConfiguration"] == {"enabled": True}
    # AND its role trusts only Step Functions for this state machine, with the .sync grants
    trust = role.json("assumeRolePolicy")["Statement"][0]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"]["ArnLike"] == {"aws:SourceArn": outputs["arn"]}
    assert machine.inputs["roleArn"] == role.state["arn"]
    sids = [s["Sid"] for s in policy.json("policy")["Statement"]]
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
    statements = {s["Sid"]: s for s in policy.json("policy")["Statement"]}
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
