"""The whole program for one stack: buses for every service (each with the one role its rules assume),
per trigger a rule, the state machine that runs the target service's task and three alarms, and per
stack the execution log group, an alerts topic and a dashboard.
The environment decides where tasks run: `cloud` looks up existing infrastructure, `local` builds it
from source (components/local.py).

Every resource is created through one explicit AWS provider whose default tags are the stack's tags
(`event-tasks:tags` plus project, stack and environment); each component hands it to its children.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components import naming
from components.alerts import StackAlerts, StackAlertsArgs, WatchedTrigger
from components.bus_archive import BusArchive, BusArchiveArgs
from components.bus_policy import bus_policies
from components.bus_rules_role import BusRulesRole, BusRulesRoleArgs
from components.cloud import cloud_targets
from components.config import StackConfig
from components.execution_logs import ExecutionLogs, ExecutionLogsArgs
from components.failure_path import FailurePath
from components.iam import AwsContext
from components.orchestration import SagaEvents, Step, default_detail_types
from components.run_task_state_machine import RunTaskStateMachine, RunTaskStateMachineArgs, TaskTarget
from components.saga_orchestrator import SagaOrchestrator, SagaOrchestratorArgs
from components.service_bus import ServiceBus, ServiceBusArgs
from components.task_schedule import TaskSchedule, TaskScheduleArgs
from components.task_trigger_rule import TaskTriggerRule, TaskTriggerRuleArgs
from components.trigger_alarms import TriggerAlarms, TriggerAlarmsArgs


def build(config: StackConfig, project_root: Path | str = ".") -> dict[str, Any]:
    """Register every resource of the stack; returns the stack outputs."""
    stack = config.stack
    tags = config.stack_tags()
    # Lookups first: a task that could never run fails the program before anything is registered.
    if config.environment == "cloud":
        targets, task_roles, service_outputs = cloud_targets(config)
    else:
        # Imported here: the cloud stack never loads the EC2/ECR/awsx SDK modules it does not use.
        from components.local import build_local, check_capacity

        check_capacity(config)
        targets, task_roles, service_outputs = None, {}, {}
    ctx = AwsContext.lookup()
    provider = aws.Provider(
        "aws",
        # An explicit provider reads no `aws:` stack config: the region is handed over here;
        # credentials come from the environment as for the default provider.
        region=config.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    )
    # Components pass the provider on to their children (parent=self).
    opts = pulumi.ResourceOptions(providers=[provider])

    buses = {
        service: ServiceBus(service, ServiceBusArgs(bus_name=naming.bus_name(stack, service), service=service), opts)
        for service in sorted(config.services)
    }
    outputs: dict[str, Any] = {
        "environment": config.environment,
        "buses": {s: {"name": b.name, "arn": b.arn} for s, b in buses.items()},
    }
    if config.archiveDays:
        outputs["archives"] = {
            service: BusArchive(
                service,
                BusArchiveArgs(
                    archive_name=naming.archive_name(stack, service),
                    bus_arn=bus.arn,
                    retention_days=config.archiveDays,
                ),
                opts,
            ).arn
            for service, bus in buses.items()
        }
    if targets is None:
        targets, local_outputs, task_roles = build_local(config, ctx, buses, tags, Path(project_root), opts)
        outputs.update(local_outputs)
    else:
        outputs["services"] = service_outputs
    for service, bus in buses.items():
        outputs.setdefault("services", {}).setdefault(service, {}).update({"busName": bus.name, "busArn": bus.arn})

    # Every name below is the program's own, so ARNs follow from names: the documents and the
    # dashboard that hold them are plain values, rendered once, with no Output chain per trigger.
    machine_arns = {
        name: ctx.arn("states", f"stateMachine:{naming.state_machine_name(stack, name)}") for name in config.triggers
    }
    # A rule's target (a task's state machine or a saga's orchestrator) is started with its bus's
    # role; a schedule has a role of its own.
    ruled = {name: t.bus for name, t in sorted(config.triggers.items()) if t.schedule is None and t.bus is not None}
    rules_roles = {
        service: BusRulesRole(
            f"{service}-rules",
            BusRulesRoleArgs(
                aws=ctx,
                bus_name=naming.bus_name(stack, service),
                role_name=naming.bus_rules_role_name(stack, service),
                state_machine_arns=[machine_arns[n] for n, bus in ruled.items() if bus == service],
            ),
            opts,
        )
        for service in sorted(set(ruled.values()))
    }
    logs = ExecutionLogs(
        "executions",
        ExecutionLogsArgs(
            log_group_name=naming.execution_log_group_name(stack), retention_days=config.logRetentionDays
        ),
        opts,
    )

    triggers: dict[str, Any] = {}
    machines: dict[str, RunTaskStateMachine | SagaOrchestrator] = {}
    watched: list[WatchedTrigger] = []
    for name, trigger in sorted(config.triggers.items()):
        state_machine: RunTaskStateMachine | SagaOrchestrator
        if trigger.steps is not None:
            assert trigger.bus is not None  # load_config: an orchestration runs on events
            state_machine = _orchestrator(config, name, ctx, buses[trigger.bus], targets, logs, opts)
        else:
            state_machine = _run_task_state_machine(config, name, ctx, targets, logs, opts)
        machines[name] = state_machine
        if trigger.schedule is not None:
            schedule = TaskSchedule(
                f"{name}-schedule",
                TaskScheduleArgs(
                    aws=ctx,
                    schedule_name=naming.schedule_name(stack, name),
                    trigger=name,
                    schedule_expression=trigger.schedule,
                    dead_letter_queue_name=naming.dead_letter_queue_name(stack, name),
                    state_machine_arn=state_machine.arn,
                    maximum_event_age_seconds=trigger.retry.maximumEventAgeSeconds,
                    maximum_retry_attempts=trigger.retry.maximumRetryAttempts,
                    role_name=naming.events_role_name(stack, name),
                ),
                opts,
            )
            triggers[name] = {
                "schedule": schedule.name,
                "scheduleArn": schedule.arn,
                "schedulerRoleArn": schedule.role_arn,
                "stateMachineArn": state_machine.arn,
                "stateMachineRoleArn": state_machine.role_arn,
                "logGroupName": logs.name,
                "deadLetterQueueUrl": schedule.dead_letter_queue_url,
            }
            watched.append(
                WatchedTrigger(
                    trigger=name,
                    bus_name=None,
                    rule_name=None,
                    schedule_group_name=schedule.name,
                    state_machine_arn=state_machine.arn,
                    dead_letter_queue_name=naming.dead_letter_queue_name(stack, name),
                )
            )
            continue
        assert trigger.bus is not None and trigger.detailTypes is not None  # load_config: events or schedule
        rule = TaskTriggerRule(
            f"{name}-trigger",
            TaskTriggerRuleArgs(
                aws=ctx,
                bus_name=buses[trigger.bus].name,
                rule_name=naming.rule_name(stack, name),
                dead_letter_queue_name=naming.dead_letter_queue_name(stack, name),
                detail_types=list(trigger.detailTypes),
                source=naming.event_source(trigger.bus),
                detail_filter=trigger.filter,
                state_machine_arn=state_machine.arn,
                role_arn=rules_roles[trigger.bus].role_arn,
                maximum_event_age_seconds=trigger.retry.maximumEventAgeSeconds,
                maximum_retry_attempts=trigger.retry.maximumRetryAttempts,
                kms_key_arn=config.kmsKeyArn,
            ),
            opts,
        )
        triggers[name] = {
            "rule": rule.name,
            "ruleArn": rule.arn,
            # The bus's role: every rule of the bus names it.
            "eventsRoleArn": rules_roles[trigger.bus].role_arn,
            "stateMachineArn": state_machine.arn,
            "stateMachineRoleArn": state_machine.role_arn,
            "logGroupName": logs.name,
            "deadLetterQueueArn": rule.dead_letter_queue_arn,
            "deadLetterQueueUrl": rule.dead_letter_queue_url,
        }
        watched.append(
            WatchedTrigger(
                trigger=name,
                bus_name=naming.bus_name(stack, trigger.bus),
                rule_name=naming.rule_name(stack, name),
                state_machine_arn=machine_arns[name],
                dead_letter_queue_name=naming.dead_letter_queue_name(stack, name),
            )
        )

    alerts = StackAlerts(
        "alerts",
        StackAlertsArgs(
            aws=ctx,
            topic_name=naming.alerts_topic_name(stack),
            alarm_name_prefix=naming.prefix(stack),
            dashboard_name=naming.dashboard_name(stack),
            triggers=watched,
            emails=list(config.alerts.email),
        ),
        opts,
    )
    for watch in watched:
        name = watch.trigger
        alarms = TriggerAlarms(
            f"{name}-alarms",
            TriggerAlarmsArgs(
                trigger=name,
                state_machine_arn=watch.state_machine_arn,
                dead_letter_queue_name=watch.dead_letter_queue_name,
                failed_alarm_name=naming.alarm_name(stack, name, "failed"),
                timed_out_alarm_name=naming.alarm_name(stack, name, "timed-out"),
                dead_letters_alarm_name=naming.alarm_name(stack, name, "dead-letters"),
                topic_arn=alerts.topic_arn,
            ),
            opts,
        )
        triggers[name]["alarmNames"] = alarms.alarm_names
        triggers[name]["alarmArns"] = alarms.alarm_arns
    outputs["triggers"] = triggers
    # Last: a bus's policy names the roles that publish on it, the state machines' among them.
    bus_policies(config, ctx, buses, task_roles, {name: m.role_arn for name, m in machines.items()}, opts)
    outputs["alertsTopicArn"] = alerts.topic_arn
    outputs["dashboardName"] = alerts.dashboard_name
    return outputs


def _run_task_state_machine(
    config: StackConfig,
    name: str,
    ctx: AwsContext,
    targets: dict[str, TaskTarget],
    logs: ExecutionLogs,
    opts: pulumi.ResourceOptions,
) -> RunTaskStateMachine:
    trigger = config.triggers[name]
    assert trigger.service is not None and trigger.command is not None  # a single-task trigger
    failure_bus = naming.bus_name(config.stack, trigger.service)
    return RunTaskStateMachine(
        f"{name}-run-task",
        RunTaskStateMachineArgs(
            aws=ctx,
            state_machine_name=naming.state_machine_name(config.stack, name),
            log_destination=logs.destination,
            role_name=naming.state_machine_role_name(config.stack, name),
            target=targets[trigger.service],
            command=list(trigger.command),
            failure=FailurePath(
                trigger=name,
                service=trigger.service,
                bus_name=failure_bus,
                detail_type=config.failure_detail_type(name),
                task_retries=trigger.taskRetries,
            ),
            # The bus's ARN follows from its name: the policy is rendered once, with no Output chain.
            failure_bus_arn=ctx.arn("events", f"event-bus/{failure_bus}"),
            timeout_seconds=trigger.timeoutSeconds,
        ),
        opts,
    )


def _orchestrator(
    config: StackConfig,
    name: str,
    ctx: AwsContext,
    bus: ServiceBus,
    targets: dict[str, TaskTarget],
    logs: ExecutionLogs,
    opts: pulumi.ResourceOptions,
) -> SagaOrchestrator:
    trigger = config.triggers[name]
    assert trigger.steps is not None and trigger.bus is not None  # an orchestrated trigger
    completed, _ = default_detail_types(name)
    return SagaOrchestrator(
        f"{name}-saga",
        SagaOrchestratorArgs(
            aws=ctx,
            trigger=name,
            state_machine_name=naming.state_machine_name(config.stack, name),
            log_destination=logs.destination,
            role_name=naming.state_machine_role_name(config.stack, name),
            steps=[
                Step(
                    name=step.name,
                    target=targets[step.service],
                    command=list(step.command),
                    compensate=list(step.compensate) if step.compensate else None,
                    when={k: [v] if isinstance(v, str) else list(v) for k, v in step.when.items()}
                    if step.when
                    else None,
                    result=step.result,
                    timeout_seconds=step.timeoutSeconds,
                    heartbeat_seconds=step.heartbeatSeconds,
                )
                for step in trigger.steps
            ],
            # The saga speaks for the service whose bus started it.
            events=SagaEvents(
                bus_name=bus.name,
                source=naming.event_source(trigger.bus),
                completed_detail_type=completed,
                failed_detail_type=config.failure_detail_type(name),
            ),
            bus_arn=bus.arn,
            task_retries=trigger.taskRetries,
        ),
        opts,
    )
