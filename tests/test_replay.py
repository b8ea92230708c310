"""ops.replay and the bus archives: arguments refused with one line before anything starts, the
replay started with the window and the trigger's rule and waited on; the archive per bus."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from test_trigger_config import raw

from components.bus_archive import BusArchive, BusArchiveArgs
from ops.replay import main

BUS_ARN = "arn:aws:events:ap-southeast-1:123456789012:event-bus/event-tasks-cloud-order"
ARCHIVE_ARN = "arn:aws:events:ap-southeast-1:123456789012:archive/event-tasks-cloud-order"
RULE_ARN = "arn:aws:events:ap-southeast-1:123456789012:rule/event-tasks-cloud-order/event-tasks-cloud-reserve-credit"
OUTPUTS = {
    "buses": {"order": {"name": "event-tasks-cloud-order", "arn": BUS_ARN}},
    "archives": {"order": ARCHIVE_ARN},
    "triggers": {
        "reserve-credit": {"rule": "event-tasks-cloud-reserve-credit", "ruleArn": RULE_ARN},
        "approve-order": {
            "ruleArn": "arn:aws:events:ap-southeast-1:123456789012:rule/event-tasks-cloud-customer/x",
        },
    },
}
WINDOW = ["--from", "2026-11-29T00:00:00Z", "--to", "2026-11-29T06:00:00Z"]


class FakeEvents:
    """An EventBridge client that records StartReplay and answers DescribeReplay with `states`."""

    def __init__(self, *states: str):
        self.states = list(states)
        self.started: list[dict[str, Any]] = []

    def start_replay(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        return {"State": "STARTING"}

    def describe_replay(self, ReplayName: str) -> dict[str, Any]:
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"ReplayName": ReplayName, "State": state, **({"StateReason": "boom"} if state == "FAILED" else {})}


@pytest.fixture
def outputs(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(OUTPUTS))
    return str(path)


def test_a_trigger_s_window_is_replayed_to_its_rule_and_waited_for(outputs, capsys):
    # GIVEN a replay that runs for two polls
    events = FakeEvents("STARTING", "RUNNING", "COMPLETED")
    # WHEN one trigger's window is replayed
    code = main(
        ["--bus", "order", *WINDOW, "--trigger", "reserve-credit", "--stack-outputs", outputs, "--poll", "0"], events
    )
    # THEN StartReplay got the archive, the window, the bus and only that rule; it waited for COMPLETED
    assert code == 0
    (started,) = events.started
    assert started["EventSourceArn"] == ARCHIVE_ARN
    assert started["Destination"] == {"Arn": BUS_ARN, "FilterArns": [RULE_ARN]}
    assert (started["EventStartTime"], started["EventEndTime"]) == (
        dt.datetime(2026, 11, 29, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 29, 6, tzinfo=dt.UTC),
    )
    assert started["ReplayName"].startswith("order-reserve-credit-20261129T000000-")
    assert events.states == ["COMPLETED"]
    assert "COMPLETED" in capsys.readouterr().out


def test_a_whole_bus_is_replayed_without_a_filter(outputs):
    events = FakeEvents("COMPLETED")
    assert main(["--bus", "order", *WINDOW, "--stack-outputs", outputs], events) == 0
    assert events.started[0]["Destination"] == {"Arn": BUS_ARN}


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED"])
def test_a_replay_that_does_not_complete_exits_1(outputs, capsys, state):
    events = FakeEvents("RUNNING", state)
    assert main(["--bus", "order", *WINDOW, "--stack-outputs", outputs, "--poll", "0"], events) == 1
    assert "did not complete" in capsys.readouterr().err


def test_a_replay_still_running_at_the_timeout_exits_1_and_says_it_goes_on(outputs, capsys):
    # GIVEN a replay that keeps RUNNING WHEN the wait ends THEN exit 1, saying where to follow it
    events = FakeEvents("RUNNING")
    assert main(["--bus", "order", *WINDOW, "--stack-outputs", outputs, "--poll", "0", "--timeout", "0"], events) == 1
    assert "still RUNNING after 0 s; it goes on" in capsys.readouterr().err


BAD = [
    (["--from", "yesterday", "--to", "2026-11-29T06:00:00Z"], r"--from: 'yesterday' is not a time"),
    (["--from", "2026-11-29T00:00:00", "--to", "2026-11-29T06:00:00Z"], r"--from: .* has no time zone; add Z"),
    (["--from", "2026-11-29T06:00:00Z", "--to", "2026-11-29T06:00:00Z"], r"--from: .* is not before --to"),
    (["--from", "2026-11-29T00:00:00Z", "--to", "2999-01-01T00:00:00Z"], r"--to: .* is in the future"),
    (
        [*WINDOW, "--trigger", "nope"],
        r"--trigger: 'nope' is not an event trigger on the order bus; its triggers: reserve-credit",
    ),
    ([*WINDOW, "--trigger", "approve-order"], r"--trigger: 'approve-order' listens on another bus than 'order'"),
    ([*WINDOW, "--archive-arn", ARCHIVE_ARN], r"--stack-outputs: give either the outputs file or --archive-arn"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_bad_arguments_are_one_line_naming_the_flag_and_start_nothing(outputs, capsys, args, message):
    events = FakeEvents("COMPLETED")
    code = main(["--bus", "order", *args, "--stack-outputs", outputs], events)
    err = capsys.readouterr().err
    assert code == 2 and events.started == []
    assert err.count("\n") == 1
    assert re.search(message, err), err


def test_an_unknown_bus_or_missing_outputs_file_is_bad_input(tmp_path, outputs, capsys):
    events = FakeEvents("COMPLETED")
    assert main(["--bus", "billing", *WINDOW, "--stack-outputs", outputs], events) == 2
    assert "--bus: 'billing' has no archive" in capsys.readouterr().err
    assert main(["--bus", "order", *WINDOW, "--stack-outputs", str(tmp_path / "none.json")], events) == 2
    assert "--stack-outputs: cannot read" in capsys.readouterr().err
    assert main(["--bus", "order", *WINDOW, "--archive-arn", ARCHIVE_ARN], events) == 2
    assert "--archive-arn and --bus-arn: required" in capsys.readouterr().err
    assert events.started == []


def test_explicit_arns_replace_the_outputs_file():
    events = FakeEvents("COMPLETED")
    args = ["--bus", "order", *WINDOW, "--archive-arn", ARCHIVE_ARN, "--bus-arn", BUS_ARN, "--rule-arn", RULE_ARN]
    assert main(args, events) == 0
    assert events.started[0]["Destination"] == {"Arn": BUS_ARN, "FilterArns": [RULE_ARN]}


def test_bus_archive_keeps_every_event_of_its_bus(mocks, evaluate):
    # WHEN a BusArchive is declared
    arn = evaluate(lambda: BusArchive("order", BusArchiveArgs("et-order", BUS_ARN, 7)).arn)
    # THEN it archives that bus, all events (no pattern), for the given days
    (archive,) = [r for r in mocks.resources if r.typ == "aws:cloudwatch/eventArchive:EventArchive"]
    assert archive.inputs["name"] == "et-order"
    assert archive.inputs["eventSourceArn"] == BUS_ARN
    assert archive.inputs["retentionDays"] == 7
    assert "eventPattern" not in archive.inputs
    assert arn == archive.state["arn"]


def test_bus_archive_refuses_zero_days_which_aws_reads_as_forever():
    with pytest.raises(ValueError, match="retention_days must be at least 1"):
        BusArchive("order", BusArchiveArgs("et-order", BUS_ARN, 0))


@pytest.mark.parametrize(("days", "archives"), [(7, 2), (30, 2), (0, 0)])
def test_each_bus_gets_an_archive_unless_archive_days_is_zero(deploy, days, archives):
    deployed = deploy("cloud", raw(archiveDays=days))
    found = deployed.of_type("aws:cloudwatch/eventArchive:EventArchive")
    assert len(found) == archives
    assert {a.inputs["retentionDays"] for a in found} <= {days}
    assert ("archives" in deployed.outputs) == bool(archives)
