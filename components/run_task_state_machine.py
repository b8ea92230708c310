"""`RunTaskStateMachine`: a Standard Step Functions workflow that runs one ECS task to completion.

Produces the state machine (an `ecs:runTask.sync` Task state wrapped by the failure path of
`components/failure_path.py`: retries, then a failure event on the failed service's bus), its execution
role with exactly the permissions AWS documents for `.sync` plus that one PutEvents (inline on the
role), execution logs to the stack's log group (`ExecutionLogs`) and X-Ray tracing.

The ASL and the IAM statements are rendered by pure functions (`render_definition`, `with_failure_path`,
`run_task_statements`, `failure_event_statements`) so they can be checked as exact dicts without
Pulumi; the component only serialises them (`iam.to_json`) and registers the resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.failure_path import FailurePath, failure_event_statements, with_failure_path
from components.iam import AwsContext, role_with_inline_policy, to_json, trust_policy

RUN_TASK_SYNC = "arn:aws:states:::ecs:runTask.sync"
TASK_STATE = "RunTask"
# The managed rule Step Functions puts on the default bus to learn when a `.sync` task stops.
SYNC_MANAGED_RULE = "StepFunctionsGetEventsForECSTaskRule"

# The event reaches the task as environment variables (the services read these names).
EVENT_ENVIRONMENT = (
    ("eventDetail", "States.JsonToString($.detail)"),
    ("eventId", "$.id"),
    ("eventDetailType", "$.detail-type"),
    ("eventSource", "$.source"),
)

# Task tags of every task a trigger starts, beside the task definition's own (its stack's default
# tags, copied by PropagateTags): which trigger ran it, for which event.
TRIGGER_TAG = "event-tasks:trigger"
EVENT_ID_TAG = "event-tasks:event-id"

# Retried: the task never started, so no business logic ran twice. Not retried: States.TaskFailed
# (the container ran and exited non-zero; re-running it would repeat its side effects).
RETRIABLE_ERRORS = ("ECS.AmazonECSException", "AmazonECS.Unknown")


@dataclass(frozen=True)
class FargateLaunch:
    """Run on Fargate in the given subnets (the `cloud` environment)."""

    subnets: pulumi.Input[list[str]]
    """Subnet ids for the task's awsvpc network interface."""
    security_groups: pulumi.Input[list[str]]
    """Security group ids for the task."""
    assign_public_ip: bool = False
    """Give the task a public IP (public subnets without NAT)."""
    capacity_provider_strategy: tuple[tuple[str, int, int], ...] = ()
    """(provider, weight, base) over FARGATE/FARGATE_SPOT; empty: `LaunchType: FARGATE`."""
    platform_version: str | None = None
    """Fargate platform version; None: ECS's default (LATEST)."""


@dataclass(frozen=True)
class CapacityProviderLaunch:
    """Run on the cluster's EC2 capacity provider (the `local` environment).

    A capacity provider strategy, not `LaunchType: EC2`: the two are mutually exclusive, and only the
    strategy lets managed scaling start instances for a task waiting in PROVISIONING.
    """

    capacity_provider: pulumi.Input[str]
    """Name of the ECS capacity provider."""
    placement: tuple[tuple[str, str | None], ...] = (
        ("spread", "instanceId"),
        ("binpack", "cpu"),
        ("random", None),
    )
    """Placement strategies in priority order: (type, field)."""


@dataclass(frozen=True)
class TaskTarget:
    """The ECS task a state machine runs: where, what, and which roles it passes to ECS."""

    cluster_arn: pulumi.Input[str]
    """ARN of the cluster to run in."""
    task_definition_arn: pulumi.Input[str]
    """ARN of the task definition, with its revision."""
    container_name: str
    """The container whose command and environment are overridden."""
    pass_role_arns: pulumi.Input[list[str]]
    """Task role and execution role ARNs of the task definition (iam:PassRole)."""
    launch: FargateLaunch | CapacityProviderLaunch
    """How the task is placed."""
    cpu: int | None = None
    """Task-level cpu override."""
    memory: int | None = None
    """Task-level memory override (MiB)."""
    enable_execute_command: bool = False
    """Start the task with ECS Exec on (the task role must allow the SSM messages channels)."""


@dataclass(frozen=True)
class RunTaskStateMachineArgs:
    """Inputs of `RunTaskStateMachine`."""

    aws: AwsContext
    """Partition, region and account the stack deploys to."""
    state_machine_name: str
    """Physical name of the state machine."""
    log_destination: pulumi.Input[str]
    """Where execution logs go: the stack's log group ARN ending `:*` (`ExecutionLogs.destination`)."""
    role_name: str
    """Physical name of the execution role (and of its inline policy)."""
    target: TaskTarget
    """The task to run."""
    command: list[str]
    """Container command override."""
    failure: FailurePath
    """What to do when the task fails: retries, and the failure event (trigger, service, its bus,
    detail-type) published when it gives up."""
    failure_bus_arn: pulumi.Input[str]
    """ARN of `failure.bus_name`'s bus: the one bus the workflow may put its failure event on."""
    timeout_seconds: int = 900
    """Fail the task state (Step Functions then stops the task) after this long."""


def run_task_parameters(
    target: TaskTarget, command: list[str], environment: list[dict[str, Any]], *, trigger: str
) -> dict[str, Any]:
    """RunTask's parameters for `target`: the command and environment overrides, where it runs, and
    its tags (its task definition's, the stack's defaults; the `trigger` and the event's id)."""
    container_override: dict[str, Any] = {
        "Name": target.container_name,
        "Command": list(command),
        "Environment": environment,
    }
    overrides: dict[str, Any] = {"ContainerOverrides": [container_override]}
    if target.cpu is not None:
        overrides["Cpu"] = str(target.cpu)
    if target.memory is not None:
        overrides["Memory"] = str(target.memory)

    parameters: dict[str, Any] = {
        "Cluster": target.cluster_arn,
        "TaskDefinition": target.task_definition_arn,
        **_render_launch(target.launch),
        "Overrides": overrides,
        # Cost allocation and ownership: the task carries its task definition's tags, and its own.
        "PropagateTags": "TASK_DEFINITION",
        "Tags": [{"Key": TRIGGER_TAG, "Value": trigger}, {"Key": EVENT_ID_TAG, "Value.$": "$.id"}],
    }
    if target.enable_execute_command:
        parameters["EnableExecuteCommand"] = True
    return parameters


def render_definition(target: TaskTarget, command: list[str], timeout_seconds: int, *, trigger: str) -> dict[str, Any]:
    """The Amazon States Language of a workflow that runs `target` with `command` and waits for it.

    The task is tagged with its task definition's tags (the stack's default tags), the `trigger`
    that ran it and the id of the event it runs for, so its cost and its logs can be traced back.
    """
    environment = [{"Name": name, "Value.$": path} for name, path in EVENT_ENVIRONMENT]
    parameters = run_task_parameters(target, command, environment, trigger=trigger)
    return {
        "Comment": f"Run {target.container_name} with {' '.join(command)} and wait for it to stop",
        "StartAt": TASK_STATE,
        "States": {
            TASK_STATE: {
                "Type": "Task",
                "Resource": RUN_TASK_SYNC,
                "Parameters": parameters,
                # On the state, not the execution: a state timeout makes Step Functions stop the task
                # it started, and an execution-wide one would always fire first (its clock starts
                # earlier and also runs through the RunTask retries).
                "TimeoutSeconds": timeout_seconds,
                "Retry": [
                    {
                        "ErrorEquals": list(RETRIABLE_ERRORS),
                        "IntervalSeconds": 5,
                        "MaxAttempts": 3,
                        "BackoffRate": 2.0,
                        "JitterStrategy": "FULL",
                    }
                ],
                "End": True,
            }
        },
    }


def _render_launch(launch: FargateLaunch | CapacityProviderLaunch) -> dict[str, Any]:
    if isinstance(launch, FargateLaunch):
        # A strategy and LaunchType are mutually exclusive: the strategy replaces it.
        placed: dict[str, Any] = (
            {
                "CapacityProviderStrategy": [
                    {"CapacityProvider": name, "Weight": weight, "Base": base}
                    for name, weight, base in launch.capacity_provider_strategy
                ]
            }
            if launch.capacity_provider_strategy
            else {"LaunchType": "FARGATE"}
        )
        if launch.platform_version:
            placed["PlatformVersion"] = launch.platform_version
        return {
            **placed,
            "NetworkConfiguration": {
                "AwsvpcConfiguration": {
                    "Subnets": launch.subnets,
                    "SecurityGroups": launch.security_groups,
                    "AssignPublicIp": "ENABLED" if launch.assign_public_ip else "DISABLED",
                }
            },
        }
    return {
        "CapacityProviderStrategy": [{"CapacityProvider": launch.capacity_provider, "Weight": 1, "Base": 0}],
        "PlacementStrategy": [{"Type": kind, **({"Field": on} if on else {})} for kind, on in launch.placement],
    }


def run_task_statements(
    *,
    partition: str,
    region: str,
    account_id: str,
    cluster_arn: str,
    task_definition_arn: str,
    pass_role_arns: list[str],
) -> list[dict[str, Any]]:
    """The IAM statements a state machine needs to run `task_definition_arn` with `.sync`.

    As AWS documents them for `arn:aws:states:::ecs:runTask.sync`, narrowed to one cluster.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "RunTheTaskDefinitionRevision",
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": task_definition_arn,
            "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}},
        },
        {
            # Task ids are unknown until RunTask returns; Step Functions only stops tasks it started.
            # AWS documents these on `*` without conditions: a condition key the request context
            # lacks would deny the .sync polling and strand every execution.
            "Sid": "WatchAndStopStartedTasks",
            "Effect": "Allow",
            "Action": ["ecs:StopTask", "ecs:DescribeTasks"],
            "Resource": "*",
        },
        {
            # RunTask with Tags or PropagateTags tags the task as it creates it, which ECS authorizes
            # as ecs:TagResource; the condition admits it only at creation by RunTask (ECS docs,
            # "Grant permission to tag resources on creation").
            "Sid": "TagTheTasksItStarts",
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": tasks_of(cluster_arn),
            "Condition": {"StringEquals": {"ecs:CreateAction": "RunTask"}},
        },
        sync_rule_statement(partition, region, account_id),
    ]
    return statements + pass_role_statements("PassTaskRolesToEcs", pass_role_arns)


def sync_rule_statement(partition: str, region: str, account_id: str) -> dict[str, Any]:
    """What `.sync` needs to learn that a task stopped: the managed rule on the default bus."""
    return {
        "Sid": "ManageSyncCompletionRule",
        "Effect": "Allow",
        "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
        "Resource": f"arn:{partition}:events:{region}:{account_id}:rule/{SYNC_MANAGED_RULE}",
    }


def pass_role_statements(sid: str, pass_role_arns: list[str]) -> list[dict[str, Any]]:
    """Pass exactly these roles, to ECS only; none when there is no role (never on an empty resource)."""
    roles = sorted({arn for arn in pass_role_arns if arn})
    if not roles:
        return []
    return [
        {
            "Sid": sid,
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": roles,
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        }
    ]


def tasks_of(cluster_arn: str) -> str:
    """`arn:…:cluster/<name>` → `arn:…:task/<name>/*`, the ARNs of the cluster's tasks."""
    prefix, _, name = cluster_arn.partition(":cluster/")
    return f"{prefix}:task/{name}/*"


def observability_statements() -> list[dict[str, Any]]:
    """Log delivery and X-Ray permissions; AWS documents these actions on `*` only."""
    return [
        {
            "Sid": "DeliverExecutionLogs",
            "Effect": "Allow",
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
            "Resource": "*",
        },
        {
            "Sid": "SendTraces",
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            ],
            "Resource": "*",
        },
    ]


class RunTaskStateMachine(pulumi.ComponentResource):
    """A Standard workflow running one ECS task with `ecs:runTask.sync`."""

    arn: pulumi.Output[str]
    """ARN of the state machine (the rule's target)."""
    name: pulumi.Output[str]
    """Name of the state machine."""
    role_arn: pulumi.Output[str]
    """ARN of the state machine's execution role."""

    def __init__(self, name: str, args: RunTaskStateMachineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:RunTaskStateMachine", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = args.aws
        target = args.target

        state_machine_arn = ctx.arn("states", f"stateMachine:{args.state_machine_name}")
        grants = (
            ctx.partition,
            ctx.region,
            ctx.account_id,
            target.cluster_arn,
            target.task_definition_arn,
            target.pass_role_arns,
            args.failure_bus_arn,
        )

        def statements(v: tuple[Any, ...] | list[Any]) -> list[dict[str, Any]]:
            return (
                run_task_statements(
                    partition=v[0],
                    region=v[1],
                    account_id=v[2],
                    cluster_arn=v[3],
                    task_definition_arn=v[4],
                    pass_role_arns=v[5],
                )
                + failure_event_statements(v[6], args.failure)
                + observability_statements()
            )

        role = role_with_inline_policy(
            name,
            role_name=args.role_name,
            description=f"Step Functions {args.state_machine_name}: run its ECS task",
            trust=trust_policy("states.amazonaws.com", ctx.account_id, state_machine_arn),
            # Rendered at once where every value is known (the cloud stack), else once they resolve.
            statements=pulumi.Output.all(*grants).apply(statements)
            if any(isinstance(v, pulumi.Output) for v in grants)
            else statements(grants),
            parent=self,
        )
        state_machine = aws.sfn.StateMachine(
            f"{name}-state-machine",
            name=args.state_machine_name,
            type="STANDARD",  # Express workflows cannot wait on .sync
            # The role carries its grant inline: referencing it waits for the grant too, which must
            # exist before Step Functions validates the definition.
            role_arn=role.arn,
            definition=to_json(
                with_failure_path(
                    render_definition(target, args.command, args.timeout_seconds, trigger=args.failure.trigger),
                    args.failure,
                )
            ),
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level="ERROR",
                include_execution_data=True,
                log_destination=args.log_destination,
            ),
            tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
            opts=child,
        )
        self.arn = state_machine.arn
        self.name = state_machine.name
        self.role_arn = role.arn
        self.register_outputs({"arn": self.arn, "name": self.name, "role_arn": self.role_arn})
