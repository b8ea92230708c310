"""The whole `cloud` stack from Pulumi.cloud.yaml under mocks: nothing but wiring, all of it correct."""

import json
from collections import Counter

import pytest
from pulumi_mocks import ACCOUNT, REGION, stack_config, task_definition_answer

from components.config import ConfigError

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
    "confirm-credit": ("order", ["OrderApproved"], "customer", ["python", "-m", "customer.confirm_credit"]),
}
# Triggers that run on a schedule, not on events: (expression, service, command).
SCHEDULED = {
    "expire-reservations": (
        "cron(0 3 * * ? *)",
        "customer",
        ["python", "-m", "customer.expire_reservations", "--older-than", "24h"],
    ),
}
# Orchestrated triggers (steps): a rule like any event trigger, starting a SagaOrchestrator.
ORCHESTRATED = {"order-saga": ("order", ["OrderRequested"])}
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
def cloud(cloud_stack):
    return cloud_stack


def test_cloud_creates_only_wiring(cloud):
    # THEN: a bus per service with its policy, archive and its rules' role, one execution log group;
    # per event trigger a rule, target, DLQ (its policy inline), state machine and its role (its
    # policy inline); per scheduled trigger a schedule in its own group, a DLQ with its policy, a
    # state machine and two roles
    counts = Counter(r.typ for r in cloud.resources if r.custom)
    triggers = len(TRIGGERS) + len(SCHEDULED) + len(ORCHESTRATED)
    rules = len(TRIGGERS) + len(ORCHESTRATED)
    buses_with_rules = {t[0] for t in TRIGGERS.values()} | {t[0] for t in ORCHESTRATED.values()}
    # AND what tells an operator: three alarms per trigger, one key-encrypted topic and one dashboard
    alerting = {typ: counts.pop(typ, 0) for typ in ALERTING_TYPES}
    assert alerting == {
        "aws:cloudwatch/metricAlarm:MetricAlarm": 3 * triggers,
        "aws:sns/topic:Topic": 1,
        "aws:sns/topicPolicy:TopicPolicy": 1,
        "aws:kms/key:Key": 1,
        "aws:cloudwatch/dashboard:Dashboard": 1,
    }
    assert counts == {
        # the one explicit provider every resource is created through (its default tags)
        "pulumi:providers:aws": 1,
        "aws:cloudwatch/eventBus:EventBus": 2,
        "aws:cloudwatch/eventBusPolicy:EventBusPolicy": 2,
        "aws:cloudwatch/eventArchive:EventArchive": 2,
        "aws:cloudwatch/eventRule:EventRule": rules,
        "aws:cloudwatch/eventTarget:EventTarget": rules,
        "aws:scheduler/scheduleGroup:ScheduleGroup": len(SCHEDULED),
        "aws:scheduler/schedule:Schedule": len(SCHEDULED),
        "aws:sqs/queue:Queue": triggers,
        "aws:sqs/queuePolicy:QueuePolicy": len(SCHEDULED),
        "aws:iam/role:Role": triggers + len(SCHEDULED) + len(buses_with_rules),
        "aws:iam/rolePolicy:RolePolicy": len(SCHEDULED),
        "aws:sfn/stateMachine:StateMachine": triggers,
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
    assert set(cloud.outputs["triggers"]) == set(TRIGGERS) | set(SCHEDULED) | set(ORCHESTRATED)
    assert cloud.outputs["triggers"]["expire-reservations"] == {
        "schedule": "event-tasks-cloud-expire-reservations",
        "scheduleArn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/event-tasks-cloud-expire-reservations/"
        "event-tasks-cloud-expire-reservations",
        "stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:event-tasks-cloud-expire-reservations",
        "deadLetterQueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/event-tasks-cloud-expire-reservations-dlq",
        "schedulerRoleArn": f"arn:aws:iam::{ACCOUNT}:role/event-tasks-cloud-expire-reservations-events",
        "stateMachineRoleArn": f"arn:aws:iam::{ACCOUNT}:role/event-tasks-cloud-expire-reservations-states",
        # every state machine, a schedule's too, logs to the stack's one execution log group
        "logGroupName": "/aws/vendedlogs/states/event-tasks-cloud",
        # A scheduled trigger is watched like any other: failed, timed-out, dead letters.
        "alarmNames": {
            "failed": "event-tasks-cloud-expire-reservations-failed",
            "timedOut": "event-tasks-cloud-expire-reservations-timed-out",
            "deadLetters": "event-tasks-cloud-expire-reservations-dead-letters",
        },
        "alarmArns": {
            kind: f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:event-tasks-cloud-expire-reservations-{suffix}"
            for kind, suffix in (("failed", "failed"), ("timedOut", "timed-out"), ("deadLetters", "dead-letters"))
        },
    }
    assert cloud.outputs["triggers"]["reject-order"] == {
        "rule": "event-tasks-cloud-reject-order",
        "ruleArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/event-tasks-cloud-customer/event-tasks-cloud-reject-order",
        # the role of the rule's bus, which every rule of the customer bus uses
        "eventsRoleArn": f"arn:aws:iam::{ACCOUNT}:role/event-tasks-cloud-customer-rules",
        "stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:event-tasks-cloud-reject-order",
        "stateMachineRoleArn": f"arn:aws:iam::{ACCOUNT}:role/event-tasks-cloud-reject-order-states",
        "logGroupName": "/aws/vendedlogs/states/event-tasks-cloud",
        "deadLetterQueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:event-tasks-cloud-reject-order-dlq",
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
    # AND per service its bus and the looked-up task definition with its two roles
    order = task_definition_answer(TASK_DEFS["order"])
    assert cloud.outputs["services"]["order"] == {
        "busName": "event-tasks-cloud-order",
        "busArn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/event-tasks-cloud-order",
        "taskDefinitionArn": TASK_DEFS["order"],
        "taskRoleArn": order["taskRoleArn"],
        "executionRoleArn": order["executionRoleArn"],
    }
    assert set(cloud.outputs["services"]) == {"order", "customer"}
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
    # Every rule's bus: single-task triggers and orchestrations (a schedule has no rule, nor bus).
    ruled = {t: b for t, (b, *_) in TRIGGERS.items()} | {t: b for t, (b, _) in ORCHESTRATED.items()}
    machines = {t: f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:event-tasks-cloud-{t}" for t in ruled}
    # GIVEN the order bus has an orchestration among its rules' targets
    assert ruled["order-saga"] == "order"
    for bus in ("order", "customer"):
        # GIVEN the bus's rules role and the targets of the rules on that bus
        role = cloud.named(f"{bus}-rules-role")
        assert role.inputs["name"] == f"event-tasks-cloud-{bus}-rules"
        targets = [cloud.named(f"{t}-trigger-target") for t, b in ruled.items() if b == bus]
        # THEN every rule of the bus uses it, and no rule of the other bus does
        assert {t.inputs["roleArn"] for t in targets} == {role.state["arn"]}
        others = [cloud.named(f"{t}-trigger-target") for t, b in ruled.items() if b != bus]
        assert role.state["arn"] not in {t.inputs["roleArn"] for t in others}
        # AND only EventBridge, for a rule of this bus in this account, may assume it
        assert role.json("assumeRolePolicy")["Statement"][0]["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/event-tasks-cloud-{bus}/*"},
        }
        # AND it may start exactly the state machines this bus's rules target: the real ARNs
        (statement,) = role.inline_policy()["Statement"]
        own = sorted(machines[t] for t, b in ruled.items() if b == bus)
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
    # AND every state machine delivers its execution logs there: a schedule's and an orchestration's too
    machines = cloud.of_type("aws:sfn/stateMachine:StateMachine")
    assert {"event-tasks-cloud-expire-reservations", "event-tasks-cloud-order-saga"} <= {
        m.inputs["name"] for m in machines
    }
    destinations = {m.inputs["loggingConfiguration"]["logDestination"] for m in machines}
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
