"""`python -m sandbox` (`make demo`): the saga end to end on a local AWS emulator.

Exit codes: 0 the run is correct; 1 a check failed (or the run timed out); 2 invalid input (a stack
file, a scenario, an option); 3 this machine lacks something (a Docker engine, a free port). Bad
input is refused in one line before anything starts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from components.config import ConfigError
from sandbox.harness import EnvironmentLacks, SandboxError, run
from sandbox.provision import PROJECT_ROOT
from sandbox.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario

EXIT_OK, EXIT_CHECK_FAILED, EXIT_INVALID_INPUT, EXIT_ENVIRONMENT = 0, 1, 2, 3


def stacks(project_root: Path = PROJECT_ROOT) -> list[str]:
    """The stacks that have a stack file in the project."""
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_root.glob("Pulumi.*.yaml"))


def input_problem(args: argparse.Namespace) -> str | None:
    """The first problem with the options that would otherwise surface only after the run."""
    if args.stack is not None and args.config is not None:
        return "--stack and --config both name a stack file; give one (--config's file name gives the stack)"
    if args.config is not None and not args.config.is_file():
        return f"--config: no stack file {args.config}"
    if args.config is None:
        stack = args.stack or "local"
        if not (PROJECT_ROOT / f"Pulumi.{stack}.yaml").is_file():
            return f"--stack: no stack {stack!r} (Pulumi.{stack}.yaml); stacks here: {', '.join(stacks()) or 'none'}"
    if not args.scenario.is_file():
        return f"--scenario: no file {args.scenario}"
    if args.summary_json is not None:
        parent = args.summary_json.parent
        if args.summary_json.is_dir():
            return f"--summary-json: {args.summary_json} is a directory; give a file path"
        if not parent.is_dir():
            return f"--summary-json: directory {parent} does not exist; create it or choose another path"
        if not os.access(parent, os.W_OK):
            return f"--summary-json: directory {parent} is not writable; choose another path"
    if args.timeout <= 0 or args.task_timeout <= 0:
        return "--timeout and --task-timeout must be more than 0 seconds"
    return None


def docker_missing() -> str | None:
    """Why `--docker` cannot work here, or None."""
    if shutil.which("docker") is None:
        return "--docker needs a Docker engine, but `docker` is not on PATH; install Docker or drop --docker"
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return "--docker: `docker info` did not answer within 30 s; start the Docker engine or drop --docker"
    if done.returncode != 0:
        return "--docker: the Docker engine is not running (`docker info` failed); start it or drop --docker"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Deploy a stack of this Pulumi program into a local AWS emulator (moto) and run "
        "a scenario through its event flows: events -> rules -> state machines -> ECS "
        "tasks run as local processes. Exits 0 only if every order reached a terminal "
        "state, the credit invariants hold, no event was lost, every failed execution published "
        "its failure event and no service reported a contradicting event.",
    )
    parser.add_argument("--stack", help="stack whose Pulumi.<stack>.yaml to deploy (default: local; cloud works too)")
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
    parser.add_argument(
        "--cold",
        action="store_true",
        help="start every task as a new Python interpreter, as before the warm runner (default: fork each "
        "task's process from a zygote that has the runtime imported; same environment, argv and exit code)",
    )
    parser.add_argument(
        "--tick",
        action="append",
        default=[],
        metavar="TRIGGER",
        help="once the scenario has settled, fire this scheduled trigger once, as its schedule would "
        "(the tick's scheduled time is now); repeatable",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # moto logs every failed state with a dump of its interpreter; the timeline already says why.
    logging.getLogger("moto").setLevel(logging.CRITICAL)

    problem = input_problem(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    if args.docker and (lack := docker_missing()) is not None:
        print(f"error: {lack}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    stack = args.stack or "local"
    stack_file = args.config or PROJECT_ROOT / f"Pulumi.{stack}.yaml"
    try:
        scenario = load_scenario(args.scenario)
        report = run(
            stack_file,
            scenario,
            out=None if args.quiet else print,
            timeout_seconds=args.timeout,
            task_timeout_seconds=args.task_timeout,
            docker=args.docker,
            stack=None if args.config else stack,
            ticks=tuple(args.tick),
            cold=args.cold,
        )
    except EnvironmentLacks as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except (ConfigError, ScenarioError, SandboxError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID_INPUT

    print("\norders:    " + ", ".join(f"{k} {v}" for k, v in report.orders.items()))
    print(
        "customers: "
        + ", ".join(f"{k} reserved {c['reserved']} of {c['creditLimit']}" for k, c in report.customers.items())
    )
    print(f"events:    {report.events}")
    print(f"executions: {report.executions}   ({report.seconds:.1f} s)")
    for order_id, saga in report.sagas.items():
        steps = ", ".join(f"{name} {result.get('status', '?')}" for name, result in saga["steps"].items())
        line = f"saga:      {order_id} {saga['trigger']} {saga['outcome']}: {steps}"
        if saga["outcome"] == "FAILED":
            undone = ", ".join(f"{n} {r.get('status', r.get('Error', '?'))}" for n, r in saga["compensations"].items())
            line += f"; failed at {saga['failedStep']}, compensated: {undone or 'nothing'}"
        print(line)
    for failure in report.failures:
        print(
            f"failed:    {failure['trigger']} for event {failure['eventId']}: {failure['error']}; "
            f"failure event {failure['failureEventId'] or 'NONE'}"
        )
    if args.summary_json:
        args.summary_json.write_text(json.dumps(report.summary(), indent=2) + "\n")
    if report.problems:
        print("\nFAILED:\n  - " + "\n  - ".join(report.problems), file=sys.stderr)
        return EXIT_CHECK_FAILED
    print("\nOK: every order is settled, credit adds up, no event was lost, every failure was announced.")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
