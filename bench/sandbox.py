"""Sandbox throughput: N orders from C customers played on the emulator (`make demo`'s harness, quiet),
with per-order latencies read from Step Functions and the CPU split between this process (moto's
server, the Step Functions interpreter, the harness) and the task processes."""

from __future__ import annotations

import json
import logging
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import percentile, summarize

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ORDERS = 100
DEFAULT_CUSTOMERS = 5
DEFAULT_CONCURRENCY = 10


def scenario_data(orders: int, customers: int, concurrency: int = DEFAULT_CONCURRENCY) -> dict[str, Any]:
    """A scenario (sandbox/scenario.py's schema): `customers` customers, `orders` orders spread over
    them in turn and placed `concurrency` at a time. Credit limits let most orders through and
    reject some: both saga branches run."""
    if orders < 1 or customers < 1 or concurrency < 1:
        raise ValueError("orders, customers and concurrency: at least 1 each")
    ids = [f"c-{i:03d}" for i in range(1, customers + 1)]
    per_customer = -(-orders // customers)
    return {
        "concurrency": concurrency,
        "customers": [{"id": c, "creditLimit": 40 * per_customer} for c in ids],
        "orders": [
            {"id": f"o-{i:04d}", "customerId": ids[(i - 1) % customers], "total": 10 + 10 * (i % 7)}
            for i in range(1, orders + 1)
        ],
    }


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _when(value: Any) -> float:
    """A Step Functions timestamp (datetime) as epoch seconds."""
    return value.timestamp()


def order_latencies(sfn: Any, machines: list[str]) -> dict[str, dict[str, float]]:
    """Per order: seconds from OrderCreated to the start of the task that handles it, and to the
    end of the last execution that carries the order's id (its saga has settled).

    OrderCreated's time is the start of the execution it triggered: the emulator starts it inside
    the PutEvents call. The task's start is the execution's TaskSubmitted event (RunTask returned:
    the task process was started).
    """
    per_order: dict[str, dict[str, Any]] = {}
    for machine in machines:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
            for summary in page["executions"]:
                execution = sfn.describe_execution(executionArn=summary["executionArn"])
                event = json.loads(execution.get("input") or "{}")
                order_id = (event.get("detail") or {}).get("orderId")
                if not order_id:
                    continue
                seen = per_order.setdefault(order_id, {"created": None, "task": None, "settled": None})
                stopped = execution.get("stopDate")
                if stopped is not None:
                    seen["settled"] = max(seen["settled"] or 0.0, _when(stopped))
                if event.get("detail-type") == "OrderCreated":
                    created = _when(execution["startDate"])
                    if seen["created"] is None or created < seen["created"]:
                        seen["created"] = created
                        seen["task"] = _task_submitted(sfn, summary["executionArn"])
    latencies = {}
    for order_id, seen in per_order.items():
        if seen["created"] is None:
            continue
        latencies[order_id] = {
            "toTaskStart": seen["task"] - seen["created"] if seen["task"] is not None else None,
            "toSettled": seen["settled"] - seen["created"] if seen["settled"] is not None else None,
        }
    return latencies


def _task_submitted(sfn: Any, execution_arn: str) -> float | None:
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        for event in page["events"]:
            if event["type"] == "TaskSubmitted":
                return _when(event["timestamp"])
    return None


def _failed_executions(sfn: Any, machines: list[str]) -> list[str]:
    """One line per FAILED execution: which, and Step Functions' error and cause."""
    found = []
    for machine in machines:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter="FAILED"):
            for summary in page["executions"]:
                execution = sfn.describe_execution(executionArn=summary["executionArn"])
                found.append(
                    f"execution {machine.rsplit(':', 1)[-1]}/{summary['name'][:8]} FAILED: "
                    f"{execution.get('error', '')} {execution.get('cause', '')[:300]}"
                )
    return found


def run_once(
    orders: int, customers: int, stack: str = "local", concurrency: int = DEFAULT_CONCURRENCY, cold: bool = False
) -> dict[str, Any]:
    """One sandbox run: deploy the stack, play the scenario, measure; never raises on a failed run
    (its problems are returned)."""
    from components.config import load_config, read_stack_file
    from sandbox.harness import Sandbox
    from sandbox.provision import PROJECT_ROOT
    from sandbox.scenario import Scenario

    scenario = Scenario.model_validate(scenario_data(orders, customers, concurrency))
    config = load_config(read_stack_file(PROJECT_ROOT / f"Pulumi.{stack}.yaml"), stack, PROJECT_ROOT)
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # as `make demo --quiet`
    children_before = _cpu(resource.RUSAGE_CHILDREN)
    # Generous (a shared, loaded machine can be 20 times slower): a run that is only slow must still
    # finish and be measured; the harness reports one that never settles.
    with Sandbox(config, out=None, timeout_seconds=300 + 15 * orders, task_timeout_seconds=120, cold=cold) as sandbox:
        self_before, started = _cpu(resource.RUSAGE_SELF), time.perf_counter()
        report = sandbox.play(scenario)
        wall, self_cpu = time.perf_counter() - started, _cpu(resource.RUSAGE_SELF) - self_before
        assert sandbox.recording is not None
        machines = [m.state["arn"] for m in sandbox.recording.of_type("aws:sfn/stateMachine:StateMachine")]
        latencies = order_latencies(sandbox.client("stepfunctions"), machines)
        failed_tasks = [r for r in (sandbox.runner.runs if sandbox.runner else []) if r.exit_code]
        failed_executions = _failed_executions(sandbox.client("stepfunctions"), machines)
    # After stop(): task processes (and anything that forks them) have been waited for.
    children_cpu = _cpu(resource.RUSAGE_CHILDREN) - children_before
    missing = sorted(set(report.orders) - {o for o, v in latencies.items() if v["toSettled"] is not None})
    problems = list(report.problems)
    if missing:
        problems.append(f"no latency for {len(missing)} orders: {', '.join(missing[:5])}")
    if report.executions.get("FAILED"):
        problems.append(f"{report.executions['FAILED']} executions FAILED")
    problems += failed_executions
    for task in failed_tasks:  # why, in the task's own last words
        last = task.output.splitlines()[-1] if task.output else ""
        problems.append(f"task {' '.join(task.command)} exited {task.exit_code}: {last[:200]}")
    return {
        "seconds": wall,
        "ordersPerSecond": orders / wall,
        "toTaskStart": [v["toTaskStart"] for v in latencies.values() if v["toTaskStart"] is not None],
        "toSettled": [v["toSettled"] for v in latencies.values() if v["toSettled"] is not None],
        "emulatorCpu": self_cpu,
        "tasksCpu": children_cpu,
        "executions": report.executions,
        "orders": report.orders,
        "problems": problems,
    }


def measure(
    orders: int,
    customers: int,
    runs: int,
    progress: Callable[[str], None] = print,
    concurrency: int = DEFAULT_CONCURRENCY,
    cold: bool = False,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The sandbox figures over `runs` runs, and every problem any run reported."""
    results, problems = [], []
    for run in range(runs):
        result = run_once(orders, customers, concurrency=concurrency, cold=cold)
        results.append(result)
        problems += [f"run {run + 1}: {p}" for p in result["problems"]]
        progress(
            f"  sandbox {orders} orders, run {run + 1}/{runs}: {result['seconds']:.1f} s, "
            f"{result['ordersPerSecond']:.2f} orders/s, executions {result['executions']}"
            + (f", {len(result['problems'])} problems" if result["problems"] else "")
        )
    settings = {
        "orders": orders,
        "customers": customers,
        "concurrency": concurrency,
        "runner": "cold" if cold else "warm",
    }

    def figure(label: str, unit: str, better: str | None, values: list[float]) -> dict[str, Any] | None:
        if not values:  # e.g. no order got as far as a task in any run
            return None
        return {"label": label, "unit": unit, **({"better": better} if better else {}), "settings": settings} | (
            summarize(values)
        )

    def pct(key: str, p: float) -> list[float]:
        return [percentile(r[key], p) for r in results if r[key]]

    figures = {
        "sandbox.seconds": figure(
            f"sandbox: {orders} orders, {customers} customers, {concurrency} at a time"
            + (", cold runner" if cold else ""),
            "s",
            "lower",
            [r["seconds"] for r in results],
        ),
        "sandbox.orders_per_second": figure(
            "sandbox throughput", "orders/s", "higher", [r["ordersPerSecond"] for r in results]
        ),
        "sandbox.task_start_p50": figure("OrderCreated -> task start, p50", "s", "lower", pct("toTaskStart", 50)),
        "sandbox.task_start_p95": figure("OrderCreated -> task start, p95", "s", "lower", pct("toTaskStart", 95)),
        "sandbox.settled_p50": figure("OrderCreated -> order settled, p50", "s", "lower", pct("toSettled", 50)),
        "sandbox.settled_p95": figure("OrderCreated -> order settled, p95", "s", "lower", pct("toSettled", 95)),
        "sandbox.emulator_cpu": figure(
            "CPU, emulator process (moto, Step Functions, harness)",
            "CPU-s",
            "lower",
            [r["emulatorCpu"] for r in results],
        ),
        "sandbox.tasks_cpu": figure("CPU, task processes", "CPU-s", "lower", [r["tasksCpu"] for r in results]),
        "sandbox.tasks_cpu_share": figure(
            "task processes' share of CPU",
            "%",
            None,
            [100 * r["tasksCpu"] / ((r["tasksCpu"] + r["emulatorCpu"]) or 1) for r in results],
        ),
    }
    return {k: v for k, v in figures.items() if v is not None}, problems
