"""`TaskSchedule`: the tick's synthetic event and the grants as exact dicts, and the component under mocks."""

import json

from components.iam import AwsContext
from components.task_schedule import TaskSchedule, TaskScheduleArgs, scheduled_event, scheduler_statements

CTX = AwsContext(partition="aws", region="ap-southeast-1", account_id="123456789012")
MACHINE_ARN = "arn:aws:states:ap-southeast-1:123456789012:stateMachine:et-test-expire"
QUEUE_ARN = "arn:aws:sqs:ap-southeast-1:123456789012:et-test-expire-dlq"


def children(mocks, typ):
    return [r for r in mocks.resources if r.typ == typ]


def schedule_args(**overrides):
    return TaskScheduleArgs(
        **{
            "aws": CTX,
            "schedule_name": "et-test-expire",
            "trigger": "expire",
            "schedule_expression": "rate(1 day)",
            "dead_letter_queue_name": "et-test-expire-dlq",
            "state_machine_arn": MACHINE_ARN,
            **overrides,
        }
    )


def test_a_tick_is_an_eventbridge_shaped_event_keyed_on_its_scheduled_time():
    # WHEN the input is rendered with the Scheduler's context attributes
    rendered = scheduled_event("expire-reservations")
    # THEN it has the fields the RunTask state reads ($.id, $.detail-type, $.source, $.detail), the
    # scheduled time as the id, and the Scheduler fills every placeholder
    assert rendered == {
        "version": "0",
        "id": "<aws.scheduler.scheduled-time>",
        "detail-type": "Scheduled",
        "source": "event-tasks.scheduler",
        "time": "<aws.scheduler.scheduled-time>",
        "resources": ["<aws.scheduler.schedule-arn>"],
        "detail": {
            "schedule": "expire-reservations",
            "scheduledTime": "<aws.scheduler.scheduled-time>",
            "executionId": "<aws.scheduler.execution-id>",
        },
    }
    # AND rendered for one concrete tick (as the sandbox fires it), the id is that time
    tick = scheduled_event("expire-reservations", "2026-11-29T03:00:00Z", "x-1", "arn:s")
    assert (tick["id"], tick["detail"]["scheduledTime"], tick["resources"]) == (
        "2026-11-29T03:00:00Z",
        "2026-11-29T03:00:00Z",
        ["arn:s"],
    )


def test_the_scheduler_may_start_one_state_machine_and_dead_letter_to_one_queue():
    assert scheduler_statements(MACHINE_ARN, QUEUE_ARN) == [
        {
            "Sid": "StartTheTargetStateMachine",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": MACHINE_ARN,
        },
        {"Sid": "DeadLetterUndeliveredTicks", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE_ARN},
    ]


def test_task_schedule_starts_the_machine_with_the_tick_as_input(mocks, evaluate):
    # WHEN a TaskSchedule is declared
    outputs = evaluate(
        lambda: {
            "arn": (s := TaskSchedule("expire", schedule_args())).arn,
            "name": s.name,
            "role": s.role_arn,
            "dlq": s.dead_letter_queue_url,
        }
    )
    (schedule,) = children(mocks, "aws:scheduler/schedule:Schedule")
    (group,) = children(mocks, "aws:scheduler/scheduleGroup:ScheduleGroup")
    (role,) = children(mocks, "aws:iam/role:Role")
    (queue,) = children(mocks, "aws:sqs/queue:Queue")
    # THEN the schedule, alone in its own group, ticks exactly on the expression in UTC
    assert group.inputs["name"] == "et-test-expire"
    assert schedule.inputs["groupName"] == "et-test-expire"
    assert schedule.inputs["scheduleExpression"] == "rate(1 day)"
    assert schedule.inputs["scheduleExpressionTimezone"] == "UTC"
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    # AND its target is the state machine, with the rendered tick as input, a DLQ and a retry policy
    target = schedule.inputs["target"]
    assert target["arn"] == MACHINE_ARN
    assert target["roleArn"] == role.state["arn"]
    assert json.loads(target["input"]) == scheduled_event("expire")
    assert target["deadLetterConfig"] == {"arn": queue.state["arn"]}
    assert target["retryPolicy"] == {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 10}
    assert outputs == {
        "arn": schedule.state["arn"],
        "name": "et-test-expire",
        "role": role.state["arn"],
        "dlq": queue.state["url"],
    }
    assert [r.typ for r in mocks.resources if not r.custom] == ["event-tasks:index:TaskSchedule"]


def test_task_schedule_grants_are_scoped_to_its_group_machine_and_queue(mocks, evaluate):
    # WHEN a schedule is declared with a custom retry policy
    evaluate(lambda: TaskSchedule("expire", schedule_args(maximum_event_age_seconds=600, maximum_retry_attempts=2)).arn)
    (group,) = children(mocks, "aws:scheduler/scheduleGroup:ScheduleGroup")
    (role,) = children(mocks, "aws:iam/role:Role")
    (policy,) = children(mocks, "aws:iam/rolePolicy:RolePolicy")
    (queue,) = children(mocks, "aws:sqs/queue:Queue")
    (queue_policy,) = children(mocks, "aws:sqs/queuePolicy:QueuePolicy")
    (schedule,) = children(mocks, "aws:scheduler/schedule:Schedule")
    # THEN only the Scheduler, for this schedule's own group in this account, assumes the role
    # (AWS documents aws:SourceArn for the Scheduler as the schedule group's ARN)
    (trust,) = role.json("assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": group.state["arn"]},
    }
    # AND the role may start only this machine and dead-letter only to this queue
    assert policy.json("policy")["Statement"] == scheduler_statements(MACHINE_ARN, queue.state["arn"])
    # AND the DLQ is encrypted, keeps 14 days, and takes messages from the schedule's role only
    assert queue.inputs["sqsManagedSseEnabled"] is True
    assert queue.inputs["messageRetentionSeconds"] == 1209600
    assert queue_policy.json("policy")["Statement"] == [
        {
            "Sid": "DeadLetterFromTheSchedule",
            "Effect": "Allow",
            "Principal": {"AWS": role.state["arn"]},
            "Action": "sqs:SendMessage",
            "Resource": queue.state["arn"],
        }
    ]
    assert schedule.inputs["target"]["retryPolicy"] == {"maximumEventAgeInSeconds": 600, "maximumRetryAttempts": 2}
