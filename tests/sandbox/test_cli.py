"""`python -m sandbox` as a command: exit codes 0/1/2/3, bad input refused in one line before any
work, the stacks listed, a timeout reported as one; `make help`; docstrings that stay true."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import sandbox.emulator
import sandbox.harness
from sandbox.__main__ import EXIT_CHECK_FAILED, EXIT_ENVIRONMENT, EXIT_INVALID_INPUT, main
from sandbox.provision import PROJECT_ROOT

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CLOUD = str(FIXTURES / "Pulumi.cloud.yaml")


@pytest.fixture
def nothing_starts(monkeypatch):
    """Fail the test if the emulator is started: refusals must come before any work."""

    def refuse(*args, **kwargs):
        raise AssertionError("the emulator was started")

    monkeypatch.setattr(sandbox.harness, "start_server", refuse)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stack", "prod"], r"--stack: no stack 'prod' \(Pulumi\.prod\.yaml\); stacks here: .*cloud.*local"),
        (["--stack", "cloud", "--config", CLOUD], r"--stack and --config both name a stack file; give one"),
        (["--config", "nowhere/Pulumi.x.yaml"], r"--config: no stack file nowhere/Pulumi\.x\.yaml"),
        (["--config", CLOUD, "--scenario", "missing.yaml"], r"--scenario: no file missing\.yaml"),
        (
            ["--config", CLOUD, "--summary-json", "no/such/dir/summary.json"],
            r"--summary-json: directory no/such/dir does not exist",
        ),
        (["--config", CLOUD, "--summary-json", "sandbox"], r"--summary-json: sandbox is a directory"),
        (["--config", CLOUD, "--timeout", "0"], r"--timeout and --task-timeout must be more than 0"),
    ],
)
def test_bad_input_is_refused_in_one_line_before_any_work(nothing_starts, capsys, monkeypatch, argv, message):
    # GIVEN options that cannot work, run from the project directory
    monkeypatch.chdir(PROJECT_ROOT)
    # WHEN the sandbox is started with them
    code = main(argv)
    # THEN it exits 2 (invalid input) with one line naming the option, and started nothing
    assert code == EXIT_INVALID_INPUT
    assert re.search(message, one_error_line(capsys))


def test_docker_missing_is_an_environment_problem(nothing_starts, capsys, monkeypatch, tmp_path):
    # GIVEN --docker on a machine whose PATH has no docker
    monkeypatch.setenv("PATH", str(tmp_path))
    # WHEN the sandbox starts THEN it exits 3 with one line, before any work
    assert main(["--config", CLOUD, "--docker"]) == EXIT_ENVIRONMENT
    assert "`docker` is not on PATH" in one_error_line(capsys)


def test_a_docker_engine_that_is_not_running_is_an_environment_problem(nothing_starts, capsys, monkeypatch, tmp_path):
    # GIVEN a docker client whose engine does not answer
    docker = tmp_path / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    # THEN --docker exits 3 naming the engine
    assert main(["--config", CLOUD, "--docker"]) == EXIT_ENVIRONMENT
    assert "the Docker engine is not running" in one_error_line(capsys)


def test_a_port_that_cannot_be_bound_is_an_environment_problem(capsys, monkeypatch):
    # GIVEN the emulator's server cannot bind its port
    def no_port(*args, **kwargs):
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(sandbox.harness, "start_server", no_port)
    # THEN the run exits 3 with the reason
    assert main(["--config", CLOUD, "--quiet"]) == EXIT_ENVIRONMENT
    assert "cannot start the emulator's server on 127.0.0.1: [Errno 98] Address already in use" in one_error_line(
        capsys
    )


def test_a_timeout_is_reported_as_one_and_stops_the_later_checks(capsys, tmp_path):
    # GIVEN a scenario with a cancellation and a replay, and far too short a timeout
    scenario = tmp_path / "saga.yaml"
    scenario.write_text(
        "customers: [{id: c-1, creditLimit: 100}]\n"
        "orders: [{id: o-1, customerId: c-1, total: 60}]\n"
        "cancel: [o-1]\nreplayEvents: true\n"
    )
    summary = tmp_path / "summary.json"
    # WHEN it runs
    code = main(
        ["--config", CLOUD, "--scenario", str(scenario), "--timeout", "0.01", "--quiet", "--summary-json", str(summary)]
    )
    # THEN it fails (1) with exactly the timeout, naming the phase, and no replay or invariant verdict
    assert code == EXIT_CHECK_FAILED
    err = capsys.readouterr().err
    assert "timed out after 0.01 s waiting for the placed orders to settle" in err
    assert "replaying the events changed the outcome" not in err
    assert "ended PENDING" not in err
    assert '"problems": [\n    "timed out after 0.01 s' in summary.read_text()


def test_make_help_lists_every_documented_target():
    # GIVEN the targets the Makefile documents with `## target:` comments
    documented = re.findall(r"^## ([a-z-]+): ", (PROJECT_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert {"help", "demo", "test", "lint", "clean"} <= set(documented)
    # WHEN `make help` runs
    done = subprocess.run(["make", "help"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=True)
    # THEN each is listed with its description
    listed = re.findall(r"^  ([a-z-]+) +\S", done.stdout, re.MULTILINE)
    assert listed == documented


def test_the_emulator_docstring_states_no_count_of_workarounds():
    # GIVEN the emulator module's docstring and its workaround functions
    doc = sandbox.emulator.__doc__ or ""
    workarounds = [name for name in vars(sandbox.emulator) if re.match(r"_workaround_[a-z]_", name)]
    assert len(workarounds) >= 6
    # THEN it names no number that would go stale when one is added or removed
    numbers = r"\b(one|two|three|four|five|six|seven|eight|nine|ten|\d+) (workarounds|places)\b"
    assert not re.search(numbers, doc, re.IGNORECASE)
