"""The whole program for one stack: buses for every service (each with the one role its rules assume),
per trigger a rule, the state machine that runs the target service's task and three alarms, and per
stack the execution log group, an alerts topic and a dashboard.
The environment decides where tasks run: `cloud` looks up existing infrastructure, `local` builds it
from source (components/local.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components import naming
from components.alerts import StackAlerts, StackAlertsArgs, WatchedTrigger
from components.bus_policy import bus_policies
from components.bus_rules_role import BusRulesRole, BusRulesRoleArgs
from components.cloud import cloud_targets
from components.config import StackConfig
from components.execution_logs import ExecutionLogs, ExecutionLogsArgs
from components.failure_path import FailurePath
from components.iam import AwsContext
from components.run_task_state_machine import RunTaskStateMachine, RunTaskStateMachineArgs
from components.service_bus import ServiceBus, ServiceBusArgs
from components.task_trigger_rule import TaskTriggerRule, TaskTriggerRuleArgs
from components.trigger_alarms import TriggerAlarms, TriggerAlarmsArgs


def build(config: StackConfig, project_root: Path | str = ".") -> dict[str, Any]:
    """Register every resource of the stack; returns the stack outputs."""
    stack = config.stack
    tags = {"project": naming.PROJECT, "stack": stack, "environment": config.environment}
    # Lookups first: a task that could never run fails the program before anything is registered.
    if config.environment == "cloud":
        targets, task_roles = cloud_targets(config)
    else:
        # Imported here: the cloud stack never loads the EC2/ECR/awsx SDK modules it does not use.
        from components.local import build_local, check_capacity

        check_capacity(config)
        targets, task_roles = None, {}
    ctx = AwsContext.lookup()

    buses = {
        service: ServiceBus(
            service, ServiceBusArgs(bus_name=naming.bus_name(stack, service), service=service, tags=tags)
        )
        for service in sorted(config.services)
    }
    outputs: dict[str, Any] = {
        "environment": config.environment,
        "buses": {s: {"name": b.name, "arn": b.arn} for s, b in buses.items()},
    }
    if targets is None:
        targets, local_outputs, task_roles = build_local(config, ctx, buses, tags, Path(project_root))
        outputs.update(local_outputs)

    # Every name below is the program's own, so ARNs follow from names: the documents and the
    # dashboard that hold them are plain values, rendered once, with no Output chain per trigger.
    machine_arns = {
        name: ctx.arn("states", f"stateMachine:{naming.state_machine_name(stack, name)}") for name in config.triggers
    }
    rules_roles = {
        service: BusRulesRole(
            f"{service}-rules",
            BusRulesRoleArgs(
                aws=ctx,
                bus_name=naming.bus_name(stack, service),
                state_machine_arns=[machine_arns[n] for n, t in sorted(config.triggers.items()) if t.bus == service],
                tags=tags,
            ),
        )
        for service in sorted({t.bus for t in config.triggers.values()})
    }
    logs = ExecutionLogs(
        "executions",
        ExecutionLogsArgs(
            log_group_name=naming.execution_log_group_name(stack), retention_days=config.logRetentionDays, tags=tags
        ),
    )

    triggers: dict[str, Any] = {}
    machines: dict[str, RunTaskStateMachine] = {}
    watched: list[WatchedTrigger] = []
    for name, trigger in sorted(config.triggers.items()):
        failure_bus = naming.bus_name(stack, trigger.service)
        state_machine = RunTaskStateMachine(
            f"{name}-run-task",
            RunTaskStateMachineArgs(
                aws=ctx,
                state_machine_name=naming.state_machine_name(stack, name),
                log_destination=logs.destination,
                target=targets[trigger.service],
                command=list(trigger.command),
                failure=FailurePath(
                    trigger=name,
                    service=trigger.service,
                    bus_name=failure_bus,
                    detail_type=config.failure_detail_type(name),
                    task_retries=trigger.taskRetries,
                ),
                failure_bus_arn=ctx.arn("events", f"event-bus/{failure_bus}"),
                timeout_seconds=trigger.timeoutSeconds,
                tags=tags,
            ),
        )
        machines[name] = state_machine
        rule = TaskTriggerRule(
            f"{name}-trigger",
            TaskTriggerRuleArgs(
                aws=ctx,
                bus_name=buses[trigger.bus].name,
                rule_name=naming.rule_name(stack, name),
                dead_letter_queue_name=naming.dead_letter_queue_name(stack, name),
                detail_types=list(trigger.detailTypes),
                source=naming.event_source(trigger.bus),
                state_machine_arn=state_machine.arn,
                role_arn=rules_roles[trigger.bus].role_arn,
                maximum_event_age_seconds=trigger.retry.maximumEventAgeSeconds,
                maximum_retry_attempts=trigger.retry.maximumRetryAttempts,
                kms_key_arn=config.kmsKeyArn,
                tags=tags,
            ),
        )
        triggers[name] = {
            "rule": rule.name,
            "ruleArn": rule.arn,
            "stateMachineArn": state_machine.arn,
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
            tags=tags,
        ),
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
                tags=tags,
            ),
        )
        triggers[name]["alarmNames"] = alarms.alarm_names
        triggers[name]["alarmArns"] = alarms.alarm_arns
    outputs["triggers"] = triggers
    # Last: a bus's policy names the roles that publish on it, the state machines' among them.
    bus_policies(config, ctx, buses, task_roles, {name: m.role_arn for name, m in machines.items()})
    outputs["alertsTopicArn"] = alerts.topic_arn
    outputs["dashboardName"] = alerts.dashboard_name
    return outputs
