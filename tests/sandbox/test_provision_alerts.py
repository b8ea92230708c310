"""The alerting resources are created in the emulator as the program declares them: every trigger's
three alarms notify the stack's topic, the topic is encrypted and takes the configured emails, the
dashboard covers every trigger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from components.config import load_config
from sandbox.emulator import Emulator, start_in_process
from sandbox.provision import PROJECT_ROOT, ProvisioningMocks, Recording, evaluate_program

REGION = "us-east-1"
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
        "taskRetries": 0,
    },
}


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[Emulator, Recording]]:
    """A two-trigger local stack with one alert address, created in the in-process emulator."""
    raw = {
        "aws:region": REGION,
        "event-tasks:environment": "local",
        "event-tasks:services": json.dumps({"order": {}, "customer": {}}),
        "event-tasks:triggers": json.dumps(TRIGGERS),
        "event-tasks:alerts": json.dumps({"email": ["ops@example.com"]}),
    }
    config = load_config(raw, "alerting", PROJECT_ROOT)
    emulator = start_in_process(REGION)
    try:
        recording = evaluate_program(ProvisioningMocks(emulator.boto3_client, REGION), config)
        yield emulator, recording
    finally:
        emulator.stop()


def alarms(emulator: Emulator) -> dict[str, dict[str, Any]]:
    found = emulator.boto3_client("cloudwatch").describe_alarms(AlarmNamePrefix="event-tasks-alerting-")
    return {a["AlarmName"]: a for a in found["MetricAlarms"]}


def test_every_trigger_has_its_three_alarms_wired_to_the_topic(deployed):
    emulator, recording = deployed
    topic = recording.outputs["alertsTopicArn"]
    machines = {t: recording.outputs["triggers"][t]["stateMachineArn"] for t in TRIGGERS}
    # THEN each trigger's alarms exist in the emulator, watch its machine or queue and notify the topic
    created = alarms(emulator)
    for trigger, machine in machines.items():
        prefix = f"event-tasks-alerting-{trigger}"
        watched = {
            f"{prefix}-failed": ("AWS/States", "ExecutionsFailed", [{"Name": "StateMachineArn", "Value": machine}]),
            f"{prefix}-timed-out": (
                "AWS/States",
                "ExecutionsTimedOut",
                [{"Name": "StateMachineArn", "Value": machine}],
            ),
            f"{prefix}-dead-letters": (
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                [{"Name": "QueueName", "Value": f"{prefix}-dlq"}],
            ),
        }
        for name, (namespace, metric, dimensions) in watched.items():
            alarm = created[name]
            assert (alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"]) == (namespace, metric, dimensions)
            assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1.0, "GreaterThanOrEqualToThreshold")
            assert alarm["AlarmActions"] == [topic]
        # AND the outputs name them
        assert recording.outputs["triggers"][trigger]["alarmArns"] == {
            kind: created[f"{prefix}-{suffix}"]["AlarmArn"]
            for kind, suffix in (("failed", "failed"), ("timedOut", "timed-out"), ("deadLetters", "dead-letters"))
        }
    assert len(created) == 3 * len(TRIGGERS)


def test_the_topic_is_encrypted_takes_the_emails_and_only_this_stacks_alarms(deployed):
    emulator, recording = deployed
    sns = emulator.boto3_client("sns")
    topic = recording.outputs["alertsTopicArn"]
    # THEN the topic is encrypted with the stack's own key
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    (key,) = recording.of_type("aws:kms/key:Key")
    assert attributes["KmsMasterKeyId"] == key.state["arn"]
    # AND only CloudWatch alarms of this stack in this account may publish
    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:event-tasks-alerting-*"
    }
    # AND the configured address is subscribed by email
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]


def test_the_dashboard_covers_every_trigger(deployed):
    emulator, recording = deployed
    # WHEN the dashboard the outputs name is read back
    name = recording.outputs["dashboardName"]
    body = json.loads(emulator.boto3_client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])
    # THEN it has the four graphs of every trigger
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == [
        f"{trigger}: {graph}"
        for trigger in sorted(TRIGGERS)
        for graph in ("events matched", "executions", "task duration (ms)", "dead-letter queue depth")
    ]
    # AND nothing of the alerting was only recorded
    assert not {
        "aws:kms/key:Key",
        "aws:sns/topic:Topic",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/dashboard:Dashboard",
    } & set(recording.recorded_only)
