"""`StackAlerts`: where a stack's failures reach an operator, and the dashboard to look at first.

Produces one SNS topic per stack (encrypted with its own KMS key: CloudWatch alarms cannot publish to
a topic encrypted with the AWS managed `alias/aws/sns`, whose key policy does not let CloudWatch use
it), a topic policy that lets only this account's alarms of this stack publish, an email
subscription per configured address, and one CloudWatch dashboard with a row per trigger: events
matched, executions started/succeeded/failed/timed out, task duration and dead-letter queue depth.

The alarms themselves are per trigger (`TriggerAlarms`); they publish to `topic_arn`.
The policies and the dashboard body are pure functions, checked as exact dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.iam import AwsContext, policy_document, to_json


@dataclass(frozen=True)
class WatchedTrigger:
    """What the dashboard shows for one trigger: its rule, its state machine, its dead-letter queue."""

    trigger: str
    """The trigger's name (a row title)."""
    bus_name: pulumi.Input[str] | None
    """The bus its rule listens on (AWS/Events metrics of a custom bus carry EventBusName); None: a schedule."""
    rule_name: pulumi.Input[str] | None
    """Its rule's name; None: a schedule."""
    state_machine_arn: pulumi.Input[str]
    """Its state machine's ARN (AWS/States metrics' dimension)."""
    dead_letter_queue_name: pulumi.Input[str]
    """Its dead-letter queue's name (AWS/SQS metrics' dimension)."""
    schedule_group_name: pulumi.Input[str] | None = None
    """A scheduled trigger's own schedule group (AWS/Scheduler metrics' dimension)."""


@dataclass(frozen=True)
class StackAlertsArgs:
    """Inputs of `StackAlerts`."""

    aws: AwsContext
    """Partition, region and account the stack deploys to."""
    topic_name: str
    """Physical name of the alerts topic."""
    alarm_name_prefix: str
    """Every alarm that may publish to the topic is named with this prefix (`event-tasks-<stack>-`)."""
    dashboard_name: str
    """Physical name of the dashboard."""
    triggers: list[WatchedTrigger]
    """One dashboard row each, in this order."""
    emails: list[str] = field(default_factory=list)
    """Addresses to subscribe (each must confirm by mail before it receives anything)."""


def key_policy(partition: Any, account_id: Any, alarm_arn_pattern: Any) -> dict[str, Any]:
    """The topic key's policy: the account administers it, CloudWatch may encrypt alarm notifications."""
    return policy_document(
        [
            {
                # Without it no IAM policy could ever use or manage the key again.
                "Sid": "AdministerTheKeyFromTheAccount",
                "Effect": "Allow",
                "Principal": {"AWS": pulumi.Output.format("arn:{0}:iam::{1}:root", partition, account_id)},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                # What alarms need to publish to an encrypted topic (SNS "compatibility with AWS
                # services"); the request carries the alarm as source, as for the topic policy.
                "Sid": "LetCloudWatchAlarmsEncryptNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": alarm_arn_pattern},
                },
            },
        ]
    )


def topic_statements(topic_arn: Any, account_id: Any, alarm_arn_pattern: Any) -> list[dict[str, Any]]:
    """Only this account's alarms named for this stack may publish to the topic."""
    return [
        {
            "Sid": "CloudWatchAlarmsOfThisStackPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": alarm_arn_pattern},
            },
        }
    ]


# One dashboard row per trigger: four graphs of 6 x 6 on CloudWatch's 24-column grid.
WIDGET_WIDTH = 6
WIDGET_HEIGHT = 6
PERIOD_SECONDS = 60


def dashboard_body(region: Any, triggers: list[WatchedTrigger]) -> dict[str, Any]:
    """The dashboard: per trigger, events matched, executions, task duration and dead letters."""
    widgets: list[dict[str, Any]] = []
    for row, t in enumerate(triggers):
        machine = ("StateMachineArn", t.state_machine_arn)
        started_by = (
            (
                "events matched",
                "Sum",
                [["AWS/Events", "MatchedEvents", "EventBusName", t.bus_name, "RuleName", t.rule_name]],
            )
            if t.rule_name is not None
            else (
                "schedule invocations",
                "Sum",
                [["AWS/Scheduler", "InvocationAttemptCount", "ScheduleGroup", t.schedule_group_name]],
            )
        )
        graphs = [
            started_by,
            (
                "executions",
                "Sum",
                [
                    ["AWS/States", metric, *machine]
                    for metric in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")
                ],
            ),
            (
                "task duration (ms)",
                "Average",
                [
                    ["AWS/States", "ExecutionTime", *machine],
                    ["AWS/States", "ExecutionTime", *machine, {"stat": "Maximum"}],
                ],
            ),
            (
                "dead-letter queue depth",
                "Maximum",
                [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", t.dead_letter_queue_name]],
            ),
        ]
        for column, (title, stat, metrics) in enumerate(graphs):
            widgets.append(
                {
                    "type": "metric",
                    "x": column * WIDGET_WIDTH,
                    "y": row * WIDGET_HEIGHT,
                    "width": WIDGET_WIDTH,
                    "height": WIDGET_HEIGHT,
                    "properties": {
                        "title": f"{t.trigger}: {title}",
                        "region": region,
                        "view": "timeSeries",
                        "stat": stat,
                        "period": PERIOD_SECONDS,
                        "metrics": metrics,
                    },
                }
            )
    return {"widgets": widgets}


class StackAlerts(pulumi.ComponentResource):
    """The stack's alerts topic (with its subscriptions) and its dashboard."""

    topic_arn: pulumi.Output[str]
    """ARN of the alerts topic: the alarms' action."""
    dashboard_name: pulumi.Output[str]
    """Name of the dashboard."""

    def __init__(self, name: str, args: StackAlertsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:StackAlerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = args.aws

        alarm_arns = pulumi.Output.format(
            "arn:{0}:cloudwatch:{1}:{2}:alarm:{3}*", ctx.partition, ctx.region, ctx.account_id, args.alarm_name_prefix
        )
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the alerts topic {args.topic_name}",
            enable_key_rotation=True,
            policy=pulumi.Output.json_dumps(key_policy(ctx.partition, ctx.account_id, alarm_arns)),
            opts=child,
        )
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=args.topic_name,
            kms_master_key_id=key.arn,
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=pulumi.Output.json_dumps(policy_document(topic_statements(topic.arn, ctx.account_id, alarm_arns))),
            opts=child,
        )
        for address in args.emails:
            aws.sns.TopicSubscription(
                # Named by address: removing one address leaves the others' confirmed subscriptions alone.
                f"{name}-email-{address}",
                topic=topic.arn,
                protocol="email",
                endpoint=address,
                opts=child,
            )
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=to_json(dashboard_body(ctx.region, args.triggers)),
            opts=child,
        )
        self.topic_arn = topic.arn
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"topic_arn": self.topic_arn, "dashboard_name": self.dashboard_name})
