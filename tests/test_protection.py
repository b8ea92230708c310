"""Stateful resources survive: tables and repositories are retained on delete (protected when
`event-tasks:protect` is true), and a renamed service's resources are registered with aliases of
their old URNs, so the rename replaces nothing."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

import pytest
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime.proto import resource_pb2
from pulumi_mocks import ROOT, stack_config

from components.config import ConfigError, load_config
from components.renames import renamed

STATEFUL = ("aws:dynamodb/table:Table", "aws:ecr/repository:Repository")


@dataclass
class Registration:
    """What the engine would receive for one resource."""

    urn: str
    typ: str
    aliases: list[str]
    protect: bool
    retain_on_delete: bool


@pytest.fixture
def registrations(monkeypatch) -> list[Registration]:
    """Every RegisterResource request the program sends, as the engine sees it.

    The SDK is told the monitor does not support alias specs, so it resolves every alias, the ones
    children inherit from their parents included, to the full URN it stands for (what an engine
    without alias specs gets): the old URNs themselves.
    """
    seen: list[Registration] = []
    register = pulumi_mocks.MockMonitor.RegisterResource
    supports = pulumi_resource.monitor_supports_feature

    def record(self, request):
        seen.append(
            Registration(
                # The engine leaves the stack out of its children's type chain; the mock monitor does not.
                urn=self.make_urn(request.parent, request.type, request.name).replace("::pulumi:pulumi:Stack$", "::"),
                typ=request.type,
                aliases=list(request.aliasURNs),
                protect=request.protect,
                retain_on_delete=request.retainOnDelete,
            )
        )
        return register(self, request)

    def no_alias_specs(feature: int) -> bool:
        return feature != resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS and supports(feature)

    monkeypatch.setattr(pulumi_mocks.MockMonitor, "RegisterResource", record)
    monkeypatch.setattr(pulumi_resource, "monitor_supports_feature", no_alias_specs)
    return seen


def local_raw(**changes) -> dict:
    raw = stack_config("local")
    for key, value in changes.items():
        raw[f"event-tasks:{key}"] = json.dumps(value)
    return raw


def renamed_order_raw() -> dict:
    """The local fixture with the `order` service renamed `orders` (formerNames: [order])."""
    raw = stack_config("local")
    services = json.loads(raw["event-tasks:services"])
    # A renamed service speaks with its new source (`event-tasks.orders`), as its emits.json declares.
    services["orders"] = {**services.pop("order"), "formerNames": ["order"], "image": "tests/fixtures/renamed-order"}
    triggers = json.loads(raw["event-tasks:triggers"])
    for trigger in triggers.values():
        for part in (trigger, *trigger.get("steps", [])):
            for key in ("bus", "service"):
                if part.get(key) == "order":
                    part[key] = "orders"
    raw["event-tasks:services"] = json.dumps(services)
    raw["event-tasks:triggers"] = json.dumps(triggers)
    return raw


@pytest.mark.parametrize(("protect", "expected"), [(None, False), (True, True), (False, False)])
def test_tables_and_repositories_are_retained_and_protected_on_request(deploy, registrations, protect, expected):
    # GIVEN the local stack, event-tasks:protect unset (local default: false), true or false
    raw = (
        stack_config("local")
        if protect is None
        else {**stack_config("local"), "event-tasks:protect": str(protect).lower()}
    )
    # WHEN it is evaluated
    deploy("local", raw)
    # THEN every table and repository is retained on delete, and protected exactly as configured
    stateful = [r for r in registrations if r.typ in STATEFUL]
    assert len(stateful) == 4
    assert all(r.retain_on_delete for r in stateful)
    assert {r.protect for r in stateful} == {expected}
    # AND nothing stateless is protected or retained (a stack stays destroyable)
    others = [r for r in registrations if r.typ not in STATEFUL]
    assert not [r.urn for r in others if r.protect or r.retain_on_delete]


def test_protect_defaults_by_environment_and_is_validated():
    # GIVEN the fixtures THEN cloud is protected by default and local is not
    assert load_config(stack_config("cloud"), "cloud", ROOT).protected is True
    assert load_config(stack_config("local"), "local", ROOT).protected is False
    # AND an explicit value wins
    assert load_config({**stack_config("cloud"), "event-tasks:protect": "false"}, "cloud", ROOT).protected is False
    # AND a value that is not a boolean is refused naming the key
    with pytest.raises(ConfigError, match=r"event-tasks:protect: 'yes': Input should be a valid boolean"):
        load_config({**stack_config("local"), "event-tasks:protect": "yes"}, "local", ROOT)


def test_renaming_a_service_registers_its_data_under_the_old_urns(deploy, mocks, registrations):
    # GIVEN the local stack as deployed, with its `order` service
    deploy("local")
    before = {r.urn: r for r in registrations}
    old_table = local_resource(before, "order-table")
    old_repository = local_resource(before, "order-repository")
    old_inputs = {r.name: r.inputs for r in mocks.resources if r.name in ("order-table", "order-repository")}
    registrations.clear()
    mocks.resources.clear()
    # WHEN the service is renamed `orders`, naming `order` as its former name
    deploy("local", renamed_order_raw())
    after = {r.urn: r for r in registrations}
    # THEN the table, the repository, their lifecycle policy and image, and the components holding
    # them are registered under their new URNs with the old URNs as aliases
    for old_name, new_name in [
        ("order-table", "orders-table"),
        ("order-repository", "orders-repository"),
        ("order-lifecycle", "orders-lifecycle"),
        ("order-image", "orders-image"),
    ]:
        old = local_resource(before, old_name)
        new = local_resource(after, new_name)
        assert new.urn == old.urn.replace(f"::{old_name}", f"::{new_name}")
        assert old.urn in new.aliases, new_name
    holders = ("event-tasks:index:ServiceTable", "event-tasks:index:ServiceImage")
    components = [r for r in after.values() if r.typ in holders and r.urn.endswith("::orders")]
    assert len(components) == 2
    for component in components:
        assert component.urn.removesuffix("::orders") + "::order" in before
        assert component.urn.removesuffix("::orders") + "::order" in component.aliases
    # AND they keep their physical names and inputs: with the aliases, nothing is replaced
    new_inputs = {r.name: r.inputs for r in mocks.resources if r.name in ("orders-table", "orders-repository")}
    assert new_inputs["orders-table"] == old_inputs["order-table"]
    assert new_inputs["orders-repository"] == old_inputs["order-repository"]
    assert old_table.retain_on_delete and old_repository.retain_on_delete


def local_resource(registered: dict[str, Registration], name: str) -> Registration:
    (found,) = [r for urn, r in registered.items() if urn.endswith(f"::{name}")]
    return found


def test_moving_a_component_in_the_tree_keeps_its_urn_through_an_alias(evaluate, registrations):
    import pulumi

    from components.service_table import ServiceTable, ServiceTableArgs

    # GIVEN a table component that used to be at the root, now under a new parent, with an alias
    # saying so
    def program():
        group = pulumi.ComponentResource("event-tasks:index:Group", "data")
        table = ServiceTable(
            "order",
            ServiceTableArgs(table_name="et-order"),
            pulumi.ResourceOptions(parent=group, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]),
        )
        return table.name

    evaluate(program)
    # THEN it registers under the new parent with its root URN as an alias
    (component,) = [r for r in registrations if r.typ == "event-tasks:index:ServiceTable"]
    assert component.urn.endswith("::event-tasks:index:Group$event-tasks:index:ServiceTable::order")
    assert "urn:pulumi:test::event-tasks::event-tasks:index:ServiceTable::order" in component.aliases
    # AND its table inherits the move: its old URN under the root component is an alias too
    (table,) = [r for r in registrations if r.typ == "aws:dynamodb/table:Table"]
    assert "urn:pulumi:test::event-tasks::event-tasks:index:ServiceTable$aws:dynamodb/table:Table::order-table" in (
        table.aliases
    )


@pytest.mark.parametrize(
    ("services", "stack", "message"),
    [
        (
            {"order": {"formerNames": ["customer"]}, "customer": {}},
            "local",
            r"event-tasks:services\.order\.formerNames: customer is a current service",
        ),
        (
            {"order": {"formerNames": ["Order_1"]}, "customer": {}},
            "local",
            r"event-tasks:services\.order\.formerNames: .*are not service names",
        ),
    ],
)
def test_former_names_are_validated(services, stack, message):
    # GIVEN former names that are a current service or not a name THEN they are refused by key
    raw = copy.deepcopy(stack_config(stack))
    raw["event-tasks:services"] = json.dumps(services)
    raw.pop("event-tasks:triggers")
    with pytest.raises(ConfigError, match=message):
        load_config(raw, stack, ROOT)


def test_former_names_are_refused_in_cloud():
    # GIVEN the cloud stack (it owns no data) with a former name THEN it is refused
    raw = stack_config("cloud")
    services = json.loads(raw["event-tasks:services"])
    services["order"]["formerNames"] = ["orders"]
    raw["event-tasks:services"] = json.dumps(services)
    with pytest.raises(
        ConfigError, match=r"event-tasks:services\.order\.formerNames: only allowed when environment is local"
    ):
        load_config(raw, "cloud", ROOT)


def test_renamed_refuses_a_resource_not_named_after_its_component():
    # GIVEN a child whose name does not start with the component's THEN no alias can be derived
    with pytest.raises(ValueError, match="not named after its component"):
        renamed("table", "order", ["orders"])
