"""The machine a bench ran on: CPU model, cores, memory, Python, OS (figures mean nothing without it)."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def cores() -> int:
    """The cores this process may run on (its affinity, which a container's CPU set narrows)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def describe() -> dict[str, Any]:
    """What the results file records as `machine`."""
    return {
        "cpu": _cpu_model(),
        "cores": cores(),
        "memoryGiB": _memory_gib(),
        "python": sys.version.split()[0],
        "os": f"{platform.system()} {platform.release()}",
    }


def same_machine(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    keys = ("cpu", "cores", "memoryGiB", "python")
    return bool(a and b) and all(a.get(k) == b.get(k) for k in keys)  # type: ignore[union-attr]


def environment_problems(environ: Mapping[str, str]) -> list[str]:
    """What in the bench's environment makes its figures mean less, each as one line with the fix."""
    if environ.get("PYTHONDONTWRITEBYTECODE"):
        # Nothing is byte-compiled at install: every new interpreter would compile what it imports.
        return [
            "PYTHONDONTWRITEBYTECODE is set: every new interpreter (fresh evaluations, test workers) "
            "compiled what it imported, so those figures include compile time; run `make bench`, "
            "which does not pass it on, or unset it"
        ]
    return []
