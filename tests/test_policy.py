"""The policy pack (policy/): each policy against a compliant and a violating resource, the
pulumi_policy objects reporting what the checks find (mandatory), and the whole pack over both
stacks' graphs under mocks."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from typing import Any

import grpc
import pulumi_policy
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_mocks import ACCOUNT, REGION, ROOT
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policy.event_tasks_policy import (
    BUS_POLICY_RULE,
    EVENT_BUS,
    EVENT_BUS_POLICY,
    LOG_GROUP,
    MANAGED_POLICY,
    QUEUE,
    RESOURCE_RULES,
    ROLE,
    ROLE_POLICY,
    buses_without_policy,
    document_violations,
    event_target_violations,
    log_group_violations,
    policies,
    queue_violations,
    resource_violations,
    state_machine_violations,
    trust_violations,
)

TASK_DEF = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/order:3"
TASK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/order-task"
RUN_TASK_MESSAGE = (
    "ecs:RunTask is allowed on '{}': name task definition revisions "
    "(arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>), not '*' or a whole family"
)
PASS_ROLE_MESSAGE = "iam:PassRole is allowed on '{}': name the roles to pass, without '*'"


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any, **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


# --- ecs:RunTask and iam:PassRole ---------------------------------------------------------------


def test_run_task_on_a_revision_and_pass_role_on_named_roles_pass():
    # GIVEN the statements a state machine's role carries (RunTask on a revision, PassRole named)
    doc = document(
        allow("ecs:RunTask", TASK_DEF),
        allow(["ecs:StopTask", "ecs:DescribeTasks"], "*"),
        allow("iam:PassRole", [TASK_ROLE], Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks"}}),
    )
    # THEN nothing is reported
    assert document_violations(doc) == []


@pytest.mark.parametrize(
    "resource",
    [
        "*",
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/order",  # the whole family
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/order:*",
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/*",
    ],
)
def test_run_task_on_a_wildcard_or_a_whole_family_is_a_violation(resource):
    # WHEN a statement allows ecs:RunTask on it
    violations = document_violations(document(allow("ecs:RunTask", resource)))
    # THEN exactly that resource is named
    assert violations == [RUN_TASK_MESSAGE.format(resource)]


@pytest.mark.parametrize("action", ["ecs:*", "ECS:run*", "*", ["s3:GetObject", "ecs:RunT?sk"]])
def test_run_task_granted_through_a_wildcard_action_is_checked_too(action):
    # GIVEN a statement whose action pattern covers ecs:RunTask (IAM matches case-insensitively)
    violations = document_violations(document(allow(action, "*")))
    # THEN it is held to the RunTask rule (and a bare `*` action to the PassRole one too)
    expected = [RUN_TASK_MESSAGE.format("*")] + ([PASS_ROLE_MESSAGE.format("*")] if action == "*" else [])
    assert violations == expected


def test_not_action_and_not_resource_cannot_hide_a_grant():
    # GIVEN an Allow that excludes only S3 (so grants RunTask) on everything but one resource
    doc = document({"Effect": "Allow", "NotAction": "s3:*", "NotResource": "arn:aws:s3:::x"})
    # THEN both actions are reported
    assert document_violations(doc) == [
        "ecs:RunTask is allowed with NotResource: name its resources in Resource",
        "iam:PassRole is allowed with NotResource: name its resources in Resource",
    ]


def test_pass_role_on_a_wildcard_is_a_violation_and_a_deny_is_not():
    # GIVEN PassRole allowed on a role pattern, and a Deny on everything
    doc = document(
        allow("iam:PassRole", [TASK_ROLE, f"arn:aws:iam::{ACCOUNT}:role/order-*"]),
        {"Effect": "Deny", "Action": "*", "Resource": "*"},
    )
    # THEN only the pattern is reported
    assert document_violations(doc) == [PASS_ROLE_MESSAGE.format(f"arn:aws:iam::{ACCOUNT}:role/order-*")]


@pytest.mark.parametrize(
    ("typ", "props"),
    [
        (ROLE_POLICY, {"role": "r", "policy": json.dumps(document(allow("iam:PassRole", "*")))}),
        (MANAGED_POLICY, {"policy": json.dumps(document(allow("iam:PassRole", "*")))}),
        (ROLE, {"inlinePolicies": [{"name": "x", "policy": json.dumps(document(allow("iam:PassRole", "*")))}]}),
    ],
)
def test_the_scoping_rule_reads_role_policies_managed_policies_and_inline_policies(typ, props):
    # WHEN the rule inspects each kind of resource that carries a policy document
    violations = resource_violations("ecs-run-task-and-pass-role-scoped", typ, props)
    # THEN the wildcard PassRole is found in each
    assert violations == [PASS_ROLE_MESSAGE.format("*")]


# --- trust -------------------------------------------------------------------------------------


def trust(service: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition is not None:
        statement["Condition"] = condition
    return {"assumeRolePolicy": json.dumps(document(statement))}


def test_a_service_trust_with_source_account_passes():
    # GIVEN a trust held to the account (and the source resource)
    props = trust(
        "states.amazonaws.com",
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnLike": {"aws:SourceArn": "arn:aws:states:*"}},
    )
    # THEN it passes
    assert trust_violations(props) == []


def test_a_service_trust_without_source_account_is_a_violation():
    # GIVEN events.amazonaws.com trusted with only aws:SourceArn
    props = trust("events.amazonaws.com", {"ArnLike": {"aws:SourceArn": "arn:aws:events:*"}})
    # THEN the missing aws:SourceAccount is reported, naming the service
    assert trust_violations(props) == [
        "the role trusts events.amazonaws.com without an aws:SourceAccount condition: add "
        '"StringEquals": {"aws:SourceAccount": "<account id>"} so that no other account\'s '
        "resource can make the service assume it"
    ]


def test_the_ec2_instance_role_trust_is_exempt_and_an_account_principal_is_not_a_service():
    # GIVEN EC2 (which assumes an instance profile's role on no resource's behalf) and an account principal
    account = {
        "assumeRolePolicy": json.dumps(
            document({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
        )
    }
    # THEN neither is held to aws:SourceAccount
    assert trust_violations(trust("ec2.amazonaws.com")) == []
    assert trust_violations(account) == []


# --- EventBridge targets and buses --------------------------------------------------------------

GOOD_TARGET = {
    "rule": "r",
    "arn": "arn:aws:states:x",
    "eventBusName": "event-tasks-local-order",
    "deadLetterConfig": {"arn": "arn:aws:sqs:x"},
    "retryPolicy": {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 10},
}


def test_a_target_with_dlq_retry_and_bus_passes():
    assert event_target_violations(GOOD_TARGET) == []


def test_a_target_without_dlq_retry_or_bus_is_reported_for_each():
    # GIVEN a target with none of the three
    bare = {"rule": "r", "arn": "arn:aws:states:x"}
    # THEN each missing piece is its own violation
    assert event_target_violations(bare) == [
        "the target has no dead-letter queue (dead_letter_config): an event EventBridge fails to deliver "
        "would be dropped",
        "the target has no retry policy (retry_policy): set maximum_event_age_in_seconds and maximum_retry_attempts",
        "the target names no bus (event_bus_name): name the bus of its rule (a rule on a custom bus cannot be "
        "found on the default one)",
    ]


def test_a_bus_named_by_a_bus_policy_passes_and_one_without_is_reported():
    # GIVEN two buses, a policy naming the first by name and one naming a third bus by ARN
    resources = [
        (EVENT_BUS, {"name": "event-tasks-local-order", "arn": "arn:aws:events:x:1:event-bus/event-tasks-local-order"}),
        (EVENT_BUS, {"name": "event-tasks-local-customer", "arn": "arn:aws:events:x:1:event-bus/customer"}),
        (EVENT_BUS, {"name": "third", "arn": "arn:aws:events:x:1:event-bus/third"}),
        (EVENT_BUS_POLICY, {"eventBusName": "event-tasks-local-order", "policy": "{}"}),
        (EVENT_BUS_POLICY, {"eventBusName": "arn:aws:events:x:1:event-bus/third", "policy": "{}"}),
    ]
    # THEN only the uncovered bus is reported, by its index
    assert buses_without_policy(resources) == [
        (
            1,
            "event bus 'event-tasks-local-customer' has no resource policy "
            "(aws:cloudwatch/eventBusPolicy:EventBusPolicy naming it): without one, any principal of the "
            "account allowed events:PutEvents can put forged events on it",
        )
    ]


def test_a_bus_policy_without_a_bus_name_covers_only_the_default_bus():
    # GIVEN a policy that names no bus (it applies to the default bus)
    resources = [(EVENT_BUS, {"name": "mine"}), (EVENT_BUS_POLICY, {"policy": "{}"})]
    # THEN the custom bus is still uncovered
    assert [index for index, _ in buses_without_policy(resources)] == [0]


# --- state machines ------------------------------------------------------------------------------


def machine(states: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    props = {
        "definition": json.dumps({"StartAt": next(iter(states)), "States": states}),
        "loggingConfiguration": {"level": "ERROR", "includeExecutionData": True, "logDestination": "arn:x:*"},
        "tracingConfiguration": {"enabled": True},
    }
    return {**props, **overrides}


def task(**more: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True, **more}


def test_a_logged_traced_state_machine_with_bounded_tasks_passes():
    # GIVEN a task with a timeout, and one inside a Parallel with a timeout path
    states = {
        "RunTask": task(TimeoutSeconds=900, End=False, Next="Both"),
        "Both": {
            "Type": "Parallel",
            "End": True,
            "Branches": [{"StartAt": "A", "States": {"A": task(TimeoutSecondsPath="$.t")}}],
        },
    }
    assert state_machine_violations(machine(states)) == []


def test_a_state_machine_without_logs_or_tracing_is_reported():
    # GIVEN logging OFF and no tracing configuration
    props = machine({"RunTask": task(TimeoutSeconds=60)}, loggingConfiguration={"level": "OFF"})
    del props["tracingConfiguration"]
    # THEN both are reported
    assert state_machine_violations(props) == [
        "the state machine does not log (logging_configuration level is OFF or unset): set level ERROR or ALL "
        "with a log group destination",
        "the state machine is not traced: set tracing_configuration enabled=True (X-Ray)",
    ]


def test_task_states_without_timeout_are_found_in_parallel_branches_and_maps():
    # GIVEN unbounded tasks at the top, in a Parallel branch, in a Map's ItemProcessor and a legacy Iterator
    states = {
        "Top": task(End=False, Next="Fan"),
        "Fan": {
            "Type": "Parallel",
            "Next": "Each",
            "Branches": [
                {"StartAt": "Ok", "States": {"Ok": task(TimeoutSeconds=5)}},
                {"StartAt": "Inner", "States": {"Inner": task()}},
            ],
        },
        "Each": {"Type": "Map", "Next": "Old", "ItemProcessor": {"StartAt": "Item", "States": {"Item": task()}}},
        "Old": {"Type": "Map", "End": True, "Iterator": {"StartAt": "Legacy", "States": {"Legacy": task()}}},
    }
    # THEN each is named by its path
    paths = ["Top", "Fan.Branches[1].Inner", "Each.ItemProcessor.Item", "Old.Iterator.Legacy"]
    assert state_machine_violations(machine(states)) == [
        f"Task state '{path}' has no TimeoutSeconds: Step Functions sets none, so a hung task would run until "
        "the execution's own limit (a year for a Standard workflow)"
        for path in paths
    ]


def test_a_definition_that_is_not_json_is_reported():
    props = machine({"RunTask": task(TimeoutSeconds=5)}, definition="not json")
    assert state_machine_violations(props) == [
        "the state machine's definition is not a JSON object (Amazon States Language)"
    ]


# --- SQS and log groups --------------------------------------------------------------------------


@pytest.mark.parametrize("props", [{"sqsManagedSseEnabled": True}, {"kmsMasterKeyId": "alias/event-tasks"}])
def test_a_queue_encrypted_by_sqs_or_kms_passes(props):
    assert queue_violations(props) == []


@pytest.mark.parametrize("props", [{}, {"sqsManagedSseEnabled": False}, {"kmsMasterKeyId": ""}])
def test_an_unencrypted_queue_is_reported(props):
    assert queue_violations(props) == [
        "the queue is not encrypted: set sqs_managed_sse_enabled=True or a kms_master_key_id"
    ]


def test_a_log_group_with_retention_passes_and_one_without_is_reported():
    assert log_group_violations({"name": "/x", "retentionInDays": 14}) == []
    assert log_group_violations({"name": "/x"}) == ["the log group keeps its events forever: set retention_in_days"]
    assert log_group_violations({"name": "/x", "retentionInDays": 0}) == [
        "the log group keeps its events forever: set retention_in_days"
    ]


# --- the pulumi_policy objects -----------------------------------------------------------------


def by_name() -> dict[str, Any]:
    return {p.name: p for p in policies()}


def test_every_policy_is_mandatory_and_the_pack_has_them_all():
    pack = by_name()
    # THEN one policy per rule plus the bus-policy stack check, all mandatory
    assert set(pack) == {*RESOURCE_RULES, BUS_POLICY_RULE}
    assert {p.enforcement_level for p in pack.values()} == {EnforcementLevel.MANDATORY}
    assert isinstance(pack[BUS_POLICY_RULE], StackValidationPolicy)
    assert all(isinstance(pack[r], ResourceValidationPolicy) for r in RESOURCE_RULES)


OPTS = PolicyResourceOptions(False, [], False, [], PolicyCustomTimeouts(0, 0, 0), [])


def validate(policy_name: str, typ: str, props: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Run a resource policy as the engine does: on the inputs, wrapped in the unknown-checking proxy."""
    reported: list[tuple[str, str | None]] = []
    args = ResourceValidationArgs(typ, unknown_checking_proxy(props), f"urn:{typ}", "x", OPTS, None)
    by_name()[policy_name].validate(args, lambda message, urn=None: reported.append((message, urn)))
    return reported


def test_a_resource_policy_reports_what_its_check_finds_on_its_types_only():
    # WHEN it validates a log group without retention, and a queue with the same properties
    # THEN only the log group is reported
    assert validate("log-group-retention", LOG_GROUP, {"name": "/x"}) == [
        ("the log group keeps its events forever: set retention_in_days", None)
    ]
    assert validate("log-group-retention", QUEUE, {"name": "/x"}) == []


def test_lists_and_documents_are_read_through_the_engines_proxy():
    # GIVEN a role whose inline policies arrive as the engine's read-only list proxy
    props = {"inlinePolicies": [{"name": "x", "policy": json.dumps(document(allow("iam:PassRole", "*")))}]}
    # THEN the wildcard is still found
    assert validate("ecs-run-task-and-pass-role-scoped", ROLE, props) == [(PASS_ROLE_MESSAGE.format("*"), None)]


def test_a_value_unknown_in_preview_defers_the_check_instead_of_passing_it():
    # GIVEN a role policy whose document is not known yet (it names roles created in this update)
    props = {"role": "r", "policy": UNKNOWN_STRING_VALUE}
    # THEN the policy raises the engine's UnknownValueError (reported "can't run during preview";
    # `pulumi up` runs it again with the value known) rather than report nothing
    with pytest.raises(UnknownValueError) as raised:
        validate("ecs-run-task-and-pass-role-scoped", ROLE_POLICY, props)
    assert raised.value.message == "string value at .policy can't be known during preview"


def test_the_stack_policy_reports_the_uncovered_bus_by_urn():
    policy = by_name()[BUS_POLICY_RULE]
    resources = [
        PolicyResource(EVENT_BUS, {"name": "covered"}, "urn:covered", "covered", OPTS, None, None, [], {}),
        PolicyResource(EVENT_BUS, {"name": "open"}, "urn:open", "open", OPTS, None, None, [], {}),
        PolicyResource(EVENT_BUS_POLICY, {"eventBusName": "covered"}, "urn:p", "p", OPTS, None, None, [], {}),
    ]
    reported: list[tuple[str, str | None]] = []
    # WHEN the stack is validated
    policy.validate(StackValidationArgs(resources, {}), lambda message, urn=None: reported.append((message, urn)))
    # THEN the uncovered bus is reported with its URN
    assert [urn for _, urn in reported] == ["urn:open"]


def test_the_pack_entry_point_serves_every_policy_as_mandatory(monkeypatch):
    served: dict[str, Any] = {}
    # GIVEN a PolicyPack that records instead of serving the engine (the real one blocks forever)
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: served.update(kwargs))
    # WHEN the engine runs the directory as it does (`python -m pulumi.policy <engine> policy`)
    runpy.run_path(str(ROOT / "policy"), run_name="__main__")
    # THEN the pack is named, mandatory, and holds every policy
    assert served["name"] == "event-tasks"
    assert served["enforcement_level"] == EnforcementLevel.MANDATORY
    assert {p.name for p in served["policies"]} == {*RESOURCE_RULES, BUS_POLICY_RULE}


# --- the shipped stacks' graphs ----------------------------------------------------------------


@pytest.mark.parametrize("stack", ["local", "cloud"])
def test_both_stacks_satisfy_every_resource_policy(deploy, stack):
    # GIVEN the stack's graph under mocks (the engine hands resource policies the inputs)
    resources = [r for r in deploy(stack).resources if r.custom]
    violations = [
        (rule, r.name, message)
        for rule in RESOURCE_RULES
        for r in resources
        for message in resource_violations(rule, r.typ, r.inputs)
    ]
    # THEN nothing is reported
    assert violations == []
    # AND every rule governed at least one resource of the graph (no rule passed vacuously)
    governed = {rule for rule, (_, checks) in RESOURCE_RULES.items() for r in resources if r.typ in checks}
    assert governed == set(RESOURCE_RULES)


@pytest.mark.parametrize("stack", ["local", "cloud"])
def test_both_stacks_give_every_bus_a_policy(deploy, stack):
    # GIVEN the stack's graph (the engine hands stack policies the resources' outputs)
    resources = [(r.typ, r.state) for r in deploy(stack).resources if r.custom]
    assert any(typ == EVENT_BUS for typ, _ in resources)
    # THEN no bus lacks a policy
    assert buses_without_policy(resources) == []


def test_the_served_pack_answers_the_engine_with_mandatory_violations():
    # GIVEN the pack started as the engine starts it: `python -m pulumi.policy <engine> policy`,
    # which prints the port of its analyzer on 127.0.0.1
    process = subprocess.Popen(
        [sys.executable, "-m", "pulumi.policy", "127.0.0.1:0", "policy"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            analyzer = analyzer_pb2_grpc.AnalyzerStub(channel)
            # WHEN the engine asks for the pack's policies, then analyzes a log group without retention
            info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            props = struct_pb2.Struct()
            props.update({"name": "/ecs/mine"})
            urn = "urn:pulumi:dev::event-tasks::aws:cloudwatch/logGroup:LogGroup::mine"
            request = analyzer_pb2.AnalyzeRequest(type=LOG_GROUP, properties=props, urn=urn, name="mine")
            response = analyzer.Analyze(request, timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=30)
    # THEN every policy is served as mandatory
    mandatory = analyzer_pb2.EnforcementLevel.Value("MANDATORY")
    assert {(p.name, p.enforcementLevel) for p in info.policies} == {
        (name, mandatory) for name in (*RESOURCE_RULES, BUS_POLICY_RULE)
    }
    # AND the log group's violation comes back mandatory, naming the fix
    assert [(d.policyName, d.message.splitlines()[-1], d.enforcementLevel) for d in response.diagnostics] == [
        ("log-group-retention", "the log group keeps its events forever: set retention_in_days", mandatory)
    ]
