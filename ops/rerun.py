"""Re-run a trigger's failed executions in a time window, with their original input, at most once each.

Every FAILED or TIMED_OUT execution of the state machine that started in [--since, --until) is run
again with the same input, so its task gets the same `eventId` and the use case's idempotency holds:

- **RedriveExecution** where it applies: the execution failed in a state that can run again (an
  uncaught task failure, an execution timeout). Step Functions continues it from the failed step,
  under the same execution ARN; its `redriveCount` then says it was redriven.
- **StartExecution** of a new execution named `rerun-<original name>` otherwise: when the execution
  ended in its Fail state (the failure path ran and published the failure event, so a redrive would
  only enter that Fail state again), when Step Functions says it is not redrivable (older than 14
  days, ...), or when the endpoint has no RedriveExecution (moto 5.2.5, and so the sandbox, do not
  implement it; the output says so). The name makes it once only: a second run finds it, and
  Step Functions refuses to start a name twice.

Use it for failures nothing compensated: an execution whose failure event a compensation consumed
has settled its saga, and re-running its forward step could act on an order that has ended (see
the README's runbook "From alarm to settled saga").

Skipped, and reported: an execution already redriven, one already re-run as `rerun-<name>`, and a
`rerun-` execution itself (a re-run that failed again is for an operator to look at, not to loop on).

    python -m ops.rerun --state-machine-arn ARN --since T [--until T] [--dry-run]

T is ISO-8601 (`2026-11-29T10:00:00Z`; no offset means UTC) or a time ago: `90s`, `30m`, `2h`, `1d`.
Exit code: 0 done; 1 an AWS call failed (the line names it; running again is safe); 2 bad arguments.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions

from ops import aws

STATUSES = ("FAILED", "TIMED_OUT")
RERUN_PREFIX = "rerun-"
NAME_LIMIT = 80
RELATIVE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# What an endpoint without the RedriveExecution action answers.
REDRIVE_UNAVAILABLE = "RedriveExecution is not available at this endpoint (see the note)"
UNSUPPORTED = {"UnknownOperationException", "InvalidAction", "NotImplemented", "NotImplementedException"}


@dataclass
class Outcome:
    """What happened to one failed execution."""

    name: str
    event_id: str | None
    action: str
    """redriven, started, skipped (or, in a dry run, would redrive / would start)."""
    detail: str


@dataclass
class Result:
    outcomes: list[Outcome] = field(default_factory=list)
    redrive_unavailable: str | None = None
    """Why RedriveExecution could not be used at this endpoint, when it could not."""

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)


def rerun_name(name: str) -> str:
    """`rerun-<name>`, within Step Functions' 80 characters: a long name keeps a hash of itself, so two
    names sharing a prefix never share a re-run."""
    candidate = f"{RERUN_PREFIX}{name}"
    if len(candidate) <= NAME_LIMIT:
        return candidate
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{RERUN_PREFIX}{name[: NAME_LIMIT - len(RERUN_PREFIX) - 17]}-{digest}"


def parse_time(value: str, flag: str, now: datetime) -> datetime:
    relative = RELATIVE.match(value.strip())
    if relative:
        return now - timedelta(**{UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        aws.bad_input(
            f"{flag}: {value!r} is not a time; give ISO-8601 like 2026-11-29T10:00:00Z "
            "or a time ago like 90s, 30m, 2h, 1d"
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def failed_executions(sfn: Any, state_machine_arn: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The state machine's FAILED and TIMED_OUT executions started in [since, until), oldest first."""
    found = []
    paginator = sfn.get_paginator("list_executions")
    for status in STATUSES:
        for page in paginator.paginate(stateMachineArn=state_machine_arn, statusFilter=status):
            found += [e for e in page["executions"] if since <= e["startDate"] < until]
    return sorted(found, key=lambda e: (e["startDate"], e["name"]))


def rerun(sfn: Any, state_machine_arn: str, since: datetime, until: datetime, *, dry_run: bool = False) -> Result:
    result = Result()
    for execution in failed_executions(sfn, state_machine_arn, since, until):
        result.outcomes.append(_rerun_one(sfn, state_machine_arn, execution, result, dry_run))
    return result


def _rerun_one(sfn: Any, state_machine_arn: str, execution: dict[str, Any], result: Result, dry_run: bool) -> Outcome:
    name, arn = execution["name"], execution["executionArn"]
    described = sfn.describe_execution(executionArn=arn)
    event_id = _event_id(described.get("input"))

    def outcome(action: str, detail: str) -> Outcome:
        return Outcome(name, event_id, action, detail)

    if name.startswith(RERUN_PREFIX):
        return outcome("skipped", "it is a re-run that failed again; look into it rather than re-run it twice")
    if described.get("redriveCount", 0) > 0:
        return outcome("skipped", f"already redriven ({described['redriveCount']} time(s))")
    new_name = rerun_name(name)
    existing = _execution(sfn, arn.rsplit(":", 1)[0] + f":{new_name}")
    if existing is not None:
        return outcome("skipped", f"already re-run as {new_name} ({existing['status']})")

    why_not = _why_not_redrive(sfn, arn, result)
    if why_not is None:
        if dry_run:
            return outcome(
                "would redrive", f"continues from its failed step (or starts anew as {new_name} if it cannot)"
            )
        why_not = _redrive(sfn, arn, result)
        if why_not is None:
            return outcome("redriven", "continues from its failed step, same execution ARN")
    if dry_run:
        return outcome("would start", f"{new_name}: {why_not}")
    try:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=new_name, input=described["input"])
    except sfn.exceptions.ExecutionAlreadyExists:
        return outcome("skipped", f"already re-run as {new_name}")
    return outcome("started", f"{new_name}: {why_not}")


def _why_not_redrive(sfn: Any, arn: str, result: Result) -> str | None:
    """Why this execution is re-run from the start rather than redriven, or None to redrive it."""
    if result.redrive_unavailable:
        return REDRIVE_UNAVAILABLE
    # Newest event first; sorted by id too, as emulators may ignore reverseOrder.
    events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=100)["events"]
    last_entered = next(
        (e["type"] for e in sorted(events, key=lambda e: -e["id"]) if e["type"].endswith("StateEntered")), None
    )
    if last_entered == "FailStateEntered":
        return (
            "it ended in its Fail state (its failure path ran and published its failure event), "
            "so a redrive would only fail there again"
        )
    return None


def _redrive(sfn: Any, arn: str, result: Result) -> str | None:
    """Redrive the execution; None when done, else why it was not (and so is started anew)."""
    # The token makes a retried call (the SDK's own retries, or this command within 15 minutes) one redrive.
    token = hashlib.sha256(arn.encode()).hexdigest()[:64]
    try:
        sfn.redrive_execution(executionArn=arn, clientToken=token)
        return None
    except NotImplementedError:
        # moto raises this in-process for an action it does not implement.
        result.redrive_unavailable = "this endpoint does not implement RedriveExecution (moto 5.2.5 does not)"
    except botocore.exceptions.ClientError as exc:
        code = aws.error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "ExecutionNotRedrivable":
            return f"Step Functions will not redrive it: {exc.response['Error'].get('Message', code)}"
        if code in UNSUPPORTED or status == 501:
            result.redrive_unavailable = f"this endpoint does not implement RedriveExecution ({code or status})"
        elif code == str(status) and status == 500:
            # No AWS error at all, only a bare HTTP 500 (moto's server answers an action it lacks with
            # an HTML error page); Step Functions itself always names its error.
            result.redrive_unavailable = (
                "this endpoint answered RedriveExecution with a bare HTTP 500, as moto's server does for an "
                "action it does not implement"
            )
        else:
            raise
    return REDRIVE_UNAVAILABLE


def _execution(sfn: Any, arn: str) -> dict[str, Any] | None:
    try:
        return sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        return None


def _event_id(execution_input: str | None) -> str | None:
    try:
        event = json.loads(execution_input or "")
    except json.JSONDecodeError:
        return None
    return event.get("id") if isinstance(event, dict) else None


def report(result: Result, since: datetime, until: datetime, dry_run: bool) -> None:
    window = f"{since.isoformat(timespec='seconds')} .. {until.isoformat(timespec='seconds')}"
    print(f"{len(result.outcomes)} failed execution(s) started in {window}")
    if result.redrive_unavailable:
        print(f"note: {result.redrive_unavailable}; failed executions are started anew as rerun-<name>")
    for o in result.outcomes:
        print(f"  {o.action:<13} {o.name}  event {o.event_id or '?'}: {o.detail}")
    if dry_run:
        print(
            f"dry run: would redrive {result.count('would redrive')}, would start {result.count('would start')}, "
            f"skip {result.count('skipped')}; nothing was changed"
        )
    else:
        print(
            f"redriven {result.count('redriven')}, started {result.count('started')}, skipped {result.count('skipped')}"
        )


def main(argv: list[str] | None = None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> int:
    parser = aws.Parser(prog="python -m ops.rerun", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-machine-arn", required=True, help="the trigger's stateMachineArn output")
    parser.add_argument("--since", required=True, help="window start: ISO-8601, or a time ago like 2h")
    parser.add_argument("--until", default=None, help="window end (default: now): ISO-8601, or a time ago")
    parser.add_argument("--dry-run", action="store_true", help="list what would be re-run; change nothing")
    args = parser.parse_args(argv)

    def command() -> int:
        moment = now()
        since = parse_time(args.since, "--since", moment)
        until = parse_time(args.until, "--until", moment) if args.until else moment
        if since >= until:
            aws.bad_input(
                f"--since {args.since} is not before --until {args.until or 'now'}; give a window that starts first"
            )
        machine = aws.state_machine_arn(args.state_machine_arn)
        (sfn,) = aws.clients(aws.resolve_region(machine.group("region")), "stepfunctions")
        described = sfn.describe_state_machine(stateMachineArn=args.state_machine_arn)
        if described.get("type") == "EXPRESS":
            aws.bad_input(
                "--state-machine-arn: an EXPRESS state machine's executions cannot be listed or redriven; "
                "give a trigger's (STANDARD) stateMachineArn"
            )
        result = rerun(sfn, args.state_machine_arn, since, until, dry_run=args.dry_run)
        report(result, since, until, args.dry_run)
        return 0

    return aws.run(command)


if __name__ == "__main__":
    sys.exit(main())
