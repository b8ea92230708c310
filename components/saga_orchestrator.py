"""`SagaOrchestrator`: a Standard workflow that runs an orchestrated saga's steps in order.

Produces the state machine (ASL from `orchestration.render_orchestration`), its execution role with
exactly the statements of `orchestration.orchestration_statements` (its steps' task definition
revisions and roles, its own bus for `<Trigger>Completed` / `<Trigger>Failed`; inline on the role),
execution logs to the stack's log group (`ExecutionLogs`) and X-Ray tracing. A `TaskTriggerRule`
starts it like any other trigger's state machine, with its bus's `BusRulesRole`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import AwsContext, role_with_inline_policy, to_json, trust_policy
from components.orchestration import SagaEvents, Step, orchestration_statements, render_orchestration


@dataclass(frozen=True)
class SagaOrchestratorArgs:
    """Inputs of `SagaOrchestrator`."""

    aws: AwsContext
    """Partition, region and account the stack deploys to."""
    trigger: str
    """The trigger's name (in the events it publishes)."""
    state_machine_name: str
    """Physical name of the state machine."""
    log_destination: pulumi.Input[str]
    """Where execution logs go: the stack's log group ARN ending `:*` (`ExecutionLogs.destination`)."""
    role_name: str
    """Physical name of the state machine's execution role."""
    steps: list[Step]
    """The steps, in order."""
    events: SagaEvents
    """Where and as what the saga's end is announced."""
    bus_arn: pulumi.Input[str]
    """ARN of `events.bus_name` (the role may put events there only)."""
    task_retries: int = 2
    """Retries of a step's failed task before the saga compensates."""


class SagaOrchestrator(pulumi.ComponentResource):
    """An orchestrated saga: steps in order, results passed on, compensation in reverse on failure."""

    arn: pulumi.Output[str]
    """ARN of the state machine (the rule's target)."""
    name: pulumi.Output[str]
    """Name of the state machine."""
    role_arn: pulumi.Output[str]
    """ARN of the state machine's execution role."""

    def __init__(self, name: str, args: SagaOrchestratorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("event-tasks:index:SagaOrchestrator", name, None, opts)
        ctx = args.aws
        targets = [s.target for s in args.steps]
        state_machine_arn = ctx.arn("states", f"stateMachine:{args.state_machine_name}")
        statements = pulumi.Output.all(
            ctx.partition,
            ctx.region,
            ctx.account_id,
            pulumi.Output.all(*[t.cluster_arn for t in targets]),
            pulumi.Output.all(*[t.task_definition_arn for t in targets]),
            pulumi.Output.all(*[t.pass_role_arns for t in targets]),
            args.bus_arn,
        ).apply(
            lambda v: orchestration_statements(
                partition=v[0],
                region=v[1],
                account_id=v[2],
                cluster_arns=list(v[3]),
                task_definition_arns=list(v[4]),
                pass_role_arns=[arn for roles in v[5] for arn in roles],
                bus_arn=v[6],
                source=args.events.source,
                detail_types=[args.events.completed_detail_type, args.events.failed_detail_type],
                sync_steps=any(not s.result for s in args.steps),
            )
        )
        role = role_with_inline_policy(
            name,
            role_name=args.role_name,
            description=f"Step Functions {args.state_machine_name}: run its saga's steps",
            trust=trust_policy("states.amazonaws.com", ctx.account_id, state_machine_arn),
            statements=statements,
            parent=self,
        )
        state_machine = aws.sfn.StateMachine(
            f"{name}-state-machine",
            name=args.state_machine_name,
            type="STANDARD",  # Express workflows support neither .sync nor waitForTaskToken on ECS
            # The role carries its grant inline: referencing it waits for the grant too, which must
            # exist before Step Functions validates the definition.
            role_arn=role.arn,
            definition=to_json(render_orchestration(args.trigger, args.steps, args.events, args.task_retries)),
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level="ERROR",
                include_execution_data=True,
                log_destination=args.log_destination,
            ),
            tracing_configuration=aws.sfn.StateMachineTracingConfigurationArgs(enabled=True),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = state_machine.arn
        self.name = state_machine.name
        self.role_arn = role.arn
        self.register_outputs({"arn": self.arn, "name": self.name, "role_arn": self.role_arn})
