"""cloud.capacityProviders and cloud.platformVersion: a weighted Fargate/Fargate Spot strategy
replaces LaunchType in every run; bad strategies are refused with the key path."""

import json

import pytest
from pulumi_mocks import ROOT
from test_render import EVENT_ENV
from test_trigger_config import raw

from components.config import ConfigError, load_config
from components.run_task_state_machine import FargateLaunch, TaskTarget, render_definition

CLUSTER = "arn:aws:ecs:ap-southeast-1:123456789012:cluster/shared"
TASK_DEF = "arn:aws:ecs:ap-southeast-1:123456789012:task-definition/customer:5"
SPOT_FIRST = [{"name": "FARGATE_SPOT", "weight": 3}, {"name": "FARGATE", "weight": 1, "base": 1}]


def cloud_with(**fields):
    config = json.loads(raw()["event-tasks:cloud"])
    return raw(cloud={**config, **fields})


def test_a_strategy_replaces_the_launch_type_and_keeps_the_network():
    # GIVEN a Fargate target with a Spot-first strategy and a platform version
    launch = FargateLaunch(
        ["subnet-0a1b2c3d"],
        ["sg-0c1d2e3f"],
        capacity_provider_strategy=(("FARGATE_SPOT", 3, 0), ("FARGATE", 1, 1)),
        platform_version="1.4.0",
    )
    # WHEN rendered
    parameters = render_definition(TaskTarget(CLUSTER, TASK_DEF, "customer", [], launch), ["true"], 60, trigger="t")[
        "States"
    ]["RunTask"]["Parameters"]
    # THEN the strategy is there, LaunchType is not (they are mutually exclusive), awsvpc stays
    assert parameters == {
        "Cluster": CLUSTER,
        "TaskDefinition": TASK_DEF,
        "CapacityProviderStrategy": [
            {"CapacityProvider": "FARGATE_SPOT", "Weight": 3, "Base": 0},
            {"CapacityProvider": "FARGATE", "Weight": 1, "Base": 1},
        ],
        "PlatformVersion": "1.4.0",
        "NetworkConfiguration": {
            "AwsvpcConfiguration": {
                "Subnets": ["subnet-0a1b2c3d"],
                "SecurityGroups": ["sg-0c1d2e3f"],
                "AssignPublicIp": "DISABLED",
            }
        },
        "Overrides": {
            "ContainerOverrides": [
                {
                    "Name": "customer",
                    "Command": ["true"],
                    "Environment": EVENT_ENV,
                }
            ]
        },
        "PropagateTags": "TASK_DEFINITION",
        "Tags": [{"Key": "event-tasks:trigger", "Value": "t"}, {"Key": "event-tasks:event-id", "Value.$": "$.id"}],
    }


def test_the_cloud_stack_runs_every_task_with_the_configured_strategy(deploy):
    # GIVEN the cloud config with a Spot-first strategy and a platform version
    deployed = deploy("cloud", cloud_with(capacityProviders=SPOT_FIRST, platformVersion="LATEST"))
    # THEN every state machine runs with that strategy, no LaunchType
    machines = deployed.of_type("aws:sfn/stateMachine:StateMachine")
    assert machines
    for machine in machines:
        parameters = machine.json("definition")["States"]["RunTask"]["Parameters"]
        assert "LaunchType" not in parameters
        assert parameters["CapacityProviderStrategy"] == [
            {"CapacityProvider": "FARGATE_SPOT", "Weight": 3, "Base": 0},
            {"CapacityProvider": "FARGATE", "Weight": 1, "Base": 1},
        ]
        assert parameters["PlatformVersion"] == "LATEST"


def test_without_a_strategy_tasks_run_on_fargate_with_ecs_s_platform_default(deploy):
    for machine in deploy("cloud", raw()).of_type("aws:sfn/stateMachine:StateMachine"):
        parameters = machine.json("definition")["States"]["RunTask"]["Parameters"]
        assert parameters["LaunchType"] == "FARGATE"
        assert "CapacityProviderStrategy" not in parameters and "PlatformVersion" not in parameters


BAD = [
    (
        [{"name": "EC2", "weight": 1}],
        r"event-tasks:cloud\.capacityProviders\.0\.name: 'EC2': Input should be 'FARGATE' or 'FARGATE_SPOT'",
    ),
    (
        [{"name": "FARGATE", "weight": 1}, {"name": "FARGATE", "weight": 2}],
        r"event-tasks:cloud\.capacityProviders: names a capacity provider twice",
    ),
    (
        [{"name": "FARGATE", "weight": 1, "base": 1}, {"name": "FARGATE_SPOT", "weight": 1, "base": 2}],
        r"event-tasks:cloud\.capacityProviders: gives base to more than one provider",
    ),
    ([{"name": "FARGATE_SPOT", "weight": 0}], r"event-tasks:cloud\.capacityProviders: has no provider with a weight"),
    ([{"name": "FARGATE", "weight": 1001}], r"event-tasks:cloud\.capacityProviders\.0\.weight: 1001: Input should be"),
    ([], r"event-tasks:cloud\.capacityProviders: List should have at least 1 item"),
]


@pytest.mark.parametrize(("strategy", "message"), BAD)
def test_a_bad_strategy_names_the_key(strategy, message):
    with pytest.raises(ConfigError, match=message):
        load_config(cloud_with(capacityProviders=strategy), "cloud", ROOT)


def test_a_bad_platform_version_names_the_key():
    with pytest.raises(ConfigError, match=r"event-tasks:cloud\.platformVersion: '1\.4' is not a Fargate platform"):
        load_config(cloud_with(platformVersion="1.4"), "cloud", ROOT)
