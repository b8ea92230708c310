"""Redrive a trigger's dead-lettered events into its state machine.

EventBridge puts an event it could not deliver (after the trigger's retry policy) into the
trigger's dead-letter queue, unchanged. Redriving starts the state machine with that event as input,
exactly as EventBridge would have, under the execution name `redrive-<event id>`: Step Functions
returns the running execution of that name, or refuses the name once it has finished, so redriving
the same event twice runs it once. A message is deleted only once its execution started (or had
been started by an earlier redrive).

    python -m ops.redrive --queue-url URL --state-machine-arn ARN [--max 100] [--dry-run]

Both values are stack outputs: `pulumi stack output triggers` gives, per trigger,
`deadLetterQueueUrl` and `stateMachineArn`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import boto3

# Execution names: 1-80 characters of letters, digits, '-' and '_'.
UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class Result:
    """What one redrive did."""

    started: list[str] = field(default_factory=list)
    """Event ids whose execution this run started."""
    already_started: list[str] = field(default_factory=list)
    """Event ids redriven before (the execution name existed); their messages were deleted too."""
    invalid: list[str] = field(default_factory=list)
    """Message ids whose body is not an EventBridge event; left in the queue."""


def execution_name(event_id: str) -> str:
    return f"redrive-{UNSAFE_NAME_CHARS.sub('-', event_id)}"[:80]


def redrive(
    sqs: Any, sfn: Any, queue_url: str, state_machine_arn: str, *, limit: int = 100, dry_run: bool = False
) -> Result:
    """Move up to `limit` dead-lettered events from the queue into the state machine."""
    result = Result()
    seen: set[str] = set()
    while len(seen) < limit:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=min(10, limit - len(seen)), WaitTimeSeconds=0, VisibilityTimeout=60
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            return result
        for message in fresh:
            seen.add(message["MessageId"])
            event = _event(message["Body"])
            if event is None:
                result.invalid.append(message["MessageId"])
                continue
            if dry_run:
                result.started.append(event["id"])
                continue
            try:
                sfn.start_execution(
                    stateMachineArn=state_machine_arn, name=execution_name(event["id"]), input=message["Body"]
                )
                result.started.append(event["id"])
            except sfn.exceptions.ExecutionAlreadyExists:
                result.already_started.append(event["id"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return result


def _event(body: str) -> dict[str, Any] | None:
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        return None
    required = ("id", "detail-type", "source", "detail")
    return event if isinstance(event, dict) and all(k in event for k in required) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.redrive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue-url", required=True, help="the trigger's deadLetterQueueUrl output")
    parser.add_argument("--state-machine-arn", required=True, help="the trigger's stateMachineArn output")
    parser.add_argument("--max", type=int, default=100, help="redrive at most this many events (default 100)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be redriven; change nothing")
    args = parser.parse_args(argv)
    if args.max < 1:
        parser.error("--max must be at least 1")
    result = redrive(
        boto3.client("sqs"),
        boto3.client("stepfunctions"),
        args.queue_url,
        args.state_machine_arn,
        limit=args.max,
        dry_run=args.dry_run,
    )
    verb = "would start" if args.dry_run else "started"
    print(
        f"{verb} {len(result.started)} execution(s); {len(result.already_started)} already redriven; "
        f"{len(result.invalid)} message(s) not an event, left in the queue"
    )
    for event_id in result.started:
        print(f"  {verb} {execution_name(event_id)}")
    return 1 if result.invalid else 0


if __name__ == "__main__":
    sys.exit(main())
