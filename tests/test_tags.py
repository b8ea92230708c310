"""Tags: `event-tasks:tags` plus project, stack and environment, as the default tags of the one
explicit provider every resource is created through; explicitly on the auto scaling group, its
instances and volumes, which default tags do not reach; and on every ECS task a trigger starts."""

from __future__ import annotations

import importlib
import json

import pytest
from pulumi_mocks import ROOT, Deployment, stack_config

from components.config import ConfigError, load_config

USER_TAGS = {"cost-center": "cc-1234", "owner": "team-payments@example.com"}


def with_tags(stack: str, tags: object) -> dict:
    return {**stack_config(stack), "event-tasks:tags": json.dumps(tags)}


def stack_tags(stack: str) -> dict[str, str]:
    return {**USER_TAGS, "project": "event-tasks", "stack": stack, "environment": stack}


def taggable(typ: str) -> bool:
    """Whether the provider applies default tags to the type (it has `tags_all`)."""
    _, module, cls = typ.split(":")
    return hasattr(getattr(importlib.import_module(f"pulumi_aws.{module.split('/')[0]}"), cls), "tags_all")


def the_provider(graph: Deployment):
    (provider,) = graph.of_type("pulumi:providers:aws")
    return provider


@pytest.mark.parametrize("stack", ["cloud", "local"])
def test_every_resource_is_created_through_the_provider_with_the_stack_tags(deploy, stack):
    # GIVEN a stack file with tags of its own
    # WHEN the program runs
    graph = deploy(stack, with_tags(stack, USER_TAGS))
    # THEN one explicit provider carries them, with project, stack and environment, as default tags
    provider = the_provider(graph)
    assert json.loads(provider.inputs["defaultTags"]) == {"tags": stack_tags(stack)}
    assert provider.inputs["region"] == "ap-southeast-1"
    # AND every AWS resource, taggable or not, is created through it
    reference = f"urn:pulumi:{stack}::event-tasks::pulumi:pulumi:Stack$pulumi:providers:aws::aws::"
    resources = [r for r in graph.resources if r.custom and r.typ.startswith("aws:")]
    assert [r.name for r in resources if not r.provider.startswith(reference)] == []
    # AND no taggable resource repeats a default tag by hand (only Name tags remain)
    hand_tagged = {
        r.name: set(r.inputs["tags"]) - {"Name"} for r in resources if taggable(r.typ) and r.inputs.get("tags")
    }
    assert {name: keys for name, keys in hand_tagged.items() if keys} == {}
    assert sum(taggable(r.typ) for r in resources) >= 30


def test_the_asg_and_what_it_launches_carry_the_stack_tags(deploy):
    # GIVEN the local stack with tags of its own
    graph = deploy("local", with_tags("local", USER_TAGS))
    # THEN the auto scaling group (no default tags for groups) propagates them to its instances
    group = graph.named("cluster-asg")
    assert {t["key"]: (t["value"], t["propagateAtLaunch"]) for t in group.inputs["tags"]} == {
        "AmazonECSManaged": ("true", True),
        **{key: (value, True) for key, value in stack_tags("local").items()},
    }
    # AND the launch template tags the instances and their volumes with them
    template = graph.named("cluster-launch-template")
    assert template.inputs["tagSpecifications"] == [
        {"resourceType": kind, "tags": {**stack_tags("local"), "Name": "event-tasks-local-instances"}}
        for kind in ("instance", "volume")
    ]


RUN_TASK = "arn:aws:states:::ecs:runTask"


@pytest.mark.parametrize(("stack", "cluster"), [("cloud", "shared"), ("local", "event-tasks-local")])
def test_every_task_is_tagged_with_its_definitions_tags_its_trigger_and_its_event(deploy, stack, cluster):
    graph = deploy(stack)
    machines = graph.of_type("aws:sfn/stateMachine:StateMachine")
    assert any(m.name.endswith("-saga-state-machine") for m in machines)  # an orchestrator among them
    for machine in machines:
        # GIVEN a trigger's state machine (one task, or an orchestration's steps) and its role's policy
        component = machine.name.removesuffix("-state-machine")
        trigger = component.removesuffix("-run-task").removesuffix("-saga")
        states = machine.json("definition")["States"]
        runs = [state["Parameters"] for state in states.values() if state.get("Resource", "").startswith(RUN_TASK)]
        policy = graph.named(f"{component}-role").inline_policy()
        # THEN every RunTask copies the task definition's tags and adds the trigger and the event's id
        assert runs
        for parameters in runs:
            assert parameters["PropagateTags"] == "TASK_DEFINITION"
            assert parameters["Tags"] == [
                {"Key": "event-tasks:trigger", "Value": trigger},
                {"Key": "event-tasks:event-id", "Value.$": "$.id"},
            ]
        # AND the role may tag only the tasks RunTask creates in that cluster
        (grant,) = [s for s in policy["Statement"] if s["Action"] == "ecs:TagResource"]
        assert grant["Resource"] in (
            f"arn:aws:ecs:ap-southeast-1:123456789012:task/{cluster}/*",
            [f"arn:aws:ecs:ap-southeast-1:123456789012:task/{cluster}/*"],
        )
        assert grant["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}


def test_without_configured_tags_the_stack_tags_remain(deploy):
    # GIVEN the shipped stack file, which sets no tags
    graph = deploy("cloud")
    # THEN the provider still tags project, stack and environment
    assert json.loads(the_provider(graph).inputs["defaultTags"]) == {
        "tags": {"project": "event-tasks", "stack": "cloud", "environment": "cloud"}
    }


def test_configured_tags_are_loaded():
    # WHEN a stack file with tags is loaded
    config = load_config(with_tags("cloud", USER_TAGS), "cloud", ROOT)
    # THEN the stack's tags are the configured ones plus the three the stack sets
    assert config.stack_tags() == stack_tags("cloud")


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({"aws:team": "a"}, r"event-tasks:tags: aws:team: the aws: prefix is reserved for AWS; rename the tag"),
        ({"AWS:team": "a"}, r"event-tasks:tags: AWS:team: the aws: prefix is reserved"),
        ({"stack": "prod"}, r"event-tasks:tags: stack: set by the stack itself \(project, stack, environment\)"),
        ({"k" * 129: "a"}, r"event-tasks:tags: 'k{129}' is not a tag key \(1-128 letters"),
        ({"team": "v" * 257}, r"event-tasks:tags: team: value 'v{257}' is not a tag value \(0-256 letters"),
        ({"team#1": "a"}, r"event-tasks:tags: 'team#1' is not a tag key"),
        ({"team": "a\nb"}, r"event-tasks:tags: team: value 'a\\nb' is not a tag value"),
        ({f"t{i}": "a" for i in range(46)}, r"event-tasks:tags: has 46 tags; AWS allows 50 per resource .* at most 45"),
        ({"team": 7}, r"event-tasks:tags\.team: 7: Input should be a valid string"),
        (["team"], r"event-tasks:tags: .*Input should be a valid dictionary"),
    ],
)
def test_a_bad_tag_is_refused_naming_the_key(tags, message):
    # GIVEN a stack file with a tag AWS would refuse
    # WHEN it is loaded THEN the error names the key and the fix
    with pytest.raises(ConfigError, match=message):
        load_config(with_tags("cloud", tags), "cloud", ROOT)


def test_45_tags_are_the_most_accepted():
    # GIVEN as many tags as fit beside the stack's three and a task's two (trigger, event id)
    tags = {f"t{i}": "a" for i in range(45)}
    # WHEN loaded THEN all are kept: a task then carries exactly AWS's 50
    assert len(load_config(with_tags("cloud", tags), "cloud", ROOT).stack_tags()) + 2 == 50


def test_a_bad_tag_fails_before_anything_is_registered(deploy, mocks):
    # GIVEN a reserved tag key
    # WHEN the program runs THEN it fails with the config error and registered nothing
    with pytest.raises(ConfigError, match=r"event-tasks:tags"):
        deploy("cloud", with_tags("cloud", {"aws:x": "y"}))
    assert mocks.resources == []
