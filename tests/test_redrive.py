"""ops.redrive: a trigger's dead-lettered events go back into its state machine, once each; everything
else stays in the queue, visible; every error is one line."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from ops import aws as ops_aws
from ops.redrive import execution_name, main, redrive
from sandbox.emulator import start_in_process

REGION = "ap-southeast-1"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
OTHER_MACHINE = f"arn:aws:states:{REGION}:123456789012:stateMachine:approve"
# Fast polls: moto's long poll really waits, and these queues are drained at once.
FAST = ["--wait-seconds", "0", "--max-wait", "0"]


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


def dead_letter(sqs, queue: str, body: str, target: str | None) -> str:
    """A message as EventBridge dead-letters it (the sandbox emulator's `_dead_letter` sends the same)."""
    attributes = {
        "RULE_ARN": f"arn:aws:events:{REGION}:123456789012:rule/order-bus/reserve",
        "ERROR_CODE": "SDK_CLIENT_ERROR",
        "ERROR_MESSAGE": "Throttling",
    }
    if target is not None:
        attributes["TARGET_ARN"] = target
    return sqs.send_message(
        QueueUrl=queue,
        MessageBody=body,
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )["MessageId"]


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


def counts(sqs, queue) -> tuple[int, int]:
    """(visible, not visible) messages in the queue."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_each_dead_lettered_event_starts_one_execution_with_the_event_as_input(aws):
    # GIVEN two dead-lettered events for the state machine and a message for it that is not an event
    sqs, sfn, queue, machine = aws
    for event_id in ("e-1", "e-2"):
        dead_letter(sqs, queue, json.dumps(event(event_id)), machine)
    junk = dead_letter(sqs, queue, "not json", machine)
    # WHEN they are redriven
    result = redrive(sqs, sfn, queue, machine, wait_seconds=0)
    # THEN each event started one execution named after it, with the event as input; the junk stays, visible
    assert sorted(result.started) == ["e-1", "e-2"] and result.invalid == [junk]
    assert executions(sfn, machine) == [("redrive-e-1", "e-1"), ("redrive-e-2", "e-2")]
    assert result.drained and counts(sqs, queue) == (1, 0)


def test_only_messages_whose_target_is_the_state_machine_are_redriven_the_others_stay_visible(aws, capsys):
    # GIVEN a queue holding events for this state machine, for another one, and one without TARGET_ARN
    sqs, sfn, queue, machine = aws
    dead_letter(sqs, queue, json.dumps(event("mine-1")), machine)
    other = dead_letter(sqs, queue, json.dumps(event("other-1")), OTHER_MACHINE)
    dead_letter(sqs, queue, json.dumps(event("mine-2")), machine)
    untargeted = dead_letter(sqs, queue, json.dumps(event("none-1")), None)
    # WHEN the CLI redrives the queue into this state machine
    code = main(["--queue-url", queue, "--state-machine-arn", machine, *FAST])
    # THEN only its own events started it; the others are reported and visible again at once
    out = capsys.readouterr().out
    assert code == 0
    assert executions(sfn, machine) == [("redrive-mine-1", "mine-1"), ("redrive-mine-2", "mine-2")]
    assert f"left message {other}: its TARGET_ARN is {OTHER_MACHINE}" in out
    assert f"left message {untargeted}: it has no TARGET_ARN attribute" in out
    assert counts(sqs, queue) == (2, 0)
    bodies = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["id"] for m in bodies) == ["none-1", "other-1"]


def test_a_dry_run_hides_nothing_so_a_real_run_right_after_redrives_everything(aws, capsys):
    # GIVEN three dead-lettered events
    sqs, sfn, queue, machine = aws
    for event_id in ("e-1", "e-2", "e-3"):
        dead_letter(sqs, queue, json.dumps(event(event_id)), machine)
    # WHEN the CLI runs with --dry-run
    code = main(["--queue-url", queue, "--state-machine-arn", machine, "--dry-run", *FAST])
    # THEN it reports what it would do, starts nothing, and leaves every message visible at once
    assert code == 0
    assert "would start 3 execution(s)" in capsys.readouterr().out
    assert executions(sfn, machine) == []
    assert counts(sqs, queue) == (3, 0)
    # AND WHEN a real run follows at once
    code = main(["--queue-url", queue, "--state-machine-arn", machine, *FAST])
    # THEN every event is redriven and the queue is empty
    assert code == 0
    assert [event_id for _, event_id in executions(sfn, machine)] == ["e-1", "e-2", "e-3"]
    assert counts(sqs, queue) == (0, 0)


def test_more_messages_than_one_receive_returns_are_all_redriven(aws):
    # GIVEN 25 dead-lettered events (a receive returns at most 10) and 3 for another target among them
    sqs, sfn, queue, machine = aws
    for n in range(25):
        dead_letter(sqs, queue, json.dumps(event(f"e-{n:02d}")), machine)
        if n % 10 == 0:
            dead_letter(sqs, queue, json.dumps(event(f"x-{n:02d}")), OTHER_MACHINE)
    # WHEN redriven
    result = redrive(sqs, sfn, queue, machine, wait_seconds=0)
    # THEN all 25 started, the queue drained down to the 3 left, visible
    assert sorted(result.started) == [f"e-{n:02d}" for n in range(25)]
    assert len(executions(sfn, machine)) == 25 and len(result.left) == 3
    assert result.drained and counts(sqs, queue) == (3, 0)


def test_a_message_held_by_another_consumer_keeps_the_run_waiting_then_it_says_so(aws, capsys):
    # GIVEN one event another consumer has just received (invisible to us for a minute) and one visible
    sqs, sfn, queue, machine = aws
    dead_letter(sqs, queue, json.dumps(event("e-1")), machine)
    sqs.receive_message(QueueUrl=queue, VisibilityTimeout=60)
    dead_letter(sqs, queue, json.dumps(event("e-2")), machine)
    # WHEN the CLI redrives with a short --max-wait
    code = main(["--queue-url", queue, "--state-machine-arn", machine, "--wait-seconds", "0", "--max-wait", "0.2"])
    # THEN it redrives what it can see, but does not claim the queue is empty: exit 1, one line to stderr
    captured = capsys.readouterr()
    assert code == 1
    assert executions(sfn, machine) == [("redrive-e-2", "e-2")]
    assert captured.err.strip().splitlines() == [
        "error: the queue still counts 1 message(s) after --max-wait 0.2s (held by another consumer or a running "
        "redrive); run again once they are visible"
    ]


def test_two_redrives_at_once_run_each_event_once_and_both_see_the_queue_drain(aws):
    # GIVEN 30 dead-lettered events, one of them twice
    sqs, sfn, queue, machine = aws
    for n in range(30):
        dead_letter(sqs, queue, json.dumps(event(f"e-{n:02d}")), machine)
    dead_letter(sqs, queue, json.dumps(event("e-07")), machine)
    # WHEN two operators redrive the same queue at the same time
    with ThreadPoolExecutor(2) as pool:
        twins = [pool.submit(redrive, sqs, sfn, queue, machine, wait_seconds=0, max_wait=10) for _ in range(2)]
        first, second = (twin.result() for twin in twins)
    # THEN each event ran once, and each run waited for the other's messages to go. Both runs may handle
    # the same event (the duplicate's two copies, or one copy SQS delivers to both: standard queues are
    # at least once); Step Functions answers a start of a running execution's name and input with it.
    assert [event_id for _, event_id in executions(sfn, machine)] == [f"e-{n:02d}" for n in range(30)]
    handled = first.started + first.already_started + second.started + second.already_started
    assert set(handled) == {f"e-{n:02d}" for n in range(30)} and len(handled) >= 31
    assert first.drained and second.drained and counts(sqs, queue) == (0, 0)


def test_max_stops_early_and_leaves_the_rest_visible(aws, capsys):
    # GIVEN 12 dead-lettered events
    sqs, sfn, queue, machine = aws
    for n in range(12):
        dead_letter(sqs, queue, json.dumps(event(f"e-{n:02d}")), machine)
    # WHEN the CLI redrives at most 5
    code = main(["--queue-url", queue, "--state-machine-arn", machine, "--max", "5", *FAST])
    # THEN 5 started, it says more may remain, and the other 7 are visible at once
    assert code == 0
    assert len(executions(sfn, machine)) == 5
    assert "stopped after --max 5 event(s)" in capsys.readouterr().out
    assert counts(sqs, queue) == (7, 0)


def test_redriving_an_event_twice_runs_it_once(aws):
    # GIVEN an event redriven once, then dead-lettered again (its copy is back in the queue)
    sqs, sfn, queue, machine = aws
    body = json.dumps(event("e-1"))
    dead_letter(sqs, queue, body, machine)
    redrive(sqs, sfn, queue, machine, wait_seconds=0)
    dead_letter(sqs, queue, body, machine)
    # WHEN redriven again
    result = redrive(sqs, sfn, queue, machine, wait_seconds=0)
    # THEN no second execution starts (Step Functions returns the running one, or refuses the name of a
    # finished one) and the duplicate message is removed
    assert result.started + result.already_started == ["e-1"]
    assert len(executions(sfn, machine)) == 1
    assert counts(sqs, queue) == (0, 0)


def test_an_event_whose_execution_already_finished_is_not_run_again(aws):
    # GIVEN a dead-lettered event whose redrive execution already ran to its end
    sqs, _, queue, machine = aws
    dead_letter(sqs, queue, json.dumps(event("e-1")), machine)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    stubber = Stubber(sfn)
    stubber.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists", http_status_code=400)
    # WHEN redriven
    with stubber:
        result = redrive(sqs, sfn, queue, machine, wait_seconds=0)
    # THEN it counts as already redriven and its message is removed
    assert (result.started, result.already_started) == ([], ["e-1"])
    assert counts(sqs, queue) == (0, 0)


def test_a_run_cut_short_by_an_error_leaves_every_message_it_did_not_redrive_visible(aws, monkeypatch, capsys):
    # GIVEN two dead-lettered events, and credentials that may not start the state machine
    sqs, _, queue, machine = aws
    for event_id in ("e-1", "e-2"):
        dead_letter(sqs, queue, json.dumps(event(event_id)), machine)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    stubber = Stubber(sfn)
    stubber.add_response("describe_state_machine", _described(machine))
    stubber.add_client_error(
        "start_execution",
        service_error_code="AccessDeniedException",
        service_message="User: x is not authorized to perform: states:StartExecution",
        http_status_code=400,
    )
    monkeypatch.setattr(ops_aws, "clients", lambda region, *services: [sqs, sfn])
    # WHEN the CLI redrives
    with stubber:
        code = main(["--queue-url", queue, "--state-machine-arn", machine, *FAST])
    # THEN one line names the refused call and the fix, exit 1, and both messages are visible again
    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: StartExecution was refused (AccessDeniedException): User: x is not authorized to perform: "
        "states:StartExecution; use credentials allowed to call it on this resource"
    ]
    assert counts(sqs, queue) == (2, 0)


def _described(machine: str) -> dict:
    return {
        "stateMachineArn": machine,
        "name": "reserve",
        "definition": DEFINITION,
        "roleArn": "arn:aws:iam::123456789012:role/sfn",
        "type": "STANDARD",
        "creationDate": "2026-11-29T00:00:00Z",
    }


def test_the_region_comes_from_the_arn_when_none_is_configured(aws, monkeypatch, tmp_path, capsys):
    # GIVEN no region anywhere boto3 looks (no env, an empty AWS config)
    sqs, sfn, queue, machine = aws
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    dead_letter(sqs, queue, json.dumps(event("e-1")), machine)
    # WHEN the CLI runs
    code = main(["--queue-url", queue, "--state-machine-arn", machine, *FAST])
    # THEN it works in the ARN's region, with no NoRegionError
    assert code == 0, capsys.readouterr().err
    assert executions(sfn, machine) == [("redrive-e-1", "e-1")]


def test_without_any_region_the_error_says_how_to_set_one(monkeypatch, tmp_path):
    # GIVEN no region anywhere boto3 looks, and no resource naming one (an emulator's queue URL)
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    # WHEN the region is resolved
    # THEN one line says where boto3 reads it from
    with pytest.raises(ops_aws.OpsError, match=r"^no AWS region configured; set AWS_REGION \(or AWS_DEFAULT_REGION"):
        ops_aws.resolve_region(ops_aws.queue_region("http://localhost:5000/123456789012/q"))


def test_the_configured_region_is_used_when_the_resources_do_not_name_one(monkeypatch):
    # GIVEN only AWS_REGION (the case that crashed with NoRegionError before)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    # THEN boto3's own resolution finds it, and an AWS queue URL names its own region
    assert ops_aws.resolve_region(None) == "eu-west-3"
    assert ops_aws.queue_region("https://sqs.us-east-2.amazonaws.com/123456789012/q") == "us-east-2"
    assert ops_aws.queue_region("https://us-west-1.queue.amazonaws.com/123456789012/q") == "us-west-1"


@pytest.mark.parametrize(
    ("queue", "arn", "message"),
    [
        (
            "https://sqs.ap-southeast-1.amazonaws.com/123456789012/q",
            "reserve",
            "error: --state-machine-arn: 'reserve' is not a state machine ARN; expected "
            "arn:aws:states:<region>:<account>:stateMachine:<name> (output stateMachineArn)",
        ),
        (
            "https://sqs.ap-southeast-1.amazonaws.com/123456789012/q",
            f"arn:aws:states:{REGION}:123456789012:execution:reserve:e-1",
            f"error: --state-machine-arn: 'arn:aws:states:{REGION}:123456789012:execution:reserve:e-1' is an execution "
            "ARN; give the state machine's ARN (output stateMachineArn)",
        ),
        (
            f"arn:aws:sqs:{REGION}:123456789012:q",
            f"arn:aws:states:{REGION}:123456789012:stateMachine:reserve",
            f"error: --queue-url: 'arn:aws:sqs:{REGION}:123456789012:q' is a queue ARN; give the queue's URL "
            "(output deadLetterQueueUrl)",
        ),
        (
            "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
            f"arn:aws:states:{REGION}:123456789012:stateMachine:reserve",
            "error: the queue and the state machine are in different regions (ap-southeast-1, eu-west-1)",
        ),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(queue, arn, message, capsys):
    # WHEN the CLI gets a malformed argument
    code = main(["--queue-url", queue, "--state-machine-arn", arn, *FAST])
    # THEN one line names it and the fix, exit 2, before any AWS call
    assert (code, capsys.readouterr().err.splitlines()) == (2, [message])


def test_a_queue_or_state_machine_that_does_not_exist_is_one_line_and_exit_2(aws, capsys):
    # GIVEN a well-formed queue URL and state machine ARN, each naming nothing
    sqs, _, queue, machine = aws
    dead_letter(sqs, queue, json.dumps(event("e-1")), machine)
    missing_queue = queue.replace("reserve-dlq", "nope")
    missing_machine = machine.replace(":reserve", ":nope")
    # WHEN the CLI runs against each
    first = main(["--queue-url", missing_queue, "--state-machine-arn", machine, *FAST])
    first_err = capsys.readouterr().err
    second = main(["--queue-url", queue, "--state-machine-arn", missing_machine, *FAST])
    second_err = capsys.readouterr().err
    # THEN each is one line naming the argument to check, exit 2, and the queue was not touched
    assert (first, first_err.splitlines()) == (
        2,
        [
            "error: the queue does not exist (GetQueueAttributes); check --queue-url (output deadLetterQueueUrl) "
            "and its region"
        ],
    )
    assert second == 2 and len(second_err.splitlines()) == 1
    assert second_err.startswith("error: the state machine does not exist (DescribeStateMachine): ")
    assert second_err.rstrip().endswith("check --state-machine-arn (output stateMachineArn)")
    assert counts(sqs, queue) == (1, 0)


def test_missing_credentials_are_one_line_and_exit_1(aws, monkeypatch, capsys):
    # GIVEN no credentials at all
    _, _, queue, machine = aws
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setattr(ops_aws, "clients", lambda region, *services: [_no_credentials(s) for s in services])
    # WHEN the CLI runs
    code = main(["--queue-url", queue, "--state-machine-arn", machine, *FAST])
    # THEN one line says how to provide them
    assert (code, capsys.readouterr().err.splitlines()) == (
        1,
        ["error: no AWS credentials found; configure them (AWS_PROFILE, `aws configure`, or AWS_ACCESS_KEY_ID)"],
    )


def _no_credentials(service: str):
    import botocore.session
    from botocore.config import Config

    session = botocore.session.Session()
    session.set_config_variable("credentials_file", "/nonexistent")
    session.set_config_variable("config_file", "/nonexistent")
    session.get_component("credential_provider").providers = []
    return session.create_client(service, region_name=REGION, config=Config(retries={"max_attempts": 0}))


def test_an_unknown_aws_error_is_one_line_naming_the_call():
    # GIVEN an AWS error with no special meaning
    exc = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "ReceiveMessage")
    # THEN it reads as one line naming the call, exit 1
    error = ops_aws.describe(exc)
    assert (str(error), error.code) == ("ReceiveMessage failed (ThrottlingException): Rate exceeded", 1)


def test_an_event_the_emulator_dead_lettered_is_redriven_once_its_state_machine_exists(capsys):
    # GIVEN the sandbox emulator dead-lettering an event whose rule targets a state machine not deployed yet
    emu = start_in_process(REGION, sync_poll_seconds=0.02)
    try:
        sqs, sfn, events = (boto3.client(s, region_name=REGION) for s in ("sqs", "stepfunctions", "events"))
        machine = f"arn:aws:states:{REGION}:123456789012:stateMachine:reserve"
        queue = sqs.create_queue(QueueName="reserve-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.create_event_bus(Name="order")
        events.put_rule(
            Name="reserve", EventBusName="order", EventPattern=json.dumps({"detail-type": ["OrderCreated"]})
        )
        target = {"Id": "machine", "Arn": machine, "DeadLetterConfig": {"Arn": dlq_arn}}
        events.put_targets(Rule="reserve", EventBusName="order", Targets=[target])
        entry = {"EventBusName": "order", "Source": "event-tasks.order", "DetailType": "OrderCreated", "Detail": "{}"}
        event_id = events.put_events(Entries=[entry])["Entries"][0]["EventId"]
        assert counts(sqs, queue) == (1, 0)
        # WHEN the cause is fixed (the state machine deployed) and the queue redriven
        role = f"arn:aws:iam::123456789012:role/{REGION}-sfn"
        sfn.create_state_machine(name="reserve", definition=DEFINITION, roleArn=role)
        code = main(["--queue-url", queue, "--state-machine-arn", machine, *FAST])
        # THEN the emulator's TARGET_ARN matched: the event ran once, under its own id, and the queue is empty
        assert code == 0, capsys.readouterr().err
        assert executions(sfn, machine) == [(f"redrive-{event_id}", event_id)]
        assert counts(sqs, queue) == (0, 0)
    finally:
        emu.stop()


def test_an_error_page_from_the_endpoint_still_reads_as_one_line():
    # GIVEN an endpoint that answered with an HTML page instead of an AWS error
    page = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n" + "<p>x</p>\n" * 100
    exc = ClientError({"Error": {"Code": "500", "Message": page}}, "ReceiveMessage")
    # THEN the error is one bounded line
    message = str(ops_aws.describe(exc))
    assert "\n" not in message and len(message) < 400
    assert message.startswith("ReceiveMessage failed (500): <!doctype html> <html lang=en> <title>500")


def test_execution_names_are_valid_for_any_event_id():
    # THEN the name keeps Step Functions' charset and length
    assert execution_name("a:b/c d") == "redrive-a-b-c-d"
    assert len(execution_name("x" * 200)) == 80
