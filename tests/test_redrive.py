"""ops.redrive: dead-lettered events go back into their state machine, once each."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ops.redrive import execution_name, main, redrive

REGION = "ap-southeast-1"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


def event(event_id: str) -> dict:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "OrderCreated",
        "source": "event-tasks.order",
        "account": "123456789012",
        "time": "2026-11-29T00:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {"orderId": "o-1", "customerId": "c-1", "total": 60},
    }


@pytest.fixture
def aws():
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        machine = sfn.create_state_machine(name="reserve", definition=DEFINITION, roleArn=role)["stateMachineArn"]
        queue = sqs.create_queue(QueueName="reserve-dlq")["QueueUrl"]
        yield sqs, sfn, queue, machine


def executions(sfn, machine):
    return sorted(
        (e["name"], json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["id"])
        for e in sfn.list_executions(stateMachineArn=machine)["executions"]
    )


def test_each_dead_lettered_event_starts_one_execution_with_the_event_as_input(aws):
    # GIVEN two dead-lettered events and a message that is not an event
    sqs, sfn, queue, machine = aws
    for event_id in ("e-1", "e-2"):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event(event_id)))
    sqs.send_message(QueueUrl=queue, MessageBody="not json")
    # WHEN they are redriven
    result = redrive(sqs, sfn, queue, machine)
    # THEN each event started one execution named after it, with the event as input
    assert sorted(result.started) == ["e-1", "e-2"] and len(result.invalid) == 1
    assert executions(sfn, machine) == [("redrive-e-1", "e-1"), ("redrive-e-2", "e-2")]


def test_redriving_an_event_twice_runs_it_once(aws):
    # GIVEN an event redriven once, then dead-lettered again (its copy is back in the queue)
    sqs, sfn, queue, machine = aws
    body = json.dumps(event("e-1"))
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    redrive(sqs, sfn, queue, machine)
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    # WHEN redriven again
    result = redrive(sqs, sfn, queue, machine)
    # THEN no second execution starts (Step Functions returns the running one, or refuses the name of a
    # finished one) and the duplicate message is removed
    assert result.started + result.already_started == ["e-1"]
    assert len(executions(sfn, machine)) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)


def test_a_dry_run_changes_nothing(aws, capsys):
    # GIVEN one dead-lettered event
    sqs, sfn, queue, machine = aws
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event("e-1")))
    # WHEN the CLI runs with --dry-run
    code = main(["--queue-url", queue, "--state-machine-arn", machine, "--dry-run"])
    # THEN it reports what it would do and starts nothing
    assert code == 0
    assert "would start 1 execution(s)" in capsys.readouterr().out
    assert executions(sfn, machine) == []


def test_execution_names_are_valid_for_any_event_id():
    # THEN the name keeps Step Functions' charset and length
    assert execution_name("a:b/c d") == "redrive-a-b-c-d"
    assert len(execution_name("x" * 200)) == 80


def test_an_event_whose_execution_already_finished_is_not_run_again(aws):
    # GIVEN a dead-lettered event whose redrive execution already ran to its end
    sqs, _, queue, machine = aws
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event("e-1")))
    sfn = boto3.client("stepfunctions", region_name=REGION)
    stubber = Stubber(sfn)
    stubber.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists", http_status_code=400)
    # WHEN redriven
    with stubber:
        result = redrive(sqs, sfn, queue, machine)
    # THEN it counts as already redriven and its message is removed
    assert (result.started, result.already_started) == ([], ["e-1"])
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)
