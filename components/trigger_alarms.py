"""`TriggerAlarms`: the three CloudWatch alarms that tell an operator one trigger needs attention.

Produces, for one trigger, alarms on failed executions (`AWS/States ExecutionsFailed`), timed-out
executions (`ExecutionsTimedOut`) and a dead-letter queue holding at least one event
(`AWS/SQS ApproximateNumberOfMessagesVisible`), each notifying the stack's alerts topic when it fires.
A failed execution has already published its failure event (the saga compensates); the alarm is
for the operator to find out why, and to re-run once it is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class TriggerAlarmsArgs:
    """Inputs of `TriggerAlarms`."""

    trigger: str
    """The trigger's name (in descriptions)."""
    state_machine_arn: pulumi.Input[str]
    """The trigger's state machine."""
    dead_letter_queue_name: pulumi.Input[str]
    """The trigger's dead-letter queue."""
    failed_alarm_name: str
    """Physical name of the failed-executions alarm."""
    timed_out_alarm_name: str
    """Physical name of the timed-out-executions alarm."""
    dead_letters_alarm_name: str
    """Physical name of the dead-letter alarm."""
    topic_arn: pulumi.Input[str]
    """Where the alarms notify (the stack's alerts topic)."""
    period_seconds: int = 60
    """Evaluation period; one period at or over the threshold fires the alarm."""


def alarm_definitions(args: TriggerAlarmsArgs) -> dict[str, dict[str, Any]]:
    """The three alarms' arguments by kind (`failed`, `timedOut`, `deadLetters`), as the provider takes them."""
    common = {
        "comparison_operator": "GreaterThanOrEqualToThreshold",
        "threshold": 1,
        "evaluation_periods": 1,
        "period": args.period_seconds,
        # No data means nothing failed (Step Functions and SQS publish nothing for idle resources).
        "treat_missing_data": "notBreaching",
        "alarm_actions": [args.topic_arn],
        "ok_actions": [args.topic_arn],
    }
    return {
        "failed": {
            **common,
            "name": args.failed_alarm_name,
            "alarm_description": f"{args.trigger}: an execution gave up on its task and published its failure "
            "event; find why in the execution's history, fix, then re-run it",
            "namespace": "AWS/States",
            "metric_name": "ExecutionsFailed",
            "statistic": "Sum",
            "dimensions": {"StateMachineArn": args.state_machine_arn},
        },
        "timedOut": {
            **common,
            "name": args.timed_out_alarm_name,
            "alarm_description": f"{args.trigger}: an execution timed out as a whole (no failure event was "
            "published); re-run it once the cause is fixed",
            "namespace": "AWS/States",
            "metric_name": "ExecutionsTimedOut",
            "statistic": "Sum",
            "dimensions": {"StateMachineArn": args.state_machine_arn},
        },
        "deadLetters": {
            **common,
            "name": args.dead_letters_alarm_name,
            "alarm_description": f"{args.trigger}: EventBridge could not start the state machine for at least "
            "one event; it waits in the dead-letter queue for ops.redrive",
            "namespace": "AWS/SQS",
            "metric_name": "ApproximateNumberOfMessagesVisible",
            "statistic": "Maximum",
            "dimensions": {"QueueName": args.dead_letter_queue_name},
        },
    }


class TriggerAlarms(pulumi.ComponentResource):
    """Failed executions, timed-out executions and dead letters of one trigger, each an alarm."""

    alarm_names: pulumi.Output[dict[str, str]]
    """Alarm names by kind: `failed`, `timedOut`, `deadLetters`."""
    alarm_arns: pulumi.Output[dict[str, str]]
    """Alarm ARNs by kind."""

    def __init__(self, name: str, args: TriggerAlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:TriggerAlarms", name, None, opts)
        suffixes = {"failed": "failed", "timedOut": "timed-out", "deadLetters": "dead-letters"}
        alarms = {
            kind: aws.cloudwatch.MetricAlarm(
                f"{name}-{suffixes[kind]}",
                **definition,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for kind, definition in alarm_definitions(args).items()
        }
        self.alarm_names = pulumi.Output.all(**{kind: a.name for kind, a in alarms.items()})
        self.alarm_arns = pulumi.Output.all(**{kind: a.arn for kind, a in alarms.items()})
        self.register_outputs({"alarm_names": self.alarm_names, "alarm_arns": self.alarm_arns})
