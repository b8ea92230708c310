"""The task runner: an ECS task becomes a local process whose exit code is the task's."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandbox.emulator import ContainerLaunch, TaskLaunch
from sandbox.runner import TaskRunner


@dataclass
class FakeEmulator:
    """Records what the runner reports back, like Emulator.complete_task."""

    region: str = "ap-southeast-1"
    endpoint_url: str = "http://127.0.0.1:5999"
    completed: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def complete_task(self, task_arn: str, exit_code: int | None, reason: str | None = None) -> None:
        self.completed.append((task_arn, exit_code, reason))
        self.done.set()


def launch(command: list[str], image: str = "repo/order:1", env: dict[str, str] | None = None) -> TaskLaunch:
    container = ContainerLaunch("order", image, command, env or {}, True)
    return TaskLaunch("arn:task/1", "arn:cluster", "arn:td:1", None, None, "AWS Step Functions", [], {}, [container])


@pytest.fixture
def source(tmp_path: Path) -> Path:
    (tmp_path / "probe.py").write_text(
        "import os, sys\n"
        "print(os.environ['AWS_ENDPOINT_URL'], os.environ['eventId'], os.getcwd())\n"
        "sys.exit(int(os.environ.get('EXIT', '0')))\n"
    )
    return tmp_path


def run(runner: TaskRunner, emulator: FakeEmulator, task: TaskLaunch) -> None:
    runner(task)
    assert emulator.done.wait(20), "the runner never completed the task"


@pytest.mark.parametrize("code", [0, 3])
def test_the_process_exit_code_completes_the_task(source, code):
    # GIVEN a task whose container runs a script from the image's source directory
    emulator = FakeEmulator()
    runner = TaskRunner(emulator, {"repo/order:1": source})  # type: ignore[arg-type]
    # WHEN it runs with the overrides' environment
    run(runner, emulator, launch(["python", "probe.py"], env={"eventId": "e-1", "EXIT": str(code)}))
    # THEN the exit code is reported for that task, and the process saw the emulator and its env
    assert emulator.completed == [("arn:task/1", code, None)]
    (finished,) = runner.runs
    assert finished.output.split() == ["http://127.0.0.1:5999", "e-1", str(source)]


def test_a_task_running_too_long_is_killed_like_a_stopped_container(source):
    # GIVEN a runner with a short task timeout
    emulator = FakeEmulator()
    runner = TaskRunner(emulator, {"repo/order:1": source}, timeout_seconds=0.5)  # type: ignore[arg-type]
    # WHEN the task sleeps longer
    run(runner, emulator, launch(["python", "-c", "import time; time.sleep(30)"]))
    # THEN it is reported as exit 137 with the reason
    ((_, code, reason),) = emulator.completed
    assert code == 137 and "ran longer than the sandbox's 0.5 s" in reason


def test_an_image_without_known_source_cannot_start():
    # GIVEN an image the sandbox has no source directory for
    emulator = FakeEmulator()
    runner = TaskRunner(emulator, {})  # type: ignore[arg-type]
    # WHEN it is run THEN the task stops without an exit code, like a container that never started
    run(runner, emulator, launch(["python", "-V"], image="unknown:1"))
    ((_, code, reason),) = emulator.completed
    assert code is None and reason.startswith("CannotStartContainerError: no source directory")
