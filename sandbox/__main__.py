"""`python -m sandbox` (`make demo`): the saga end to end on a local AWS emulator."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from components.config import ConfigError
from sandbox.harness import SandboxError, run
from sandbox.provision import PROJECT_ROOT
from sandbox.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Deploy a stack of this Pulumi program into a local AWS emulator (moto) and run "
        "a scenario through its event flows: events -> rules -> state machines -> ECS "
        "tasks run as local processes. Exits 0 only if every order reached a terminal "
        "state, the credit invariants hold, no event was lost, every failed execution published "
        "its failure event and no service reported a contradicting event.",
    )
    parser.add_argument(
        "--stack", default="local", help="stack whose Pulumi.<stack>.yaml to deploy (default: local; cloud works too)"
    )
    parser.add_argument(
        "--config", type=Path, help="a stack file to deploy instead of Pulumi.<stack>.yaml (its name gives the stack)"
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        default=DEFAULT_SCENARIO,
        help=f"scenario YAML (default: {DEFAULT_SCENARIO.relative_to(PROJECT_ROOT)})",
    )
    parser.add_argument("--summary-json", type=Path, help="also write the summary as JSON to this file")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the system to become quiet (default: 60)"
    )
    parser.add_argument(
        "--task-timeout", type=float, default=30.0, help="kill a task process after this many seconds (default: 30)"
    )
    parser.add_argument(
        "--docker",
        action="store_true",
        help="build and run the service images with a Docker engine instead of running their source directories",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # moto logs every failed state with a dump of its interpreter; the timeline already says why.
    logging.getLogger("moto").setLevel(logging.CRITICAL)

    stack_file = args.config or PROJECT_ROOT / f"Pulumi.{args.stack}.yaml"
    if not stack_file.is_file():
        parser.error(f"no stack file {stack_file}")
    try:
        scenario = load_scenario(args.scenario)
        report = run(
            stack_file,
            scenario,
            out=None if args.quiet else print,
            timeout_seconds=args.timeout,
            task_timeout_seconds=args.task_timeout,
            docker=args.docker,
            stack=None if args.config else args.stack,
        )
    except (ConfigError, ScenarioError, SandboxError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    print("\norders:    " + ", ".join(f"{k} {v}" for k, v in report.orders.items()))
    print(
        "customers: "
        + ", ".join(f"{k} reserved {c['reserved']} of {c['creditLimit']}" for k, c in report.customers.items())
    )
    print(f"events:    {report.events}")
    print(f"executions: {report.executions}   ({report.seconds:.1f} s)")
    for failure in report.failures:
        print(
            f"failed:    {failure['trigger']} for event {failure['eventId']}: {failure['error']}; "
            f"failure event {failure['failureEventId'] or 'NONE'}"
        )
    if args.summary_json:
        args.summary_json.write_text(json.dumps(report.summary(), indent=2) + "\n")
    if report.problems:
        print("\nFAILED:\n  - " + "\n  - ".join(report.problems), file=sys.stderr)
        return 1
    print("\nOK: every order is settled, credit adds up, no event was lost, every failure was announced.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
