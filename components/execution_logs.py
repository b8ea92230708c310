"""`ExecutionLogs`: the one CloudWatch log group every state machine of a stack logs its executions to.

Produces one log group, `/aws/vendedlogs/states/<project>-<stack>` (the `/aws/vendedlogs/` prefix keeps
the log group's resource policy small, as AWS advises), with the stack's retention. Every log event
Step Functions writes names its execution (`execution_arn`, which names the state machine), so one
group per stack loses nothing a group per state machine showed (a Logs Insights filter on
`execution_arn` finds one execution or one trigger's), and costs one resource per stack instead of
one per trigger.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class ExecutionLogsArgs:
    """Inputs of `ExecutionLogs`."""

    log_group_name: str
    """Name of the log group (under /aws/vendedlogs/states/)."""
    retention_days: int = 14
    """How long execution logs are kept."""


class ExecutionLogs(pulumi.ComponentResource):
    """The stack's execution log group."""

    name: pulumi.Output[str]
    """Name of the log group (the stack output every trigger's `logGroupName` shows)."""
    destination: pulumi.Output[str]
    """The log group's ARN ending `:*`, as a state machine's logging destination must be."""

    def __init__(self, name: str, args: ExecutionLogsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:ExecutionLogs", name, None, opts)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.log_group_name,
            retention_in_days=args.retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = log_group.name
        self.destination = log_group.arn.apply(lambda arn: f"{arn}:*")
        self.register_outputs({"name": self.name, "destination": self.destination})
