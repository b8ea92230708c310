"""The whole `cloud` stack from Pulumi.cloud.yaml under mocks: nothing but wiring, all of it correct."""

from collections import Counter

import pytest

from components.config import ConfigError
from conftest import ACCOUNT, REGION, stack_config, task_definition_answer

TRIGGERS = {
    "reserve-credit": ("order", ["OrderCreated"], "customer", ["python", "-m", "customer.reserve_credit"]),
    "approve-order": ("customer", ["CreditReserved"], "order", ["python", "-m", "order.approve"]),
    "reject-order": (
        "customer",
        ["CreditLimitExceeded", "CustomerValidationFailed"],
        "order",
        ["python", "-m", "order.reject"],
    ),
    "release-credit": ("order", ["OrderCancelled"], "customer", ["python", "-m", "customer.release_credit"]),
}
TASK_DEFS = {
    "order": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/order:3",
    "customer": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/customer:5",
}


@pytest.fixture
def cloud(cloud_stack):
    return cloud_stack


def test_cloud_creates_only_wiring(cloud):
    # THEN: a bus per service, and per trigger a rule, target, DLQ, state machine and two roles
    counts = Counter(r.typ for r in cloud.resources if r.custom)
    assert counts == {
        "aws:cloudwatch/eventBus:EventBus": 2,
        "aws:cloudwatch/eventRule:EventRule": 4,
        "aws:cloudwatch/eventTarget:EventTarget": 4,
        "aws:sqs/queue:Queue": 4,
        "aws:sqs/queuePolicy:QueuePolicy": 4,
        "aws:iam/role:Role": 8,
        "aws:iam/rolePolicy:RolePolicy": 8,
        "aws:sfn/stateMachine:StateMachine": 4,
        "aws:cloudwatch/logGroup:LogGroup": 4,
    }
    # AND no compute: the cluster and task definitions are looked up, never created
    assert not [r for r in cloud.resources if r.typ.startswith(("aws:ecs/", "aws:ec2/", "awsx:"))]


def test_every_target_is_bound_to_its_bus_with_role_dlq_and_retry(cloud):
    machines = {r.inputs["name"]: r for r in cloud.of_type("aws:sfn/stateMachine:StateMachine")}
    for trigger, (bus, detail_types, _, _) in TRIGGERS.items():
        # GIVEN the trigger's rule, target, DLQ and events role
        rule = cloud.named(f"{trigger}-trigger-rule")
        target = cloud.named(f"{trigger}-trigger-target")
        queue = cloud.named(f"{trigger}-trigger-dlq")
        role = cloud.named(f"{trigger}-trigger-role")
        bus_name = f"event-tasks-cloud-{bus}"
        # THEN the rule lives on the emitting service's bus and matches the detail-types
        assert rule.inputs["name"] == f"event-tasks-cloud-{trigger}"
        assert rule.inputs["eventBusName"] == bus_name
        assert rule.json("eventPattern") == {"detail-type": detail_types}
        # AND the target names the same bus and starts this trigger's state machine
        assert target.inputs["eventBusName"] == bus_name
        assert target.inputs["arn"] == machines[f"event-tasks-cloud-{trigger}"].state["arn"]
        assert target.inputs["roleArn"] == role.state["arn"]
        assert target.inputs["deadLetterConfig"] == {"arn": queue.state["arn"]}
        assert target.inputs["retryPolicy"] == {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 10}


def test_every_state_machine_runs_the_looked_up_task_on_fargate(cloud):
    for trigger, (_, _, service, command) in TRIGGERS.items():
        # GIVEN the trigger's state machine and its role policy
        machine = cloud.named(f"{trigger}-run-task-state-machine")
        policy = cloud.named(f"{trigger}-run-task-policy")
        parameters = machine.json("definition")["States"]["RunTask"]["Parameters"]
        # THEN it runs the configured revision on the shared cluster, on FARGATE in the subnets
        assert parameters["Cluster"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/shared"
        assert parameters["TaskDefinition"] == TASK_DEFS[service]
        assert parameters["LaunchType"] == "FARGATE"
        assert parameters["NetworkConfiguration"] == {
            "AwsvpcConfiguration": {
                "Subnets": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
                "SecurityGroups": ["sg-0c1d2e3f"],
                "AssignPublicIp": "DISABLED",
            }
        }
        override = parameters["Overrides"]["ContainerOverrides"][0]
        assert override["Name"] == service and override["Command"] == command
        # AND only order overrides the task size (config gives cpu/memory for order only)
        assert ("Cpu" in parameters["Overrides"]) == (service == "order")
        # AND its role may run exactly that revision and pass exactly the looked-up roles
        statements = {s["Sid"]: s for s in policy.json("policy")["Statement"]}
        assert statements["RunTheTaskDefinitionRevision"]["Resource"] == TASK_DEFS[service]
        answer = task_definition_answer(TASK_DEFS[service])
        assert statements["PassTaskRolesToEcs"]["Resource"] == sorted(
            [answer["taskRoleArn"], answer["executionRoleArn"]]
        )


def test_outputs_name_every_bus_and_trigger(cloud):
    # THEN per service its bus, per trigger its rule, state machine and DLQ URL
    assert cloud.outputs["environment"] == "cloud"
    assert cloud.outputs["buses"]["order"] == {
        "name": "event-tasks-cloud-order",
        "arn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/event-tasks-cloud-order",
    }
    assert set(cloud.outputs["triggers"]) == set(TRIGGERS)
    assert cloud.outputs["triggers"]["reject-order"] == {
        "rule": "event-tasks-cloud-reject-order",
        "ruleArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/event-tasks-cloud-customer/event-tasks-cloud-reject-order",
        "stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:event-tasks-cloud-reject-order",
        "deadLetterQueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/event-tasks-cloud-reject-order-dlq",
    }


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            {"containerDefinitions": '[{"name": "web"}]'},
            r"services\.customer\.containerName: 'customer' is not a container of .*containers are: web",
        ),
        ({"requiresCompatibilities": ["EC2"]}, r"services\.customer\.taskDefinitionArn: .* is not Fargate-compatible"),
        ({"networkMode": "bridge"}, r"services\.customer\.taskDefinitionArn: .* network mode 'bridge'"),
        (
            {"status": "INACTIVE"},
            r"services\.customer\.taskDefinitionArn: .*customer:5 is INACTIVE; ECS runs no new task",
        ),
    ],
)
def test_a_task_definition_that_cannot_run_fails_before_anything_is_registered(deploy, mocks, answer, message):
    # GIVEN the existing customer task definition does not fit the cloud stack
    arn = TASK_DEFS["customer"]
    mocks.task_definitions[arn] = {**task_definition_answer(arn), **answer}
    # WHEN the program runs THEN it fails naming the key
    with pytest.raises(ConfigError, match=message):
        deploy("cloud", stack_config("cloud"))
    # AND nothing was registered
    assert [r.typ for r in mocks.resources] == []


def test_an_inactive_cluster_fails_before_anything_is_registered(deploy, mocks):
    # GIVEN the shared cluster was deleted
    mocks.cluster_status = "INACTIVE"
    # WHEN / THEN
    with pytest.raises(ConfigError, match=r"cloud\.clusterArn: cluster 'shared' is INACTIVE"):
        deploy("cloud")
    assert mocks.resources == []


def test_a_missing_cluster_fails_naming_the_key(deploy, mocks):
    # GIVEN the shared cluster does not exist
    mocks.cluster_status = None
    # WHEN / THEN the program fails naming the key, before registering anything
    with pytest.raises(ConfigError, match=r"event-tasks:cloud\.clusterArn: cluster 'shared' is not found"):
        deploy("cloud")
    assert mocks.resources == []


def test_a_missing_task_definition_fails_naming_its_arn(deploy, mocks):
    # GIVEN the configured customer revision does not exist
    mocks.task_definitions[TASK_DEFS["customer"]] = None
    # WHEN / THEN the lookup's error stops the program before any resource is registered
    with pytest.raises(
        Exception,
        match=r"reading ECS Task Definition \(arn:aws:ecs:ap-southeast-1:123456789012:task-definition/customer:5\)",
    ):
        deploy("cloud")
    assert mocks.resources == []
