"""The event-tasks policies: plain checks over a resource's properties (as the Pulumi engine passes
them, camelCase keys, JSON documents as strings), each returning its violation messages, and the
`pulumi_policy` objects that report them (mandatory) in `pulumi preview/up --policy-pack policy`.

They apply to any resource of the types they name, whoever registered it: a user's own triggers,
buses and roles are held to the same rules as the shipped stacks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"
EVENT_BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
QUEUE = "aws:sqs/queue:Queue"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

Check = Callable[[Mapping[str, Any]], list[str]]

# A task definition ARN naming one revision: `ecs:RunTask` on it cannot start a later revision.
TASK_DEFINITION_REVISION = re.compile(
    r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[A-Za-z0-9_-]{1,255}:\d+$"
)

# Service principals that never put aws:SourceAccount in the request context when they assume a
# role, so the condition would only lock the service out: EC2 assumes an instance profile's role
# for the instance itself, on no other resource's behalf.
NO_SOURCE_CONTEXT = frozenset({"ec2.amazonaws.com"})


# --- IAM documents -------------------------------------------------------------------------------


def _document(value: Any) -> Mapping[str, Any] | None:
    """A policy document from a JSON string (or an already parsed dict); None if it is neither."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


def _as_list(value: Any) -> list[Any]:
    # The engine hands lists over as read-only sequences that raise on values unknown in preview.
    if value is None:
        return []
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]


def _statements(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for statement in _as_list(document.get("Statement")):
        if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
            yield statement


def _matches(pattern: str, action: str) -> bool:
    """IAM action matching: case-insensitive, `*` any run of characters, `?` one character."""
    regex = re.escape(pattern.lower()).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, action) is not None


def _grants(statement: Mapping[str, Any], action: str) -> bool:
    """Whether an Allow statement covers `action` (lower case), by `Action` or by `NotAction`."""
    if "Action" in statement:
        return any(_matches(str(p), action) for p in _as_list(statement["Action"]))
    if "NotAction" in statement:
        return not any(_matches(str(p), action) for p in _as_list(statement["NotAction"]))
    return False


def document_violations(document: Mapping[str, Any]) -> list[str]:
    """`ecs:RunTask` only on task definition revisions, `iam:PassRole` only on named roles."""
    violations = []
    for statement in _statements(document):
        run_task = _grants(statement, "ecs:runtask")
        pass_role = _grants(statement, "iam:passrole")
        if not (run_task or pass_role):
            continue
        if "NotResource" in statement:
            for action in ("ecs:RunTask",) * run_task + ("iam:PassRole",) * pass_role:
                violations.append(f"{action} is allowed with NotResource: name its resources in Resource")
        for resource in (str(r) for r in _as_list(statement.get("Resource"))):
            if run_task and ("*" in resource or not TASK_DEFINITION_REVISION.match(resource)):
                violations.append(
                    f"ecs:RunTask is allowed on '{resource}': name task definition revisions "
                    "(arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>), not '*' or a whole family"
                )
            if pass_role and "*" in resource:
                violations.append(f"iam:PassRole is allowed on '{resource}': name the roles to pass, without '*'")
    return violations


def policy_document_violations(props: Mapping[str, Any]) -> list[str]:
    """A role policy or a managed policy (`policy`: the document as JSON)."""
    document = _document(props.get("policy"))
    return document_violations(document) if document is not None else []


def inline_policy_violations(props: Mapping[str, Any]) -> list[str]:
    """A role's `inlinePolicies`."""
    violations = []
    for inline in _as_list(props.get("inlinePolicies")):
        document = _document(inline.get("policy")) if isinstance(inline, Mapping) else None
        violations += document_violations(document) if document is not None else []
    return violations


def trust_violations(props: Mapping[str, Any]) -> list[str]:
    """Every service principal a role trusts is held to `aws:SourceAccount` (confused deputy)."""
    document = _document(props.get("assumeRolePolicy"))
    if document is None:
        return []
    violations = []
    for statement in _statements(document):
        principal = statement.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, Mapping) else []
        conditions = statement.get("Condition")
        keys = {
            key.lower()
            for operator in (conditions.values() if isinstance(conditions, Mapping) else ())
            if isinstance(operator, Mapping)
            for key in operator
        }
        for service in services:
            if service not in NO_SOURCE_CONTEXT and "aws:sourceaccount" not in keys:
                violations.append(
                    f"the role trusts {service} without an aws:SourceAccount condition: add "
                    '"StringEquals": {"aws:SourceAccount": "<account id>"} so that no other account\'s '
                    "resource can make the service assume it"
                )
    return violations


# --- EventBridge, Step Functions, SQS, Logs -------------------------------------------------------


def event_target_violations(props: Mapping[str, Any]) -> list[str]:
    """A rule target dead-letters, retries, and names the bus of its rule."""
    violations = []
    if not (props.get("deadLetterConfig") or {}).get("arn"):
        violations.append(
            "the target has no dead-letter queue (dead_letter_config): an event EventBridge fails to "
            "deliver would be dropped"
        )
    if not props.get("retryPolicy"):
        violations.append(
            "the target has no retry policy (retry_policy): set maximum_event_age_in_seconds and maximum_retry_attempts"
        )
    if not props.get("eventBusName"):
        violations.append(
            "the target names no bus (event_bus_name): name the bus of its rule (a rule on a custom bus "
            "cannot be found on the default one)"
        )
    return violations


def _task_states(states: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every Task state of an ASL `States` map, with its path, through Parallel branches and Maps."""
    for name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        here = f"{path}{name}"
        kind = state.get("Type")
        if kind == "Task":
            yield here, state
        elif kind == "Parallel":
            for index, branch in enumerate(_as_list(state.get("Branches"))):
                yield from _task_states(branch.get("States") or {}, f"{here}.Branches[{index}].")
        elif kind == "Map":
            for key in ("ItemProcessor", "Iterator"):
                if isinstance(state.get(key), Mapping):
                    yield from _task_states(state[key].get("States") or {}, f"{here}.{key}.")


def state_machine_violations(props: Mapping[str, Any]) -> list[str]:
    """A state machine logs, traces, and bounds every Task state's time."""
    violations = []
    level = (props.get("loggingConfiguration") or {}).get("level")
    if not level or level == "OFF":
        violations.append(
            "the state machine does not log (logging_configuration level is OFF or unset): set level "
            "ERROR or ALL with a log group destination"
        )
    if not (props.get("tracingConfiguration") or {}).get("enabled"):
        violations.append("the state machine is not traced: set tracing_configuration enabled=True (X-Ray)")
    definition = _document(props.get("definition"))
    if definition is None:
        violations.append("the state machine's definition is not a JSON object (Amazon States Language)")
        return violations
    for path, state in _task_states(definition.get("States") or {}):
        if "TimeoutSeconds" not in state and "TimeoutSecondsPath" not in state:
            violations.append(
                f"Task state '{path}' has no TimeoutSeconds: Step Functions sets none, so a hung task "
                "would run until the execution's own limit (a year for a Standard workflow)"
            )
    return violations


def queue_violations(props: Mapping[str, Any]) -> list[str]:
    if props.get("sqsManagedSseEnabled") or props.get("kmsMasterKeyId"):
        return []
    return ["the queue is not encrypted: set sqs_managed_sse_enabled=True or a kms_master_key_id"]


def log_group_violations(props: Mapping[str, Any]) -> list[str]:
    if props.get("retentionInDays"):
        return []
    return ["the log group keeps its events forever: set retention_in_days"]


def buses_without_policy(resources: Sequence[tuple[str, Mapping[str, Any]]]) -> list[tuple[int, str]]:
    """Stack level: (index, message) for every custom bus that no EventBusPolicy names (by name or ARN)."""
    covered = {str(props.get("eventBusName") or "default") for typ, props in resources if typ == EVENT_BUS_POLICY}
    violations = []
    for index, (typ, props) in enumerate(resources):
        if typ != EVENT_BUS:
            continue
        name = props.get("name")
        if name in covered or (props.get("arn") and props.get("arn") in covered):
            continue
        violations.append(
            (
                index,
                f"event bus '{name}' has no resource policy ({EVENT_BUS_POLICY} naming it): without one, any "
                "principal of the account allowed events:PutEvents can put forged events on it",
            )
        )
    return violations


# --- The pack ------------------------------------------------------------------------------------

RESOURCE_RULES: dict[str, tuple[str, dict[str, Check]]] = {
    "ecs-run-task-and-pass-role-scoped": (
        "ecs:RunTask only on task definition revisions (no '*', no whole family); iam:PassRole only on named roles",
        {
            ROLE_POLICY: policy_document_violations,
            MANAGED_POLICY: policy_document_violations,
            ROLE: inline_policy_violations,
        },
    ),
    "service-trust-has-source-account": (
        "A role trusted by an AWS service principal requires aws:SourceAccount (confused deputy)",
        {ROLE: trust_violations},
    ),
    "event-target-dlq-retry-bus": (
        "Every EventBridge target has a dead-letter queue, a retry policy and its bus",
        {EVENT_TARGET: event_target_violations},
    ),
    "state-machine-logs-traces-timeouts": (
        "Every state machine logs, is traced, and has TimeoutSeconds on every Task state",
        {STATE_MACHINE: state_machine_violations},
    ),
    "sqs-encrypted": ("Every SQS queue is encrypted at rest", {QUEUE: queue_violations}),
    "log-group-retention": ("Every CloudWatch log group has a retention", {LOG_GROUP: log_group_violations}),
}
BUS_POLICY_RULE = "event-bus-has-policy"


def resource_violations(rule: str, resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """The violations `rule` finds in one resource (none for types it does not govern)."""
    check = RESOURCE_RULES[rule][1].get(resource_type)
    return check(props) if check else []


def _resource_policy(rule: str) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in resource_violations(rule, args.resource_type, args.props):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule,
        description=RESOURCE_RULES[rule][0],
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def _validate_buses(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = list(args.resources)
    for index, message in buses_without_policy([(r.resource_type, r.props) for r in resources]):
        report_violation(message, resources[index].urn)


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """Every policy of the pack, mandatory."""
    found: Iterable[ResourceValidationPolicy | StackValidationPolicy] = [_resource_policy(r) for r in RESOURCE_RULES]
    return [
        *found,
        StackValidationPolicy(
            name=BUS_POLICY_RULE,
            description="Every EventBridge bus has a resource policy",
            validate=_validate_buses,
            enforcement_level=EnforcementLevel.MANDATORY,
        ),
    ]
