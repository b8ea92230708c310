"""Redrive a trigger's dead-lettered events into its state machine.

EventBridge puts an event it could not deliver (after the trigger's retry policy) into the
trigger's dead-letter queue, unchanged, with the message attributes RULE_ARN, TARGET_ARN,
ERROR_CODE and ERROR_MESSAGE. Only messages whose TARGET_ARN is the given state machine are
redriven: each starts the state machine with the event as input, exactly as EventBridge would have,
under the execution name `redrive-<event id>`. Step Functions returns the running execution of that
name, or refuses the name once it has finished, so redriving the same event twice runs it once. A
message is deleted only once its execution started (or had been started by an earlier redrive).

Every other message (another target, no TARGET_ARN, not an event) is left in the queue and reported,
and, like every message of a --dry-run, made visible again when the command ends, so a run right
after sees the whole queue. The command long-polls until a receive returns nothing and the queue
counts no message it does not hold, or until --max-wait.

    python -m ops.redrive --queue-url URL --state-machine-arn ARN [--dry-run] [--max N] [--max-wait S]

Both values are stack outputs: `pulumi stack output triggers` gives, per trigger,
`deadLetterQueueUrl` and `stateMachineArn`. Exit code: 0 every message for this state machine was
redriven (or had been); 1 an AWS call failed, a message for it could not be redriven, or the queue
did not drain within --max-wait; 2 bad arguments (the line names which).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ops import aws

# Execution names: 1-80 characters of letters, digits, '-' and '_'.
UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
# SQS: at most 10 messages per receive, 20 s of long polling, 12 h of visibility timeout.
BATCH = 10
MAX_WAIT_SECONDS = 20
MAX_VISIBILITY = 12 * 60 * 60
COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


@dataclass
class Left:
    """A message left in the queue, and why."""

    message_id: str
    reason: str


@dataclass
class Result:
    """What one redrive did."""

    started: list[str] = field(default_factory=list)
    """Event ids whose execution this run started (or, in a dry run, would start)."""
    already_started: list[str] = field(default_factory=list)
    """Event ids redriven before (the execution name existed); their messages were deleted too."""
    left: list[Left] = field(default_factory=list)
    """Messages for another target (or for none) left in the queue, visible again."""
    invalid: list[str] = field(default_factory=list)
    """Message ids for this state machine whose body is not an EventBridge event; left in the queue."""
    drained: bool = False
    """A receive returned nothing and the queue counted no message but those left."""
    limit_reached: bool = False
    """--max events were handled; the queue may hold more."""
    remaining: int = 0
    """Messages the queue still counted (beyond those left) when the command gave up waiting."""


def execution_name(event_id: str) -> str:
    return f"redrive-{UNSAFE_NAME_CHARS.sub('-', event_id)}"[:80]


def redrive(
    sqs: Any,
    sfn: Any,
    queue_url: str,
    state_machine_arn: str,
    *,
    limit: int = 1000,
    dry_run: bool = False,
    max_wait: float = 120,
    wait_seconds: int = 5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Result:
    """Move up to `limit` of the state machine's dead-lettered events from the queue into it."""
    result = Result()
    deadline = clock() + max_wait
    # Messages this run does not delete stay invisible while it runs, so a receive never returns them
    # again and the run can tell when the queue is empty; they are made visible again at the end.
    hold = min(MAX_VISIBILITY, int(max_wait) + 60)
    held: dict[str, str] = {}
    handled: set[str] = set()
    try:
        while True:
            wait = max(0, min(wait_seconds, MAX_WAIT_SECONDS, int(deadline - clock())))
            batch = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=BATCH,
                WaitTimeSeconds=wait,
                VisibilityTimeout=hold,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            # Every message received is held (made visible again at the end, even if this run fails
            # half-way) until its event is safely started and the message deleted.
            fresh = [m for m in batch if m["MessageId"] not in held]
            # A held message whose hold ran out comes back: only its newest receipt handle is valid.
            held.update((m["MessageId"], m["ReceiptHandle"]) for m in batch)
            for message in fresh:
                if len(result.started) + len(result.already_started) >= limit:
                    result.limit_reached = True
                    break
                _handle(sqs, sfn, queue_url, state_machine_arn, message, result, held, handled, dry_run)
            if result.limit_reached:
                return result
            if batch:
                continue
            # An empty receive alone is not proof: long polling may miss messages, and others may be
            # in flight (held by another consumer, or delayed); the queue's own counts must agree.
            result.remaining = max(0, _queued(sqs, queue_url) - len(held))
            if result.remaining == 0:
                result.drained = True
                return result
            if clock() >= deadline:
                return result
            if wait == 0:
                sleep(min(1.0, max(0.0, deadline - clock())))
    finally:
        _release(sqs, queue_url, held)


def _handle(
    sqs: Any,
    sfn: Any,
    queue_url: str,
    state_machine_arn: str,
    message: dict[str, Any],
    result: Result,
    held: dict[str, str],
    handled: set[str],
    dry_run: bool,
) -> None:
    message_id = message["MessageId"]
    target = message.get("MessageAttributes", {}).get("TARGET_ARN", {}).get("StringValue")
    if target != state_machine_arn:
        reason = f"its TARGET_ARN is {target}" if target else "it has no TARGET_ARN attribute"
        result.left.append(Left(message_id, reason))
        return
    event = _event(message["Body"])
    if event is None:
        result.invalid.append(message_id)
        return
    if not dry_run:
        try:
            sfn.start_execution(
                stateMachineArn=state_machine_arn, name=execution_name(event["id"]), input=message["Body"]
            )
        except sfn.exceptions.ExecutionAlreadyExists:
            handled.add(event["id"])
    # A second copy of an event in the same run finds its execution running: it was redriven already.
    (result.already_started if event["id"] in handled else result.started).append(event["id"])
    handled.add(event["id"])
    if not dry_run:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        del held[message_id]


def _queued(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(COUNTS))["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in COUNTS)


def _release(sqs: Any, queue_url: str, held: dict[str, str]) -> None:
    """Make every held message visible at once, so the next run (or consumer) sees it."""
    # A release that fails (say, an expired receipt handle) only delays the message: its hold runs out.
    handles = list(held.values())
    entries = [{"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0} for i, handle in enumerate(handles)]
    for start in range(0, len(entries), BATCH):
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries[start : start + BATCH])


def _event(body: str) -> dict[str, Any] | None:
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        return None
    required = ("id", "detail-type", "source", "detail")
    return event if isinstance(event, dict) and all(k in event for k in required) else None


def report(result: Result, dry_run: bool, limit: int, max_wait: float) -> int:
    verb = "would start" if dry_run else "started"
    print(
        f"{verb} {len(result.started)} execution(s); {len(result.already_started)} already redriven; "
        f"{len(result.left)} message(s) for another target and {len(result.invalid)} not an event, left in the queue"
    )
    for event_id in result.started:
        print(f"  {verb} {execution_name(event_id)}")
    for event_id in result.already_started:
        print(f"  already redriven {execution_name(event_id)}")
    for left in result.left:
        print(f"  left message {left.message_id}: {left.reason}")
    for message_id in result.invalid:
        print(f"  left message {message_id}: its body is not an EventBridge event; inspect it and delete it by hand")
    if dry_run:
        print("dry run: nothing was started or deleted; every message is visible again")
    if result.limit_reached:
        print(f"stopped after --max {limit} event(s); the queue may hold more: run again")
        return 0
    if not result.drained:
        print(
            f"error: the queue still counts {result.remaining} message(s) after --max-wait {max_wait:g}s "
            "(held by another consumer or a running redrive); run again once they are visible",
            file=sys.stderr,
        )
        return aws.FAILED
    return aws.FAILED if result.invalid else 0


def main(argv: list[str] | None = None) -> int:
    parser = aws.Parser(prog="python -m ops.redrive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue-url", required=True, help="the trigger's deadLetterQueueUrl output")
    parser.add_argument("--state-machine-arn", required=True, help="the trigger's stateMachineArn output")
    parser.add_argument("--max", type=int, default=1000, help="redrive at most this many events (default 1000)")
    parser.add_argument(
        "--max-wait", type=float, default=120, help="give up waiting for the queue to drain after this many seconds"
    )
    parser.add_argument(
        "--wait-seconds", type=int, default=5, help="long-poll each receive this long, 0-20 (default 5)"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be redriven; change nothing")
    args = parser.parse_args(argv)

    def command() -> int:
        if args.max < 1:
            aws.bad_input(f"--max must be at least 1, got {args.max}")
        if args.max_wait < 0:
            aws.bad_input(f"--max-wait must be 0 or more seconds, got {args.max_wait:g}")
        if not 0 <= args.wait_seconds <= MAX_WAIT_SECONDS:
            aws.bad_input(f"--wait-seconds must be 0-{MAX_WAIT_SECONDS}, got {args.wait_seconds}")
        machine = aws.state_machine_arn(args.state_machine_arn)
        region = aws.resolve_region(aws.queue_region(args.queue_url), machine.group("region"))
        sqs, sfn = aws.clients(region, "sqs", "stepfunctions")
        # Both exist (and may be read) before anything is received, hidden or started.
        sqs.get_queue_attributes(QueueUrl=args.queue_url, AttributeNames=["QueueArn"])
        sfn.describe_state_machine(stateMachineArn=args.state_machine_arn)
        result = redrive(
            sqs,
            sfn,
            args.queue_url,
            args.state_machine_arn,
            limit=args.max,
            dry_run=args.dry_run,
            max_wait=args.max_wait,
            wait_seconds=args.wait_seconds,
        )
        return report(result, args.dry_run, args.max, args.max_wait)

    return aws.run(command)


if __name__ == "__main__":
    sys.exit(main())
