"""The results file (bench/results.json) and the table `make bench` prints and the README shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.machine import same_machine
from bench.stats import Comparison

SCHEMA = 1

# The targets on 2 cores: figure -> (limit, applies only to figures measured with these
# settings, whatever else they set, or None).
# The evaluation's time and growth targets apply to new interpreters, imports included: the issue's
# "now" was timed that way (its t(10) of 1.5 s included the imports).
TARGETS: dict[str, tuple[float, dict[str, Any] | None]] = {
    "sandbox.seconds": (25.0, {"orders": 100, "customers": 5}),
    "tests.seconds": (60.0, None),
    "evaluation.cloud.fresh.200.seconds": (6.0, None),
    "evaluation.cloud.wiring_per_trigger": (7.0, None),
    "evaluation.local.wiring_per_trigger": (7.0, None),
    "evaluation.cloud.fresh_growth": (12.0, None),
    "evaluation.local.fresh_growth": (12.0, None),
}

# A floor figure -> the target it bounds from below: work the issue itself requires (the cold
# comparisons inside `make test`) that takes at least this long on these cores, however scheduled.
FLOORS: dict[str, str] = {"tests.cold.floor": "tests.seconds"}


def load(path: Path) -> dict[str, Any] | None:
    """The previous results, or None when there are none (or they are unreadable)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else None


def merge(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """`current`, plus the previous figures this run did not measure (same machine only), so a partial
    run (`--only`) keeps the baseline of the others."""
    merged = json.loads(json.dumps(current))
    if previous and same_machine(previous.get("machine"), current.get("machine")):
        for key, figure in previous.get("figures", {}).items():
            if key not in merged["figures"]:
                merged["figures"][key] = {**figure, "carried": True}
    return merged


def target_of(key: str, figure: dict[str, Any]) -> float | None:
    limit, settings = TARGETS.get(key, (None, None))
    measured = figure.get("settings") or {}
    if limit is None or any(measured.get(name) != value for name, value in (settings or {}).items()):
        return None
    return limit


def _number(value: float, unit: str) -> str:
    if unit in ("resources", "x"):
        return f"{value:.1f}" if value != int(value) else f"{int(value)}"
    if unit == "%":
        return f"{value:.0f}"
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"


def table(results: dict[str, Any], comparisons: list[Comparison]) -> str:
    """A Markdown table: one row per figure, with its target and the change against the previous run."""
    by_key = {c.key: c for c in comparisons}
    rows = [
        "| figure | median | min - max (runs) | unit | target | vs previous |",
        "|---|---:|---:|---|---|---|",
    ]
    for key, figure in results["figures"].items():
        unit = figure["unit"]
        limit = target_of(key, figure)
        target = ""
        if limit is not None:
            met = figure["median"] <= limit
            target = f"≤ {limit:g} {'met' if met else '**not met**'}"
        elif key in FLOORS and (bounded := TARGETS.get(FLOORS[key])) is not None:
            reachable = figure["min"] <= bounded[0]
            target = f"floor of ≤ {bounded[0]:g}: {'reachable' if reachable else '**unreachable**'}"
        change = ""
        if key in by_key:
            c = by_key[key]
            change = f"{c.change:+.0%} slower" if c.change > 0 else f"{-c.change:.0%} faster"
            if c.machine is not None and c.measured is not None:
                change += f" at equal machine speed ({c.measured:+.0%} measured, machine {c.machine:+.0%})"
            if c.regression:
                change = f"**REGRESSION {change}**"
        elif figure.get("carried"):
            change = f"(measured {figure.get('measuredAt', 'before')})"
        spread = f"{_number(figure['min'], unit)} - {_number(figure['max'], unit)} ({len(figure['runs'])})"
        rows.append(
            f"| {figure['label']} | {_number(figure['median'], unit)} | {spread} | {unit} | {target} | {change} |"
        )
    machine = results["machine"]
    rows.append("")
    rows.append(
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memoryGiB']} GiB, Python "
        f"{machine['python']}; load average before the run {machine.get('loadAverage', '?')}; "
        f"{results['measuredAt']}."
    )
    return "\n".join(rows)
