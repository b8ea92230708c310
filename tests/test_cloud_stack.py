"""The whole `cloud` stack from Pulumi.cloud.yaml under mocks: nothing but wiring, all of it correct."""

import json
from collections import Counter

import pytest

from components.config import ConfigError
from conftest import ACCOUNT, REGION, stack_config, task_definition_answer

TRIGGERS = {
    "reserve-credit": ("order", ["OrderCreated"], "customer", ["python", "-m", "customer.reserve_credit"]),
    "approve-order": ("customer", ["CreditReserved"], "order", ["python", "-m", "order.approve"]),
    "reject-order": (
        "customer",
        ["CreditLimitExceeded", "CustomerValidationFailed", "ReserveCreditFailed"],
        "order",
        ["python", "-m", "order.reject"],
    ),
    "reject-failed-order": (
        "order",
        ["ApproveOrderFailed", "RejectOrderFailed"],
        "order",
        ["python", "-m", "order.reject"],
    ),
    "release-credit": (
        "order",
        ["OrderCancelled", "OrderRejected"],
        "customer",
        ["python", "-m", "customer.release_credit"],
    ),
    "release-failed-credit": (
        "customer",
        ["ReleaseCreditFailed"],
        "customer",
        ["python", "-m", "customer.release_credit"],
    ),
}
TASK_DEFS = {
    "order": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/order:3",
    "customer": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/customer:5",
}


ALERTING_TYPES = (
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:sns/topic:Topic",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:kms/key:Key",
    "aws:cloudwatch/dashboard:Dashboard",
)


@pytest.fixture
def cloud(deploy):
    return deploy("cloud")


def test_cloud_creates_only_wiring(cloud):
    # THEN: a bus per service with its policy and its rules' role, one execution log group, and per
    # trigger a rule, target, DLQ (its policy inline), state machine and its role (its policy inline)
    counts = Counter(r.typ for r in cloud.resources if r.custom)
    # AND what tells an operator: three alarms per trigger, one key-encrypted topic and one dashboard
    alerting = {typ: counts.pop(typ, 0) for typ in ALERTING_TYPES}
    assert alerting == {
        "aws:cloudwatch/metricAlarm:MetricAlarm": 3 * counts["aws:cloudwatch/eventRule:EventRule"],
        "aws:sns/topic:Topic": 1,
        "aws:sns/topicPolicy:TopicPolicy": 1,
        "aws:kms/key:Key": 1,
        "aws:cloudwatch/dashboard:Dashboard": 1,
    }
    assert counts == {
        "aws:cloudwatch/eventBus:EventBus": 2,
        "aws:cloudwatch/eventBusPolicy:EventBusPolicy": 2,
        "aws:cloudwatch/eventRule:EventRule": 6,
        "aws:cloudwatch/eventTarget:EventTarget": 6,
        "aws:sqs/queue:Queue": 6,
        "aws:iam/role:Role": 6 + 2,
        "aws:sfn/stateMachine:StateMachine": 6,
        "aws:cloudwatch/logGroup:LogGroup": 1,
    }
    # AND no compute: the cluster and task definitions are looked up, never created
    assert not [r for r in cloud.resources if r.typ.startswith(("aws:ecs/", "aws:ec2/", "awsx:"))]


def test_every_target_is_bound_to_its_bus_with_role_dlq_and_retry(cloud):
    machines = {r.inputs["name"]: r for r in cloud.of_type("aws:sfn/stateMachine:StateMachine")}
    for trigger, (bus, detail_types, _, _) in TRIGGERS.items():
        # GIVEN the trigger's rule, target, DLQ and the events role of the rule's bus
        rule = cloud.named(f"{trigger}-trigger-rule")
        target = cloud.named(f"{trigger}-trigger-target")
        queue = cloud.named(f"{trigger}-trigger-dlq")
        role = cloud.named(f"{bus}-rules-role")
        bus_name = f"event-tasks-cloud-{bus}"
        # THEN the rule lives on the emitting service's bus and matches the detail-types from that
        # service's source
        assert rule.inputs["name"] == f"event-tasks-cloud-{trigger}"
        assert rule.inputs["eventBusName"] == bus_name
        assert rule.json("eventPattern") == {"source": [f"event-tasks.{bus}"], "detail-type": detail_types}
        # AND the target names the same bus and starts this trigger's state machine
        assert target.inputs["eventBusName"] == bus_name
        assert target.inputs["arn"] == machines[f"event-tasks-cloud-{trigger}"].state["arn"]
        assert target.inputs["roleArn"] == role.state["arn"]
        assert target.inputs["deadLetterConfig"] == {"arn": queue.state["arn"]}
        assert target.inputs["retryPolicy"] == {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 10}


def test_every_state_machine_runs_the_looked_up_task_on_fargate(cloud):
    for trigger, (_, _, service, command) in TRIGGERS.items():
        # GIVEN the trigger's state machine and its role's policy
        machine = cloud.named(f"{trigger}-run-task-state-machine")
        policy = cloud.named(f"{trigger}-run-task-role").inline_policy()
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
        statements = {s["Sid"]: s for s in policy["Statement"]}
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
        "alarmNames": {
            "failed": "event-tasks-cloud-reject-order-failed",
            "timedOut": "event-tasks-cloud-reject-order-timed-out",
            "deadLetters": "event-tasks-cloud-reject-order-dead-letters",
        },
        "alarmArns": {
            "failed": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:event-tasks-cloud-reject-order-failed",
            "timedOut": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:event-tasks-cloud-reject-order-timed-out",
            "deadLetters": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:event-tasks-cloud-reject-order-dead-letters",
        },
    }
    # AND the stack's alerts topic and dashboard
    assert cloud.outputs["alertsTopicArn"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:event-tasks-cloud-alerts"
    assert cloud.outputs["dashboardName"] == "event-tasks-cloud"


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


def test_every_trigger_has_its_three_alarms_on_the_topic_and_a_dashboard_row(cloud):
    topic = cloud.outputs["alertsTopicArn"]
    (topic_resource,) = cloud.of_type("aws:sns/topic:Topic")
    assert topic == topic_resource.state["arn"]
    alarms = {r.inputs["name"]: r for r in cloud.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    for trigger, out in cloud.outputs["triggers"].items():
        # GIVEN the trigger's alarms as the outputs name them (scoped by stack and trigger)
        assert out["alarmNames"]["failed"] == f"event-tasks-cloud-{trigger}-failed"
        failed, timed_out, dead = (alarms[out["alarmNames"][k]] for k in ("failed", "timedOut", "deadLetters"))
        # THEN they watch its state machine and its dead-letter queue, and notify the stack's topic
        assert failed.inputs["dimensions"] == {"StateMachineArn": out["stateMachineArn"]}
        assert timed_out.inputs["dimensions"] == {"StateMachineArn": out["stateMachineArn"]}
        assert dead.inputs["dimensions"] == {"QueueName": out["deadLetterQueueUrl"].rsplit("/", 1)[1]}
        assert {a.inputs["metricName"] for a in (failed, timed_out, dead)} == {
            "ExecutionsFailed",
            "ExecutionsTimedOut",
            "ApproximateNumberOfMessagesVisible",
        }
        assert all(a.inputs["alarmActions"] == [topic] for a in (failed, timed_out, dead))
    # AND the dashboard has a row for every trigger
    (dashboard,) = cloud.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert dashboard.inputs["dashboardName"] == cloud.outputs["dashboardName"]
    rows = {w["properties"]["title"].split(":")[0] for w in dashboard.json("dashboardBody")["widgets"]}
    assert rows == set(cloud.outputs["triggers"])


def test_each_bus_has_one_rules_role_for_its_rules_starting_only_their_state_machines(cloud):
    machines = {t: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:event-tasks-cloud-{t}" for t in TRIGGERS}
    for bus in ("order", "customer"):
        # GIVEN the bus's rules role and the targets of the rules on that bus
        role = cloud.named(f"{bus}-rules-role")
        targets = [cloud.named(f"{t}-trigger-target") for t, (b, *_) in TRIGGERS.items() if b == bus]
        # THEN every rule of the bus uses it, and no rule of the other bus does
        assert {t.inputs["roleArn"] for t in targets} == {role.state["arn"]}
        others = [cloud.named(f"{t}-trigger-target") for t, (b, *_) in TRIGGERS.items() if b != bus]
        assert role.state["arn"] not in {t.inputs["roleArn"] for t in others}
        # AND only EventBridge, for a rule of this bus in this account, may assume it
        assert role.json("assumeRolePolicy")["Statement"][0]["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/event-tasks-cloud-{bus}/*"},
        }
        # AND it may start exactly the state machines this bus's rules target: the real ARNs
        (statement,) = role.inline_policy()["Statement"]
        own = sorted(machines[t] for t, (b, *_) in TRIGGERS.items() if b == bus)
        assert statement == {
            "Sid": "StartTheTargetStateMachines",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": own,
        }
        assert own == sorted(t.inputs["arn"] for t in targets)


def test_every_state_machine_logs_to_the_one_execution_log_group_of_the_stack(cloud):
    # GIVEN the stack's one log group
    (logs,) = cloud.of_type("aws:cloudwatch/logGroup:LogGroup")
    # THEN it is the vended-logs group named for the stack, kept as configured
    assert logs.inputs["name"] == "/aws/vendedlogs/states/event-tasks-cloud"
    assert logs.inputs["retentionInDays"] == 14
    # AND every state machine delivers its execution logs there
    destinations = {
        m.inputs["loggingConfiguration"]["logDestination"] for m in cloud.of_type("aws:sfn/stateMachine:StateMachine")
    }
    assert destinations == {f"{logs.state['arn']}:*"}


def wiring(resources):
    """Per type, the resources and components a stack registers, alarms aside."""
    return Counter(r.typ for r in resources if "metricAlarm" not in r.typ and not r.typ.endswith("TriggerAlarms"))


def test_a_trigger_adds_at_most_seven_wiring_resources_and_widens_only_its_bus_role(deploy, mocks):
    # GIVEN the cloud stack, and the same stack with one more trigger on the order bus
    raw = stack_config("cloud")
    before = wiring(deploy("cloud", raw).resources)
    before_role = mocks.resources[[r.name for r in mocks.resources].index("customer-rules-role")].inline_policy()
    mocks.resources.clear()
    triggers = json.loads(raw["event-tasks:triggers"])
    triggers["audit-order"] = {**triggers["reserve-credit"], "detailTypes": ["OrderApproved"]}
    after_stack = deploy("cloud", {**raw, "event-tasks:triggers": json.dumps(triggers)})
    # WHEN the two are compared
    added = wiring(after_stack.resources) - before
    # THEN the trigger added its rule, target and DLQ, its state machine and role, and their two
    # components: seven in all, nothing per bus or per stack
    assert added == {
        "aws:cloudwatch/eventRule:EventRule": 1,
        "aws:cloudwatch/eventTarget:EventTarget": 1,
        "aws:sqs/queue:Queue": 1,
        "aws:sfn/stateMachine:StateMachine": 1,
        "aws:iam/role:Role": 1,
        "event-tasks:index:TaskTriggerRule": 1,
        "event-tasks:index:RunTaskStateMachine": 1,
    }
    assert sum(added.values()) <= 7
    # AND the order bus's role may now start its state machine too, the customer bus's role still not
    (statement,) = after_stack.named("order-rules-role").inline_policy()["Statement"]
    assert f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:event-tasks-cloud-audit-order" in statement["Resource"]
    assert after_stack.named("customer-rules-role").inline_policy() == before_role
