"""Wall time of the test suite exactly as `make test` runs it (pytest on all cores), in a subprocess."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import summarize

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"^=* ?(\d+ (passed|failed).*?) in [\d.]+s")


def run_once(workers: str = "auto") -> tuple[float, int, str]:
    """Seconds, exit code and pytest's closing line of one run of the whole suite."""
    # -p no:cacheprovider: a benchmark leaves no .pytest_cache behind.
    argv = [sys.executable, "-m", "pytest", "-q", "-n", workers, "-p", "no:cacheprovider"]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    closing = next((m[1] for line in reversed(lines) if (m := SUMMARY.match(line))), lines[-1] if lines else "")
    return seconds, done.returncode, closing


def measure(
    runs: int, workers: str = "auto", progress: Callable[[str], None] = print
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    seconds, problems = [], []
    for run in range(runs):
        took, code, closing = run_once(workers)
        seconds.append(took)
        progress(f"  make test, run {run + 1}/{runs}: {took:.1f} s ({closing})")
        if code != 0:
            problems.append(f"make test run {run + 1} exited {code}: {closing}")
    figure = {
        "label": f"make test (pytest -n {workers})",
        "unit": "s",
        "better": "lower",
        "settings": {"workers": workers},
        **summarize(seconds),
    }
    return {"tests.seconds": figure}, problems
