"""The scenario file a demo run plays: customers to create, orders to place, orders to cancel,
and faults to inject into the tasks (without editing the stack file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "saga.yaml"


class ScenarioError(Exception):
    """The scenario file is invalid; the message names the key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Customer(_Model):
    id: str = Field(min_length=1)
    """Customer id."""
    creditLimit: int = Field(ge=0)
    """Credit the customer may have reserved at once."""


class Order(_Model):
    id: str = Field(min_length=1)
    """Order id."""
    customerId: str = Field(min_length=1)
    """The ordering customer (may be unknown: the saga rejects the order)."""
    total: int = Field(gt=0)
    """Amount to reserve."""


class Fault(_Model):
    useCase: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
    """The use case module a task runs (`python -m <useCase>`), e.g. `customer.reserve_credit`."""
    when: Literal["beforeCommit", "afterCommit", "afterEmit"]
    """Where the task crashes: before its transaction, after it (before its event), after its event."""
    times: Literal["once", "always"] = "once"
    """`once`: only the first task of this use case that reaches the point, per order; `always`: every one."""
    orders: list[str] = []
    """Only tasks for these orders (the event's `orderId`, or `--order-id`); empty: every order."""
    how: Literal["crash", "error"] = "crash"
    """`crash`: the process dies (exit 137) saying nothing; `error`: the use case raises (exit 1), so
    an orchestrated step answers `TaskError` at once instead of going silent until its heartbeat."""


class Scenario(_Model):
    customers: list[Customer] = []
    """Created first, with `customer.create`."""
    orders: list[Order] = []
    """Placed with `order.place` once the customers exist (the choreographed saga)."""
    sagaOrders: list[Order] = []
    """Requested with `order.request` (the orchestrated saga, trigger `order-saga`), after `orders`."""
    concurrency: int = Field(1, ge=1, le=100)
    """How many `order.place` processes run at once (1: one after the other, each order's saga
    settled before the next is placed, the timeline in step)."""
    cancel: list[str] = []
    """Orders to cancel with `order.cancel` once the saga has settled."""
    replayEvents: bool = False
    """Deliver every event a second time, with the same id (at-least-once delivery)."""
    faults: list[Fault] = []
    """Crashes to inject into matching tasks (sandbox/faults/sitecustomize.py)."""

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        orders = [o.id for o in [*self.orders, *self.sagaOrders]]
        if len(set(orders)) != len(orders):
            raise ValueError(f"orders, sagaOrders: an order id is used twice: {orders}")
        unknown = [o for o in self.cancel if o not in orders]
        if unknown:
            raise ValueError(f"cancel: {unknown} are not orders of this scenario; orders are: {orders}")
        for index, fault in enumerate(self.faults):
            unknown = [o for o in fault.orders if o not in orders]
            if unknown:
                raise ValueError(
                    f"faults.{index}.orders: {unknown} are not orders of this scenario; orders are: {orders}"
                )
        return self


def load_scenario(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ScenarioError(f"{path}: cannot read the scenario: {error}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}".replace("Value error, ", "")
            for e in error.errors()
        ]
        raise ScenarioError(f"{path}: invalid scenario:\n  - " + "\n  - ".join(problems)) from None
