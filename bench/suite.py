"""Wall time of the test suite exactly as `make test` runs it (pytest on all cores), in a subprocess."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import summarize

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"^=* ?(\d+ (passed|failed).*?) in [\d.]+s")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def failures(output: str) -> list[str]:
    """The tests a run failed, as pytest's short summary names them (`FAILED <id> - <why>`)."""
    return [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))]


def run_once(workers: str = "auto") -> tuple[float, float, int, str, list[str]]:
    """Wall seconds, CPU-seconds (pytest, its workers and every process they ran), exit code,
    pytest's closing line and the failed tests of one run of the whole suite."""
    # -p no:cacheprovider: a benchmark leaves no .pytest_cache behind.
    argv = [sys.executable, "-m", "pytest", "-q", "-n", workers, "--dist", "loadgroup", "-p", "no:cacheprovider"]
    cpu_before, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu_before
    lines = done.stdout.strip().splitlines()
    closing = next((m[1] for line in reversed(lines) if (m := SUMMARY.match(line))), lines[-1] if lines else "")
    return seconds, cpu, done.returncode, closing, failures(done.stdout)


def measure(
    runs: int, workers: str = "auto", progress: Callable[[str], None] = print
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    seconds, cpu, problems = [], [], []
    for run in range(runs):
        took, used, code, closing, failed = run_once(workers)
        seconds.append(took)
        cpu.append(used)
        progress(f"  make test, run {run + 1}/{runs}: {took:.1f} s, {used:.0f} CPU-s ({closing})")
        if code != 0:
            problems.append(f"make test run {run + 1} exited {code}: {closing}")
            problems += [f"make test run {run + 1}: {line}" for line in failed]
    figure = {
        "label": f"make test (pytest -n {workers})",
        "unit": "s",
        "better": "lower",
        "settings": {"workers": workers},
        **summarize(seconds),
    }
    # CPU-seconds hardly depend on what else the machine runs: the figure to compare on a shared one.
    cpu_figure = {
        "label": "make test, CPU (all processes)",
        "unit": "CPU-s",
        "better": "lower",
        "settings": {"workers": workers},
        **summarize(cpu),
    }
    return {"tests.seconds": figure, "tests.cpu": cpu_figure}, problems
