"""Every physical name both graphs create carries `event-tasks-<stack>`, and names too long for AWS
are refused by the config validator, naming the key, before anything is registered."""

from __future__ import annotations

import importlib
import inspect
import json

import pytest
from pulumi_mocks import ROOT, Deployment, stack_config

from components import naming
from components.config import ConfigError, load_config

# Inputs that carry a name the program chooses (references to other resources' names, such as a
# target's eventBusName, are checked where those resources are named).
NAME_INPUTS = ("name", "namePrefix", "roleName", "functionName", "dashboardName", "alarmName", "family")
# Log groups are named by path; the project and stack follow the path AWS recommends.
LOG_GROUP_PREFIXES = ("/aws/vendedlogs/states/", "/ecs/")


def resource_class(typ: str) -> type:
    """The pulumi_aws class of a type token: aws:ec2/launchTemplate:LaunchTemplate -> ec2.LaunchTemplate."""
    _, module, cls = typ.split(":")
    package = importlib.import_module(f"pulumi_aws.{module.split('/')[0]}")
    return getattr(package, cls)


def nameable(typ: str) -> bool:
    """Whether AWS (through the provider) lets the program choose the resource's name."""
    # __init__ is overloaded (*args, **kwargs); _internal_init spells out the arguments.
    parameters = inspect.signature(resource_class(typ)._internal_init).parameters
    return "name" in parameters or "name_prefix" in parameters


def aws_resources(stack: Deployment) -> list:
    return [r for r in stack.resources if r.custom and r.typ.startswith("aws:")]


def naming_problems(graph: Deployment, scope: str) -> tuple[list[str], int]:
    """Resources auto-named or named without `scope`, and how many names were checked."""
    problems, checked = [], 0
    for resource in aws_resources(graph):
        # Every resource AWS lets us name is named (never auto-named from its logical name)
        if nameable(resource.typ) and not {"name", "namePrefix"} & set(resource.inputs):
            problems.append(f"{resource.typ} {resource.name}: auto-named")
        # and every name it is given starts with event-tasks-<stack> (log groups: after their path)
        for key in NAME_INPUTS:
            if key not in resource.inputs:
                continue
            value = resource.inputs[key]
            if resource.typ == "aws:cloudwatch/logGroup:LogGroup":
                value = next((value.removeprefix(p) for p in LOG_GROUP_PREFIXES if value.startswith(p)), value)
            if not value.startswith(scope):
                problems.append(f"{resource.typ} {resource.name}: {key}={resource.inputs[key]!r}")
            checked += 1
        # and so does every inline policy (a role's, or a queue's has none by name)
        for index, inline in enumerate(resource.inputs.get("inlinePolicies") or []):
            if not str(inline.get("name", "")).startswith(scope):
                problems.append(f"{resource.typ} {resource.name}: inlinePolicies[{index}].name={inline.get('name')!r}")
            checked += 1
        # Resources AWS names itself (VPC, subnets, ...) carry the scope in their Name tag
        name_tag = (
            (resource.inputs.get("tags") or {}).get("Name") if isinstance(resource.inputs.get("tags"), dict) else None
        )
        if name_tag is not None and not name_tag.startswith(scope):
            problems.append(f"{resource.typ} {resource.name}: Name tag {name_tag!r}")
    return problems, checked


@pytest.mark.parametrize("stack", ["cloud", "local"])
def test_every_physical_name_carries_the_project_and_the_stack(deploy, stack):
    # GIVEN the whole graph of the stack
    graph = deploy(stack)
    # WHEN every resource's name inputs are walked
    problems, checked = naming_problems(graph, f"event-tasks-{stack}")
    # THEN none is auto-named or named without event-tasks-<stack>
    assert problems == []
    # AND the walk saw the graph's names, the roles' among them
    assert checked >= 40
    roles = {r.inputs["name"] for r in graph.of_type("aws:iam/role:Role")}
    assert {
        # the order bus's rules role, a state machine's role and a schedule's role
        f"event-tasks-{stack}-order-rules",
        f"event-tasks-{stack}-reserve-credit-states",
        f"event-tasks-{stack}-expire-reservations-events",
    } <= roles
    # AND the inline policies are named like their roles
    inline = {p["name"] for r in graph.of_type("aws:iam/role:Role") for p in r.inputs.get("inlinePolicies") or []}
    assert {f"event-tasks-{stack}-order-rules", f"event-tasks-{stack}-reserve-credit-states"} <= inline


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"name": "order-rules-role-1a2b3c4"}, "name='order-rules-role-1a2b3c4'"),
        ({"name": None}, "auto-named"),
        (
            {"inlinePolicies": [{"name": "order-rules-policy", "policy": "{}"}]},
            "inlinePolicies[0].name='order-rules-policy'",
        ),
    ],
)
def test_a_role_auto_named_or_named_without_the_stack_is_caught(deploy, change, problem):
    # GIVEN the cloud graph with one role named as roles were before (auto-named, no stack), or
    # its inline policy named without the stack
    graph = deploy("cloud")
    role = graph.named("order-rules-role")
    for key, value in change.items():
        role.inputs.pop(key) if value is None else role.inputs.__setitem__(key, value)
    # WHEN the names are walked THEN exactly that role is reported
    problems, _ = naming_problems(graph, "event-tasks-cloud")
    assert problems == [f"aws:iam/role:Role order-rules-role: {problem}"]


def test_the_local_instances_are_named_for_the_stack(deploy):
    # GIVEN the local graph
    graph = deploy("local")
    # THEN the container instances' role, profile, group, template and auto scaling group are named
    # for the stack, as the README's naming table says
    assert {
        r.typ: r.inputs["name"]
        for r in graph.resources
        if r.name
        in (
            "cluster-instance-role",
            "cluster-instance-profile",
            "cluster-instances",
            "cluster-launch-template",
            "cluster-asg",
        )
    } == {
        "aws:iam/role:Role": "event-tasks-local-instance",
        "aws:iam/instanceProfile:InstanceProfile": "event-tasks-local-instance",
        "aws:ec2/securityGroup:SecurityGroup": "event-tasks-local-instances",
        "aws:ec2/launchTemplate:LaunchTemplate": "event-tasks-local-instances",
        "aws:autoscaling/group:Group": "event-tasks-local-instances",
    }
    # AND each service's roles too
    roles = {r.name: r.inputs["name"] for r in graph.of_type("aws:iam/role:Role")}
    assert roles["order-task-role"] == "event-tasks-local-order-task"
    assert roles["order-execution-role"] == "event-tasks-local-order-execution"


# --- length limits -------------------------------------------------------------------------------


def cloud_with(triggers=None, services=None) -> dict:
    raw = stack_config("cloud")
    if triggers is not None:
        raw["event-tasks:triggers"] = json.dumps(triggers)
    if services is not None:
        raw["event-tasks:services"] = json.dumps(services)
    return raw


def a_trigger() -> dict:
    return {"bus": "order", "detailTypes": ["OrderCreated"], "service": "customer", "command": ["true"]}


def test_the_names_module_holds_the_aws_limits_of_what_is_now_named():
    # THEN the limits the validator applies are the ones AWS documents for each kind
    assert {limit.what: limit.limit for limit, _ in naming.stack_names("s", local=True)} == {
        "ECS cluster name": 255,
        "ECS capacity provider name": 255,
        "IAM role name": 64,
        "IAM instance profile name": 128,
        "EC2 security group name": 255,
        "EC2 launch template name": 128,
        "auto scaling group name": 255,
        "SNS topic name": 256,
        "CloudWatch dashboard name": 255,
    }
    assert {(limit.what, limit.limit) for limit, _ in naming.trigger_names("s", "t")} >= {("IAM role name", 64)}
    assert {(limit.what, limit.limit) for limit, _ in naming.service_names("s", "t")} >= {("IAM role name", 64)}
    # AND the bus's rules role is bounded as a role, so the validator refuses a service whose name
    # would make it too long (its execution role, longer still, is refused first)
    assert (naming.IAM_ROLE, "event-tasks-s-t-rules") in naming.service_names("s", "t")


def test_a_trigger_name_at_the_role_limit_is_accepted():
    # GIVEN a trigger name of 39 characters: event-tasks-cloud-<39>-states is exactly 64
    name = "t" + "x" * 38
    # WHEN loaded THEN accepted, and its longest role name is at the limit
    config = load_config(cloud_with(triggers={name: a_trigger()}), "cloud", ROOT)
    assert len(naming.state_machine_role_name(config.stack, name)) == 64


def test_a_trigger_name_one_over_the_role_limit_is_refused_naming_the_key():
    # GIVEN a trigger name of 40 characters
    name = "t" + "x" * 39
    # WHEN loaded THEN refused naming the trigger, the role name and the longest allowed name
    with pytest.raises(
        ConfigError,
        match=rf"event-tasks:triggers\.{name}: the IAM role name 'event-tasks-cloud-{name}-states' would be 65 "
        r"characters \(limit 64\) in stack 'cloud'; use a trigger name of at most 39 characters",
    ):
        load_config(cloud_with(triggers={name: a_trigger()}), "cloud", ROOT)


@pytest.mark.parametrize(("length", "refused"), [(36, False), (37, True)])
def test_a_service_name_is_bounded_by_its_execution_role(length, refused):
    # GIVEN a service (no trigger runs it) whose name makes event-tasks-cloud-<name>-execution 64 or 65 long
    name = "s" + "x" * (length - 1)
    raw = cloud_with(services={**json.loads(stack_config("cloud")["event-tasks:services"]), name: {}})
    # (without an archive, whose 48-character name would bound the service name first)
    raw["event-tasks:archiveDays"] = "0"
    if not refused:
        # WHEN loaded THEN accepted
        assert name in load_config(raw, "cloud", ROOT).services
        return
    # WHEN loaded THEN refused naming the service and the fix
    with pytest.raises(
        ConfigError,
        match=rf"event-tasks:services\.{name}: the IAM role name 'event-tasks-cloud-{name}-execution' would be 65 "
        r"characters \(limit 64\) in stack 'cloud'; use a service name of at most 36 characters",
    ):
        load_config(raw, "cloud", ROOT)


def test_a_service_name_too_long_for_its_bus_rules_role_is_refused_naming_the_role():
    # GIVEN a service of 41 characters: event-tasks-cloud-<name>-rules would be 65
    name = "s" + "x" * 40
    raw = cloud_with(services={**json.loads(stack_config("cloud")["event-tasks:services"]), name: {}})
    raw["event-tasks:archiveDays"] = "0"
    # WHEN loaded THEN the rules role's name is among the refusals, naming the service and the fix
    with pytest.raises(
        ConfigError,
        match=rf"event-tasks:services\.{name}: the IAM role name 'event-tasks-cloud-{name}-rules' would be 65 "
        r"characters \(limit 64\) in stack 'cloud'; use a service name of at most 40 characters",
    ):
        load_config(raw, "cloud", ROOT)


def test_a_stack_name_too_long_for_the_instance_role_is_refused_naming_the_stack():
    # GIVEN a local stack named with 44 characters: event-tasks-<stack>-instance would be 65
    stack = "s" * 44
    # WHEN loaded THEN refused naming the stack, the name and the fix
    with pytest.raises(
        ConfigError,
        match=rf"stack '{stack}': the IAM role name 'event-tasks-{stack}-instance' would be 65 characters "
        r"\(limit 64\); use a stack name of at most 43 characters \(`pulumi stack rename`\)",
    ):
        load_config(stack_config("local"), stack, ROOT)


def test_a_cloud_stack_is_not_bounded_by_the_local_instance_role():
    # GIVEN a cloud stack (no instances) named with 44 characters
    stack = "s" * 44
    # WHEN loaded THEN whatever else is refused, no local-only name is
    with pytest.raises(ConfigError) as refused:
        load_config(stack_config("cloud"), stack, ROOT)
    assert [p for p in refused.value.problems if p.startswith("stack ") or "instance" in p] == []
    # AND a service the stack name leaves no room for is told so, not given a negative length
    assert any(
        p.startswith("event-tasks:services.customer:")
        and p.endswith("the stack name leaves no room for any service name: use a shorter stack name")
        for p in refused.value.problems
    )


def test_a_too_long_name_fails_before_anything_is_registered(deploy, mocks):
    # GIVEN a trigger whose role name would be too long
    raw = cloud_with(triggers={"t" + "x" * 45: a_trigger()})
    # WHEN the program runs THEN it fails with the config error, having registered nothing
    with pytest.raises(ConfigError, match=r"IAM role name"):
        deploy("cloud", raw)
    assert mocks.resources == []
