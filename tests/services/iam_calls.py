"""Records every AWS call the service code makes and checks it against its task role's policy.

A call is attributed to a service when it goes through a client that service's code created (a
``service_images/<service>/`` frame was on the stack when the client was made, as in
``Context.from_env``); the test harness's own clients (seeding, scanning, interfering as another
writer) are not recorded, while test code patched into a use case that uses the service's client is.

Each call becomes the IAM requests AWS authorizes for it: ``TransactWriteItems`` has no action of
its own, DynamoDB authorizes each contained Put/Update/Delete/ConditionCheck as
PutItem/UpdateItem/DeleteItem/ConditionCheckItem on its table; ``PutEvents`` is authorized per
entry, with its ``events:source`` and ``events:detail-type``. The policy is the one
``components.service_task.task_role_statements`` renders for the service's own bus and table.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from botocore.session import Session

from components.emits import read_emits
from components.service_task import task_role_statements

from .saga_world import REGION, bus_name, table_name

ACCOUNT = "123456789012"
"""moto's account."""
SERVICE_IMAGES = str(Path(__file__).resolve().parents[2] / "service_images") + os.sep

TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
KNOWN_CONDITION_KEYS = {"events:source", "events:detail-type", "dynamodb:enclosingoperation"}
"""Condition keys this checker fills in; a policy conditioned on another one fails loudly."""


def table_arn(service: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table_name(service)}"


def bus_arn(service: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus_name(service)}"


def granted_statements(service: str) -> list[dict[str, Any]]:
    """The service's task role policy, rendered for the test world's bus and table, with the
    source and detail-types the service declares in its `emits.json` (what the stack grants)."""
    emits = read_emits(Path(SERVICE_IMAGES) / service)
    assert emits is not None, f"service_images/{service} declares no emits.json"
    return task_role_statements(
        bus_arn(service), table_arn(service), source=emits.source, detail_types=emits.detail_types
    )


def granted_actions(service: str) -> set[str]:
    """Every action the service's task role allows somewhere (whatever its resource or conditions)."""
    return {
        action
        for statement in granted_statements(service)
        if statement["Effect"] == "Allow"
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }


@dataclass(frozen=True)
class Request:
    """One authorization AWS makes: an IAM action on a resource, with its condition keys."""

    service: str
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        keys = ", ".join(f"{k}={v!r}" for k, v in self.context)
        return f"{self.service}: {self.action} on {self.resource}" + (f" ({keys})" if keys else "")


def _arn(kind: str, name: str, region: str) -> str:
    if name.startswith("arn:"):
        return name
    prefix = {
        "table": f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/",
        "bus": f"arn:aws:events:{region}:{ACCOUNT}:event-bus/",
    }
    return prefix[kind] + name


def iam_requests(service: str, prefix: str, operation: str, params: Mapping[str, Any], region: str) -> list[Request]:
    """The IAM requests AWS authorizes for one API call."""
    if prefix == "dynamodb" and operation in ("TransactWriteItems", "TransactGetItems"):
        context = (("dynamodb:enclosingoperation", operation),)
        requests = []
        for item in params.get("TransactItems", []):
            ((kind, body),) = item.items()
            action = "GetItem" if kind == "Get" else TRANSACT_WRITE_ACTIONS[kind]
            requests.append(Request(service, f"dynamodb:{action}", _arn("table", body["TableName"], region), context))
        return requests
    if prefix == "dynamodb" and "RequestItems" in params:
        return [Request(service, f"dynamodb:{operation}", _arn("table", t, region)) for t in params["RequestItems"]]
    if prefix == "dynamodb" and "TableName" in params:
        return [Request(service, f"dynamodb:{operation}", _arn("table", params["TableName"], region))]
    if prefix == "events" and operation == "PutEvents":
        return [
            Request(
                service,
                "events:PutEvents",
                _arn("bus", entry.get("EventBusName", "default"), region),
                (("events:detail-type", entry.get("DetailType", "")), ("events:source", entry.get("Source", ""))),
            )
            for entry in params.get("Entries", [])
        ]
    # Anything else: no resource the role could name, so only a "*" grant would allow it.
    return [Request(service, f"{prefix}:{operation}", "*")]


# -- the policy check --------------------------------------------------------------------------


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _condition_holds(operator: str, key: str, expected: list[str], context: Mapping[str, str]) -> bool:
    if key.lower() not in KNOWN_CONDITION_KEYS:
        raise AssertionError(
            f"the task role's policy conditions on {key!r}, which tests/services/iam_calls.py does not fill in: "
            "add it to iam_requests and KNOWN_CONDITION_KEYS"
        )
    base = operator.removesuffix("IfExists")
    actual = context.get(key.lower())
    if actual is None:
        return operator.endswith("IfExists")
    if base in ("StringEquals", "ArnEquals"):
        return actual in expected
    if base in ("StringLike", "ArnLike"):
        return any(_glob(pattern, actual) for pattern in expected)
    if base == "StringNotEquals":
        return actual not in expected
    if base == "StringNotLike":
        return not any(_glob(pattern, actual) for pattern in expected)
    raise AssertionError(f"condition operator {operator!r} is not supported by tests/services/iam_calls.py")


def allows(statements: list[dict[str, Any]], request: Request) -> bool:
    """IAM's evaluation for one identity policy: some Allow matches and no Deny does."""
    context = dict(request.context)
    allowed = False
    for statement in statements:
        unsupported = {"NotAction", "NotResource", "Principal", "NotPrincipal"} & set(statement)
        if unsupported:
            raise AssertionError(f"{sorted(unsupported)} in a task role statement: teach tests/services/iam_calls.py")
        if not any(_glob(p, request.action, ignore_case=True) for p in _as_list(statement["Action"])):
            continue
        if not any(_glob(p, request.resource) for p in _as_list(statement["Resource"])):
            continue
        conditions = statement.get("Condition", {})
        if not all(
            _condition_holds(operator, key, _as_list(expected), context)
            for operator, block in conditions.items()
            for key, expected in block.items()
        ):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


# -- recording ---------------------------------------------------------------------------------


def _creating_service() -> str | None:
    """The service whose code is creating a client (its package's frame on the stack), or None."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(SERVICE_IMAGES):
            service = filename[len(SERVICE_IMAGES) :].split(os.sep)[0]
            if service != "common":
                return service
        frame = frame.f_back
    return None


class CallRecorder:
    """Context manager recording the IAM requests of every AWS call the service code makes."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def __enter__(self) -> CallRecorder:
        create_client = self._create_client = Session.create_client
        make_api_call = self._make_api_call = BaseClient._make_api_call
        recorder = self

        def creating(session: Session, *args: Any, **kwargs: Any) -> BaseClient:
            client = create_client(session, *args, **kwargs)
            service = _creating_service()
            if service is not None:
                client._event_tasks_service = service  # type: ignore[attr-defined]
            return client

        def recording(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            service = getattr(client, "_event_tasks_service", None)
            if service is not None:
                model = client.meta.service_model
                prefix = model.signing_name or model.endpoint_prefix
                recorder.requests.extend(
                    iam_requests(service, prefix, operation_name, api_params, client.meta.region_name)
                )
            return make_api_call(client, operation_name, api_params)

        Session.create_client = creating  # type: ignore[method-assign]
        BaseClient._make_api_call = recording  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Session.create_client = self._create_client  # type: ignore[method-assign]
        BaseClient._make_api_call = self._make_api_call  # type: ignore[method-assign]

    def forget(self) -> None:
        """Drop what was recorded (a test that provoked denied calls on purpose)."""
        self.requests.clear()

    def denied(self) -> list[Request]:
        """The recorded requests the service's task role does not allow, in call order, once each."""
        policies = {service: granted_statements(service) for service in {r.service for r in self.requests}}
        return list(dict.fromkeys(r for r in self.requests if not allows(policies[r.service], r)))

    def actions(self, service: str) -> set[str]:
        return {r.action for r in self.requests if r.service == service}
