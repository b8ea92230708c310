"""`TaskTriggerRule`: an EventBridge rule on a service bus that starts a state machine.

Produces the rule (pattern on `source` and `detail-type`), its target bound to the same bus, and an
encrypted SQS dead-letter queue (SSE-SQS, or a customer-managed KMS key) that receives every event
EventBridge could not deliver after its retry policy, so no event is silently lost. The queue's
policy, inline on the queue, admits only this rule. The role the target names is the bus's
(`BusRulesRole`): one per bus, allowed to start only that bus's targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.iam import AwsContext, policy_document, to_json

# SQS keeps messages at most 14 days: the longest window to notice and redrive a failed delivery.
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class TaskTriggerRuleArgs:
    """Inputs of `TaskTriggerRule`."""

    aws: AwsContext
    """Partition, region and account the stack deploys to."""
    bus_name: pulumi.Input[str]
    """The bus whose events the rule matches."""
    rule_name: str
    """Physical name of the rule."""
    dead_letter_queue_name: str
    """Physical name of the dead-letter queue."""
    detail_types: list[str]
    """detail-type values that match."""
    source: str
    """The `source` that matches: the bus owner's (`event-tasks.<service>`), the only one its bus
    policy admits."""
    state_machine_arn: pulumi.Input[str]
    """The state machine to start with the whole event as input."""
    role_arn: pulumi.Input[str]
    """The role EventBridge assumes to start it: the bus's `BusRulesRole`."""
    detail_filter: dict[str, Any] | None = None
    """EventBridge pattern fragment over `detail` (content filter), or None for every event."""
    maximum_event_age_seconds: int = 3600
    """Stop retrying delivery of an event older than this."""
    maximum_retry_attempts: int = 10
    """Delivery retries before the event is dead-lettered."""
    kms_key_arn: str | None = None
    """Customer-managed KMS key of the dead-letter queue; None: SQS-managed encryption. Its key
    policy must let events.amazonaws.com use it, or EventBridge cannot dead-letter anything."""


def event_pattern(detail_types: list[str], source: str, detail_filter: dict[str, Any] | None = None) -> dict[str, Any]:
    """The rule's pattern: any of the detail-types, from the one source allowed on the bus (and,
    with a content filter, only details matching it).

    Matching `source` as well keeps a forged event from another source out of the state machine
    even where a bus policy is missing or too broad.
    """
    pattern: dict[str, Any] = {"source": [source], "detail-type": list(detail_types)}
    if detail_filter:
        pattern["detail"] = detail_filter
    return pattern


def queue_encryption(kms_key_arn: str | None) -> dict[str, Any]:
    """The queue's encryption arguments: SSE-SQS, or SSE-KMS with the customer-managed key."""
    if kms_key_arn is None:
        return {"sqs_managed_sse_enabled": True}
    return {"kms_master_key_id": kms_key_arn}


def dead_letter_statements(queue_arn: Any, rule_arn: Any) -> list[dict[str, Any]]:
    """Let EventBridge send this rule's undeliverable events, and nothing else, to the queue."""
    return [
        {
            "Sid": "DeadLetterFromTheRule",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        }
    ]


class TaskTriggerRule(pulumi.ComponentResource):
    """Route events of some detail-types on one bus to one state machine, with retries and a DLQ."""

    arn: pulumi.Output[str]
    """ARN of the rule."""
    name: pulumi.Output[str]
    """Name of the rule."""
    dead_letter_queue_url: pulumi.Output[str]
    """URL of the dead-letter queue, to inspect and redrive undelivered events."""
    dead_letter_queue_arn: pulumi.Output[str]
    """ARN of the dead-letter queue (for another stack's alarms or grants)."""

    def __init__(self, name: str, args: TaskTriggerRuleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:TaskTriggerRule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=args.rule_name,
            event_bus_name=args.bus_name,
            description=f"Start {args.rule_name} on {', '.join(args.detail_types)}",
            event_pattern=to_json(event_pattern(args.detail_types, args.source, args.detail_filter)),
            opts=child,
        )
        queue = aws.sqs.Queue(
            f"{name}-dlq",
            name=args.dead_letter_queue_name,
            # The two encryption modes are exclusive: SSE-SQS unless a customer-managed key is given.
            **queue_encryption(args.kms_key_arn),
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            # Inline, not a QueuePolicy: the queue's ARN follows from its name, so the policy needs no
            # reference to the queue itself (the cycle a separate QueuePolicy avoids), and the queue
            # exists only with its policy: one resource fewer, and no window without the grant.
            policy=to_json(
                policy_document(dead_letter_statements(args.aws.arn("sqs", args.dead_letter_queue_name), rule.arn))
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=rule.name,
            # Without the bus name the provider looks for the rule on the default bus.
            event_bus_name=args.bus_name,
            arn=args.state_machine_arn,
            # Deliveries may start as soon as the target exists: it references the role (created with
            # its inline grant) and the queue (created with its policy), so both come first.
            role_arn=args.role_arn,
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=queue.arn),
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_event_age_in_seconds=args.maximum_event_age_seconds,
                maximum_retry_attempts=args.maximum_retry_attempts,
            ),
            opts=child,
        )
        self.arn = rule.arn
        self.name = rule.name
        self.dead_letter_queue_url = queue.url
        self.dead_letter_queue_arn = queue.arn
        self.register_outputs(
            {
                "arn": self.arn,
                "name": self.name,
                "dead_letter_queue_url": self.dead_letter_queue_url,
                "dead_letter_queue_arn": self.dead_letter_queue_arn,
            }
        )
