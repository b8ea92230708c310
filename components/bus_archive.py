"""`BusArchive`: an EventBridge archive of everything a service bus carries, for replay.

Produces one archive per bus (no pattern: every event), kept `retention_days`. `ops.replay` replays a
time window of it onto the same bus; every use case is idempotent (on the event id and on its
business keys), so a replay re-runs the flows without changing an outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class BusArchiveArgs:
    """Inputs of `BusArchive`."""

    archive_name: str
    """Physical name of the archive (48 characters at most)."""
    bus_arn: pulumi.Input[str]
    """The bus whose events are archived."""
    retention_days: int
    """Days an archived event is kept (at least 1: EventBridge reads 0 as forever)."""


class BusArchive(pulumi.ComponentResource):
    """Archive every event of one bus for a number of days."""

    arn: pulumi.Output[str]
    """ARN of the archive (StartReplay's EventSourceArn)."""

    def __init__(self, name: str, args: BusArchiveArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:BusArchive", name, None, opts)
        if args.retention_days < 1:
            raise ValueError("retention_days must be at least 1 (EventBridge keeps an archive with 0 forever)")
        archive = aws.cloudwatch.EventArchive(
            f"{name}-archive",
            name=args.archive_name,
            event_source_arn=args.bus_arn,
            description=f"Every event of the bus, {args.retention_days} days, for replay",
            retention_days=args.retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = archive.arn
        self.register_outputs({"arn": self.arn})
