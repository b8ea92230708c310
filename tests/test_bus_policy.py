"""Event authenticity: each bus's policy as an exact dict, one policy per bus naming the right roles in
both stacks, and the issue's attack (a forged `CreditReserved`) evaluated against the rendered
documents with the IAM logic EventBridge applies.

moto enforces no policy at all, so the sandbox cannot show a forged event being refused: `decide`
below is a small evaluator of exactly the policy features these documents use (Allow/Deny,
`Principal`, `String(Not)Equals`, `Arn(Not)Equals`), applying AWS's rules: an explicit Deny in
any policy wins; within the bus's account a call is allowed if the caller's identity policy OR
the bus policy allows it; from another account both must allow it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pytest
from pulumi_mocks import ACCOUNT, REGION, ROOT, task_definition_answer

from components.bus_policy import Producer, bus_policy_document
from components.config import ConfigError, engine_config, load_config

BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/event-tasks-test-customer"
TASK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/customer-task-role-0000001"
MACHINE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/reserve-credit-run-task-role-0000002"
OTHER_ACCOUNT = "210987654321"
# What an administrator (or any principal allowed events:PutEvents on *) has.
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

# --- the rendered document, exactly ----------------------------------------------------------------


def test_the_bus_admits_only_its_source_its_publishers_and_the_named_accounts():
    # GIVEN the customer bus, its task role and a state machine role that publishes failure
    # events on it (given twice and unsorted), and another account allowed one detail-type
    # WHEN the policy is rendered
    document = bus_policy_document(
        partition="aws",
        account_id=ACCOUNT,
        bus_arn=BUS,
        source="event-tasks.customer",
        publisher_role_arns=[TASK_ROLE, MACHINE_ROLE, TASK_ROLE],
        producers=[Producer(OTHER_ACCOUNT, ("CustomerImported", "CustomerCreated"))],
    )
    # THEN any other source is denied to everyone, any other principal of the account is denied,
    # and the other account may put exactly its detail-types
    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyTheOwnersSource",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "events:PutEvents",
                "Resource": BUS,
                "Condition": {"StringNotEquals": {"events:source": "event-tasks.customer"}},
            },
            {
                "Sid": "OnlyThePublishersOfTheAccount",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "events:PutEvents",
                "Resource": BUS,
                "Condition": {
                    "StringEquals": {"aws:PrincipalAccount": ACCOUNT},
                    "ArnNotEquals": {"aws:PrincipalArn": [TASK_ROLE, MACHINE_ROLE]},
                },
            },
            {
                "Sid": f"Account{OTHER_ACCOUNT}Produces",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                "Action": "events:PutEvents",
                "Resource": BUS,
                "Condition": {"StringEquals": {"events:detail-type": ["CustomerCreated", "CustomerImported"]}},
            },
        ],
    }


def test_a_bus_without_publishers_denies_the_whole_account():
    # GIVEN a service that no trigger runs and whose task role is unknown (cloud, no task definition)
    # WHEN its bus policy is rendered
    document = bus_policy_document(
        partition="aws", account_id=ACCOUNT, bus_arn=BUS, source="event-tasks.customer", publisher_role_arns=[""]
    )
    # THEN the account-wide Deny has no exception (an empty ArnNotEquals list would be invalid)
    assert document["Statement"][1]["Condition"] == {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    assert [s["Effect"] for s in document["Statement"]] == ["Deny", "Deny"]


# --- an evaluator of these documents ---------------------------------------------------------------


@dataclass(frozen=True)
class Put:
    """One PutEvents entry, as EventBridge authorizes it."""

    principal_arn: str
    source: str
    detail_type: str
    bus_arn: str = BUS

    @property
    def account(self) -> str:
        return self.principal_arn.split(":")[4]


OPERATORS = {
    "StringEquals": lambda value, allowed: value in allowed,
    "StringNotEquals": lambda value, allowed: value not in allowed,
    "ArnEquals": lambda value, allowed: value in allowed,
    "ArnNotEquals": lambda value, allowed: value not in allowed,
}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _applies(statement: dict[str, Any], put: Put, *, resource_policy: bool) -> bool:
    context = {
        "aws:PrincipalArn": put.principal_arn,
        "aws:PrincipalAccount": put.account,
        "events:source": put.source,
        "events:detail-type": put.detail_type,
    }
    if not {"events:PutEvents", "events:*", "*"} & set(_listed(statement["Action"])):
        return False
    if not {put.bus_arn, "*"} & set(_listed(statement["Resource"])):
        return False
    if resource_policy:
        principal = statement["Principal"]
        named = ["*"] if principal == "*" else _listed(principal["AWS"])
        root = f"arn:aws:iam::{put.account}:root"
        if not {"*", put.principal_arn, root} & set(named):
            return False
    for operator, keys in statement.get("Condition", {}).items():
        for key, values in keys.items():
            # An operator or key these documents never use fails the test instead of passing silently.
            if not OPERATORS[operator](context[key], _listed(values)):
                return False
    return True


def decide(bus_policy: dict[str, Any] | None, identity_policy: dict[str, Any] | None, put: Put) -> str:
    """`Deny` (explicit), `Allow`, or `ImplicitDeny`, as EventBridge would answer the entry."""
    resource = [s for s in (bus_policy or {}).get("Statement", []) if _applies(s, put, resource_policy=True)]
    identity = [s for s in (identity_policy or {}).get("Statement", []) if _applies(s, put, resource_policy=False)]
    if any(s["Effect"] == "Deny" for s in resource + identity):
        return "Deny"
    resource_allows = any(s["Effect"] == "Allow" for s in resource)
    identity_allows = any(s["Effect"] == "Allow" for s in identity)
    same_account = put.account == put.bus_arn.split(":")[4]
    allowed = (resource_allows or identity_allows) if same_account else (resource_allows and identity_allows)
    return "Allow" if allowed else "ImplicitDeny"


def test_the_evaluator_applies_deny_over_allow_and_cross_account_needs_both():
    # GIVEN a bus policy allowing another account, and an explicit Deny for one source
    policy = {
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "events:PutEvents", "Resource": BUS,
             "Condition": {"StringEquals": {"events:source": "bad"}}},
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
             "Action": "events:PutEvents", "Resource": BUS},
        ]
    }  # fmt: skip
    outsider = f"arn:aws:iam::{OTHER_ACCOUNT}:role/producer"
    insider = f"arn:aws:iam::{ACCOUNT}:role/someone"
    # THEN an admin of the account is allowed by its identity policy alone, unless denied
    assert decide(policy, ADMIN_POLICY, Put(insider, "good", "T")) == "Allow"
    assert decide(policy, ADMIN_POLICY, Put(insider, "bad", "T")) == "Deny"
    assert decide(policy, None, Put(insider, "good", "T")) == "ImplicitDeny"
    # AND another account needs both its own policy and the bus policy
    assert decide(policy, ADMIN_POLICY, Put(outsider, "good", "T")) == "Allow"
    assert decide(policy, None, Put(outsider, "good", "T")) == "ImplicitDeny"
    assert decide(None, ADMIN_POLICY, Put(outsider, "good", "T")) == "ImplicitDeny"


# --- the stacks, from their own stack configs ------------------------------------------------------

TRIGGERS = {
    "reserve-credit": {
        "bus": "order",
        "detailTypes": ["OrderCreated"],
        "service": "customer",
        "command": ["python", "-m", "customer.reserve_credit"],
    },
    "approve-order": {
        "bus": "customer",
        "detailTypes": ["CreditReserved"],
        "service": "order",
        "command": ["python", "-m", "order.approve"],
    },
    "reject-order": {
        "bus": "customer",
        "detailTypes": ["CreditLimitExceeded", "CustomerValidationFailed"],
        "service": "order",
        "command": ["python", "-m", "order.reject"],
    },
}
TASK_DEFS = {
    "order": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/order:3",
    "customer": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/customer:5",
}
PRODUCERS = [{"account": OTHER_ACCOUNT, "detailTypes": ["PlaceOrderRequested"]}]


def stack_file(environment: str) -> dict[str, Any]:
    """A stack's config map as the engine passes it: two services, three triggers, and an order
    bus that another account may put `PlaceOrderRequested` on."""
    if environment == "local":
        services: dict[str, Any] = {"order": {"producers": PRODUCERS}, "customer": {}}
        extra: dict[str, Any] = {}
    else:
        services = {s: {"taskDefinitionArn": arn} for s, arn in TASK_DEFS.items()}
        services["order"]["producers"] = PRODUCERS
        extra = {
            "event-tasks:cloud": {
                "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/shared",
                "subnets": ["subnet-0a1b2c3d"],
                "securityGroups": ["sg-0c1d2e3f"],
            }
        }
    return engine_config(
        {
            "aws:region": REGION,
            "event-tasks:environment": environment,
            "event-tasks:services": services,
            "event-tasks:triggers": copy.deepcopy(TRIGGERS),
            **extra,
        }
    )


def task_role_arn(stack: Any, environment: str, service: str) -> str:
    if environment == "local":
        return stack.named(f"{service}-task-role").state["arn"]
    return task_definition_answer(TASK_DEFS[service])["taskRoleArn"]


@pytest.mark.parametrize("environment", ["local", "cloud"])
def test_every_bus_has_one_policy_naming_its_task_role_and_its_failure_publishers(deploy, environment):
    # GIVEN the stack deployed (under mocks)
    stack = deploy(environment, stack_file(environment))
    policies = stack.of_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
    machine_role = {t: stack.named(f"{t}-run-task-role").state["arn"] for t in TRIGGERS}
    # THEN there is exactly one policy per bus
    buses = {b.state["name"]: b for b in stack.of_type("aws:cloudwatch/eventBus:EventBus")}
    assert sorted(p.inputs["eventBusName"] for p in policies) == sorted(buses)
    for service in ("order", "customer"):
        (policy,) = [p for p in policies if p.inputs["eventBusName"] == f"event-tasks-{environment}-{service}"]
        statements = {s["Sid"]: s for s in policy.json("policy")["Statement"]}
        # AND it admits only the owner's source on that bus
        assert statements["OnlyTheOwnersSource"]["Condition"] == {
            "StringNotEquals": {"events:source": f"event-tasks.{service}"}
        }
        assert {s["Resource"] for s in statements.values()} == {buses[policy.inputs["eventBusName"]].state["arn"]}
        # AND of the account only the owner's task role and the roles of the triggers running the
        # owner's task (they publish its failure events on this bus)
        runners = [t for t, trigger in TRIGGERS.items() if trigger["service"] == service]
        assert statements["OnlyThePublishersOfTheAccount"]["Condition"] == {
            "StringEquals": {"aws:PrincipalAccount": ACCOUNT},
            "ArnNotEquals": {
                "aws:PrincipalArn": sorted(
                    [task_role_arn(stack, environment, service)] + [machine_role[t] for t in runners]
                )
            },
        }
        # AND another account only where config names it
        producers = [sid for sid in statements if sid.startswith("Account")]
        assert producers == ([f"Account{OTHER_ACCOUNT}Produces"] if service == "order" else [])
    # AND the rules match the bus owner's source
    for trigger, settings in TRIGGERS.items():
        pattern = stack.named(f"{trigger}-trigger-rule").json("eventPattern")
        assert pattern["source"] == [f"event-tasks.{settings['bus']}"]


@pytest.fixture
def local(deploy):
    return deploy("local", stack_file("local"))


def documents(local: Any) -> dict[str, Any]:
    """The rendered bus policies, task role policies and role ARNs of the local stack."""
    return {
        "customer bus": local.named("customer-bus-policy").json("policy"),
        "order bus": local.named("order-bus-policy").json("policy"),
        "customer task": local.named("customer-task-policy").json("policy"),
        "order task": local.named("order-task-policy").json("policy"),
        "customer role": local.named("customer-task-role").state["arn"],
        "order role": local.named("order-task-role").state["arn"],
        "customer bus arn": local.named("customer-bus").state["arn"],
        "order bus arn": local.named("order-bus").state["arn"],
    }


def test_the_forged_credit_reserved_of_the_issue_is_denied(local):
    # GIVEN the rendered policies, and an attacker inside the account allowed everything by its
    # own identity policy
    d = documents(local)
    attacker = f"arn:aws:iam::{ACCOUNT}:role/ops-admin"
    forged = Put(attacker, "event-tasks.customer", "CreditReserved", d["customer bus arn"])
    # WHEN it puts CreditReserved with the customer's source on the customer bus
    # THEN the bus policy denies it explicitly, whatever its identity policy allows
    assert decide(d["customer bus"], ADMIN_POLICY, forged) == "Deny"
    # AND without the bus policy the same put would have gone through (the issue's finding)
    assert decide(None, ADMIN_POLICY, forged) == "Allow"
    # AND the order service's task role cannot speak for the customer either
    as_order = Put(d["order role"], "event-tasks.customer", "CreditReserved", d["customer bus arn"])
    assert decide(d["customer bus"], ADMIN_POLICY, as_order) == "Deny"


def test_the_genuine_producer_is_allowed_and_only_for_what_it_declares(local):
    # GIVEN the customer task role with its rendered identity policy
    d = documents(local)
    role, bus = d["customer role"], d["customer bus arn"]
    # THEN it may put CreditReserved with its own source on its own bus
    assert decide(d["customer bus"], d["customer task"], Put(role, "event-tasks.customer", "CreditReserved", bus)) == (
        "Allow"
    )
    # AND not a detail-type its service does not declare (the bus policy grants it nothing)
    assert decide(d["customer bus"], d["customer task"], Put(role, "event-tasks.customer", "OrderApproved", bus)) == (
        "ImplicitDeny"
    )
    # AND not another service's source, on its bus or on the other service's bus
    assert decide(d["customer bus"], d["customer task"], Put(role, "event-tasks.order", "CreditReserved", bus)) == (
        "Deny"
    )
    assert decide(
        d["order bus"], d["customer task"], Put(role, "event-tasks.order", "OrderApproved", d["order bus arn"])
    ) == ("Deny")


def test_a_failure_publisher_may_put_only_on_the_bus_of_the_service_it_runs(local):
    # GIVEN the state machine roles of reserve-credit (runs customer) and approve-order (runs
    # order), with an identity policy allowing PutEvents (what the failure path grants them)
    d = documents(local)
    reserve = local.named("reserve-credit-run-task-role").state["arn"]
    approve = local.named("approve-order-run-task-role").state["arn"]
    bus = d["customer bus arn"]
    # THEN reserve-credit's role may publish its failure event on the customer bus
    assert decide(
        d["customer bus"], ADMIN_POLICY, Put(reserve, "event-tasks.customer", "ReserveCreditFailed", bus)
    ) == ("Allow")
    # AND approve-order's role may not put anything there
    assert decide(d["customer bus"], ADMIN_POLICY, Put(approve, "event-tasks.customer", "CreditReserved", bus)) == (
        "Deny"
    )


def test_another_account_may_put_only_the_detail_types_config_names(local):
    # GIVEN the order bus, on which config lets account 210987654321 put PlaceOrderRequested
    d = documents(local)
    bus = d["order bus arn"]
    producer = f"arn:aws:iam::{OTHER_ACCOUNT}:role/front-end"
    stranger = "arn:aws:iam::999999999999:role/front-end"
    # THEN that account may put PlaceOrderRequested with the order service's source
    assert decide(d["order bus"], ADMIN_POLICY, Put(producer, "event-tasks.order", "PlaceOrderRequested", bus)) == (
        "Allow"
    )
    # AND nothing else: not another detail-type, not another source, and no other account
    assert decide(d["order bus"], ADMIN_POLICY, Put(producer, "event-tasks.order", "OrderApproved", bus)) == (
        "ImplicitDeny"
    )
    assert decide(d["order bus"], ADMIN_POLICY, Put(producer, "front-end", "PlaceOrderRequested", bus)) == "Deny"
    assert decide(d["order bus"], ADMIN_POLICY, Put(stranger, "event-tasks.order", "PlaceOrderRequested", bus)) == (
        "ImplicitDeny"
    )


# --- config: other accounts as producers -----------------------------------------------------------


@pytest.mark.parametrize(
    "producers, message",
    [
        (
            [{"account": 210987654321, "detailTypes": ["A"]}],
            r"event-tasks:services\.order\.producers\.0\.account: 210987654321 must be a quoted string of 12 digits",
        ),
        (
            [{"account": "21098765432", "detailTypes": ["A"]}],
            r"event-tasks:services\.order\.producers\.0\.account: '21098765432' is not an AWS account id",
        ),
        (
            [{"account": OTHER_ACCOUNT, "detailTypes": []}],
            r"event-tasks:services\.order\.producers\.0\.detailTypes: .*at least 1 item",
        ),
        (
            [{"account": OTHER_ACCOUNT, "detailTypes": ["A", "A"]}],
            r"event-tasks:services\.order\.producers\.0\.detailTypes: lists a detail-type twice",
        ),
        (
            [{"account": OTHER_ACCOUNT, "detailTypes": ["A"]}, {"account": OTHER_ACCOUNT, "detailTypes": ["B"]}],
            r"event-tasks:services\.order\.producers: names account 210987654321 twice; list all its detailTypes",
        ),
        (
            [{"account": OTHER_ACCOUNT, "detailTypes": ["PlaceOrderRequested", "OrderCreated"]}],
            r"event-tasks:services\.order\.producers\.0\.detailTypes: OrderCreated is emitted by order itself; "
            r"another account may not speak for it",
        ),
        (
            [{"account": OTHER_ACCOUNT, "detailType": ["A"]}],
            r"event-tasks:services\.order\.producers\.0\.detailType: unknown key; allowed here: account, detailTypes",
        ),
    ],
)
def test_a_bad_producer_is_refused_naming_its_key_path(producers, message):
    # GIVEN the order service naming another account badly
    raw = stack_file("local")
    services = json.loads(raw["event-tasks:services"])
    services["order"]["producers"] = producers
    raw["event-tasks:services"] = json.dumps(services)
    # WHEN the config is loaded THEN the error names the key path and the fix
    with pytest.raises(ConfigError, match=message):
        load_config(raw, "test", ROOT)


def test_in_cloud_a_service_no_trigger_runs_still_admits_its_looked_up_task_role(deploy, mocks):
    # GIVEN a cloud stack where no trigger runs the order task, but order has a task definition
    # (its task emits, started by something else), and the customer's has no task role
    raw = stack_file("cloud")
    raw["event-tasks:triggers"] = json.dumps({"reserve-credit": TRIGGERS["reserve-credit"]})
    customer = TASK_DEFS["customer"]
    mocks.task_definitions[customer] = {**task_definition_answer(customer), "taskRoleArn": ""}
    # WHEN the stack is deployed
    stack = deploy("cloud", raw)
    publishers = {
        p.inputs["eventBusName"]: p.json("policy")["Statement"][1]["Condition"]
        for p in stack.of_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
    }
    # THEN the order task definition was looked up and its task role is the order bus's publisher
    looked_up = [a["taskDefinition"] for t, a in mocks.calls if t == "aws:ecs/getTaskDefinition:getTaskDefinition"]
    assert sorted(looked_up) == sorted(TASK_DEFS.values())
    assert publishers["event-tasks-cloud-order"]["ArnNotEquals"] == {
        "aws:PrincipalArn": [task_definition_answer(TASK_DEFS["order"])["taskRoleArn"]]
    }
    # AND without a task role, the customer bus admits only the state machine running its task
    assert publishers["event-tasks-cloud-customer"]["ArnNotEquals"] == {
        "aws:PrincipalArn": [stack.named("reserve-credit-run-task-role").state["arn"]]
    }
    # AND no state machine runs order, so nothing was checked or wired for it beyond the lookup
    assert [m.inputs["name"] for m in stack.of_type("aws:sfn/stateMachine:StateMachine")] == [
        "event-tasks-cloud-reserve-credit"
    ]
