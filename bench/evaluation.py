"""How the program's evaluation scales with the number of triggers: a stack config with N triggers for
each environment, evaluated under the tests' type-aware Pulumi mocks (no emulator, no engine), in
this process after a warm-up (the program's own cost) and in a new interpreter, imports included
(how the issue timed it, and what a `pulumi preview` pays)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import summarize

ROOT = Path(__file__).resolve().parent.parent
STACK = "bench"
REGION = "ap-southeast-1"
ACCOUNT = "123456789012"
SERVICES = ("order", "customer")
ENVIRONMENTS = ("cloud", "local")
# The "wiring resources per trigger (alarms aside)": a trigger's alarms and their component.
ALARM_TYPES = frozenset({"aws:cloudwatch/metricAlarm:MetricAlarm", "event-tasks:index:TriggerAlarms"})


def trigger_name(index: int) -> str:
    return f"t-{index:04d}"


def stack_config(environment: str, triggers: int) -> dict[str, Any]:
    """The raw config map (as the engine passes it: objects as JSON) of a stack with `triggers`
    triggers, alternating which service's bus emits and which service's task runs."""
    if environment == "cloud":
        settings = {
            "cloud": {
                "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/shared",
                "subnets": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
                "securityGroups": ["sg-0c1d2e3f"],
                "assignPublicIp": False,
            },
            "services": {
                "order": {
                    "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/order:3",
                    "cpu": 256,
                    "memory": 512,
                },
                "customer": {"taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/customer:5"},
            },
        }
    elif environment == "local":
        settings = {
            "local": {"instanceType": "t3.micro", "minInstances": 0, "maxInstances": 2},
            "services": {s: {"image": f"service_images/{s}", "cpu": 128, "memory": 512} for s in SERVICES},
        }
    else:
        raise ValueError(f"environment: {environment!r} is not one of {', '.join(ENVIRONMENTS)}")
    generated = {}
    for index in range(1, triggers + 1):
        bus, service = SERVICES[index % 2], SERVICES[(index + 1) % 2]
        generated[trigger_name(index)] = {
            "bus": bus,
            "detailTypes": [f"Bench{index:04d}Happened"],
            "service": service,
            "command": ["python", "-m", f"{service}.bench", "--index", str(index)],
        }
    raw: dict[str, Any] = {"aws:region": REGION, "event-tasks:environment": environment}
    for key, value in {**settings, "triggers": generated}.items():
        raw[f"event-tasks:{key}"] = json.dumps(value)
    return raw


def _per_trigger(top: list[Any], below: list[Any], triggers: int, keep: Callable[[Any], bool]) -> float:
    """How many more of the kept resources `top` registers than `below`, per trigger it adds."""
    return (sum(map(keep, top)) - sum(map(keep, below))) / triggers


def _growth(label: str, smallest: int, largest: int, seconds: dict[int, list[float]]) -> dict[str, Any]:
    """t(largest)/t(smallest), run by run."""
    return {
        "label": label,
        "unit": "x",
        "better": "lower",
        "settings": {"triggers": [smallest, largest]},
        **summarize([big / small for big, small in zip(seconds[largest], seconds[smallest], strict=True)]),
    }


def _deployer() -> Callable[[dict[str, Any]], Any]:
    """`raw -> Deployment`, with the tests' Mocks (tests/pulumi_mocks.py, their one definition, imports no pytest)."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from pulumi_mocks import Mocks, deploy_under_mocks

    return lambda raw: deploy_under_mocks(Mocks(), STACK, raw)


def measure(
    counts: list[int],
    runs: int,
    environments: tuple[str, ...] = ENVIRONMENTS,
    progress: Callable[[str], None] = print,
    deploy: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Figures per environment: seconds and resources for each count, resources per trigger, growth.

    Per environment, one untimed evaluation first (imports and the SDK's lazy modules), and one with
    no trigger: the baseline that per-trigger resources are counted from.
    """
    deploy = deploy or _deployer()
    counts = sorted(set(counts))
    figures: dict[str, dict[str, Any]] = {}
    for environment in environments:
        deploy(stack_config(environment, counts[0]))  # warm-up, untimed
        baseline = deploy(stack_config(environment, 0)).resources
        seconds: dict[int, list[float]] = {n: [] for n in counts}
        resources: dict[int, list[Any]] = {}
        for run in range(runs):
            for n in counts:
                started = time.perf_counter()
                deployment = deploy(stack_config(environment, n))
                seconds[n].append(time.perf_counter() - started)
                resources[n] = deployment.resources
                progress(f"  evaluation {environment:5} {n:4} triggers, run {run + 1}/{runs}: {seconds[n][-1]:.2f} s")
        for n in counts:
            settings = {"triggers": n}
            figures[f"evaluation.{environment}.{n}.seconds"] = {
                "label": f"program under mocks, {environment}, {n} triggers",
                "unit": "s",
                "better": "lower",
                "settings": settings,
                **summarize(seconds[n]),
            }
            figures[f"evaluation.{environment}.{n}.resources"] = {
                "label": f"resources registered, {environment}, {n} triggers",
                "unit": "resources",
                "settings": settings,
                **summarize([float(len(resources[n]))]),
            }
        largest = counts[-1]
        if largest:
            # Per trigger: what the largest stack adds over the smallest, per trigger it adds. Both
            # have rules on every bus, so a bus's one-off resources (its rules role) are not counted
            # as a trigger's; with one count only, over the stack with no trigger.
            smallest = counts[0] if len(counts) > 1 and counts[0] > 0 else 0
            below = resources[smallest] if smallest else baseline
            added_triggers = largest - smallest

            top = resources[largest]
            settings = {"triggers": [smallest, largest]}
            figures[f"evaluation.{environment}.per_trigger"] = {
                "label": f"resources per trigger, {environment} (components included)",
                "unit": "resources",
                "better": "lower",
                "settings": settings,
                **summarize([_per_trigger(top, below, added_triggers, lambda r: True)]),
            }
            figures[f"evaluation.{environment}.wiring_per_trigger"] = {
                "label": f"wiring resources per trigger, alarms aside, {environment} (components included)",
                "unit": "resources",
                "better": "lower",
                "settings": settings,
                **summarize([_per_trigger(top, below, added_triggers, lambda r: r.typ not in ALARM_TYPES)]),
            }
            figures[f"evaluation.{environment}.aws_per_trigger"] = {
                "label": f"AWS resources per trigger, {environment}",
                "unit": "resources",
                "better": "lower",
                "settings": settings,
                **summarize([_per_trigger(top, below, added_triggers, lambda r: r.custom)]),
            }
            # Which resources make up a trigger: the type counts a trigger adds to the baseline.
            added = Counter(r.typ for r in resources[largest]) - Counter(r.typ for r in below)
            figures[f"evaluation.{environment}.per_trigger"]["types"] = {
                typ: count / added_triggers for typ, count in sorted(added.items())
            }
        if len(counts) > 1 and counts[0] > 0:
            figures[f"evaluation.{environment}.growth"] = _growth(
                f"growth t({largest})/t({counts[0]}), {environment}", counts[0], largest, seconds
            )
    return figures


# One evaluation in a new interpreter: what `fresh_seconds` times, from the start of the process to its end.
_FRESH = (
    "import sys; from bench.evaluation import _deployer, stack_config; "
    "_deployer()(stack_config(sys.argv[1], int(sys.argv[2])))"
)


def fresh_seconds(environment: str, triggers: int) -> float:
    """Wall seconds of one evaluation in a new interpreter: start-up and imports included."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", _FRESH, environment, str(triggers)],
        cwd=ROOT,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )
    return time.perf_counter() - started


def measure_fresh(
    counts: list[int],
    runs: int,
    environments: tuple[str, ...] = ENVIRONMENTS,
    progress: Callable[[str], None] = print,
    run: Callable[[str, int], float] = fresh_seconds,
) -> dict[str, dict[str, Any]]:
    """Per environment, the smallest and largest count each evaluated in a new interpreter, and the
    growth between them: the issue's "now" (10 triggers 1.5 s, 200 triggers 17.3 s, growth 11.3)
    was timed this way."""
    smallest, largest = min(counts), max(counts)
    figures: dict[str, dict[str, Any]] = {}
    for environment in environments:
        seconds: dict[int, list[float]] = {smallest: [], largest: []}
        for index in range(runs):
            for n in seconds:
                seconds[n].append(run(environment, n))
                progress(
                    f"  new interpreter {environment:5} {n:4} triggers, run {index + 1}/{runs}: {seconds[n][-1]:.2f} s"
                )
        for n, values in seconds.items():
            figures[f"evaluation.{environment}.fresh.{n}.seconds"] = {
                "label": f"program under mocks in a new interpreter, imports included, {environment}, {n} triggers",
                "unit": "s",
                "better": "lower",
                "settings": {"triggers": n},
                **summarize(values),
            }
        if largest != smallest:
            figures[f"evaluation.{environment}.fresh_growth"] = _growth(
                f"growth t({largest})/t({smallest}) in new interpreters, {environment}", smallest, largest, seconds
            )
    return figures
