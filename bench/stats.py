"""Pure arithmetic of `make bench`: a figure from repeated runs (median, min, max), percentiles, and the
comparison of two results files that flags regressions."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

REGRESSION_THRESHOLD = 0.20
"""A figure more than 20% worse than the previous results is a regression."""


def summarize(values: list[float]) -> dict[str, Any]:
    """Median, min and max of a figure's runs (the runs themselves are kept for the record)."""
    if not values:
        raise ValueError("a figure needs at least one run")
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": list(values),
    }


def percentile(values: list[float], pct: float) -> float:
    """The `pct` percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def slowdown(previous: float, current: float, better: str) -> float | None:
    """How much worse `current` is than `previous`, as a fraction of the same work's cost: +0.25 is
    25% slower (a time times 1.25, or a rate divided by 1.25). Negative is an improvement. None: not comparable."""
    if better == "lower":
        return current / previous - 1 if previous > 0 else None
    if better == "higher":
        return previous / current - 1 if current > 0 else (None if previous <= 0 else float("inf"))
    return None


SPEED_UNITS = frozenset({"s", "CPU-s", "orders/s"})
"""Units of figures the machine's speed scales (times and rates); counts, ratios and shares it does not."""


@dataclass(frozen=True)
class Comparison:
    """One figure against the previous results."""

    key: str
    previous: float
    current: float
    change: float
    """`slowdown` at equal machine speed (as measured when either run lacks the reference): positive is worse."""
    regression: bool
    measured: float | None = None
    """`slowdown` as measured, when it was adjusted for the machine's speed."""
    machine: float | None = None
    """How much slower the machine ran the reference workload than in the previous run (negative: faster)."""


def machine_slowdown(old: dict[str, Any], new: dict[str, Any]) -> float | None:
    """How much slower the machine was for `new` than for `old`: the ratio of the reference workload's
    seconds recorded with each (None if either lacks it, or the figure does not scale with speed)."""
    before, after = old.get("reference"), new.get("reference")
    if new.get("unit") not in SPEED_UNITS or not before or not after or before <= 0 or after <= 0:
        return None
    return after / before - 1


def compare(
    previous: dict[str, Any] | None, current: dict[str, Any], threshold: float = REGRESSION_THRESHOLD
) -> list[Comparison]:
    """Compare the medians of figures both results measured with the same settings.

    Figures without a direction (`better` missing: counts, shares) and figures measured with other
    settings (e.g. another number of orders) are not compared. A time or rate measured while the
    machine ran the reference workload slower (or faster) is judged as if it had run at the previous
    speed: the same code on a slower hour is no regression, and a faster hour hides none.
    """
    if not previous:
        return []
    found = []
    before = previous.get("figures", {})
    for key, figure in current.get("figures", {}).items():
        old = before.get(key)
        better = figure.get("better")
        if old is None or better not in ("lower", "higher") or old.get("settings") != figure.get("settings"):
            continue
        was, now = float(old["median"]), float(figure["median"])
        machine = machine_slowdown(old, figure)
        at_old_speed = now
        if machine is not None:  # a time scales with the machine's slowness, a rate inversely: undo it
            at_old_speed = now / (1 + machine) if better == "lower" else now * (1 + machine)
        change = slowdown(was, at_old_speed, better)
        if change is None:
            continue
        measured = None if machine is None else slowdown(was, now, better)
        found.append(Comparison(key, was, now, change, change > threshold, measured, machine))
    return found
