"""Emulated AWS for `make demo`: moto 5.2.5 plus the named workarounds the event-tasks flow needs.

The demo runs EventBridge → Step Functions (Standard, ``arn:aws:states:::ecs:runTask.sync``) → ECS
on moto, inside this process. moto 5.2.5 breaks that flow in several places; each workaround lives
in one ``_workaround_<letter>_*`` function (all listed in ``_activate``) whose docstring says what
moto does, what AWS does and why we patch.
``tests/sandbox/test_emulator.py`` proves every defect against unpatched moto: when moto fixes one,
that test fails and names the workaround to delete.

Usage::

    with start_server() as emu:                   # start_in_process() is the faster twin for tests
        emu.set_task_runner(run)                  # run(launch: TaskLaunch) starts a process, returns
        ...                                       # later, from any thread, when the process exits:
        emu.complete_task(launch.task_arn, exit_code=3)
        emu.events.deliveries                     # what EventBridge did with each matched event

The patches are process-wide, so only one emulator may be active at a time; ``stop()`` (or leaving
the ``with`` block) removes them and, in server mode, resets all moto state.

Timing: with a runner, a ``.sync`` state learns that its task stopped when ``complete_task`` runs:
its resolver waits on the task's stop signal and then describes the task once (workaround C). On AWS,
Step Functions learns a task stopped from ECS, not from a 0.1 s poll of ours; each poll here was an
HTTP DescribeTasks round trip to moto's server, 10 a second for every running state.
``sync_poll_seconds`` (default 0.1 s; moto's own is 0.5 s) now paces only the polling of tasks no
runner holds (moto's own lifecycle) and how often a waiting state checks, without a request, that
its execution still runs (a stopped execution ends as soon as it did with polling).

Sharp edges of moto that are NOT patched here (the harness must handle them):

* FARGATE / ``awsvpc``: moto's ``run_task`` crashes (``AttributeError: private_dns_name``) unless
  the task's VPC has DNS hostnames on: ``ec2.modify_vpc_attribute(VpcId=...,
  EnableDnsHostnames={"Value": True})``. AWS needs no such thing. ``awsvpcConfiguration`` must
  also name ``securityGroups`` (moto: ``KeyError``; AWS would use the VPC's default group).
* A moto task has one container, built from the task definition's FIRST container definition
  (``TaskLaunch.containers`` lists them all), and its ``Containers[].TaskArn`` holds the task
  definition ARN.
* EC2 launch type / ASG capacity providers need a registered container instance; each one offers
  4096 CPU / 7482 MiB, freed only when the task stops (``complete_task`` frees it).
* The ASL interpreter silently drops RunTask parameters outside its list (workaround A adds
  ``CapacityProviderStrategy`` and ``Tags``); AWS would reject an unsupported field when the state machine
  is created.
* ``start_execution`` without ``name`` collides on the second call: always pass a name.
* ``ec2.describe_images()`` costs ~1.7 s: avoid it in fixtures.
* Step Functions ``TimeoutSeconds`` fails the state (``States.Timeout``) but, unlike AWS, does not
  stop the ECS task: the runner's process keeps going until the harness kills it.
* moto delivers events to rules in state DISABLED for its own targets; state-machine targets
  (workaround B) honour ``DISABLED`` as AWS does.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import inspect
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
import jsonpath_ng.ext
import moto.backends as moto_backends
import moto.dynamodb.models as dynamodb_models
import moto.stepfunctions.parser.models as stepfunctions_parser_models
import requests
from botocore import xform_name
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from jsonpath_ng.ext import parse as jsonpath
from moto import mock_aws
from moto.core.config import default_user_config
from moto.core.models import botocore_stubber
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.ecs.models import EC2ContainerServiceBackend, Task
from moto.events.models import EventsBackend, Replay, ReplayState, Rule, events_backends
from moto.events.utils import EventTemplateParser
from moto.iam.models import IAMBackend
from moto.moto_api._internal.managed_state_model import ManagedState
from moto.server import ThreadedMotoServer
from moto.settings import moto_server_port
from moto.sqs.models import sqs_backends
from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.component import Component
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
    state_task_service_ecs,
    state_task_service_events,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs import (
    StateTaskServiceEcs,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import boto_client as asl_boto_client
from moto.stepfunctions.parser.asl.utils import json_path as asl_json_path
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.execution import Execution as SfnExecution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.responses import get_backend as stepfunctions_backend

LOG = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# moto polls a `.sync` task every 0.5 s; 0.1 s keeps the demo brisk and changes no outcome.
DEFAULT_SYNC_POLL_SECONDS = 0.1
EXECUTIONS_STOP_SECONDS = 30.0
"""How long ``Emulator.stop`` waits for the executions it stopped to end before it gives up on them."""

# moto's own implementations, captured before any patch so wrappers can delegate to them.
_moto_run_task = EC2ContainerServiceBackend.run_task
_moto_task_status: property = ManagedState.status
_moto_send_to_targets = Rule.send_to_targets
_moto_put_events = EventsBackend.put_events
_moto_replay_events = Replay.replay_events
_moto_ecs_supported_parameters = StateTaskServiceEcs._get_supported_parameters
_moto_resource_requirements = EC2ContainerServiceBackend._calculate_task_resource_requirements
_moto_wait_interval = WaitFunction._wait_interval
_moto_transact_write_items = DynamoDBBackend.transact_write_items
_jsonpath_parse = jsonpath_ng.ext.parse
_moto_ecs_eval_wait_for_task_token = StateTaskServiceEcs._eval_wait_for_task_token
_moto_list_of_moto_modules = moto_backends.list_of_moto_modules
_RUN_TASK_SIGNATURE = inspect.signature(_moto_run_task)


# --------------------------------------------------------------------------------------------
# Records handed to the harness
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerLaunch:
    """One container of a task, with the task definition and the RunTask overrides merged."""

    name: str
    image: str | None
    command: list[str] | None
    """The override's command when given, else the definition's (``None``: the image default)."""
    environment: dict[str, str]
    """The definition's environment updated by the override's, as ECS would set it."""
    essential: bool


@dataclass(frozen=True)
class TaskLaunch:
    """What the task runner gets for every task ECS ``RunTask`` created (any caller)."""

    task_arn: str
    cluster_arn: str
    task_definition_arn: str
    launch_type: str | None
    capacity_provider_strategy: list[dict[str, Any]] | None
    started_by: str
    """``"AWS Step Functions"`` when a ``.sync`` state started the task."""
    container_definitions: list[dict[str, Any]]
    """The registered definitions (camelCase, as the ECS API returns them)."""
    overrides: dict[str, Any]
    """The RunTask ``overrides`` (camelCase: ``containerOverrides[].command/environment``)."""
    containers: list[ContainerLaunch]


@dataclass(frozen=True)
class Delivery:
    """What EventBridge did with one matched event for one state-machine target."""

    event: dict[str, Any]
    """The event exactly as EventBridge sends it (before any ``Input``/``InputPath``)."""
    rule_arn: str
    target_arn: str
    execution_arn: str | None = None
    """Set when the execution started."""
    dlq_arn: str | None = None
    """Set when the event went to the target's dead-letter queue instead."""
    error: str | None = None
    """``"<ERROR_CODE>: <message>"`` when the execution could not be started."""

    @property
    def outcome(self) -> str:
        """``"delivered"``, ``"dead-lettered"`` or ``"dropped"`` (failed, no DLQ)."""
        if self.execution_arn:
            return "delivered"
        return "dead-lettered" if self.dlq_arn else "dropped"


class EventLog:
    """Thread-safe record of accepted PutEvents entries and of state-machine deliveries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._emitted: list[dict[str, Any]] = []
        self._deliveries: list[Delivery] = []

    @property
    def emitted(self) -> list[dict[str, Any]]:
        """Accepted PutEvents entries: ``{"id", "event-bus", "source", "detail-type", "detail"}``."""
        with self._lock:
            return list(self._emitted)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every state-machine target invocation, in order."""
        with self._lock:
            return list(self._deliveries)

    def by_outcome(self, outcome: str) -> list[Delivery]:
        """Deliveries whose ``outcome`` is ``"delivered"``, ``"dead-lettered"`` or ``"dropped"``."""
        return [d for d in self.deliveries if d.outcome == outcome]

    def _record(self, entries: list[Any], item: Any) -> None:
        with self._lock:
            entries.append(item)


# --------------------------------------------------------------------------------------------
# Patch bookkeeping
# --------------------------------------------------------------------------------------------

_MISSING = object()


class _Patches:
    """Attribute replacements that can all be undone, newest first."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def apply(self, owner: Any, name: str, value: Any) -> None:
        self._saved.append((owner, name, vars(owner).get(name, _MISSING)))
        setattr(owner, name, value)

    def undo(self) -> None:
        while self._saved:
            owner, name, old = self._saved.pop()
            if old is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, old)


def _task_failed(state: Any, env: Any, error: str, cause: str) -> FailureEvent:
    """A TaskFailed history event for an ECS state, as `_from_error` or a raise expects it."""
    name = (
        StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed)
        if error == "States.TaskFailed"
        else CustomErrorName(error)
    )
    return FailureEvent(
        env=env,
        error_name=name,
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(
            taskFailedEventDetails=TaskFailedEventDetails(
                error=error,
                cause=cause,
                resource=state._get_sfn_resource(),
                resourceType=state._get_sfn_resource_type(),
            )
        ),
    )


# --------------------------------------------------------------------------------------------
# Workaround A: ECS integration casing
# --------------------------------------------------------------------------------------------


@functools.cache
@functools.cache
def _operation_model(service: str, action: str) -> Any:
    # Cached: a new botocore session reads the service's model from disk (~40 ms), on every RunTask.
    model = botocore.session.get_session().get_service_model(service)
    names = {xform_name(name): name for name in model.operation_names}
    return model.operation_model(names[action])


def _epoch_millis(value: Any) -> Any:
    """Timestamps as Step Functions prints them in ECS results: epoch milliseconds."""
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {key: _epoch_millis(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_epoch_millis(item) for item in value]
    return value


def _ecs_supported_parameters(self: Any) -> set[str] | None:
    supported = _moto_ecs_supported_parameters(self)
    return supported | {"CapacityProviderStrategy", "Tags"} if supported is not None else None


def _ecs_normalise_parameters(
    self: Any,
    parameters: dict,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    shape = _operation_model(
        self._get_boto_service_name(boto_service_name),
        self._get_boto_service_action(service_action_name),
    ).input_shape
    if shape is not None:
        self._to_boto_request(parameters, shape)


def _ecs_normalise_response(
    self: Any,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    shape = _operation_model(
        self._get_boto_service_name(boto_service_name),
        self._get_boto_service_action(service_action_name),
    ).output_shape
    if shape is None or not isinstance(response, dict):
        return
    # Keys already PascalCase are not shape members, so a second pass changes nothing.
    self._from_boto_response(response, shape)
    response.update(_epoch_millis(response))


def _workaround_a_ecs_casing(patches: _Patches) -> None:
    """A: the ECS optimized integration passes PascalCase to botocore and returns camelCase.

    moto: its port of LocalStack's ASL interpreter left ``StateTaskService._normalise_parameters``
    and ``_normalise_response`` as no-ops, so ``Parameters`` like ``Cluster``/``TaskDefinition``
    reach botocore unconverted and every ``ecs:runTask`` state fails ``States.Runtime`` with
    cause ``'Cluster'``. It also silently drops parameters missing from its list, among them
    ``CapacityProviderStrategy`` (the task then lands wherever the cluster's default puts it) and
    ``Tags`` (the task loses its trigger and event id tags).
    AWS: Step Functions accepts ``CapacityProviderStrategy`` (CDK's ``EcsRunTask`` renders it for
    capacity providers) and every other RunTask member, ``Tags`` included, maps PascalCase
    parameters onto the API's members and returns the DescribeTasks task in PascalCase
    (``Containers[].ExitCode``, ``LastStatus``, ``StoppedReason``, ``TaskArn``...), timestamps in
    epoch milliseconds.
    Why: restore LocalStack's conversion, which uses the botocore operation shapes and the base
    class's own ``_to_boto_request`` / ``_from_boto_response`` helpers. Only on the ECS
    integration: the others stay as moto ships them (``events:putEvents`` works as shipped).
    """
    patches.apply(StateTaskServiceEcs, "_get_supported_parameters", _ecs_supported_parameters)
    patches.apply(StateTaskServiceEcs, "_normalise_parameters", _ecs_normalise_parameters)
    patches.apply(StateTaskServiceEcs, "_normalise_response", _ecs_normalise_response)


# --------------------------------------------------------------------------------------------
# Workaround B: EventBridge → state machine
# --------------------------------------------------------------------------------------------

_EVENT_FIELDS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)
# moto's exception class names → EventBridge's documented DLQ ERROR_CODE values.
_DLQ_ERROR_CODES = {
    "StateMachineDoesNotExist": "NO_RESOURCE",
    "InvalidArn": "NO_RESOURCE",
    "InvalidExecutionInput": "INVALID_JSON",
    "InvalidName": "INVALID_PARAMETER",
    "ValidationException": "INVALID_PARAMETER",
    "ExecutionAlreadyExists": "RESOURCE_ALREADY_EXISTS",
    "ExecutionLimitExceeded": "THROTTLING",
}


def _iso_time(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value  # already ISO 8601
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _eventbridge_event(message: dict[str, Any]) -> dict[str, Any]:
    """moto's internal event message → the event EventBridge sends to targets."""
    event = {key: copy.deepcopy(message.get(key)) for key in _EVENT_FIELDS}
    event["time"] = _iso_time(message["time"])
    return event


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    if "Input" in target:
        return target["Input"]
    if "InputPath" in target:
        matches = jsonpath(target["InputPath"]).find(event)
        return json.dumps(matches[0].value if matches else None)
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        shaped = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
        return shaped if isinstance(shaped, str) else json.dumps(shaped)
    return json.dumps(event)


def _deliver_to_state_machine(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    state_machine_arn = target["Arn"]
    _, _, _, region, account, _ = state_machine_arn.split(":", 5)
    try:
        execution = stepfunctions_backend(account, region).start_execution(
            state_machine_arn, str(uuid.uuid4()), _target_input(target, event)
        )
        delivery = Delivery(event, rule.arn, state_machine_arn, execution_arn=execution.execution_arn)
    except Exception as exc:  # any refusal of StartExecution is a failed invocation
        delivery = _dead_letter(rule, target, event, exc)
    if _active is not None:
        _active.events._record(_active.events._deliveries, delivery)


def _dead_letter(rule: Rule, target: dict[str, Any], event: dict[str, Any], exc: Exception) -> Delivery:
    code = _DLQ_ERROR_CODES.get(type(exc).__name__, "SDK_CLIENT_ERROR")
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    error = f"{code}: {message}"
    dlq_arn = target.get("DeadLetterConfig", {}).get("Arn")
    if dlq_arn:
        _, _, _, region, account, queue_name = dlq_arn.split(":", 5)
        attributes = {
            "RULE_ARN": rule.arn,
            "TARGET_ARN": target["Arn"],
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message,
        }
        try:
            sqs_backends[account][region].send_message(
                queue_name=queue_name,
                message_body=json.dumps(event),
                message_attributes={
                    name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
                },
            )
            LOG.warning("EventBridge: event %s dead-lettered to %s (%s)", event["id"], dlq_arn, error)
            return Delivery(event, rule.arn, target["Arn"], dlq_arn=dlq_arn, error=error)
        except Exception as dlq_exc:
            error = f"{error}; dead-letter queue {dlq_arn} failed too: {dlq_exc}"
    LOG.error(
        "EventBridge DROPPED event %s: rule %s could not start %s: %s",
        event["id"],
        rule.arn,
        target["Arn"],
        error,
    )
    return Delivery(event, rule.arn, target["Arn"], error=error)


def _is_state_machine(target: dict[str, Any]) -> bool:
    return target["Arn"].split(":")[2:3] == ["states"]


def _send_to_targets(self: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
    machines = [t for t in self.targets if _is_state_machine(t)]
    if not machines:
        return _moto_send_to_targets(self, original_event, transform_input)
    others = [t for t in self.targets if not _is_state_machine(t)]
    if others:
        # A shallow copy with only moto's own target kinds: each is sent exactly once.
        rule = copy.copy(self)
        rule.targets = others
        _moto_send_to_targets(rule, original_event, transform_input)
    if self.state != "ENABLED" or not self.event_pattern.matches_event(original_event):
        return
    event = _eventbridge_event(original_event)
    for target in machines:
        _deliver_to_state_machine(self, target, event)


def _put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entries = _moto_put_events(self, events)
    if _active is not None:
        for event, entry in zip(events, entries, strict=True):  # one entry per event, in order
            if "EventId" in entry:
                _active.events._record(
                    _active.events._emitted,
                    {
                        "id": entry["EventId"],
                        "event-bus": event.get("EventBusName") or "default",
                        "source": event["Source"],
                        "detail-type": event["DetailType"],
                        "detail": json.loads(event["Detail"]),
                    },
                )
    return entries


def _workaround_b_state_machine_targets(patches: _Patches) -> None:
    """B: EventBridge rules never start a state machine.

    moto: ``put_targets`` accepts a ``arn:aws:states:...:stateMachine:`` target, but
    ``Rule.send_to_targets`` raises ``NotImplementedError`` for it; over HTTP that is a 500 which
    botocore retries, so the rule's other targets (SQS...) receive every event several times.
    AWS: the target starts an execution whose input is the whole event (``version``, ``id``,
    ``detail-type``, ``source``, ``account``, ``time`` in ISO 8601 ``Z``, ``region``,
    ``resources``, ``detail``), or the target's ``Input``/``InputPath``/``InputTransformer``
    result. A failed invocation goes to the target's SQS dead-letter queue with the message
    attributes ``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``; without one it
    is dropped. Disabled rules deliver nothing.
    Why: the demo's whole flow starts here. State-machine targets are handled by this module
    (unique execution names: moto's nameless start collides), every other target by moto,
    exactly once. This emulator does not retry: a failure dead-letters (or is logged as an ERROR
    and recorded as ``dropped``) at once. ``EventLog`` records emitted events and deliveries.
    """
    patches.apply(Rule, "send_to_targets", _send_to_targets)
    patches.apply(EventsBackend, "put_events", _put_events)


# --------------------------------------------------------------------------------------------
# Workaround C: real exit codes through a task runner
# --------------------------------------------------------------------------------------------


def _run_task(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> list[Task]:
    tasks = _moto_run_task(self, *args, **kwargs)
    emulator = _active
    if emulator is not None and emulator._runner is not None:
        call = _RUN_TASK_SIGNATURE.bind(self, *args, **kwargs)
        for task in tasks:
            emulator._launch(self, task, call.arguments.get("capacity_provider_strategy"))
    return tasks


def _task_status(self: Task) -> str | None:
    if getattr(self, "_held_by_emulator", False):
        return self._status  # frozen until complete_task()
    return _moto_task_status.fget(self)


# The longest a `.sync` resolver waits for its task's stop signal before it looks again whether its
# execution still runs (a stopped execution's state must end, not wait for its task). It looks as
# often as moto's poll would have (``sync_poll_seconds``), but only at a flag, never over HTTP.
_SYNC_WAIT_MAX_SLICE_SECONDS = 1.0


def _essential_containers(ecs: Any, definition_arn: str, emulator: Emulator | None) -> frozenset[str]:
    """The essential containers of a task definition revision. A revision never changes (a new one is
    registered instead), so each emulator describes it once, not once per stopped task."""
    if emulator is None:
        known, lock = {}, contextlib.nullcontext()
    else:
        # Held over the request: tasks of one revision often stop together, and each would ask.
        known, lock = emulator._essential, emulator._essential_lock
    with lock:
        if definition_arn not in known:
            definition = ecs.describe_task_definition(taskDefinition=definition_arn)["taskDefinition"]
            known[definition_arn] = frozenset(
                c["name"] for c in definition["containerDefinitions"] if c.get("essential", True)
            )
        return known[definition_arn]


def _ecs_build_sync_resolver(
    self: Any,
    env: Any,
    resource_runtime_part: Any,
    normalised_parameters: dict,
    state_credentials: Any,
) -> Callable[[], Any]:
    ecs = state_task_service_ecs.boto_client_for(
        service="ecs", region=resource_runtime_part.region, state_credentials=state_credentials
    )
    submitted = env.stack.pop()
    task_arn = submitted["Tasks"][0]["TaskArn"]
    cluster_arn = submitted["Tasks"][0]["ClusterArn"]
    emulator = _active
    # None: no runner holds the task (moto's lifecycle, polled) or it has already stopped.
    wake = emulator._wake_signal(task_arn) if emulator is not None else None
    token = (env.states.context_object.context_object_data.get("Task") or {}).get("Token")
    endpoint = env.callback_pool_manager.get(token)  # what moto's _eval_sync listens on beside the resolver
    if wake is not None and endpoint is not None:
        endpoint._emulator_wake = wake  # an answer on the task token wakes the wait too

    def resolve() -> dict | None:
        if wake is not None:
            slice_seconds = min(
                _SYNC_WAIT_MAX_SLICE_SECONDS, state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK
            )
            while not wake.wait(slice_seconds) and env.is_running():
                pass
            answered_by = getattr(endpoint, "_emulator_answered_by", None)
            if answered_by is not None:
                # The token's answer decides; its thread hands it to moto's loop as it ends.
                answered_by.join(_SYNC_WAIT_MAX_SLICE_SECONDS)
                return None
            if not wake.is_set() or not env.is_running():
                return None  # the execution ended (timed out, stopped): moto's loop ends too
        described = ecs.describe_tasks(cluster=cluster_arn, tasks=[task_arn])
        if described["tasks"][0]["lastStatus"] != "STOPPED":
            return None
        essential = _essential_containers(ecs, described["tasks"][0]["taskDefinitionArn"], emulator)
        described.pop("ResponseMetadata", None)
        self._normalise_response(response=described, service_action_name="describe_tasks")
        task = described["Tasks"][0]
        if any(c.get("Name") in essential and c.get("ExitCode") != 0 for c in task.get("Containers", [])):
            raise FailureEventException(_task_failed(self, env, "States.TaskFailed", to_json_str(task)))
        return task

    return resolve


def _ecs_eval_wait_for_task_token(
    self: Any, env: Any, timeout_seconds: Any, callback_endpoint: Any, heartbeat_endpoint: Any
) -> Any:
    """moto's wait for an answer on a ``.sync`` state's task token, waking that state's resolver after it.

    moto's ``_eval_sync`` ends on whichever comes first, the resolver's result or this answer
    (``SendTaskSuccess``/``SendTaskFailure``, a heartbeat or callback timeout); a resolver that waits
    for its task's stop must hear of the answer as soon as moto's poll would have.
    """
    try:
        return _moto_ecs_eval_wait_for_task_token(
            self,
            env=env,
            timeout_seconds=timeout_seconds,
            callback_endpoint=callback_endpoint,
            heartbeat_endpoint=heartbeat_endpoint,
        )
    finally:
        wake = getattr(callback_endpoint, "_emulator_wake", None)
        if wake is not None:
            callback_endpoint._emulator_answered_by = threading.current_thread()
            wake.set()


def _workaround_c_exit_codes(patches: _Patches) -> None:
    """C: ECS tasks always "succeed"; a task runner supplies real outcomes.

    moto: every container reports ``exitCode`` 0, no API sets it, and a task walks to STOPPED on
    its own as ``describe_tasks`` is polled (~1 s), so a ``.sync`` state succeeds whatever the
    task would have done. moto's ``.sync`` resolver never looks at exit codes.
    AWS: ``runTask.sync`` waits for STOPPED and fails with ``States.TaskFailed`` (cause: the
    DescribeTasks task as JSON, holding ``StoppedReason`` and ``Containers[].ExitCode``) when an
    essential container exited non-zero; otherwise the state's result is that task. The emulator
    also fails a task whose essential container has no exit code (it never ran). Step Functions
    learns that the task stopped from ECS; it is not paced by a poll of the caller's.
    Why: the demo runs each task as a local process whose exit code must decide the outcome.
    With a runner registered (``Emulator.set_task_runner``), every task RunTask creates (from the
    ASL interpreter or boto3) is handed to it and held RUNNING until ``Emulator.complete_task``;
    the ``.sync`` resolver applies AWS's rule. The stop is pushed, not polled: moto's ``_eval_sync``
    loop would call the resolver every ``sync_poll_seconds``, each call an HTTP DescribeTasks round
    trip to moto's server (10 a second per running state, all through the server's one dispatcher
    lock). Instead the resolver of a held task waits on the task's stop signal, set at the end of
    ``complete_task``, and then describes the task once. Meanwhile it looks whether its execution
    still runs as often as moto's poll would have (at most every second; a flag, not a request), so
    a stopped execution ends as before, and an answer on the state's task token
    (``SendTaskSuccess``/``SendTaskFailure``, a callback or heartbeat timeout) wakes it as moto's
    poll would have seen it. A task already stopped when the resolver first looks is described at once.
    Without a runner, tasks behave as moto's do, polled.
    """
    patches.apply(EC2ContainerServiceBackend, "run_task", _run_task)
    patches.apply(Task, "status", property(_task_status, _moto_task_status.fset))
    patches.apply(StateTaskServiceEcs, "_build_sync_resolver", _ecs_build_sync_resolver)
    patches.apply(StateTaskServiceEcs, "_eval_wait_for_task_token", _ecs_eval_wait_for_task_token)


# --------------------------------------------------------------------------------------------
# Workaround D: ECS error names
# --------------------------------------------------------------------------------------------


def _ecs_eval_service_task(
    self: Any,
    env: Any,
    resource_runtime_part: Any,
    normalised_parameters: dict,
    state_credentials: Any,
) -> None:
    ecs = state_task_service_ecs.boto_client_for(
        region=resource_runtime_part.region, service="ecs", state_credentials=state_credentials
    )
    action = self._get_boto_service_action()
    response = getattr(ecs, action)(**normalised_parameters)
    response.pop("ResponseMetadata", None)
    self._normalise_response(response=response, service_action_name=action)
    placed = action != "run_task" or (response.get("Tasks") and not response.get("Failures"))
    if self.resource.condition is not None and not placed:
        # moto reports "no capacity" as an empty task list without Failures; AWS lists them.
        cause = to_json_str(response.get("Failures") or "RunTask placed no task")
        raise FailureEventException(_task_failed(self, env, "AmazonECS.Unknown", cause))
    env.stack.append(response)


def _ecs_from_error(self: Any, env: Any, ex: Exception) -> FailureEvent:
    if not isinstance(ex, ClientError):
        return super(StateTaskServiceEcs, self)._from_error(env=env, ex=ex)
    error, meta = ex.response.get("Error", {}), ex.response.get("ResponseMetadata", {})
    cause = (
        f"{error.get('Message')} (Service: AmazonECS; Status Code: {meta.get('HTTPStatusCode')}; "
        f"Error Code: {error.get('Code')}; Request ID: {meta.get('RequestId')}; Proxy: null)"
    )
    return _task_failed(self, env, "ECS.AmazonECSException", cause)


def _workaround_d_error_names(patches: _Patches) -> None:
    """D: ECS failures carry AWS's error names, so ``Retry``/``Catch`` match as on AWS.

    moto: any exception in the ECS state (``ClusterNotFoundException``, throttling...) becomes
    ``States.Runtime``, which ``Retry``/``Catch`` on ``ECS.AmazonECSException`` never match; a
    RunTask that placed nothing crashes on ``Tasks[0]``.
    AWS: ECS API errors are ``ECS.AmazonECSException`` with a cause like ``<message> (Service:
    AmazonECS; Status Code: 400; Error Code: ClusterNotFoundException; Request ID: ...)``; a
    RunTask answer with non-empty ``Failures`` fails a ``.sync``/``waitForTaskToken`` state with
    ``AmazonECS.Unknown`` (request-response returns it as the result).
    Why: the state machines retry on exactly these names; the emulator must raise them.
    """
    patches.apply(StateTaskServiceEcs, "_eval_service_task", _ecs_eval_service_task)
    patches.apply(StateTaskServiceEcs, "_from_error", _ecs_from_error)


# --------------------------------------------------------------------------------------------
# Workaround E: task-level sizes
# --------------------------------------------------------------------------------------------

_CFN_MEMORY_KEYS = ("Memory", "MemoryReservation")  # moto reads these first when present


def _task_resource_requirements(task_definition: Any) -> dict[str, Any]:
    sized = copy.copy(task_definition)
    sized.container_definitions = [
        c
        if any(k in c for k in _CFN_MEMORY_KEYS)
        else {**c, "memory": c.get("memory") or c.get("memoryReservation") or 0}
        for c in task_definition.container_definitions
    ]
    requirements = _moto_resource_requirements(sized)
    if task_definition.cpu:
        requirements["CPU"] = int(task_definition.cpu)
    if task_definition.memory:
        requirements["MEMORY"] = int(task_definition.memory)
    return requirements


def _workaround_e_task_level_sizes(patches: _Patches) -> None:
    """E: a task definition sized at task level only can run.

    moto: ``run_task`` sums the containers' ``memory``/``memoryReservation`` and crashes
    (``TypeError: ... 'int' and 'NoneType'``; a 500, so ``ECS.AmazonECSException``, over HTTP) when
    a container has neither; it ignores task-level ``cpu``/``memory`` when placing a task.
    AWS: container sizes are optional when the task sets ``cpu``/``memory`` (FARGATE requires
    them); on EC2 instances the task then reserves the task-level amounts.
    Why: the program's task definitions set task-level sizes only, so every RunTask of the demo
    failed. Task-level sizes, when set, are what a task reserves on a container instance.
    """
    patches.apply(
        EC2ContainerServiceBackend, "_calculate_task_resource_requirements", staticmethod(_task_resource_requirements)
    )


# --------------------------------------------------------------------------------------------
# Workaround F: one parser scope stack per parse
# --------------------------------------------------------------------------------------------


def _preprocessor_init(self: Preprocessor, *args: Any, **kwargs: Any) -> None:
    super(Preprocessor, self).__init__(*args, **kwargs)
    self._query_language_per_scope = []


def _workaround_f_parser_threads(patches: _Patches) -> None:
    """F: concurrent executions corrupt each other's parse of the definition.

    moto: the ASL ``Preprocessor`` keeps its query-language scope stack in a CLASS attribute
    (``_query_language_per_scope: list = []``), shared by every parse; moto parses the definition
    on each execution's own thread (and in ``create_state_machine``), so two overlapping parses
    push and pop the same list and one fails with ``IndexError``. The execution thread dies
    before it records an end: the execution stays RUNNING forever.
    AWS: executions are independent; any number may start at once.
    Why: one event matching two rules, a replay, or Pulumi registering state machines on two
    threads all start parses together; the demo must not hang by chance.
    """
    patches.apply(Preprocessor, "__init__", _preprocessor_init)


# --------------------------------------------------------------------------------------------
# Option (not a moto defect): shorter Wait states
# --------------------------------------------------------------------------------------------


def _scaled_wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
    """A Wait state's seconds times the active emulator's ``wait_scale``.

    The workflows back off for real (30 s, 60 s... before a task is retried); the sandbox plays
    the same definition with ``Emulator.set_wait_scale`` to keep a run short. moto's own wait
    re-enters on whole seconds only, so a fraction of a second would never end there.
    """
    emulator = _active
    scale = emulator.wait_scale if emulator is not None else 1.0
    if scale == 1.0:
        return _moto_wait_interval(self, env, wait_seconds)
    deadline = time.monotonic() + wait_seconds * scale
    # program_state_event is set when the execution stops: a stopped execution waits no longer.
    while env.is_running() and (left := deadline - time.monotonic()) > 0:
        env.program_state_event.wait(left)
    return None


class _ScaledRetryClock:
    """What a Retry's backoff sleeps on: ``time`` with the interval times the emulator's ``wait_scale``.

    A state's Retry waits ``IntervalSeconds`` (x ``BackoffRate`` each time) in moto's retrier; the
    sandbox plays the same definition faster, like its Wait states.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        emulator = _active
        if emulator is None:
            time.sleep(seconds)
        else:  # a stopping emulator cuts the backoff short: its stopped execution then ends
            emulator._stopping.wait(seconds * emulator.wait_scale)


# --------------------------------------------------------------------------------------------
# Workaround M: replays honour their window and FilterArns
# --------------------------------------------------------------------------------------------


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return float(value)


def _replay_events(self: Replay, archive: Any) -> None:
    start, end = _epoch(self.event_start_time), _epoch(self.event_end_time)
    filters = set(self.destination.get("FilterArns") or [])
    backend = events_backends[self.account_id][self.region]
    bus = backend.describe_event_bus(self.destination["Arn"].split("/")[-1])
    for event in list(archive.events):
        if not start <= _epoch(event["time"]) < end:
            continue
        for rule in list(bus.rules.values()):
            if filters and rule.arn not in filters:
                continue
            # A new id, as moto ships it; the `replay-name` field keeps the archive rule from
            # archiving the replayed event again.
            rule.send_to_targets(dict(event, id=str(uuid.uuid4()), **{"replay-name": self.name}), transform_input=False)
    self.state = ReplayState.COMPLETED
    self.end_time = dt.datetime.now(dt.UTC).timestamp()


def _workaround_m_replay_window_and_filters(patches: _Patches) -> None:
    """M: a replay re-sends every archived event to every rule of the bus.

    moto: ``StartReplay`` accepts ``EventStartTime``/``EventEndTime`` and
    ``Destination.FilterArns`` but ignores them: every event in the archive, whenever it happened,
    goes to every rule on the bus.
    AWS: only events whose time is in ``[EventStartTime, EventEndTime)`` are replayed, and with
    ``FilterArns`` only to those rules (how ``ops.replay --trigger`` replays one trigger's window).
    Why: the replay tests and ``ops.replay`` depend on the window and the filter; without them a
    replay of one trigger would re-run every trigger on the bus. Delivery itself goes through
    ``Rule.send_to_targets``, so state-machine targets are served by workaround B. moto's replay
    stays synchronous: ``StartReplay`` returns once it is ``COMPLETED``.
    """
    patches.apply(Replay, "replay_events", _replay_events)


# --------------------------------------------------------------------------------------------
# Workaround G: serializable DynamoDB transactions
# --------------------------------------------------------------------------------------------

# Every DynamoDB backend call that reads or writes items: one lock orders them, as DynamoDB orders
# a transaction against every other read and write of its items.
_DYNAMODB_ITEM_CALLS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "transact_write_items",
    "transact_get_items",
    "batch_get_item",
    "batch_write_item",
)


def _serialised(method: Callable[..., Any], lock: Any) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return call


def _workaround_g_dynamodb_transactions(patches: _Patches) -> None:
    """G: concurrent DynamoDB transactions corrupt each other (over-reservation, lost writes).

    moto: ``transact_write_items`` deep-copies each table it touches as a rollback snapshot,
    checks the conditions, then applies the writes one by one, with no lock. Under concurrent
    writers (the moto server answers each request on its own thread) the copy races another
    write (``RuntimeError: dictionary changed size during iteration``), two transactions both
    pass a condition before either writes (15 reservations against a limit of 10), and a
    cancelled transaction restores its snapshot over the table, erasing the writes another
    transaction committed meanwhile (a decision that vanished).
    AWS: TransactWriteItems is serializable with every other write and read of its items: a
    condition is checked against the state the transaction commits on, and a cancelled one
    changes nothing.
    Why: the sandbox judges concurrency (50 orders for one customer must never over-reserve);
    moto's races would fail or pass it by chance. One re-entrant lock around every item call
    of the DynamoDB backend (a transaction calls ``put_item``/``update_item`` inside) makes
    each call atomic: serializable, as DynamoDB is, at a throughput the sandbox never notices.
    """
    lock = threading.RLock()
    for name in _DYNAMODB_ITEM_CALLS:
        patches.apply(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name), lock))


# --------------------------------------------------------------------------------------------
# Workaround O: a cancelled transaction restores its items, not copies of whole tables
# --------------------------------------------------------------------------------------------

_item_rollback = threading.local()


class _TransactionCopy:
    """moto's DynamoDB models module's ``copy``: while a transaction keeps its own item snapshot,
    its whole-table snapshot is the table itself (never restored: nothing was copied)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table) and getattr(_item_rollback, "active", False):
            return value
        return copy.deepcopy(value, memo)


def _transaction_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[tuple[Table, Any, Any]]:
    """(table, hash key, range key) of every item a transaction names, or [] if one cannot be read
    (moto will refuse that transaction; its own rollback then stays in charge)."""
    found = []
    for entry in transact_items:
        if len(entry) != 1:
            return []
        op = next(iter(entry.values()))
        table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        if table is None or table.stream_shard is not None:  # a stream would keep the cancelled writes
            return []
        key = op.get("Key") or {
            name: op.get("Item", {}).get(name) for name in (table.hash_key_attr, table.range_key_attr) if name
        }
        try:
            found.append((table, *backend.get_keys_value(table, key)))
        except Exception:
            return []
    return found


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    touched = _transaction_items(self, transact_items)
    if not touched:
        return _moto_transact_write_items(self, transact_items)
    before = {(id(t), h, r): (t, h, r, copy.deepcopy(t.get_item(h, r))) for t, h, r in touched}
    _item_rollback.active = True
    try:
        return _moto_transact_write_items(self, transact_items)
    except Exception:
        for table, hash_key, range_key, item in before.values():
            items = table.items if range_key is None else table.items[hash_key]
            slot = hash_key if range_key is None else range_key
            if item is None:
                items.pop(slot, None)
            else:
                items[slot] = item
        raise
    finally:
        _item_rollback.active = False


def _workaround_o_transaction_snapshots(patches: _Patches) -> None:
    """O: every TransactWriteItems deep-copies whole tables, so the sandbox slows as tables grow.

    moto: ``transact_write_items`` takes its rollback snapshot by deep-copying every table the
    transaction names, once per operation (a three-operation transaction on one table copies it
    three times), whether or not the transaction is cancelled. The cost grows with the table:
    by the end of 100 orders, most of the emulator's CPU went to copying DynamoType values.
    AWS: a transaction's cost does not depend on the size of its tables.
    Why: the sandbox's throughput (issue 11). A cancelled transaction must still change
    nothing, so the snapshot is kept, but only of the items the transaction names (deep-copied
    before it runs, put back if it fails). That is the same rollback: workaround G serialises
    every DynamoDB item call, so nothing else writes those tables meanwhile, and a transaction
    writes only the items it names. A table with a stream, or a transaction whose items cannot
    be read, keeps moto's whole-table snapshot (must be applied before G, which wraps it).
    """
    patches.apply(DynamoDBBackend, "transact_write_items", _transact_write_items)
    patches.apply(dynamodb_models, "copy", _TransactionCopy())


# --------------------------------------------------------------------------------------------
# Workaround P: a state machine's definition is parsed once, not once per execution
# --------------------------------------------------------------------------------------------


def _with_heap_keys(program: EvalComponent) -> EvalComponent:
    """Give every component of a parsed program its heap key now.

    An execution keeps a component's per-run state (a Retrier's attempt count, a backoff's next
    interval) in its own environment's heap under the component's key, which moto draws on first
    use. Two executions sharing the program must not draw two keys for one component at once.
    """
    seen: set[int] = set()
    pending: list[Any] = [program]
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, EvalComponent):
            value.heap_key  # noqa: B018  (drawn here, once)
        if isinstance(value, Component):
            pending.extend(vars(value).values())
        elif isinstance(value, list | tuple | set | frozenset):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
    return program


@functools.lru_cache(maxsize=128)
def _parsed_program(definition: str) -> EvalComponent:
    return _with_heap_keys(AmazonStateLanguageParser.parse(definition)[0])


# Executions of a new definition often start together (one event, several rules); the first
# parses while the others wait, rather than each parsing it (a parse holds the GIL anyway).
_parse_lock = threading.Lock()


def _evaluation_entrypoint(self: ExecutionWorker) -> EvalComponent:
    with _parse_lock:
        return _parsed_program(self._evaluation_details.state_machine_details.definition)


class _ValidatingParser:
    """The ASL parser as CreateStateMachine's validation sees it: the shared parse. An invalid
    definition raises as before (and is never cached)."""

    @staticmethod
    def parse(definition: str) -> tuple[EvalComponent, None]:
        with _parse_lock:
            return _parsed_program(definition), None


def _workaround_p_parse_once(patches: _Patches) -> None:
    """P: every execution parses its state machine's definition again (ANTLR, in Python).

    moto: ``ExecutionWorker`` runs the ANTLR parser over the definition at the start of every
    execution. The failure path's ASL (retries, catchers, the failure event) took ~0.1 CPU-s
    to parse; a quarter of the emulator's CPU in a 100-order run.
    AWS: n/a (a definition is validated once, when the state machine is created or updated).
    Why: the sandbox's throughput (issue 11). The parsed program holds no per-execution
    state: an execution keeps its state in its own environment (the heap, keyed by component),
    so executions of one definition share one parse. Keyed by the definition's text, so an
    updated state machine gets a new parse (and the cache may outlive an emulator: a parse
    depends on nothing else). Every component's heap key is drawn before the program is shared
    (see ``_with_heap_keys``).
    Creating a state machine parses its definition too, to validate it, and that parse is the
    one its executions use: a sandbox that deploys the same stack as an earlier one in the same
    process (the tests) parses nothing again.
    """
    patches.apply(ExecutionWorker, "_get_evaluation_entrypoint", _evaluation_entrypoint)
    patches.apply(stepfunctions_parser_models, "AmazonStateLanguageParser", _ValidatingParser)


# --------------------------------------------------------------------------------------------
# Workaround Q: a JSONPath is parsed once, not on every use
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _parsed_jsonpath(path: str) -> Any:
    return _jsonpath_parse(path)


def _jsonpath(path: str, debug: bool | None = None) -> Any:
    return _jsonpath_parse(path, debug) if debug else _parsed_jsonpath(path)


def _workaround_q_jsonpath_once(patches: _Patches) -> None:
    """Q: moto builds a new JSONPath parser (PLY tables and all) for every path it evaluates.

    moto: EventBridge's ``EventTemplateParser.parse`` runs for every target of every matched
    event (every bus's archive rule matches every event) and parses each path of the default
    input map with a new ``jsonpath_ng`` parser; the ASL interpreter's ``extract_json`` does
    the same for every ``$.path`` of every state. Building the parser is most of the cost:
    over a tenth of the emulator's CPU in a 100-order run.
    AWS: n/a.
    Why: the sandbox's throughput (issue 11). A parsed path is an immutable expression whose
    ``find`` has no side effects, so one parse per distinct path serves every use. Debug
    parses are left alone.
    """
    patches.apply(jsonpath_ng.ext, "parse", _jsonpath)  # moto.events imports it at each call
    patches.apply(asl_json_path, "parse", _jsonpath)


# --------------------------------------------------------------------------------------------
# Workaround R: the ASL interpreter's AWS clients are made once
# --------------------------------------------------------------------------------------------

_moto_boto_client_for = asl_boto_client.boto_client_for
ASL_CLIENT_CONNECTIONS = 100
_asl_clients: dict[tuple[str, str, bool, int], BaseClient] = {}
_asl_clients_lock = threading.Lock()


def _shared_boto_client_for(region: str, service: str, state_credentials: Any = None) -> BaseClient:
    # moto's own function ignores state_credentials (every client has its fake keys): so do we.
    key = (region, service, botocore_stubber.enabled, moto_server_port())
    with _asl_clients_lock:
        client = _asl_clients.get(key)
        if client is None:
            # moto's client, with room for every execution calling at once (urllib3 would otherwise
            # warn and drop connections past its default pool of 10).
            made = _moto_boto_client_for(region=region, service=service)
            credentials = made._request_signer._credentials
            client = _asl_clients[key] = boto3.client(
                service,
                region_name=region,
                endpoint_url=made.meta.endpoint_url,
                aws_access_key_id=credentials.access_key,
                aws_secret_access_key=credentials.secret_key,
                config=made.meta.config.merge(Config(max_pool_connections=ASL_CLIENT_CONNECTIONS)),
            )
        return client


def _workaround_r_asl_clients(patches: _Patches) -> None:
    """R: the ASL interpreter makes a new boto3 client for every AWS call of every state.

    moto: ``boto_client_for`` builds a client (with its model, endpoint resolver and hooks) for
    every RunTask, every ``.sync`` check and every ``events:putEvents`` state: ~20 ms of CPU each.
    AWS: n/a.
    Why: the sandbox's throughput (issue 11). Every such client is made with the same fixed
    settings (fake keys, no retries, the state timeout) for a region and service, and boto3
    clients are thread-safe, so one per region, service and endpoint serves every state.
    """
    with _asl_clients_lock:  # a client made for an earlier emulator may not reach this one
        _asl_clients.clear()
    patches.apply(state_task_service_ecs, "boto_client_for", _shared_boto_client_for)
    patches.apply(state_task_service_events, "boto_client_for", _shared_boto_client_for)


# --------------------------------------------------------------------------------------------
# Workaround K: ECS task bookkeeping under concurrency
# --------------------------------------------------------------------------------------------

_ECS_TASK_CALLS = ("run_task", "start_task", "describe_tasks", "list_tasks", "stop_task")


def _workaround_k_ecs_tasks(patches: _Patches) -> None:
    """K: ``describe_tasks`` crashes while another request starts a task.

    moto: ``describe_tasks`` (and ``list_tasks``) iterate the backend's per-cluster task dict
    while ``run_task`` inserts into it on another request thread: ``RuntimeError: dictionary
    changed size during iteration``, a 500 that a ``.sync`` state reports as
    ``ECS.AmazonECSException`` (seen under load: the execution FAILED, its task still ran).
    AWS: DescribeTasks answers whatever else runs.
    Why: ``.sync`` states describe their tasks while other executions start tasks (every poll,
    before workaround C pushed the stop; once per task now); under load the demo failed
    executions at random. One re-entrant lock around the backend's task
    calls (``run_task`` holds it while the task runner is handed the task, which only starts
    a thread; ``complete_task`` stops tasks through ``stop_task``).
    """
    lock = threading.RLock()
    for name in _ECS_TASK_CALLS:
        patches.apply(EC2ContainerServiceBackend, name, _serialised(getattr(EC2ContainerServiceBackend, name), lock))


# --------------------------------------------------------------------------------------------
# Workaround S: IAM calls under concurrency
# --------------------------------------------------------------------------------------------

# The calls of the IAM backend that read or change its roles, policies and instance profiles.
_IAM_CALL_PREFIXES = ("create_", "delete_", "get_", "list_", "put_", "attach_", "detach_", "update_", "tag_", "untag_")


def _workaround_s_iam_calls(patches: _Patches) -> None:
    """S: ``CreateRole`` crashes while another request creates a role.

    moto: ``create_role`` checks the name is free by iterating the backend's role dict, while
    ``create_role`` on another request thread inserts into it: ``RuntimeError: dictionary changed
    size during iteration``, a 500 (seen: a sandbox deploy failed, provisioning its roles
    concurrently on a loaded machine).
    AWS: CreateRole answers whatever else is created at the same time.
    Why: the sandbox provisions a stack's resources concurrently, as the Pulumi engine does; a
    random 500 failed the deploy. One re-entrant lock around the IAM backend's calls (as K does for
    ECS): IAM is only called while a stack is provisioned, so nothing waits on it afterwards.
    """
    lock = threading.RLock()
    for name, member in vars(IAMBackend).items():
        if callable(member) and name.startswith(_IAM_CALL_PREFIXES):
            patches.apply(IAMBackend, name, _serialised(member, lock))


# --------------------------------------------------------------------------------------------
# Workaround L: a fresh task token for every attempt of a callback-capable Task state
# --------------------------------------------------------------------------------------------

_moto_task_service_eval_execution = StateTaskServiceCallback._eval_execution


def _eval_execution_with_fresh_token(self: Any, env: Any) -> None:
    task = env.states.context_object.context_object_data.get("Task") or {}
    endpoint = env.callback_pool_manager.get(task.get("Token"))
    if endpoint is not None and endpoint._notify_event.is_set():  # an earlier attempt's, used up
        env.callback_pool_manager.add(env.states.context_object.update_task_token())
    _moto_task_service_eval_execution(self, env)


def _workaround_l_retry_token(patches: _Patches) -> None:
    """L: a retried ``.sync`` task fails ``States.Timeout`` at once, however long its timeout.

    moto: a Task state whose integration supports ``waitForTaskToken`` (``ecs:runTask`` does)
    makes ONE task token and callback endpoint per state, not per attempt. Every ``.sync``
    attempt listens on that endpoint beside its DescribeTasks polling, and ends by interrupting
    it. So the attempt after a ``Retry`` finds the endpoint already interrupted, reads that as
    a callback timeout and fails ``States.Timeout`` within one poll, while the ECS task it
    started keeps running (seen: ``States.Timeout`` 3 s into a 900 s timeout after an
    ``ECS.AmazonECSException`` retry, and the task ran twice).
    AWS: each attempt of a Task state is a new task with a new token; ``TimeoutSeconds`` counts
    from that attempt's start.
    Why: the state machines retry failed tasks; without this every retry "timed out" at once
    and a task that was going to succeed was reported as failed. A new token for an attempt
    whose endpoint an earlier attempt used up, as AWS does.
    """
    patches.apply(StateTaskServiceCallback, "_eval_execution", _eval_execution_with_fresh_token)


# --------------------------------------------------------------------------------------------
# Workaround N: moto's server lists its own package on every request
# --------------------------------------------------------------------------------------------


def _workaround_n_module_listing(patches: _Patches) -> None:
    """N: moto's server lists and stats its own package directory on every request.

    moto: ``DomainDispatcherApplication.get_application`` (``moto/moto_server/werkzeug_app.py``)
    asks ``moto.backends.list_of_moto_modules()`` whether the request's host is a module name, for
    every request boto3 sends: an ``os.listdir`` of moto's package and an ``isdir`` on each of its
    ~170 entries, about 1 ms, while it holds the dispatcher's one lock, so every other request
    thread queues behind it.
    AWS: n/a (moto's server's own overhead).
    Why: the sandbox sends moto thousands of requests (tasks, Step Functions' ECS calls, the
    harness) from one process that never gets more than one core. The installed package cannot
    change while the server runs: it is listed once, when the emulator starts, and that tuple of
    the same names, in the same order, answers every request.
    """
    names = tuple(_moto_list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return names

    patches.apply(moto_backends, "list_of_moto_modules", list_of_moto_modules)


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------

_active: Emulator | None = None
_activation_lock = threading.Lock()
_moto_execution_start = SfnExecution.start


def _start_execution(self: SfnExecution) -> None:
    _moto_execution_start(self)
    emulator = _active
    if emulator is not None:
        with emulator._lock:
            emulator._executions.append(self)


class Emulator:
    """A running emulator: the patched moto plus the hooks the harness drives.

    Build it with ``start_server()`` (HTTP endpoint, what ``make demo`` uses) or
    ``start_in_process()`` (``mock_aws``, for fast tests). Usable as a context manager.
    """

    def __init__(self, region: str, endpoint_url: str | None, teardown: contextlib.ExitStack):
        self.region = region
        self.endpoint_url = endpoint_url
        """``http://127.0.0.1:<port>`` in server mode; ``None`` in process (boto3 is intercepted)."""
        self.events = EventLog()
        self._teardown = teardown
        self._runner: Callable[[TaskLaunch], None] | None = None
        self._held: dict[str, tuple[EC2ContainerServiceBackend, Task]] = {}
        self._wake: dict[str, threading.Event] = {}
        """Per held task: set when it stops, which wakes the ``.sync`` state waiting on it (workaround C)."""
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], BaseClient] = {}
        self._essential: dict[str, frozenset[str]] = {}
        self._essential_lock = threading.Lock()
        """Per task definition revision: its essential containers (workaround C's stopped-task check)."""
        self.wait_scale = 1.0
        """Factor applied to every Wait state's and Retry backoff's seconds (``set_wait_scale``); 1.0: as written."""
        self._executions: list[SfnExecution] = []
        """Every execution started while this emulator is active: ``stop()`` ends those still running."""
        self._stopping = threading.Event()
        """Set by ``stop()``: wakes the Retry backoffs sleeping (``_ScaledRetryClock``)."""

    def boto3_client(self, service: str, region: str | None = None) -> BaseClient:
        """A boto3 client for this emulator, with fake credentials.

        One per service and region, made on first use and shared: clients are thread-safe, and
        making one costs ~50 ms of CPU, which the harness's polling loops paid on every call.
        """
        key = (service, region or self.region)
        with self._lock:
            made = self._clients.get(key)
        if made is None:
            made = boto3.client(
                service,
                region_name=key[1],
                endpoint_url=self.endpoint_url,
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            )
            with self._lock:
                made = self._clients.setdefault(key, made)
        return made

    def set_task_runner(self, runner: Callable[[TaskLaunch], None] | None) -> None:
        """Hand every task RunTask creates from now on to ``runner`` (``None``: moto's behaviour).

        ``runner`` is called on moto's request thread: start the work and return at once, then
        call ``complete_task`` from any thread. If it raises, the task stops with no exit code
        (``.sync`` → ``States.TaskFailed``).
        """
        self._runner = runner

    def complete_task(self, task_arn: str, exit_code: int | None, reason: str | None = None) -> None:
        """Stop a held task: every container exits with ``exit_code`` (``None``: never started).

        ``reason`` becomes ``stoppedReason`` (default: AWS's "Essential container in task exited").
        """
        with self._lock:
            if task_arn not in self._held:
                raise KeyError(f"{task_arn} is not a running task of this emulator")
            backend, task = self._held.pop(task_arn)
        for container in task.containers:
            container.exitCode = exit_code
            container.last_status = "STOPPED"
            if reason:
                container.reason = reason
        task.stop_code = "EssentialContainerExited" if exit_code is not None else "TaskFailedToStart"
        task.stopped_at = dt.datetime.now(dt.UTC)
        task._held_by_emulator = False
        try:
            backend.stop_task(task.cluster_arn, task_arn, reason or "Essential container in task exited")
        finally:
            # Last: the woken `.sync` state describes the task once and must find it STOPPED.
            with self._lock:
                wake = self._wake.pop(task_arn, None)
            if wake is not None:
                wake.set()

    def set_wait_scale(self, scale: float) -> None:
        """Make Wait states and Retry backoffs last ``scale`` times their seconds (e.g. 0.001: a 30 s
        backoff takes 30 ms).

        The state machines' definitions stay as deployed; only the emulator's clock for Wait changes.
        """
        if not scale > 0:
            raise ValueError(f"wait scale must be > 0, got {scale}")
        self.wait_scale = float(scale)

    def running_tasks(self) -> list[str]:
        """ARNs of tasks handed to the runner and not completed yet."""
        with self._lock:
            return list(self._held)

    def _wake_signal(self, task_arn: str) -> threading.Event | None:
        """What wakes the ``.sync`` state waiting on ``task_arn``; ``None`` if no runner holds it (any more)."""
        with self._lock:
            return self._wake.get(task_arn)

    def _launch(self, backend: EC2ContainerServiceBackend, task: Task, strategy: Any) -> None:
        task._held_by_emulator = True
        for container in task.containers:
            container.exitCode = None  # AWS reports none until the container stops
            container.last_status = "RUNNING"
        definitions = copy.deepcopy(backend.describe_task_definition(task.task_definition_arn).container_definitions)
        overrides = copy.deepcopy(task.overrides or {})
        launch = TaskLaunch(
            task_arn=task.task_arn,
            cluster_arn=task.cluster_arn,
            task_definition_arn=task.task_definition_arn,
            launch_type=task.launch_type or None,
            capacity_provider_strategy=copy.deepcopy(strategy),
            started_by=task.started_by,
            container_definitions=definitions,
            overrides=overrides,
            containers=_resolve_containers(definitions, overrides),
        )
        with self._lock:
            self._held[task.task_arn] = (backend, task)
            self._wake[task.task_arn] = threading.Event()
        try:
            self._runner(launch)  # type: ignore[misc]
        except Exception as exc:
            LOG.exception("task runner failed to start %s", task.task_arn)
            self.complete_task(task.task_arn, None, f"CannotStartContainerError: {exc}")

    def stop(self) -> None:
        """Stop the executions still running, remove the patches and release the emulator (idempotent).

        Tasks still held are forgotten: a later ``complete_task`` for them raises ``KeyError``.
        Executions still running (a run that timed out) are stopped, ``ABORTED`` as ``StopExecution``
        would, and waited for: moto runs each in threads of this process that outlive the emulator,
        and the ASL interpreter calls ``localhost:$MOTO_PORT``, which is the next emulator's server
        once one starts. Left running, an execution's retried ``RunTask`` and its failure event's
        ``PutEvents`` landed in a later sandbox (seen: an ``ApproveOrderFailed`` recorded by another
        sandbox while it deployed, before its rules existed, and judged lost there).
        """
        global _active
        self._stop_executions()
        with _activation_lock:
            if _active is self:
                _active = None
        with self._lock:
            self._held.clear()
            waiting, self._wake = list(self._wake.values()), {}
        for wake in waiting:  # their states look at the task once more, then poll as moto would
            wake.set()
        self._teardown.close()

    def _stop_executions(self) -> None:
        """Stop every execution of this emulator still running and wait until each has ended."""
        with self._lock:
            running = [e for e in self._executions if e.exec_status == ExecutionStatus.RUNNING]
        self._stopping.set()
        deadline = time.monotonic() + EXECUTIONS_STOP_SECONDS
        while running and time.monotonic() < deadline:
            for execution in running:
                env = execution.exec_worker.env if execution.exec_worker else None
                if env is None:
                    continue  # its thread has not built its environment yet: next round
                env.set_stop(stop_date=dt.datetime.now(dt.UTC), cause="the emulator stopped", error=None)
                for endpoint in list(env.callback_pool_manager._pool.values()):
                    endpoint.interrupt_all()  # a state waiting for its task token or a heartbeat
            with self._lock:
                waiting = list(self._wake.values())
            for wake in waiting:  # a `.sync` state waiting for its task: it sees its execution stopped
                wake.set()
            time.sleep(0.01)
            running = [e for e in running if e.exec_status == ExecutionStatus.RUNNING]
        if running:
            LOG.warning(
                "%d executions still running %g s after the emulator stopped them: %s",
                len(running),
                EXECUTIONS_STOP_SECONDS,
                ", ".join(e.exec_arn for e in running),
            )

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _resolve_containers(definitions: list[dict[str, Any]], overrides: dict[str, Any]) -> list[ContainerLaunch]:
    by_name = {o.get("name"): o for o in overrides.get("containerOverrides") or []}
    containers = []
    for definition in definitions:
        override = by_name.get(definition["name"], {})
        environment = {e["name"]: e.get("value", "") for e in definition.get("environment") or []}
        environment.update({e["name"]: e.get("value", "") for e in override.get("environment") or []})
        containers.append(
            ContainerLaunch(
                name=definition["name"],
                image=definition.get("image"),
                command=override.get("command") or definition.get("command"),
                environment=environment,
                essential=definition.get("essential", True),
            )
        )
    return containers


def _activate(stack: contextlib.ExitStack, region: str, endpoint_url: str | None, sync_poll_seconds: float) -> Emulator:
    """Install every workaround and make the emulator the active one; undone by its stop()."""
    global _active
    with _activation_lock:
        if _active is not None:
            stack.close()
            raise RuntimeError("an emulator is already active in this process: stop() it first")
        patches = _Patches()
        for workaround in (
            _workaround_a_ecs_casing,
            _workaround_b_state_machine_targets,
            _workaround_c_exit_codes,
            _workaround_d_error_names,
            _workaround_e_task_level_sizes,
            _workaround_f_parser_threads,
            _workaround_o_transaction_snapshots,  # before G, whose lock wraps it
            _workaround_p_parse_once,
            _workaround_g_dynamodb_transactions,
            _workaround_k_ecs_tasks,
            _workaround_s_iam_calls,
            _workaround_l_retry_token,
            _workaround_m_replay_window_and_filters,
            _workaround_n_module_listing,
            _workaround_q_jsonpath_once,
            _workaround_r_asl_clients,
        ):
            workaround(patches)
        patches.apply(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", sync_poll_seconds)
        patches.apply(WaitFunction, "_wait_interval", _scaled_wait_interval)
        patches.apply(retrier_decl, "time", _ScaledRetryClock())
        patches.apply(SfnExecution, "start", _start_execution)
        stack.callback(patches.undo)
        _active = Emulator(region, endpoint_url, stack)
        return _active


def active() -> Emulator | None:
    """The emulator whose patches are installed in this process, if any."""
    return _active


def _set_env(stack: contextlib.ExitStack, values: dict[str, str], override: bool) -> None:
    for name, value in values.items():
        if not override and name in os.environ:
            continue
        previous = os.environ.get(name)
        os.environ[name] = value
        stack.callback(
            lambda n=name, p=previous: os.environ.pop(n, None) if p is None else os.environ.__setitem__(n, p)
        )


def _claim() -> None:
    if _active is not None:
        raise RuntimeError("an emulator is already active in this process: stop() it first")


def start_server(
    region: str = DEFAULT_REGION,
    *,
    account_id: str | None = None,
    sync_poll_seconds: float = DEFAULT_SYNC_POLL_SECONDS,
) -> Emulator:
    """Start moto as an HTTP server on 127.0.0.1 (free port), patched, with Step Functions on.

    Sets ``MOTO_PORT`` (the ASL interpreter calls ``localhost:$MOTO_PORT``) and fake credentials
    if none are set; ``stop()`` resets moto's state, stops the server and restores both.
    ``account_id`` (default: moto's 123456789012) becomes ``MOTO_ACCOUNT_ID``, which moto reads on
    every request, so a stack file written for any account runs unchanged.
    """
    _claim()
    with contextlib.ExitStack() as stack:
        _set_env(stack, {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region}, override=False)
        if account_id is not None:
            _set_env(stack, {"MOTO_ACCOUNT_ID": account_id}, override=True)
        werkzeug = logging.getLogger("werkzeug")  # one line per request otherwise
        stack.callback(werkzeug.setLevel, werkzeug.level)
        werkzeug.setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        stack.callback(server.stop)
        port = server.get_host_and_port()[1]
        endpoint_url = f"http://127.0.0.1:{port}"
        _set_env(stack, {"MOTO_PORT": str(port)}, override=True)
        previous = copy.deepcopy(default_user_config["stepfunctions"])
        stack.callback(default_user_config.__setitem__, "stepfunctions", previous)
        # Resetting every backend took over 10 s on a loaded machine (two test workers and more).
        stack.callback(requests.post, f"{endpoint_url}/moto-api/reset", timeout=60)
        # Before any state machine exists: moto keeps them per backend, and this switches backend.
        requests.post(
            f"{endpoint_url}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}},
            timeout=10,
        ).raise_for_status()
        return _activate(stack.pop_all(), region, endpoint_url, sync_poll_seconds)


def start_in_process(region: str = DEFAULT_REGION, *, sync_poll_seconds: float = DEFAULT_SYNC_POLL_SECONDS) -> Emulator:
    """The same emulator under ``mock_aws`` (no HTTP): boto3 clients made anywhere are intercepted."""
    _claim()
    with contextlib.ExitStack() as stack:
        mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        mock.start()
        stack.callback(mock.stop)
        return _activate(stack.pop_all(), region, None, sync_poll_seconds)
