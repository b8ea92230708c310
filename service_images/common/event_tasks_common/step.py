"""Orchestration steps: the earlier results a step receives and the result it hands back.

An orchestrated saga's state machine (components/orchestration.py) runs a step's task with
``ecs:runTask.waitForTaskToken``. The container environment then holds, besides the triggering event:

- ``sagaStep``             the step's name
- ``sagaResults``          JSON object of the earlier steps' results (``{"reserve": {"status": ...}}``)
- ``taskToken``            the token to answer with (absent for a ``.sync`` step)
- ``taskHeartbeatSeconds`` how often Step Functions expects a heartbeat (absent: none)

``run_step`` runs a use case that returns its result and answers the orchestrator with it:
``SendTaskSuccess`` with the result, or ``SendTaskFailure`` with error ``BadInput`` (never retried)
or ``TaskError`` (retried); while the use case runs, a thread sends ``SendTaskHeartbeat``. The
exit codes stay those of ``run``. The result is a small JSON object with a ``status`` string; it is
refused above ``RESULT_MAX`` characters, since every later step carries it in its container overrides.
"""

import json
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

from .cli import run
from .errors import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_OK, BadInput
from .process import Decision, Outcome

ENV_STEP = "sagaStep"
ENV_RESULTS = "sagaResults"
ENV_TOKEN = "taskToken"
ENV_HEARTBEAT = "taskHeartbeatSeconds"

RESULT_MAX = 256
"""Characters of a result's compact JSON (components/step_environment.py sizes overrides with it)."""
CAUSE_MAX = 1000
"""Characters of a failure's cause sent to Step Functions (the saga's failure event carries it)."""
BAD_INPUT_ERROR = "BadInput"
TASK_ERROR = "TaskError"

StepHandler = Callable[[Sequence[str], "StepInput"], dict[str, Any]]


@dataclass(frozen=True)
class StepInput:
    """What the orchestrator told this step: its name and the earlier steps' results."""

    step: str | None
    results: Mapping[str, Mapping[str, Any]]

    def status(self, step: str, field: str = ENV_RESULTS) -> str:
        """The ``status`` an earlier step answered; bad input when it did not run or answer one."""
        result = self.results.get(step)
        if not isinstance(result, Mapping) or not isinstance(result.get("status"), str):
            raise BadInput(f"{field}.{step}", "no status: the step did not run before this one")
        return result["status"]


def answered_not_announced(decision: Decision) -> Decision:
    """The same state change with nothing to emit: in an orchestration the state machine decides
    from the step's result, and an event on the service's bus would start its choreographed twin."""
    return Decision(Outcome(decision.outcome.message), writes=decision.writes, replay=decision.replay)


def read_step_input(environ: Mapping[str, str] | None = None) -> StepInput:
    env = os.environ if environ is None else environ
    raw = env.get(ENV_RESULTS, "{}") or "{}"
    try:
        results = json.loads(raw)
    except ValueError as exc:
        raise BadInput(ENV_RESULTS, f"not valid JSON ({exc})") from None
    if not isinstance(results, dict) or not all(isinstance(v, dict) for v in results.values()):
        raise BadInput(ENV_RESULTS, "expected a JSON object of step name -> result object")
    return StepInput(env.get(ENV_STEP) or None, results)


def encode_result(result: Mapping[str, Any]) -> str:
    """The result as SendTaskSuccess sends it; a result later steps could not carry is a bug (exit 1)."""
    if not isinstance(result.get("status"), str) or not result["status"]:
        raise ValueError(f"a step result needs a non-empty string status, got {dict(result)!r}")
    encoded = json.dumps(dict(result), separators=(",", ":"), sort_keys=True)
    if len(encoded) > RESULT_MAX:
        raise ValueError(f"a step result must stay within {RESULT_MAX} characters, got {len(encoded)}")
    return encoded


class _Heartbeat:
    """Sends SendTaskHeartbeat every third of the heartbeat period until stopped."""

    def __init__(self, client: Any, token: str, seconds: float) -> None:
        self._client, self._token, self._period = client, token, max(seconds / 3, 0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="task-heartbeat", daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._period):
            try:
                self._client.send_task_heartbeat(taskToken=self._token)
            except Exception as exc:  # the answer at the end tells Step Functions; keep working
                print(f"warning: heartbeat not sent: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def _heartbeat_seconds(env: Mapping[str, str]) -> float | None:
    raw = env.get(ENV_HEARTBEAT)
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise BadInput(ENV_HEARTBEAT, f"expected seconds, got {raw!r}") from None
    if seconds <= 0:
        raise BadInput(ENV_HEARTBEAT, f"expected a positive number of seconds, got {raw!r}")
    return seconds


def run_step(
    handler: StepHandler,
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    client: Any = None,
) -> int:
    """Run a step's use case and answer the orchestrator; returns the process exit code.

    Without ``taskToken`` (a ``.sync`` step, or a person at a shell) the result is printed and only
    the exit code speaks.
    """
    env = os.environ if environ is None else environ
    token = env.get(ENV_TOKEN) or None
    if token and client is None:
        client = boto3.client("stepfunctions")
    if not token:
        client = None
    answer: dict[str, str] = {}

    def body(args: Sequence[str]) -> int:
        try:
            heartbeat = _heartbeat_seconds(env)
            step_input = read_step_input(env)
            if client is not None and heartbeat is not None:
                with _Heartbeat(client, token, heartbeat):  # type: ignore[arg-type]
                    result = handler(args, step_input)
            else:
                result = handler(args, step_input)
            answer["output"] = encode_result(result)
        except Exception as exc:  # `run` reports it and picks the exit code; the cause goes to the saga
            answer["cause"] = " ".join(f"{type(exc).__name__}: {exc}".split())
            raise
        print(f"result: {answer['output']}", flush=True)
        return EXIT_OK

    code = run(body, argv)
    if client is None:
        return code
    try:
        if code == EXIT_OK:
            client.send_task_success(taskToken=token, output=answer["output"])
        else:
            client.send_task_failure(
                taskToken=token,
                error=BAD_INPUT_ERROR if code == EXIT_BAD_INPUT else TASK_ERROR,
                cause=f"exit code {code}: {answer.get('cause', 'see the task log')}"[:CAUSE_MAX],
            )
    except Exception as exc:  # the token expired or Step Functions refused: the step will time out
        print(f"error: could not answer the orchestrator: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return code if code != EXIT_OK else EXIT_ERROR
    return code
