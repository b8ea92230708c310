"""Operations options of issue 13: Container Insights on the local cluster and ECS Exec per service,
each only when asked for. The local stack config is built here (not the shipped file)."""

import json

import pytest
from pulumi_mocks import ROOT

from components.config import ConfigError, load_config

ORDER_TRIGGER = {"bus": "customer", "detailTypes": ["CreditReserved"], "service": "order", "command": ["true"]}
CUSTOMER_TRIGGER = {"bus": "order", "detailTypes": ["OrderCreated"], "service": "customer", "command": ["true"]}
SSM = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
]


def local_raw(local=None, order=None):
    config = {
        "aws:region": "ap-southeast-1",
        "event-tasks:environment": "local",
        "event-tasks:services": {"order": order or {}, "customer": {}},
        "event-tasks:triggers": {"approve": ORDER_TRIGGER, "reserve": CUSTOMER_TRIGGER},
        **({"event-tasks:local": local} if local is not None else {}),
    }
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def insights(deployed):
    (cluster,) = deployed.of_type("aws:ecs/cluster:Cluster")
    return cluster.inputs["settings"]


def test_container_insights_is_off_by_default_and_on_when_asked(deploy, mocks):
    assert insights(deploy("local", local_raw())) == [{"name": "containerInsights", "value": "disabled"}]
    mocks.resources.clear()
    assert insights(deploy("local", local_raw(local={"containerInsights": True}))) == [
        {"name": "containerInsights", "value": "enabled"}
    ]


def test_execute_command_only_for_the_service_that_asks(deploy):
    # GIVEN ECS Exec on for order only
    deployed = deploy("local", local_raw(order={"enableExecuteCommand": True}))
    # THEN the machine running order starts its tasks with it, the one running customer does not
    runs = {
        m.inputs["name"]: m.json("definition")["States"]["RunTask"]["Parameters"]
        for m in deployed.of_type("aws:sfn/stateMachine:StateMachine")
    }
    assert runs["event-tasks-local-approve"]["EnableExecuteCommand"] is True
    assert "EnableExecuteCommand" not in runs["event-tasks-local-reserve"]
    # AND every run propagates the task definition's tags
    assert {p["PropagateTags"] for p in runs.values()} == {"TASK_DEFINITION"}
    # AND only order's task role may open the SSM messages channels, on '*' as AWS documents
    for service, expected in (("order", True), ("customer", False)):
        statements = deployed.named(f"{service}-task-policy").json("policy")["Statement"]
        found = [s for s in statements if s["Sid"] == "OpenExecuteCommandChannels"]
        assert found == (
            [{"Sid": "OpenExecuteCommandChannels", "Effect": "Allow", "Action": SSM, "Resource": "*"}]
            if expected
            else []
        )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (local_raw(local={"containerInsights": "sometimes"}), r"event-tasks:local\.containerInsights: 'sometimes': "),
        (
            local_raw(order={"enableExecuteCommand": "yes please"}),
            r"event-tasks:services\.order\.enableExecuteCommand: ",
        ),
    ],
)
def test_bad_operations_options_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        load_config(raw, "local", ROOT)


def test_cloud_execute_command_reaches_the_run_task_of_that_service(deploy):
    # GIVEN the cloud stack with ECS Exec on for customer (its existing task role must allow SSM)
    from test_trigger_config import ACCOUNT_ARN, SAGA
    from test_trigger_config import raw as cloud_raw

    services = {
        "order": {"taskDefinitionArn": f"{ACCOUNT_ARN}:task-definition/order:3"},
        "customer": {"taskDefinitionArn": f"{ACCOUNT_ARN}:task-definition/customer:5", "enableExecuteCommand": True},
    }
    deployed = deploy("cloud", {**cloud_raw(SAGA), "event-tasks:services": json.dumps(services)})
    # THEN both customer machines start tasks with it, on FARGATE with the tags propagated
    for machine in deployed.of_type("aws:sfn/stateMachine:StateMachine"):
        parameters = machine.json("definition")["States"]["RunTask"]["Parameters"]
        assert parameters["EnableExecuteCommand"] is True
        assert (parameters["LaunchType"], parameters["PropagateTags"]) == ("FARGATE", "TASK_DEFINITION")
