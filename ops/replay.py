"""Replay a time window of a bus's archive onto the bus, and wait until the replay has finished.

Every event of the window (by the event's time) is sent again to the bus's rules, or only to one
trigger's rule with `--trigger`. This is safe because every use case is idempotent: on the event id
(the processed-event marker) and on its business keys (one credit decision per order, conditional
status transitions), so a replayed event re-emits the recorded outcome and changes nothing.

    python -m ops.replay --bus SERVICE --from 2026-11-29T00:00:00Z --to 2026-11-29T06:00:00Z \\
        [--trigger NAME] --stack-outputs outputs.json
    python -m ops.replay --bus SERVICE --from T --to T --archive-arn ARN --bus-arn ARN [--rule-arn ARN]

`--stack-outputs` is `pulumi stack output --json > outputs.json`: it gives the archive
(`archives.<service>`), the bus (`buses.<service>.arn`) and the trigger's rule (`triggers.<name>.ruleArn`).
Exit codes: 0 the replay COMPLETED; 1 it FAILED, was CANCELLED or did not finish in time;
2 bad input (one line naming the argument; nothing was started).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

FINISHED = ("COMPLETED", "FAILED", "CANCELLED")
REPLAY_NAME_MAX = 64


class BadInput(Exception):
    """An argument is wrong; the message names it and the fix."""


@dataclass(frozen=True)
class ReplayRequest:
    """What to replay, resolved from the arguments."""

    name: str
    archive_arn: str
    bus_arn: str
    start: dt.datetime
    end: dt.datetime
    rule_arns: tuple[str, ...] = ()


def parse_time(text: str, flag: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{flag}: {text!r} is not a time; use ISO 8601 with a zone, e.g. 2026-11-29T03:00:00Z") from None
    if moment.tzinfo is None:
        raise BadInput(f"{flag}: {text!r} has no time zone; add Z (UTC) or an offset like +08:00")
    return moment.astimezone(dt.UTC)


def resolve(args: argparse.Namespace, now: dt.datetime | None = None) -> ReplayRequest:
    """Turn the arguments (and the stack outputs file) into a request, or raise BadInput."""
    start, end = parse_time(args.start, "--from"), parse_time(args.end, "--to")
    if start >= end:
        raise BadInput(f"--from: {args.start} is not before --to {args.end}; give a window that starts first")
    if end > (now or dt.datetime.now(dt.UTC)):
        raise BadInput(f"--to: {args.end} is in the future; the archive holds only past events")
    if args.stack_outputs:
        if args.archive_arn or args.bus_arn or args.rule_arn:
            raise BadInput("--stack-outputs: give either the outputs file or --archive-arn/--bus-arn/--rule-arn")
        archive_arn, bus_arn, rules = _from_outputs(Path(args.stack_outputs), args.bus, args.trigger)
    else:
        if not (args.archive_arn and args.bus_arn):
            raise BadInput("--archive-arn and --bus-arn: required without --stack-outputs (or give --stack-outputs)")
        if args.trigger and not args.rule_arn:
            raise BadInput("--rule-arn: required with --trigger when the ARNs are explicit")
        archive_arn, bus_arn, rules = args.archive_arn, args.bus_arn, tuple(args.rule_arn or ())
    stamp = start.strftime("%Y%m%dT%H%M%S")
    name = f"{args.bus}-{args.trigger or 'all'}-{stamp}-{uuid.uuid4().hex[:8]}"[-REPLAY_NAME_MAX:]
    return ReplayRequest(name, archive_arn, bus_arn, start, end, rules)


def _from_outputs(path: Path, bus: str, trigger: str | None) -> tuple[str, str, tuple[str, ...]]:
    try:
        outputs = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise BadInput(
            f"--stack-outputs: cannot read {path}: {error}; write it with `pulumi stack output --json`"
        ) from None
    archives = outputs.get("archives") or {}
    if bus not in archives:
        raise BadInput(
            f"--bus: {bus!r} has no archive in {path} (archives: {', '.join(sorted(archives)) or 'none'}); "
            "name a service, and keep event-tasks:archiveDays above 0"
        )
    bus_arn = ((outputs.get("buses") or {}).get(bus) or {}).get("arn")
    if not bus_arn:
        raise BadInput(f"--stack-outputs: {path} has no buses.{bus}.arn; use the current `pulumi stack output --json`")
    if trigger is None:
        return archives[bus], bus_arn, ()
    triggers = outputs.get("triggers") or {}
    found = triggers.get(trigger) or {}
    if "ruleArn" not in found:
        on_bus = sorted(t for t, o in triggers.items() if o.get("ruleArn", "").split("/")[-2:-1] == [bus_name(bus_arn)])
        raise BadInput(
            f"--trigger: {trigger!r} is not an event trigger on the {bus} bus; "
            f"its triggers: {', '.join(on_bus) or 'none'}"
        )
    if found["ruleArn"].split("/")[-2] != bus_name(bus_arn):
        raise BadInput(f"--trigger: {trigger!r} listens on another bus than {bus!r}; replay that bus instead")
    return archives[bus], bus_arn, (found["ruleArn"],)


def bus_name(bus_arn: str) -> str:
    return bus_arn.rsplit("/", 1)[-1]


def replay(
    events: Any,
    request: ReplayRequest,
    *,
    timeout_seconds: float = 3600,
    poll_seconds: float = 10,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Start the replay and poll DescribeReplay until it is COMPLETED, FAILED or CANCELLED."""
    destination: dict[str, Any] = {"Arn": request.bus_arn}
    if request.rule_arns:
        destination["FilterArns"] = list(request.rule_arns)
    events.start_replay(
        ReplayName=request.name,
        Description=f"ops.replay {request.start:%Y-%m-%dT%H:%M:%SZ} to {request.end:%Y-%m-%dT%H:%M:%SZ}",
        EventSourceArn=request.archive_arn,
        EventStartTime=request.start,
        EventEndTime=request.end,
        Destination=destination,
    )
    waited = 0.0
    while True:
        found = events.describe_replay(ReplayName=request.name)
        if found["State"] in FINISHED or waited >= timeout_seconds:
            return found
        sleep(poll_seconds)
        waited += poll_seconds


def main(argv: Sequence[str] | None = None, events: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bus", required=True, help="the service whose bus (and archive) to replay")
    parser.add_argument("--from", dest="start", required=True, help="window start, ISO 8601 with zone")
    parser.add_argument("--to", dest="end", required=True, help="window end, ISO 8601 with zone")
    parser.add_argument("--trigger", help="replay only to this trigger's rule")
    parser.add_argument("--stack-outputs", help="`pulumi stack output --json` saved to a file")
    parser.add_argument("--archive-arn", help="the bus's archive (output archives.<service>)")
    parser.add_argument("--bus-arn", help="the bus (output buses.<service>.arn)")
    parser.add_argument("--rule-arn", action="append", help="replay only to this rule (output triggers.<t>.ruleArn)")
    parser.add_argument("--timeout", type=float, default=3600, help="give up waiting after this many seconds")
    parser.add_argument("--poll", type=float, default=10, help="seconds between DescribeReplay calls (default 10)")
    args = parser.parse_args(argv)
    try:
        request = resolve(args)
    except BadInput as error:
        print(f"bad input: {error}", file=sys.stderr)
        return 2
    found = replay(events or boto3.client("events"), request, timeout_seconds=args.timeout, poll_seconds=args.poll)
    state = found["State"]
    print(f"replay {request.name}: {state}{(': ' + found['StateReason']) if found.get('StateReason') else ''}")
    if state != "COMPLETED":
        waited = "" if state in FINISHED else f" (still {state} after {args.timeout:g} s; it goes on: DescribeReplay)"
        print(f"error: replay {request.name} did not complete{waited}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
