"""The pure renderers: ASL, IAM statements, event pattern and trust policies, as exact dicts."""

import fnmatch

from components.bus_rules_role import rule_arn_pattern, rules_trust_policy, start_execution_statements
from components.iam import AwsContext, trust_policy
from components.run_task_state_machine import (
    CapacityProviderLaunch,
    FargateLaunch,
    TaskTarget,
    observability_statements,
    render_definition,
    run_task_statements,
)
from components.service_task import emit_statement, table_key_statements
from components.task_trigger_rule import (
    dead_letter_statements,
    event_pattern,
    queue_encryption,
)

CLUSTER = "arn:aws:ecs:ap-southeast-1:123456789012:cluster/shared"
TASK_DEF = "arn:aws:ecs:ap-southeast-1:123456789012:task-definition/customer:5"
EVENT_ENV = [
    {"Name": "eventDetail", "Value.$": "States.JsonToString($.detail)"},
    {"Name": "eventId", "Value.$": "$.id"},
    {"Name": "eventDetailType", "Value.$": "$.detail-type"},
    {"Name": "eventSource", "Value.$": "$.source"},
]
RETRY = [
    {
        "ErrorEquals": ["ECS.AmazonECSException", "AmazonECS.Unknown"],
        "IntervalSeconds": 5,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
        "JitterStrategy": "FULL",
    }
]


def fargate_target(**overrides):
    return TaskTarget(
        cluster_arn=CLUSTER,
        task_definition_arn=TASK_DEF,
        container_name="customer",
        pass_role_arns=[],
        launch=FargateLaunch(subnets=["subnet-0a1b2c3d"], security_groups=["sg-0c1d2e3f"]),
        **overrides,
    )


def test_fargate_definition_runs_the_task_sync_with_the_event_in_its_environment():
    # GIVEN a Fargate target with a task-size override
    target = fargate_target(cpu=256, memory=512)
    # WHEN the workflow is rendered
    definition = render_definition(target, ["python", "-m", "customer.reserve_credit"], 600, trigger="reserve-credit")
    # THEN it is one .sync Task state on FARGATE in the subnets, with the event passed as env vars
    assert definition == {
        "Comment": "Run customer with python -m customer.reserve_credit and wait for it to stop",
        "StartAt": "RunTask",
        "States": {
            "RunTask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Parameters": {
                    "Cluster": CLUSTER,
                    "TaskDefinition": TASK_DEF,
                    "LaunchType": "FARGATE",
                    "NetworkConfiguration": {
                        "AwsvpcConfiguration": {
                            "Subnets": ["subnet-0a1b2c3d"],
                            "SecurityGroups": ["sg-0c1d2e3f"],
                            "AssignPublicIp": "DISABLED",
                        }
                    },
                    "Overrides": {
                        "ContainerOverrides": [
                            {
                                "Name": "customer",
                                "Command": ["python", "-m", "customer.reserve_credit"],
                                "Environment": EVENT_ENV,
                            }
                        ],
                        "Cpu": "256",
                        "Memory": "512",
                    },
                    # THEN the task carries its task definition's tags, its trigger and its event's id
                    "PropagateTags": "TASK_DEFINITION",
                    "Tags": [
                        {"Key": "event-tasks:trigger", "Value": "reserve-credit"},
                        {"Key": "event-tasks:event-id", "Value.$": "$.id"},
                    ],
                },
                "TimeoutSeconds": 600,
                "Retry": RETRY,
                "End": True,
            }
        },
    }


def test_fargate_public_ip_and_no_size_override():
    # GIVEN a target in public subnets without a size override
    target = TaskTarget(
        CLUSTER, TASK_DEF, "customer", [], FargateLaunch(["subnet-0a1b2c3d"], ["sg-0c1d2e3f"], assign_public_ip=True)
    )
    # WHEN rendered
    parameters = render_definition(target, ["true"], 60, trigger="t")["States"]["RunTask"]["Parameters"]
    # THEN the IP is assigned and the overrides hold only the container override
    assert parameters["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "ENABLED"
    assert parameters["Overrides"] == {
        "ContainerOverrides": [{"Name": "customer", "Command": ["true"], "Environment": EVENT_ENV}]
    }


def test_capacity_provider_definition_uses_the_strategy_and_the_seed_placement():
    # GIVEN a target on the local cluster's EC2 capacity provider
    target = TaskTarget(CLUSTER, TASK_DEF, "order", [], CapacityProviderLaunch("event-tasks-local-cp"))
    # WHEN rendered
    parameters = render_definition(target, ["python", "-m", "order.approve"], 900, trigger="approve-order")["States"][
        "RunTask"
    ]["Parameters"]
    # THEN the strategy replaces LaunchType (they are mutually exclusive) and placement is the seed's
    assert parameters == {
        "Cluster": CLUSTER,
        "TaskDefinition": TASK_DEF,
        "CapacityProviderStrategy": [{"CapacityProvider": "event-tasks-local-cp", "Weight": 1, "Base": 0}],
        "PlacementStrategy": [
            {"Type": "spread", "Field": "instanceId"},
            {"Type": "binpack", "Field": "cpu"},
            {"Type": "random"},
        ],
        "Overrides": {
            "ContainerOverrides": [
                {"Name": "order", "Command": ["python", "-m", "order.approve"], "Environment": EVENT_ENV}
            ]
        },
        "PropagateTags": "TASK_DEFINITION",
        "Tags": [
            {"Key": "event-tasks:trigger", "Value": "approve-order"},
            {"Key": "event-tasks:event-id", "Value.$": "$.id"},
        ],
    }


def test_execute_command_is_enabled_only_for_a_target_that_asks_for_it():
    # GIVEN the same target with and without ECS Exec
    plain = TaskTarget(CLUSTER, TASK_DEF, "order", [], CapacityProviderLaunch("cp"))
    with_exec = TaskTarget(CLUSTER, TASK_DEF, "order", [], CapacityProviderLaunch("cp"), enable_execute_command=True)
    # WHEN both are rendered
    rendered = [
        render_definition(t, ["true"], 60, trigger="t")["States"]["RunTask"]["Parameters"] for t in (plain, with_exec)
    ]
    # THEN only the second has EnableExecuteCommand, and both propagate the task definition's tags
    assert "EnableExecuteCommand" not in rendered[0]
    assert rendered[1]["EnableExecuteCommand"] is True
    assert {k: v for k, v in rendered[1].items() if k != "EnableExecuteCommand"} == rendered[0]


def test_task_failures_are_not_retried():
    # GIVEN any rendered workflow
    retry = render_definition(fargate_target(), ["true"], 60, trigger="t")["States"]["RunTask"]["Retry"]
    # THEN only errors raised before the container ran are retried, never States.TaskFailed
    errors = {e for r in retry for e in r["ErrorEquals"]}
    assert "States.TaskFailed" not in errors and "States.ALL" not in errors
    assert errors == {"ECS.AmazonECSException", "AmazonECS.Unknown"}


def test_run_task_statements_are_the_documented_sync_permissions():
    # GIVEN the task definition revision, its cluster and its two roles
    statements = run_task_statements(
        partition="aws",
        region="ap-southeast-1",
        account_id="123456789012",
        cluster_arn=CLUSTER,
        task_definition_arn=TASK_DEF,
        pass_role_arns=["arn:aws:iam::123456789012:role/task", "arn:aws:iam::123456789012:role/exec"],
    )
    # THEN each permission is scoped as AWS documents it for ecs:runTask.sync
    assert statements == [
        {
            "Sid": "RunTheTaskDefinitionRevision",
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": TASK_DEF,
            "Condition": {"ArnEquals": {"ecs:cluster": CLUSTER}},
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
            "Resource": "arn:aws:ecs:ap-southeast-1:123456789012:task/shared/*",
            "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}},
        },
        {
            "Sid": "ManageSyncCompletionRule",
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": "arn:aws:events:ap-southeast-1:123456789012:rule/StepFunctionsGetEventsForECSTaskRule",
        },
        {
            "Sid": "PassTaskRolesToEcs",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": ["arn:aws:iam::123456789012:role/exec", "arn:aws:iam::123456789012:role/task"],
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
    ]


def test_no_pass_role_statement_without_roles():
    # GIVEN a task definition with neither task nor execution role
    statements = run_task_statements(
        partition="aws",
        region="r",
        account_id="1",
        cluster_arn=CLUSTER,
        task_definition_arn=TASK_DEF,
        pass_role_arns=["", None],
    )
    # THEN no iam:PassRole is granted on an empty resource
    assert [s["Sid"] for s in statements] == [
        "RunTheTaskDefinitionRevision",
        "WatchAndStopStartedTasks",
        "TagTheTasksItStarts",
        "ManageSyncCompletionRule",
    ]


def test_observability_statements():
    # THEN log delivery and X-Ray actions are granted on * (the only resource AWS accepts for them)
    assert observability_statements() == [
        {
            "Sid": "DeliverExecutionLogs",
            "Effect": "Allow",
            "Resource": "*",
            "Action": [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
        },
        {
            "Sid": "SendTraces",
            "Effect": "Allow",
            "Resource": "*",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            ],
        },
    ]


def test_rule_documents():
    rule = "arn:aws:events:ap-southeast-1:123456789012:rule/bus/rule"
    queue = "arn:aws:sqs:ap-southeast-1:123456789012:q"
    machine = "arn:aws:states:ap-southeast-1:123456789012:stateMachine:m"
    # THEN the pattern matches any listed detail-type from the bus owner's source only, and grants
    # name one resource each
    assert event_pattern(["CreditLimitExceeded", "CustomerValidationFailed"], "event-tasks.customer") == {
        "source": ["event-tasks.customer"],
        "detail-type": ["CreditLimitExceeded", "CustomerValidationFailed"],
    }
    other = "arn:aws:states:ap-southeast-1:123456789012:stateMachine:a"
    assert start_execution_statements([machine, other, machine]) == [
        {
            "Sid": "StartTheTargetStateMachines",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": [other, machine],
        }
    ]
    assert dead_letter_statements(queue, rule) == [
        {
            "Sid": "DeadLetterFromTheRule",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
        }
    ]


def test_a_bus_rules_role_trusts_only_the_rules_of_its_bus():
    ctx = AwsContext(partition="aws-cn", region="cn-north-1", account_id="123456789012")
    # WHEN the trust of the order bus's rules role is rendered
    pattern = rule_arn_pattern(ctx, "et-test-order")
    # THEN EventBridge may assume it for a rule of that custom bus (rule/<bus>/<rule>) in this account
    assert pattern == "arn:aws-cn:events:cn-north-1:123456789012:rule/et-test-order/*"
    assert rules_trust_policy("123456789012", pattern)["Statement"][0] == {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": "123456789012"},
            "ArnLike": {"aws:SourceArn": pattern},
        },
    }
    # AND a rule of another bus (or of the default bus) does not match the pattern
    assert not fnmatch.fnmatchcase("arn:aws-cn:events:cn-north-1:123456789012:rule/et-test-customer/r", pattern)
    assert not fnmatch.fnmatchcase("arn:aws-cn:events:cn-north-1:123456789012:rule/et-test-order-x/r", pattern)
    assert not fnmatch.fnmatchcase("arn:aws-cn:events:cn-north-1:123456789012:rule/r", pattern)
    assert fnmatch.fnmatchcase("arn:aws-cn:events:cn-north-1:123456789012:rule/et-test-order/r", pattern)


def test_trust_policy_guards_against_confused_deputies():
    # THEN the service may assume the role only for this account and this source
    assert trust_policy("states.amazonaws.com", "123456789012", "arn:src") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": "123456789012"},
                    "ArnLike": {"aws:SourceArn": "arn:src"},
                },
            }
        ],
    }


def test_a_task_may_emit_only_its_own_source_and_declared_detail_types():
    bus = "arn:aws:events:ap-southeast-1:123456789012:event-bus/et-customer"
    # WHEN the emit grant is rendered for a service that declares its detail-types (unsorted)
    statement = emit_statement(bus, "event-tasks.customer", ("CreditReserved", "CreditLimitExceeded"))
    # THEN each PutEvents entry must carry the service's source and one of those detail-types
    assert statement == {
        "Sid": "EmitToOwnBus",
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": bus,
        "Condition": {
            "StringEquals": {
                "events:source": "event-tasks.customer",
                "events:detail-type": ["CreditLimitExceeded", "CreditReserved"],
            }
        },
    }
    # AND a service that declares nothing is still held to its source
    assert emit_statement(bus, "event-tasks.customer", None)["Condition"] == {
        "StringEquals": {"events:source": "event-tasks.customer"}
    }


def test_a_customer_managed_table_key_is_usable_only_through_dynamodb():
    key = "arn:aws:kms:ap-southeast-1:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab"
    # THEN the task role may use the key for DynamoDB's calls only, and needs nothing without one
    assert table_key_statements(key, "dynamodb.ap-southeast-1.amazonaws.com") == [
        {
            "Sid": "UseTableKeyThroughDynamoDb",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            "Resource": key,
            "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.ap-southeast-1.amazonaws.com"}},
        }
    ]
    assert table_key_statements(None, "dynamodb.ap-southeast-1.amazonaws.com") == []


def test_a_dead_letter_queue_uses_sse_sqs_or_the_customer_managed_key():
    key = "arn:aws:kms:ap-southeast-1:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab"
    # THEN the two exclusive encryption modes: SSE-SQS by default, SSE-KMS with the given key
    assert queue_encryption(None) == {"sqs_managed_sse_enabled": True}
    assert queue_encryption(key) == {"kms_master_key_id": key}
