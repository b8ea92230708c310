"""What tells an operator: the alarms, the topic's and key's policies and the dashboard as exact
dicts, and the two components alone under mocks."""

import pulumi

from components.alerts import (
    StackAlerts,
    StackAlertsArgs,
    WatchedTrigger,
    dashboard_body,
    key_policy,
    topic_statements,
)
from components.iam import AwsContext
from components.trigger_alarms import TriggerAlarms, TriggerAlarmsArgs, alarm_definitions

CTX = AwsContext(partition="aws", region="ap-southeast-1", account_id="123456789012")
MACHINE = "arn:aws:states:ap-southeast-1:123456789012:stateMachine:event-tasks-test-reserve-credit"
TOPIC = "arn:aws:sns:ap-southeast-1:123456789012:event-tasks-test-alerts"
WATCHED = WatchedTrigger(
    trigger="reserve-credit",
    bus_name="event-tasks-test-order",
    rule_name="event-tasks-test-reserve-credit",
    state_machine_arn=MACHINE,
    dead_letter_queue_name="event-tasks-test-reserve-credit-dlq",
)


def alarm_args(**overrides):
    return TriggerAlarmsArgs(
        **{
            "trigger": "reserve-credit",
            "state_machine_arn": MACHINE,
            "dead_letter_queue_name": "event-tasks-test-reserve-credit-dlq",
            "failed_alarm_name": "event-tasks-test-reserve-credit-failed",
            "timed_out_alarm_name": "event-tasks-test-reserve-credit-timed-out",
            "dead_letters_alarm_name": "event-tasks-test-reserve-credit-dead-letters",
            "topic_arn": TOPIC,
            **overrides,
        }
    )


def test_the_three_alarms_fire_on_one_failure_timeout_or_dead_letter():
    # WHEN the alarms of a trigger are rendered
    alarms = alarm_definitions(alarm_args())
    # THEN each fires on one occurrence in a minute and notifies the topic, going back to OK too
    common = {
        "comparison_operator": "GreaterThanOrEqualToThreshold",
        "threshold": 1,
        "evaluation_periods": 1,
        "period": 60,
        "treat_missing_data": "notBreaching",
        "alarm_actions": [TOPIC],
        "ok_actions": [TOPIC],
    }
    assert {kind: {k: v for k, v in a.items() if k != "alarm_description"} for kind, a in alarms.items()} == {
        "failed": {
            **common,
            "name": "event-tasks-test-reserve-credit-failed",
            "namespace": "AWS/States",
            "metric_name": "ExecutionsFailed",
            "statistic": "Sum",
            "dimensions": {"StateMachineArn": MACHINE},
        },
        "timedOut": {
            **common,
            "name": "event-tasks-test-reserve-credit-timed-out",
            "namespace": "AWS/States",
            "metric_name": "ExecutionsTimedOut",
            "statistic": "Sum",
            "dimensions": {"StateMachineArn": MACHINE},
        },
        "deadLetters": {
            **common,
            "name": "event-tasks-test-reserve-credit-dead-letters",
            "namespace": "AWS/SQS",
            "metric_name": "ApproximateNumberOfMessagesVisible",
            "statistic": "Maximum",
            "dimensions": {"QueueName": "event-tasks-test-reserve-credit-dlq"},
        },
    }
    # AND every description names the trigger, so a notification says where to look
    assert all(a["alarm_description"].startswith("reserve-credit: ") for a in alarms.values())


def test_only_this_stacks_alarms_in_this_account_may_publish():
    pattern = "arn:aws:cloudwatch:ap-southeast-1:123456789012:alarm:event-tasks-test-*"
    assert topic_statements(TOPIC, "123456789012", pattern) == [
        {
            "Sid": "CloudWatchAlarmsOfThisStackPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": TOPIC,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnLike": {"aws:SourceArn": pattern},
            },
        }
    ]


def test_the_key_lets_the_account_administer_it_and_cloudwatch_encrypt(evaluate):
    # WHEN the key policy is resolved (the root ARN is formatted from the account)
    pattern = "arn:aws:cloudwatch:ap-southeast-1:123456789012:alarm:event-tasks-test-*"
    policy = evaluate(lambda: pulumi.Output.from_input(key_policy("aws", "123456789012", pattern)))
    # THEN the account keeps control of the key and only this stack's alarms may encrypt notifications
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AdministerTheKeyFromTheAccount",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "LetCloudWatchAlarmsEncryptNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": "123456789012"},
                    "ArnLike": {"aws:SourceArn": pattern},
                },
            },
        ],
    }


def test_the_dashboard_row_of_a_trigger():
    # WHEN the dashboard of one trigger is rendered
    body = dashboard_body("ap-southeast-1", [WATCHED])
    machine = ["StateMachineArn", MACHINE]

    def graph(column, title, stat, metrics):
        return {
            "type": "metric",
            "x": column * 6,
            "y": 0,
            "width": 6,
            "height": 6,
            "properties": {
                "title": f"reserve-credit: {title}",
                "region": "ap-southeast-1",
                "view": "timeSeries",
                "stat": stat,
                "period": 60,
                "metrics": metrics,
            },
        }

    # THEN its row shows events matched, executions, task duration and dead letters
    assert body == {
        "widgets": [
            graph(
                0,
                "events matched",
                "Sum",
                [
                    [
                        "AWS/Events",
                        "MatchedEvents",
                        "EventBusName",
                        "event-tasks-test-order",
                        "RuleName",
                        "event-tasks-test-reserve-credit",
                    ]
                ],
            ),
            graph(
                1,
                "executions",
                "Sum",
                [
                    ["AWS/States", "ExecutionsStarted", *machine],
                    ["AWS/States", "ExecutionsSucceeded", *machine],
                    ["AWS/States", "ExecutionsFailed", *machine],
                    ["AWS/States", "ExecutionsTimedOut", *machine],
                ],
            ),
            graph(
                2,
                "task duration (ms)",
                "Average",
                [
                    ["AWS/States", "ExecutionTime", *machine],
                    ["AWS/States", "ExecutionTime", *machine, {"stat": "Maximum"}],
                ],
            ),
            graph(
                3,
                "dead-letter queue depth",
                "Maximum",
                [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "event-tasks-test-reserve-credit-dlq"]],
            ),
        ]
    }


def test_each_trigger_gets_its_own_row():
    # GIVEN two triggers WHEN rendered THEN the second row starts below the first
    second = WatchedTrigger("approve-order", "b", "r", "m", "q")
    rows = {(w["properties"]["title"].split(":")[0], w["y"]) for w in dashboard_body("r", [WATCHED, second])["widgets"]}
    assert rows == {("reserve-credit", 0), ("approve-order", 6)}


def test_trigger_alarms_alone(mocks, evaluate):
    # WHEN the alarms of a trigger are declared
    outputs = evaluate(
        lambda: {"names": (a := TriggerAlarms("reserve-credit-alarms", alarm_args())).alarm_names, "arns": a.alarm_arns}
    )
    # THEN three alarms notify the topic, and the component exposes their names and ARNs by kind
    alarms = {r.name: r for r in mocks.resources if r.typ == "aws:cloudwatch/metricAlarm:MetricAlarm"}
    assert sorted(alarms) == [
        "reserve-credit-alarms-dead-letters",
        "reserve-credit-alarms-failed",
        "reserve-credit-alarms-timed-out",
    ]
    assert all(a.inputs["alarmActions"] == [TOPIC] for a in alarms.values())
    assert outputs["names"] == {
        "failed": "event-tasks-test-reserve-credit-failed",
        "timedOut": "event-tasks-test-reserve-credit-timed-out",
        "deadLetters": "event-tasks-test-reserve-credit-dead-letters",
    }
    assert outputs["arns"]["failed"] == alarms["reserve-credit-alarms-failed"].state["arn"]


def test_stack_alerts_alone(mocks, evaluate):
    # WHEN the stack's alerts are declared with two addresses
    args = StackAlertsArgs(
        aws=CTX,
        topic_name="event-tasks-test-alerts",
        alarm_name_prefix="event-tasks-test-",
        dashboard_name="event-tasks-test",
        triggers=[WATCHED],
        emails=["ops@example.com", "oncall@example.org"],
    )
    outputs = evaluate(lambda: {"topic": (a := StackAlerts("alerts", args)).topic_arn, "dashboard": a.dashboard_name})
    (key,) = [r for r in mocks.resources if r.typ == "aws:kms/key:Key"]
    (topic,) = [r for r in mocks.resources if r.typ == "aws:sns/topic:Topic"]
    (policy,) = [r for r in mocks.resources if r.typ == "aws:sns/topicPolicy:TopicPolicy"]
    (dashboard,) = [r for r in mocks.resources if r.typ == "aws:cloudwatch/dashboard:Dashboard"]
    subscriptions = [r for r in mocks.resources if r.typ == "aws:sns/topicSubscription:TopicSubscription"]
    # THEN the topic is encrypted with its own rotating key, and its policy names this stack's alarms
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"]
    assert key.inputs["enableKeyRotation"] is True
    assert policy.inputs["arn"] == topic.state["arn"]
    assert policy.json("policy")["Statement"][0]["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws:cloudwatch:ap-southeast-1:123456789012:alarm:event-tasks-test-*"
    }
    # AND each address is an email subscription of the topic
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions) == [
        ("email", "oncall@example.org"),
        ("email", "ops@example.com"),
    ]
    assert {s.inputs["topic"] for s in subscriptions} == {topic.state["arn"]}
    # AND the dashboard is the rendered body
    assert dashboard.json("dashboardBody") == dashboard_body("ap-southeast-1", [WATCHED])
    assert outputs == {"topic": topic.state["arn"], "dashboard": "event-tasks-test"}
