"""What the ops commands share: checking their arguments, finding the region, making AWS clients,
and turning every failure into one line that names what to fix, with the exit code the commands
promise (0 done, 1 an AWS operation failed, 2 bad input)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import urlparse

import boto3
import botocore.exceptions

BAD_INPUT = 2
FAILED = 1

STATE_MACHINE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):states:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):stateMachine:(?P<name>[A-Za-z0-9_-]{1,80})$"
)
EXECUTION_ARN = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:")
# sqs.<region>.amazonaws.com[.cn] and the legacy <region>.queue.amazonaws.com.
QUEUE_HOST_REGION = re.compile(r"^(?:sqs\.(?P<a>[a-z0-9-]+)|(?P<b>[a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?$")

REGION_HINT = "set AWS_REGION (or AWS_DEFAULT_REGION, or `region` in your AWS profile)"
ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "AuthFailure",
    "SignatureDoesNotMatch",
}
QUEUE_NOT_FOUND = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(BAD_INPUT, f"error: {message}; see {self.prog} --help\n")


class OpsError(Exception):
    """A failure the command reports as one line and exits with `code`."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code


def bad_input(message: str) -> NoReturn:
    raise OpsError(message, BAD_INPUT)


def state_machine_arn(value: str, flag: str = "--state-machine-arn") -> re.Match[str]:
    """The parts of a state machine ARN, or one line saying what is wrong with it."""
    match = STATE_MACHINE_ARN.match(value)
    if match:
        return match
    if EXECUTION_ARN.match(value):
        bad_input(f"{flag}: {value!r} is an execution ARN; give the state machine's ARN (output stateMachineArn)")
    bad_input(
        f"{flag}: {value!r} is not a state machine ARN; expected "
        "arn:aws:states:<region>:<account>:stateMachine:<name> (output stateMachineArn)"
    )


def queue_region(url: str, flag: str = "--queue-url") -> str | None:
    """The region in a queue URL, None when the host does not say (an emulator endpoint), or one line
    saying what is wrong with it."""
    if url.startswith("arn:"):
        bad_input(f"{flag}: {url!r} is a queue ARN; give the queue's URL (output deadLetterQueueUrl)")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or len(parsed.path.strip("/").split("/")) != 2:
        bad_input(
            f"{flag}: {url!r} is not a queue URL; expected https://sqs.<region>.amazonaws.com/<account>/<queue> "
            "(output deadLetterQueueUrl)"
        )
    host = QUEUE_HOST_REGION.match(parsed.hostname)
    return (host.group("a") or host.group("b")) if host else None


def resolve_region(*from_resources: str | None) -> str:
    """The region the resources live in, else the configured one as the AWS CLI and SDKs read it
    (AWS_REGION, then AWS_DEFAULT_REGION, then the profile's `region`), else one line saying how to set
    it. boto3 alone ignores AWS_REGION, which is what made a run with only AWS_REGION set crash.

    A full ARN or an AWS queue URL names its region, and the resource can only be reached there, so it
    wins over the configured one."""
    named = {r for r in from_resources if r}
    if len(named) > 1:
        bad_input(f"the queue and the state machine are in different regions ({', '.join(sorted(named))})")
    if named:
        return named.pop()
    if os.environ.get("AWS_REGION"):
        return os.environ["AWS_REGION"]
    try:
        configured = boto3.session.Session().region_name
    except botocore.exceptions.ProfileNotFound as exc:
        bad_input(f"{exc}; set AWS_PROFILE to a profile in your AWS config, or unset it")
    if not configured:
        bad_input(f"no AWS region configured; {REGION_HINT}")
    return configured


def clients(region: str, *services: str) -> list[Any]:
    try:
        session = boto3.session.Session(region_name=region)
    except botocore.exceptions.ProfileNotFound as exc:
        bad_input(f"{exc}; set AWS_PROFILE to a profile in your AWS config, or unset it")
    return [session.client(service) for service in services]


def one_line(text: str, limit: int = 300) -> str:
    """An AWS message as one line: an endpoint may answer with a whole HTML page."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def describe(exc: Exception) -> OpsError:
    """One line for an AWS failure, naming what to fix."""
    if isinstance(exc, OpsError):
        return exc
    if isinstance(exc, botocore.exceptions.ClientError):
        code = error_code(exc)
        operation = exc.operation_name
        message = one_line(exc.response.get("Error", {}).get("Message", "") or code)
        if code in ACCESS_DENIED:
            return OpsError(
                f"{operation} was refused ({code}): {message}; use credentials allowed to call it on this resource"
            )
        if code in QUEUE_NOT_FOUND:
            return OpsError(
                f"the queue does not exist ({operation}); check --queue-url (output deadLetterQueueUrl) and its region",
                BAD_INPUT,
            )
        if code == "StateMachineDoesNotExist":
            return OpsError(
                f"the state machine does not exist ({operation}): {message}; check --state-machine-arn "
                "(output stateMachineArn)",
                BAD_INPUT,
            )
        if code == "InvalidArn":
            return OpsError(f"{operation}: {message}; check --state-machine-arn (output stateMachineArn)", BAD_INPUT)
        return OpsError(f"{operation} failed ({code}): {message}")
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return OpsError("no AWS credentials found; configure them (AWS_PROFILE, `aws configure`, or AWS_ACCESS_KEY_ID)")
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return OpsError(f"no AWS region configured; {REGION_HINT}", BAD_INPUT)
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return OpsError(f"{one_line(str(exc))}; check the region and your network (or AWS_ENDPOINT_URL)")
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return OpsError(one_line(str(exc)), BAD_INPUT)
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return OpsError(one_line(str(exc)))
    raise exc


def run(command: Callable[[], int]) -> int:
    """Run a command's body; any failure becomes one line on stderr and its exit code, never a traceback."""
    try:
        return command()
    except (OpsError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        error = describe(exc)
        print(f"error: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print("error: interrupted; run the command again, it does each item at most once", file=sys.stderr)
        return FAILED
