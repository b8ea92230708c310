"""Wall time of the test suite exactly as `make test` runs it (pytest on all cores), in a subprocess;
and of its cold-runner comparisons alone (`-m cold`), whose CPU on these cores is the least wall time
they leave the whole suite."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.machine import cores
from bench.stats import summarize

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"^=* ?(\d+ (passed|failed).*?) in [\d.]+s")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def failures(output: str) -> list[str]:
    """The tests a run failed, as pytest's short summary names them (`FAILED <id> - <why>`)."""
    return [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))]


COLD = "cold"
"""The marker of the issue's warm-against-cold comparisons (pyproject.toml): a new interpreter per task."""


def run_once(workers: str = "auto", marker: str | None = None) -> tuple[float, float, int, str, list[str]]:
    """Wall seconds, CPU-seconds (pytest, its workers and every process they ran), exit code,
    pytest's closing line and the failed tests of one run of the whole suite (or of its tests with
    `marker`)."""
    # -p no:cacheprovider: a benchmark leaves no .pytest_cache behind.
    argv = [sys.executable, "-m", "pytest", "-q", "-n", workers, "--dist", "loadgroup", "-p", "no:cacheprovider"]
    if marker is not None:
        argv += ["-m", marker]
    cpu_before, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu_before
    lines = done.stdout.strip().splitlines()
    closing = next((m[1] for line in reversed(lines) if (m := SUMMARY.match(line))), lines[-1] if lines else "")
    return seconds, cpu, done.returncode, closing, failures(done.stdout)


def _runs(
    runs: int, workers: str, marker: str | None, progress: Callable[[str], None]
) -> tuple[list[float], list[float], list[str]]:
    """Wall seconds and CPU-seconds of each run, and the problems of the runs that failed."""
    name = "make test" if marker is None else f"make test -m {marker}"
    seconds, cpu, problems = [], [], []
    for run in range(runs):
        took, used, code, closing, failed = run_once(workers, marker)
        seconds.append(took)
        cpu.append(used)
        progress(f"  {name}, run {run + 1}/{runs}: {took:.1f} s, {used:.0f} CPU-s ({closing})")
        if code != 0:
            problems.append(f"{name} run {run + 1} exited {code}: {closing}")
            problems += [f"{name} run {run + 1}: {line}" for line in failed]
    return seconds, cpu, problems


def _figure(label: str, unit: str, settings: dict[str, Any], values: list[float]) -> dict[str, Any]:
    return {"label": label, "unit": unit, "better": "lower", "settings": settings, **summarize(values)}


def cold_floor(cpu_seconds: float, usable_cores: int) -> float:
    """The least wall time work of `cpu_seconds` takes on `usable_cores`, however it is scheduled."""
    if usable_cores < 1:
        raise ValueError("at least one core")
    return cpu_seconds / usable_cores


def measure(
    runs: int, workers: str = "auto", progress: Callable[[str], None] = print
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The whole suite, then its cold comparisons alone. The issue asks for those inside `make test`
    (a test proves the warm and the cold runner give the same summaries on every shipped scenario), so
    their CPU spread over every core is a floor under the suite's wall time, whatever the rest costs."""
    seconds, cpu, problems = _runs(runs, workers, None, progress)
    cold_seconds, cold_cpu, cold_problems = _runs(runs, workers, COLD, progress)
    usable = cores()
    whole, cold = {"workers": workers}, {"workers": workers, "marker": COLD}
    return {
        "tests.seconds": _figure(f"make test (pytest -n {workers})", "s", whole, seconds),
        # CPU-seconds hardly depend on what else the machine runs: the figure to compare on a shared one.
        "tests.cpu": _figure("make test, CPU (all processes)", "CPU-s", whole, cpu),
        "tests.cold.seconds": _figure(
            f"make test's cold-runner comparisons alone (pytest -m {COLD})", "s", cold, cold_seconds
        ),
        "tests.cold.cpu": _figure(
            "make test's cold-runner comparisons alone, CPU (all processes)", "CPU-s", cold, cold_cpu
        ),
        "tests.cold.floor": _figure(
            f"least wall time the cold comparisons leave make test: their CPU / {usable} cores",
            "s",
            cold | {"cores": usable},
            [cold_floor(c, usable) for c in cold_cpu],
        ),
    }, problems + cold_problems
