"""`ServiceBus`: the EventBridge bus a service emits its domain events to.

A service only ever puts events on its own bus and never knows who listens; routing is done by the
rules (`TaskTriggerRule`) attached to the bus.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class ServiceBusArgs:
    """Inputs of `ServiceBus`."""

    bus_name: str
    """Physical name of the bus (scoped by stack)."""
    service: str
    """The service that owns the bus, for its description."""


class ServiceBus(pulumi.ComponentResource):
    """One service's custom EventBridge bus."""

    arn: pulumi.Output[str]
    """ARN of the bus (for events:PutEvents grants)."""
    name: pulumi.Output[str]
    """Name of the bus (the services' EVENT_BUS_NAME, the rules' event_bus_name)."""

    def __init__(self, name: str, args: ServiceBusArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:ServiceBus", name, None, opts)
        bus = aws.cloudwatch.EventBus(
            f"{name}-bus",
            name=args.bus_name,
            description=f"Domain events emitted by the {args.service} service",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = bus.arn
        self.name = bus.name
        self.register_outputs({"arn": self.arn, "name": self.name})
