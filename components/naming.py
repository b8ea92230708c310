"""Physical names of everything the program creates, scoped by project and stack.

`local` and `cloud` may share one AWS account, so every physical name starts with
`<project>-<stack>-`. The AWS length limits live here, next to the names they constrain, so the
config validator can refuse a name before any resource is registered.
"""

from __future__ import annotations

from dataclasses import dataclass

PROJECT = "event-tasks"


@dataclass(frozen=True)
class NameLimit:
    """One AWS name limit: what it names and how long it may be."""

    what: str
    """Human name of the resource kind, used in error messages."""
    limit: int
    """Maximum length AWS accepts."""


RULE = NameLimit("EventBridge rule name", 64)
STATE_MACHINE = NameLimit("Step Functions state machine name", 80)
QUEUE = NameLimit("SQS queue name", 80)
BUS = NameLimit("EventBridge bus name", 256)
TABLE = NameLimit("DynamoDB table name", 255)
REPOSITORY = NameLimit("ECR repository name", 256)
ALARM = NameLimit("CloudWatch alarm name", 255)
TOPIC = NameLimit("SNS topic name", 256)
DASHBOARD = NameLimit("CloudWatch dashboard name", 255)
DETAIL_TYPE = NameLimit("failure event detail-type", 128)
ARCHIVE = NameLimit("EventBridge archive name", 48)
IAM_ROLE = NameLimit("IAM role name", 64)
INSTANCE_PROFILE = NameLimit("IAM instance profile name", 128)
SECURITY_GROUP = NameLimit("EC2 security group name", 255)
LAUNCH_TEMPLATE = NameLimit("EC2 launch template name", 128)
AUTO_SCALING_GROUP = NameLimit("auto scaling group name", 255)
CLUSTER = NameLimit("ECS cluster name", 255)
CAPACITY_PROVIDER = NameLimit("ECS capacity provider name", 255)


def prefix(stack: str) -> str:
    return f"{PROJECT}-{stack}-"


def event_source(service: str) -> str:
    """The `source` of every event a service emits: what its code sets, its rules match and its
    task role and bus policy enforce."""
    return f"{PROJECT}.{service}"


def bus_name(stack: str, service: str) -> str:
    return f"{prefix(stack)}{service}"


def rule_name(stack: str, trigger: str) -> str:
    return f"{prefix(stack)}{trigger}"


def state_machine_name(stack: str, trigger: str) -> str:
    return f"{prefix(stack)}{trigger}"


def schedule_name(stack: str, trigger: str) -> str:
    # Scheduler names stop at 64 characters, like rule names: the RULE limit covers both.
    return f"{prefix(stack)}{trigger}"


def archive_name(stack: str, service: str) -> str:
    return f"{prefix(stack)}{service}"


def dead_letter_queue_name(stack: str, trigger: str) -> str:
    return f"{prefix(stack)}{trigger}-dlq"


def execution_log_group_name(stack: str) -> str:
    # One per stack (every state machine's executions, a log stream each). The /aws/vendedlogs/
    # prefix keeps the log group's resource policy small (AWS guidance).
    return f"/aws/vendedlogs/states/{PROJECT}-{stack}"


def table_name(stack: str, service: str) -> str:
    return f"{prefix(stack)}{service}"


def repository_name(stack: str, service: str) -> str:
    return f"{prefix(stack)}{service}"


def service_log_group_name(stack: str, service: str) -> str:
    return f"/ecs/{prefix(stack)}{service}"


def cluster_name(stack: str) -> str:
    return f"{PROJECT}-{stack}"


def capacity_provider_name(stack: str) -> str:
    return f"{prefix(stack)}ec2"


def task_family(stack: str, service: str) -> str:
    return f"{prefix(stack)}{service}"


def events_role_name(stack: str, trigger: str) -> str:
    """The role EventBridge Scheduler assumes to start a scheduled trigger's state machine (a rule
    uses its bus's role, `bus_rules_role_name`)."""
    return f"{prefix(stack)}{trigger}-events"


def bus_rules_role_name(stack: str, service: str) -> str:
    """The one role EventBridge assumes for every rule of the service's bus (`BusRulesRole`)."""
    return f"{prefix(stack)}{service}-rules"


def state_machine_role_name(stack: str, trigger: str) -> str:
    """The trigger's state machine's execution role."""
    return f"{prefix(stack)}{trigger}-states"


def task_role_name(stack: str, service: str) -> str:
    return f"{prefix(stack)}{service}-task"


def execution_role_name(stack: str, service: str) -> str:
    return f"{prefix(stack)}{service}-execution"


def instance_role_name(stack: str) -> str:
    """The container instances' role (local); its instance profile has the same name."""
    return f"{prefix(stack)}instance"


def instance_profile_name(stack: str) -> str:
    return f"{prefix(stack)}instance"


def instances_name(stack: str) -> str:
    """The container instances' security group, launch template and auto scaling group (local)."""
    return f"{prefix(stack)}instances"


def failure_detail_type(trigger: str) -> str:
    """The default detail-type of a trigger's failure event: reserve-credit -> ReserveCreditFailed."""
    return "".join(part.capitalize() for part in trigger.split("-") if part) + "Failed"


# Alarm names end with these suffixes; the longest bounds the trigger name.
ALARM_SUFFIXES = ("failed", "timed-out", "dead-letters")


def alarm_name(stack: str, trigger: str, suffix: str) -> str:
    return f"{prefix(stack)}{trigger}-{suffix}"


def alerts_topic_name(stack: str) -> str:
    return f"{prefix(stack)}alerts"


def dashboard_name(stack: str) -> str:
    return f"{PROJECT}-{stack}"


def trigger_names(stack: str, trigger: str) -> list[tuple[NameLimit, str]]:
    """Every length-limited physical name a trigger produces."""
    return [
        (RULE, rule_name(stack, trigger)),
        (STATE_MACHINE, state_machine_name(stack, trigger)),
        (QUEUE, dead_letter_queue_name(stack, trigger)),
        (IAM_ROLE, events_role_name(stack, trigger)),
        (IAM_ROLE, state_machine_role_name(stack, trigger)),
        *((ALARM, alarm_name(stack, trigger, suffix)) for suffix in ALARM_SUFFIXES),
        (DETAIL_TYPE, failure_detail_type(trigger)),
    ]


def service_names(stack: str, service: str) -> list[tuple[NameLimit, str]]:
    """Every length-limited physical name a service produces."""
    return [
        (BUS, bus_name(stack, service)),
        (ARCHIVE, archive_name(stack, service)),
        (TABLE, table_name(stack, service)),
        (REPOSITORY, repository_name(stack, service)),
        (IAM_ROLE, task_role_name(stack, service)),
        (IAM_ROLE, execution_role_name(stack, service)),
        (IAM_ROLE, bus_rules_role_name(stack, service)),
    ]


def stack_names(stack: str, *, local: bool) -> list[tuple[NameLimit, str]]:
    """Every length-limited physical name the stack itself produces (once per stack); `local`: with
    the cluster and its capacity, which only the local environment creates."""
    names = [(TOPIC, alerts_topic_name(stack)), (DASHBOARD, dashboard_name(stack))]
    if local:
        names += [
            (CLUSTER, cluster_name(stack)),
            (CAPACITY_PROVIDER, capacity_provider_name(stack)),
            (IAM_ROLE, instance_role_name(stack)),
            (INSTANCE_PROFILE, instance_profile_name(stack)),
            (SECURITY_GROUP, instances_name(stack)),
            (LAUNCH_TEMPLATE, instances_name(stack)),
            (AUTO_SCALING_GROUP, instances_name(stack)),
        ]
    return names
