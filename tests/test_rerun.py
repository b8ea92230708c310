"""ops.rerun: a trigger's failed executions in a window run again with their original input, at most
once each; RedriveExecution where it applies, a `rerun-<name>` execution otherwise."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ops import aws as ops_aws
from ops.rerun import main, parse_time, rerun_name

REGION = "ap-southeast-1"
SOME_ARN = f"arn:aws:states:{REGION}:123456789012:stateMachine:r"
# Fails like a trigger's state machine whose failure path ran: the last state entered is a Fail state.
FAILURE_PATH = json.dumps(
    {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.detail.ok", "BooleanEquals": True, "Next": "Done"}],
                "Default": "Failed",
            },
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "TaskFailed", "Cause": "exit code 1"},
        },
    }
)
# Fails in a task state with no Catch, so a redrive would run that task again.
UNCAUGHT_TASK = json.dumps(
    {
        "StartAt": "Run",
        "States": {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": "missing", "Key": {"pk": {"S": "x"}}},
                "End": True,
            }
        },
    }
)


def event(event_id: str, ok: bool = False) -> str:
    return json.dumps(
        {"id": event_id, "detail-type": "OrderCreated", "source": "event-tasks.order", "detail": {"ok": ok}}
    )


@pytest.fixture
def sfn():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION)


def machine(sfn, definition: str = FAILURE_PATH, name: str = "reserve") -> str:
    role = f"arn:aws:iam::123456789012:role/{name}"
    return sfn.create_state_machine(name=name, definition=definition, roleArn=role)["stateMachineArn"]


def run(sfn, machine_arn: str, name: str, body: str) -> None:
    """Start an execution as EventBridge would (a UUID-like name) and wait for it to end."""
    sfn.start_execution(stateMachineArn=machine_arn, name=name, input=body)
    settle(sfn, machine_arn)


def settle(sfn, machine_arn: str) -> None:
    for _ in range(200):
        if not sfn.list_executions(stateMachineArn=machine_arn, statusFilter="RUNNING")["executions"]:
            return
        time.sleep(0.02)
    raise AssertionError("executions still running")


def executions(sfn, machine_arn: str) -> dict[str, tuple[str, str]]:
    """name -> (status, input event id)."""
    found = {}
    for e in sfn.list_executions(stateMachineArn=machine_arn)["executions"]:
        described = sfn.describe_execution(executionArn=e["executionArn"])
        found[e["name"]] = (described["status"], json.loads(described["input"])["id"])
    return found


def cli(*args: str) -> list[str]:
    return ["--since", "1h", *args]


def test_failed_executions_run_again_with_their_input_once_each(sfn, capsys):
    # GIVEN two failed executions (their failure path ran) and one that succeeded
    arn = machine(sfn)
    run(sfn, arn, "a1", event("e-1"))
    run(sfn, arn, "a2", event("e-2"))
    run(sfn, arn, "ok", event("e-3", ok=True))
    # WHEN the failed ones are re-run
    code = main(["--state-machine-arn", arn, *cli()])
    settle(sfn, arn)
    # THEN each failed one started once more, anew (a redrive would only enter the Fail state again), with
    # its original input, so the task gets the same eventId
    out = capsys.readouterr().out
    assert code == 0
    assert executions(sfn, arn) == {
        "a1": ("FAILED", "e-1"),
        "a2": ("FAILED", "e-2"),
        "ok": ("SUCCEEDED", "e-3"),
        "rerun-a1": ("FAILED", "e-1"),
        "rerun-a2": ("FAILED", "e-2"),
    }
    assert "  started       a1  event e-1: rerun-a1: it ended in its Fail state" in out
    assert out.rstrip().endswith("redriven 0, started 2, skipped 0")


def test_running_it_twice_re_runs_each_execution_once(sfn, capsys):
    # GIVEN a failed execution already re-run once (and its re-run failed again)
    arn = machine(sfn)
    run(sfn, arn, "a1", event("e-1"))
    main(["--state-machine-arn", arn, *cli()])
    settle(sfn, arn)
    capsys.readouterr()
    # WHEN the command runs again over the same window
    code = main(["--state-machine-arn", arn, *cli()])
    settle(sfn, arn)
    # THEN nothing new starts: the original was re-run already, and the re-run is not re-run in a loop
    out = capsys.readouterr().out
    assert code == 0
    assert sorted(executions(sfn, arn)) == ["a1", "rerun-a1"]
    assert "  skipped       a1  event e-1: already re-run as rerun-a1 (FAILED)" in out
    assert "  skipped       rerun-a1  event e-1: it is a re-run that failed again" in out
    assert out.rstrip().endswith("redriven 0, started 0, skipped 2")


def test_only_executions_started_in_the_window_are_re_run(sfn, capsys):
    # GIVEN a failed execution, then a moment, then another
    arn = machine(sfn)
    run(sfn, arn, "before", event("e-1"))
    time.sleep(0.05)
    moment = datetime.now(UTC)
    time.sleep(0.05)
    run(sfn, arn, "after", event("e-2"))
    # WHEN re-running from that moment, and separately up to it
    main(["--state-machine-arn", arn, "--since", moment.isoformat()])
    settle(sfn, arn)
    first = set(executions(sfn, arn))
    main(["--state-machine-arn", arn, "--since", "1h", "--until", moment.isoformat()])
    settle(sfn, arn)
    # THEN each run re-ran exactly the execution inside its window
    assert first == {"before", "after", "rerun-after"}
    assert set(executions(sfn, arn)) == {"before", "after", "rerun-after", "rerun-before"}
    capsys.readouterr()


def test_a_dry_run_lists_what_it_would_do_and_changes_nothing(sfn, capsys):
    # GIVEN a failed execution
    arn = machine(sfn)
    run(sfn, arn, "a1", event("e-1"))
    # WHEN the command runs with --dry-run
    code = main(["--state-machine-arn", arn, *cli("--dry-run")])
    # THEN it says what it would do and starts nothing
    out = capsys.readouterr().out
    assert code == 0
    assert "  would start   a1  event e-1: rerun-a1: it ended in its Fail state" in out
    assert "dry run: would redrive 0, would start 1, skip 0; nothing was changed" in out
    assert sorted(executions(sfn, arn)) == ["a1"]


def test_without_redrive_at_the_endpoint_it_starts_anew_and_says_so(sfn, capsys):
    # GIVEN an execution that failed in a task state with no Catch (a redrive would apply), on moto, which
    # does not implement RedriveExecution
    arn = machine(sfn, UNCAUGHT_TASK)
    run(sfn, arn, "a1", event("e-1"))
    # WHEN re-run
    code = main(["--state-machine-arn", arn, *cli()])
    settle(sfn, arn)
    # THEN it tried RedriveExecution, and says plainly that it started a new execution instead
    out = capsys.readouterr().out
    assert code == 0
    assert "note: this endpoint does not implement RedriveExecution (moto 5.2.5 does not)" in out
    assert sorted(executions(sfn, arn)) == ["a1", "rerun-a1"]


def test_over_http_moto_answers_redrive_with_a_bare_500_and_it_starts_anew(sfn, monkeypatch, capsys):
    # GIVEN an execution that failed in its task state, behind moto's server (the sandbox), which answers
    # RedriveExecution with an HTML error page
    arn = machine(sfn, UNCAUGHT_TASK)
    run(sfn, arn, "a1", event("e-1"))
    monkeypatch.setattr(ops_aws, "clients", lambda region, *services: [Redrivable(sfn, refuse="html 500")])
    # WHEN re-run
    code = main(["--state-machine-arn", arn, *cli()])
    settle(sfn, arn)
    # THEN it says why it could not redrive and starts the execution anew
    out = capsys.readouterr().out
    assert code == 0
    assert "note: this endpoint answered RedriveExecution with a bare HTTP 500" in out
    assert "  started       a1  event e-1: rerun-a1: RedriveExecution is not available at this endpoint" in out
    assert sorted(executions(sfn, arn)) == ["a1", "rerun-a1"]


class Redrivable:
    """A Step Functions client whose endpoint implements RedriveExecution (moto's does not): a redrive is
    recorded, and the execution's redriveCount shows it, as Step Functions reports it."""

    def __init__(self, client, refuse: str | None = None) -> None:
        self._client = client
        self._refuse = refuse
        self.redriven: list[tuple[str, str]] = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def redrive_execution(self, executionArn: str, clientToken: str) -> dict:
        if self._refuse == "html 500":
            # What moto's server answers for an action it lacks, as botocore reads it.
            error = {"Code": "500", "Message": "<!doctype html>\n<title>500 Internal Server Error</title>"}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 500}}, "RedriveExecution")
        if self._refuse:
            raise self._client.exceptions.ExecutionNotRedrivable(
                {"Error": {"Code": "ExecutionNotRedrivable", "Message": self._refuse}}, "RedriveExecution"
            )
        self.redriven.append((executionArn, clientToken))
        return {"redriveDate": datetime.now(UTC)}

    def describe_execution(self, executionArn: str) -> dict:
        described = self._client.describe_execution(executionArn=executionArn)
        return {**described, "redriveCount": sum(1 for arn, _ in self.redriven if arn == executionArn)}


def test_an_execution_that_failed_in_its_task_is_redriven_once(sfn, monkeypatch, capsys):
    # GIVEN an execution that failed in its task state, at an endpoint with RedriveExecution
    arn = machine(sfn, UNCAUGHT_TASK)
    run(sfn, arn, "a1", event("e-1"))
    redrivable = Redrivable(sfn)
    monkeypatch.setattr(ops_aws, "clients", lambda region, *services: [redrivable])
    # WHEN re-run twice
    first = main(["--state-machine-arn", arn, *cli()])
    second = main(["--state-machine-arn", arn, *cli()])
    # THEN it was redriven once (same execution ARN, a stable client token), and skipped the second time
    out = capsys.readouterr().out
    assert (first, second) == (0, 0)
    (execution_arn, token), *more = redrivable.redriven
    assert (execution_arn.rsplit(":", 1)[1], more, len(token)) == ("a1", [], 64)
    assert "  redriven      a1  event e-1: continues from its failed step, same execution ARN" in out
    assert "  skipped       a1  event e-1: already redriven (1 time(s))" in out
    assert sorted(executions(sfn, arn)) == ["a1"]


def test_an_execution_step_functions_will_not_redrive_is_started_anew(sfn, monkeypatch, capsys):
    # GIVEN an execution that failed in its task state, which Step Functions refuses to redrive
    arn = machine(sfn, UNCAUGHT_TASK)
    run(sfn, arn, "a1", event("e-1"))
    refusing = Redrivable(sfn, refuse="Execution redrivable period exceeded.")
    monkeypatch.setattr(ops_aws, "clients", lambda region, *services: [refusing])
    # WHEN re-run
    code = main(["--state-machine-arn", arn, *cli()])
    settle(sfn, arn)
    # THEN it started a new execution with the same input, saying why
    assert code == 0
    assert (
        "  started       a1  event e-1: rerun-a1: Step Functions will not redrive it: "
        "Execution redrivable period exceeded." in capsys.readouterr().out
    )
    assert executions(sfn, arn)["rerun-a1"] == ("FAILED", "e-1")


class TwinStartsFirst(Redrivable):
    """Another run of the command starts the re-run between this one's check and its StartExecution."""

    def start_execution(self, **kwargs) -> dict:
        self._client.start_execution(**kwargs)
        return self._client.start_execution(**{**kwargs, "input": json.dumps({"id": "different"})})


def test_a_twin_run_that_starts_the_re_run_first_makes_this_one_skip_it(sfn, monkeypatch, capsys):
    # GIVEN a failed execution, and a twin run of the command winning the race to re-run it
    arn = machine(sfn)
    run(sfn, arn, "a1", event("e-1"))
    monkeypatch.setattr(ops_aws, "clients", lambda region, *services: [TwinStartsFirst(sfn)])
    # WHEN this run tries to start the same re-run
    code = main(["--state-machine-arn", arn, *cli()])
    settle(sfn, arn)
    # THEN Step Functions refuses the name a second time, and this run counts it as done, not as an error
    out = capsys.readouterr().out
    assert code == 0
    assert "  skipped       a1  event e-1: already re-run as rerun-a1" in out
    assert sorted(executions(sfn, arn)) == ["a1", "rerun-a1"]


class FailingStart(Redrivable):
    """StartExecution is throttled for the executions named."""

    def __init__(self, client, throttled: set[str]) -> None:
        super().__init__(client)
        self.throttled = throttled

    def start_execution(self, **kwargs) -> dict:
        if kwargs["name"] in self.throttled:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "StartExecution")
        return self._client.start_execution(**kwargs)


def test_a_run_cut_short_by_an_error_says_so_in_one_line_and_a_second_run_finishes_once(sfn, monkeypatch, capsys):
    # GIVEN two failed executions, and StartExecution throttled for the second one's re-run
    arn = machine(sfn)
    run(sfn, arn, "a1", event("e-1"))
    time.sleep(0.01)
    run(sfn, arn, "a2", event("e-2"))
    monkeypatch.setattr(ops_aws, "clients", lambda region, *services: [FailingStart(sfn, {"rerun-a2"})])
    # WHEN re-run
    code = main(["--state-machine-arn", arn, *cli()])
    settle(sfn, arn)
    # THEN it stops with one line naming the call, exit 1, after re-running the first
    assert (code, capsys.readouterr().err.splitlines()) == (
        1,
        ["error: StartExecution failed (ThrottlingException): Rate exceeded"],
    )
    assert sorted(executions(sfn, arn)) == ["a1", "a2", "rerun-a1"]
    # AND WHEN run again once the throttling is over
    monkeypatch.setattr(ops_aws, "clients", lambda region, *services: [sfn])
    assert main(["--state-machine-arn", arn, *cli()]) == 0
    settle(sfn, arn)
    # THEN only the second is re-run now: each ran again exactly once
    assert sorted(executions(sfn, arn)) == ["a1", "a2", "rerun-a1", "rerun-a2"]


def test_the_region_comes_from_the_arn_when_none_is_configured(sfn, monkeypatch, tmp_path, capsys):
    # GIVEN no region anywhere boto3 looks
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    arn = machine(sfn)
    run(sfn, arn, "a1", event("e-1"))
    # WHEN re-run
    code = main(["--state-machine-arn", arn, *cli()])
    settle(sfn, arn)
    # THEN it works in the ARN's region
    assert code == 0, capsys.readouterr().err
    assert "rerun-a1" in executions(sfn, arn)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--state-machine-arn", "reserve", "--since", "2h"],
            "error: --state-machine-arn: 'reserve' is not a state machine ARN; expected "
            "arn:aws:states:<region>:<account>:stateMachine:<name> (output stateMachineArn)",
        ),
        (
            ["--state-machine-arn", SOME_ARN, "--since", "yesterday"],
            "error: --since: 'yesterday' is not a time; give ISO-8601 like 2026-11-29T10:00:00Z "
            "or a time ago like 90s, 30m, 2h, 1d",
        ),
        (
            ["--state-machine-arn", SOME_ARN, "--since", "1h", "--until", "2h"],
            "error: --since 1h is not before --until 2h; give a window that starts first",
        ),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args, message, capsys):
    # WHEN the CLI gets a malformed argument
    code = main(args)
    # THEN one line names it and the fix, exit 2
    assert (code, capsys.readouterr().err.splitlines()) == (2, [message])


def test_a_missing_argument_is_one_line_and_exit_2(capsys):
    # WHEN the CLI is called without --since
    with pytest.raises(SystemExit) as exit_:
        main(["--state-machine-arn", SOME_ARN])
    # THEN one line names it, not argparse's usage block
    assert (exit_.value.code, capsys.readouterr().err.splitlines()) == (
        2,
        ["error: the following arguments are required: --since; see python -m ops.rerun --help"],
    )


def test_a_state_machine_that_does_not_exist_is_one_line_and_exit_2(sfn, capsys):
    # WHEN the CLI names a state machine that does not exist
    code = main(["--state-machine-arn", f"arn:aws:states:{REGION}:123456789012:stateMachine:nope", *cli()])
    # THEN one line says which argument to check
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: the state machine does not exist (DescribeStateMachine)")


def test_times_are_iso_8601_in_utc_or_a_time_ago():
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    # THEN both forms read as the same kind of moment
    assert parse_time("2h", "--since", now) == now - timedelta(hours=2)
    assert parse_time("90s", "--since", now) == now - timedelta(seconds=90)
    assert parse_time("2026-11-29T10:00:00Z", "--since", now) == datetime(2026, 11, 29, 10, tzinfo=UTC)
    assert parse_time("2026-11-29T10:00", "--since", now) == datetime(2026, 11, 29, 10, tzinfo=UTC)
    with pytest.raises(ops_aws.OpsError, match=r"^--until: '2 hours' is not a time"):
        parse_time("2 hours", "--until", now)


def test_rerun_names_are_valid_and_distinct_for_long_names():
    # GIVEN two 80-character execution names sharing a long prefix
    first, second = "x" * 79 + "a", "x" * 79 + "b"
    # THEN their re-run names fit Step Functions' 80 characters and still differ
    assert rerun_name("3f1c-uuid") == "rerun-3f1c-uuid"
    assert len(rerun_name(first)) == 80 and rerun_name(first) != rerun_name(second)
