"""The machine a bench ran on: CPU model, cores, memory, Python, OS (figures mean nothing without it),
and how fast it was during the run: the same virtual machine's 2 cores ran the same code up to a third
slower in one hour than in another, which alone would look like a regression."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


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


def reference_workload() -> int:
    """Fixed pure-Python work of the kinds the figures spend their time on (JSON, regular expressions
    compiled afresh, dicts, sorting, hashing), the same in every run and every version of this
    project: its time tracks the machine, not the code under test. Returns a checksum so that none
    of it can be skipped."""
    document = [{"id": f"order-{i:05d}", "total": i % 997, "tags": {"customer": f"c-{i % 31}"}} for i in range(24000)]
    text = json.dumps(document, sort_keys=True)
    parsed = json.loads(text)
    re.purge()  # the module caches compiled patterns; each run must compile them again
    patterns = [re.compile(rf"order-0*{n}\d{{2}}|c-{n % 31}\b") for n in range(150)]
    hits = sum(1 for pattern in patterns for item in parsed[:1000] if pattern.search(item["id"]))
    ordered = sorted(parsed, key=lambda item: (item["total"], item["id"]))
    digest = hashlib.sha256(json.dumps(ordered).encode()).digest()
    return hits + digest[0]


def time_reference(runs: int) -> list[float]:
    """Seconds of `reference_workload`, once per run, in this process."""
    if runs < 1:
        raise ValueError("at least one run")
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        reference_workload()
        seconds.append(time.perf_counter() - started)
    return seconds


def reference_seconds(runs: int = 5) -> list[float]:
    """`time_reference` in a new interpreter: the bench's own process has a large heap after the
    evaluations, and its collector's passes over it made the same work up to 8x slower there."""
    if runs < 1:
        raise ValueError("at least one run")
    code = f"import json; from bench.machine import time_reference; print(json.dumps(time_reference({runs})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return [float(value) for value in json.loads(done.stdout)]
