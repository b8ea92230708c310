"""`TaskSchedule`: an EventBridge Scheduler schedule that starts a state machine on every tick.

Produces a schedule group holding only this schedule, the schedule (a `rate(...)`/`cron(...)`
expression, no flexible window), whose target is
the state machine with a synthetic, EventBridge-shaped event as input; the role the Scheduler
assumes to call `states:StartExecution` on that one state machine (and to dead-letter), trusted
only for that group: AWS documents `aws:SourceArn` for the Scheduler as the schedule GROUP's ARN
(never a schedule's), so a group of one is what scopes the role to one schedule; an
encrypted SQS dead-letter queue for ticks the Scheduler could not deliver after its retry policy.

The input is what an EventBridge rule would pass, so the `RunTaskStateMachine` that runs the task
works unchanged: `id` is the tick's scheduled time (the task's idempotency key: the same tick
retried or redriven is the same event), `detail-type` `Scheduled`, `source` `event-tasks.scheduler`,
`detail` the schedule's name and scheduled time. `scheduled_event` renders it, for the component
(with the Scheduler's context attributes) and for the sandbox (with a concrete time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.iam import AwsContext, policy_document, role_with_policy, trust_policy
from components.task_trigger_rule import DLQ_RETENTION_SECONDS

SCHEDULED_DETAIL_TYPE = "Scheduled"
SCHEDULED_SOURCE = "event-tasks.scheduler"
# EventBridge Scheduler context attributes, replaced in the target input at every invocation.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
EXECUTION_ID = "<aws.scheduler.execution-id>"
SCHEDULE_ARN = "<aws.scheduler.schedule-arn>"


@dataclass(frozen=True)
class TaskScheduleArgs:
    """Inputs of `TaskSchedule`."""

    aws: AwsContext
    """Partition, region and account the stack deploys to."""
    schedule_name: str
    """Physical name of the schedule and of its own schedule group."""
    trigger: str
    """The trigger's name, passed to the task as `detail.schedule`."""
    schedule_expression: str
    """`rate(...)` or `cron(...)`, evaluated in UTC."""
    dead_letter_queue_name: str
    """Physical name of the dead-letter queue."""
    state_machine_arn: pulumi.Input[str]
    """The state machine to start on every tick."""
    maximum_event_age_seconds: int = 3600
    """Stop retrying a tick older than this."""
    maximum_retry_attempts: int = 10
    """Retries before the tick is dead-lettered."""
    role_name: str = ""
    """Physical name of the role the Scheduler assumes to start the state machine."""


def scheduled_event(
    trigger: str,
    scheduled_time: str = SCHEDULED_TIME,
    execution_id: str = EXECUTION_ID,
    schedule_arn: str = SCHEDULE_ARN,
) -> dict[str, Any]:
    """The execution input of one tick, shaped like an EventBridge event (id = the scheduled time)."""
    return {
        "version": "0",
        "id": scheduled_time,
        "detail-type": SCHEDULED_DETAIL_TYPE,
        "source": SCHEDULED_SOURCE,
        "time": scheduled_time,
        "resources": [schedule_arn],
        "detail": {"schedule": trigger, "scheduledTime": scheduled_time, "executionId": execution_id},
    }


def start_execution_statements(state_machine_arn: Any) -> list[dict[str, Any]]:
    """Start the schedule's one state machine (a schedule has a role of its own, unlike a rule, whose
    bus's `BusRulesRole` starts every target of the bus)."""
    return [
        {
            "Sid": "StartTheTargetStateMachine",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": state_machine_arn,
        }
    ]


def scheduler_statements(state_machine_arn: Any, queue_arn: Any) -> list[dict[str, Any]]:
    """What the Scheduler needs: start this one state machine, and dead-letter to its own queue
    (the Scheduler sends to the DLQ with the schedule's role)."""
    return [
        *start_execution_statements(state_machine_arn),
        {
            "Sid": "DeadLetterUndeliveredTicks",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
        },
    ]


def dead_letter_statements(queue_arn: Any, role_arn: Any) -> list[dict[str, Any]]:
    """The queue accepts messages from the schedule's role only."""
    return [
        {
            "Sid": "DeadLetterFromTheSchedule",
            "Effect": "Allow",
            "Principal": {"AWS": role_arn},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
        }
    ]


class TaskSchedule(pulumi.ComponentResource):
    """Start one state machine on a schedule, with retries and a DLQ."""

    arn: pulumi.Output[str]
    """ARN of the schedule."""
    name: pulumi.Output[str]
    """Name of the schedule."""
    role_arn: pulumi.Output[str]
    """ARN of the role the Scheduler assumes."""
    dead_letter_queue_url: pulumi.Output[str]
    """URL of the dead-letter queue, to inspect and redrive undelivered ticks."""

    def __init__(self, name: str, args: TaskScheduleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:TaskSchedule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = args.aws
        group = aws.scheduler.ScheduleGroup(f"{name}-group", name=args.schedule_name, opts=child)
        queue = aws.sqs.Queue(
            f"{name}-dlq",
            name=args.dead_letter_queue_name,
            sqs_managed_sse_enabled=True,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            opts=child,
        )
        role, role_policy = role_with_policy(
            name,
            role_name=args.role_name,
            description=f"EventBridge Scheduler {args.schedule_name}: start its state machine",
            trust=trust_policy("scheduler.amazonaws.com", ctx.account_id, group.arn),
            statements=scheduler_statements(args.state_machine_arn, queue.arn),
            parent=self,
        )
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=queue.url,
            policy=pulumi.Output.json_dumps(policy_document(dead_letter_statements(queue.arn, role.arn))),
            opts=child,
        )
        schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            name=args.schedule_name,
            group_name=group.name,
            description=f"Start {args.schedule_name} on {args.schedule_expression} (UTC)",
            schedule_expression=args.schedule_expression,
            schedule_expression_timezone="UTC",
            # Ticks at the exact time: the scheduled time is the task's idempotency key anyway.
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=args.state_machine_arn,
                role_arn=role.arn,
                input=pulumi.Output.json_dumps(scheduled_event(args.trigger)),
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=queue.arn),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_event_age_in_seconds=args.maximum_event_age_seconds,
                    maximum_retry_attempts=args.maximum_retry_attempts,
                ),
            ),
            # A tick may come as soon as the schedule exists: the grants and DLQ policy come first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy, queue_policy]),
        )
        self.arn = schedule.arn
        self.name = schedule.name
        self.role_arn = role.arn
        self.dead_letter_queue_url = queue.url
        self.register_outputs(
            {
                "arn": self.arn,
                "name": self.name,
                "role_arn": self.role_arn,
                "dead_letter_queue_url": self.dead_letter_queue_url,
            }
        )
