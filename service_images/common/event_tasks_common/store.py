"""The service's own DynamoDB table (hash key ``pk``, range key ``sk``), via the low-level client.

Items are plain dicts of str / int / bool / dict / list; integers come back as ``int``.
Writes are built as TransactWriteItems operations so a use case commits its state change and its
processed-event marker atomically (``Table.transact``).
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from .errors import ConcurrentUpdate

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()

Op = dict[str, Any]
"""One TransactWriteItems entry (``{"Put": ...}``, ``{"Update": ...}``, ``{"ConditionCheck": ...}``)."""

_RETRYABLE_REASONS = {"ConditionalCheckFailed", "TransactionConflict"}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _SERIALIZER.serialize(value) for name, value in values.items()}


def from_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _plain(_DESERIALIZER.deserialize(value)) for name, value in item.items()}


def key(pk: str, sk: str) -> dict[str, str]:
    return {"pk": pk, "sk": sk}


class Table:
    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """Strongly consistent read of one item, ``None`` if absent."""
        response = self.client.get_item(TableName=self.name, Key=to_attributes(key(pk, sk)), ConsistentRead=True)
        item = response.get("Item")
        return from_attributes(item) if item else None

    def _conditional(self, body: dict[str, Any], condition: str | None, values: Mapping[str, Any] | None) -> None:
        if condition:
            body["ConditionExpression"] = condition
        if values:
            body["ExpressionAttributeValues"] = to_attributes(values)

    def put_op(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Op:
        body: dict[str, Any] = {"TableName": self.name, "Item": to_attributes(item)}
        self._conditional(body, condition, values)
        return {"Put": body}

    def update_op(
        self,
        pk: str,
        sk: str,
        update: str,
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> Op:
        body: dict[str, Any] = {
            "TableName": self.name,
            "Key": to_attributes(key(pk, sk)),
            "UpdateExpression": update,
        }
        self._conditional(body, condition, values)
        if names:
            body["ExpressionAttributeNames"] = dict(names)
        return {"Update": body}

    def check_op(self, pk: str, sk: str, condition: str, *, values: Mapping[str, Any] | None = None) -> Op:
        body: dict[str, Any] = {"TableName": self.name, "Key": to_attributes(key(pk, sk))}
        self._conditional(body, condition, values)
        return {"ConditionCheck": body}

    def transact(self, ops: Sequence[Op]) -> None:
        """Commit all operations or none.

        Raises ``ConcurrentUpdate`` when a condition failed or another transaction interfered
        (the caller re-reads and decides again); other errors propagate.
        """
        try:
            self.client.transact_write_items(TransactItems=list(ops))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") != "TransactionCanceledException":
                raise
            reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])} - {"None", None}
            if reasons and not reasons <= _RETRYABLE_REASONS:
                raise
            raise ConcurrentUpdate(error.get("Message", "transaction cancelled")) from exc
