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


@dataclass(frozen=True)
class Comparison:
    """One figure against the previous results."""

    key: str
    previous: float
    current: float
    change: float
    """`slowdown`: positive is worse."""
    regression: bool


def compare(
    previous: dict[str, Any] | None, current: dict[str, Any], threshold: float = REGRESSION_THRESHOLD
) -> list[Comparison]:
    """Compare the medians of figures both results measured with the same settings.

    Figures without a direction (`better` missing: counts, shares) and figures measured with other
    settings (e.g. another number of orders) are not compared.
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
        change = slowdown(float(old["median"]), float(figure["median"]), better)
        if change is None:
            continue
        found.append(Comparison(key, float(old["median"]), float(figure["median"]), change, change > threshold))
    return found
