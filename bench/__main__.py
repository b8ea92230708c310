"""`python -m bench` (`make bench`): measure, print the table, write bench/results.json, flag regressions."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

from bench import evaluation, machine, report, sandbox, suite
from bench.stats import REGRESSION_THRESHOLD, compare, summarize

PARTS = ("sandbox", "evaluation", "tests")
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results.json"


def _counts(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated trigger counts, e.g. 10,50,200") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least one count, each 1 or more")
    return counts


def _parts(text: str) -> list[str]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if not parts or unknown:
        raise argparse.ArgumentTypeError(f"{text!r}: one or more of {', '.join(PARTS)}")
    return parts


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number, 1 or more")
    return value


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure the sandbox (throughput, latency, CPU split), the program's evaluation under "
        "mocks for growing trigger counts, and the test suite's wall time. Each figure is the median "
        "of --runs runs, with min and max. Prints a Markdown table, writes the results file and flags "
        f"figures more than {REGRESSION_THRESHOLD:.0%} worse than the previous results file.",
    )
    parser.add_argument("--runs", type=_positive, default=3, help="runs per figure (default: 3)")
    parser.add_argument(
        "--orders", type=_positive, default=sandbox.DEFAULT_ORDERS, help="sandbox orders (default: 100)"
    )
    parser.add_argument(
        "--customers", type=_positive, default=sandbox.DEFAULT_CUSTOMERS, help="sandbox customers (default: 5)"
    )
    parser.add_argument(
        "--concurrency",
        type=_positive,
        default=sandbox.DEFAULT_CONCURRENCY,
        help=f"sandbox orders placed at a time (default: {sandbox.DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="run the sandbox's tasks as new interpreters (`make demo --cold`), to compare with the warm runner",
    )
    parser.add_argument(
        "--triggers", type=_counts, default=[10, 50, 200], help="trigger counts to evaluate (default: 10,50,200)"
    )
    parser.add_argument(
        "--only", type=_parts, help=f"measure only these parts, comma-separated: {', '.join(PARTS)} (default: all)"
    )
    parser.add_argument("--skip-tests", action="store_true", help="do not time the test suite (the slowest part)")
    parser.add_argument("--workers", default="auto", help="pytest -n for the test-suite timing (default: auto)")
    parser.add_argument(
        "--results",
        type=Path,
        default=DEFAULT_RESULTS,
        help="results file to compare with and write (default: %(default)s)",
    )
    parser.add_argument("--no-save", action="store_true", help="compare and print, but do not write the results file")
    parser.add_argument("--show", action="store_true", help="print the table of the results file; measure nothing")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 on a regression or a failed run (default: report them, exit 0)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.show:
        shown = report.load(args.results)
        if shown is None:
            print(f"error: no results in {args.results}; run `make bench` first", file=sys.stderr)
            return 2
        print(report.table(shown, []))
        return 0
    parts = args.only or list(PARTS)
    if args.skip_tests and "tests" in parts:
        parts.remove("tests")
    if not parts:
        print("error: --skip-tests with --only tests leaves nothing to measure", file=sys.stderr)
        return 2

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    info = machine.describe()
    info["loadAverage"] = [round(x, 2) for x in os.getloadavg()]
    figures: dict[str, dict[str, Any]] = {}
    problems: list[str] = machine.environment_problems(os.environ)
    for problem in problems:
        progress(f"warning: {problem}")
    measured_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    # The machine's speed before and after the measuring, recorded with every figure of this run so
    # that a later run judges its figures at equal speed (bench/stats.py `compare`).
    reference = machine.reference_seconds()
    if "sandbox" in parts:
        progress(
            f"sandbox: {args.orders} orders, {args.customers} customers, {args.concurrency} at a time, "
            f"{'cold' if args.cold else 'warm'} runner, {args.runs} runs"
        )
        found, trouble = sandbox.measure(
            args.orders, args.customers, args.runs, progress, concurrency=args.concurrency, cold=args.cold
        )
        figures.update(found)
        problems += trouble
    if "evaluation" in parts:
        progress(f"evaluation: {', '.join(map(str, args.triggers))} triggers, {args.runs} runs")
        figures.update(evaluation.measure(args.triggers, args.runs, progress=progress))
        figures.update(evaluation.measure_fresh(args.triggers, args.runs, progress=progress))
    if "tests" in parts:
        progress(f"tests: {args.runs} runs of the whole suite")
        found, trouble = suite.measure(args.runs, args.workers, progress)
        figures.update(found)
        problems += trouble
    reference += machine.reference_seconds()
    speed = summarize(reference)
    for figure in figures.values():
        figure["measuredAt"] = measured_at
        figure["reference"] = speed["median"]
    # Shown, never compared (no `better`): it is the machine, not the code.
    figures["machine.reference"] = {
        "label": "reference workload (fixed pure-Python work: the machine's speed during this run)",
        "unit": "s",
        "settings": {},
        "measuredAt": measured_at,
        **speed,
    }
    current = {
        "schema": report.SCHEMA,
        "measuredAt": measured_at,
        "machine": info,
        "settings": {"runs": args.runs, "parts": parts},
        "figures": figures,
        "problems": problems,
    }
    previous = report.load(args.results)
    comparisons = compare(previous, current)
    results = report.merge(previous, current)
    print(report.table(results, comparisons))
    if previous and not machine.same_machine(previous.get("machine"), info):
        print("\nThe previous results come from another machine: the comparison is only indicative.")
    regressions = [c for c in comparisons if c.regression]
    if regressions:
        print(f"\n{len(regressions)} regression(s) over {REGRESSION_THRESHOLD:.0%}:")
        for c in regressions:
            print(f"  - {c.key}: {c.previous:.3g} -> {c.current:.3g} ({c.change:+.0%})")
    if problems:
        print("\nProblems (figures from a failed run mean little):\n  - " + "\n  - ".join(problems))
    if not args.no_save:
        args.results.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.results}")
    return 1 if args.strict and (regressions or problems) else 0


if __name__ == "__main__":
    sys.exit(main())
