"""The task runner: every ECS task the emulator starts runs as a local process.

The process is the task's container command (the RunTask override, or the definition's), in the
service image's source directory, with the container's environment plus the overrides and
`AWS_ENDPOINT_URL` pointing at the emulator. Its exit code is the container's exit code, so a
non-zero exit fails the execution with `States.TaskFailed` exactly as on AWS.

By default a task's process is forked from a zygote that has already imported the runtime
(sandbox/zygote.py: the warm runner); `warm=False` (`--cold`) starts a new interpreter per task.
Either way it is its own process with the same environment, working directory, argv, exit code and
output; only `python -m <module>` commands are forked, anything else is started as a new program.

A scenario's faults reach the process from outside the service's code: a task whose use case and
order match gets `sandbox/faults` first on PYTHONPATH (its `sitecustomize.py` crashes the process
at the fault's point) and the fault in `SANDBOX_FAULTS`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.emulator import ContainerLaunch, Emulator, TaskLaunch
from sandbox.scenario import Fault
from sandbox.zygote import Zygote, warm_command

# Taken from the host so the process can start; never passed into a container.
HOST_ONLY = ("PATH", "HOME", "LANG", "SYSTEMROOT")
FAULTS_PATH = Path(__file__).resolve().parent / "faults"


@dataclass
class TaskRun:
    """One finished (or running) task process, for the timeline and the summary."""

    task_arn: str
    container: str
    command: list[str]
    started_by: str
    started: float
    exit_code: int | None = None
    ended: float | None = None
    output: str = ""
    """stdout then stderr, stripped."""
    stderr: str = ""
    forked: bool = False
    """Forked from the warm runner's zygote (False: started as a new program)."""


@dataclass
class TaskRunner:
    """Runs emulated ECS tasks as processes from the services' source directories."""

    emulator: Emulator
    sources: dict[str, Path]
    """Container image URI -> the directory the image is built from (its working directory)."""
    timeout_seconds: float = 60.0
    """Kill a task that runs longer (exit 137, like an OOM-killed or stopped container)."""
    docker: bool = False
    """Run the built image with `docker run` instead of the source directory."""
    local_images: dict[str, str] = field(default_factory=dict)
    """With `docker`: image URI -> the local tag built for it (a digest reference cannot be built)."""
    on_finish: Callable[[TaskRun], None] | None = None
    """Called when a task started by ECS ends (not for one-off commands)."""
    faults: list[Fault] = field(default_factory=list)
    """The scenario's faults: every process whose use case and order match gets them."""
    warm: bool = True
    """Fork `python -m` tasks from a zygote with the runtime imported (False: a new interpreter each)."""
    runs: list[TaskRun] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _fault_dir: Path | None = None
    _zygote: Zygote | None = None

    def close(self) -> None:
        """Stop the zygote (after its tasks) and forget which `once` faults fired (their marker files)."""
        with self._lock:
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()
        if self._fault_dir is not None:
            shutil.rmtree(self._fault_dir, ignore_errors=True)
            self._fault_dir = None

    def _warm_zygote(self) -> Zygote:
        with self._lock:
            if self._zygote is None or self._zygote.gone:
                # A zygote that died fails only the tasks it was running; the next task gets a new one
                # (the dead one is waited for first, so it leaves no zombie and its CPU is counted).
                # Its own environment is only what an interpreter needs to start.
                if self._zygote is not None:
                    self._zygote.close()
                self._zygote = Zygote({key: os.environ[key] for key in HOST_ONLY if key in os.environ})
            return self._zygote

    def __call__(self, launch: TaskLaunch) -> None:
        essential = [c for c in launch.containers if c.essential] or launch.containers
        container = essential[0]
        run = TaskRun(
            launch.task_arn, container.name, list(container.command or []), launch.started_by, time.monotonic()
        )
        with self._lock:
            self.runs.append(run)
        threading.Thread(
            target=self._run, args=(launch, container, run), daemon=True, name=f"task-{container.name}"
        ).start()

    def run_command(self, container: ContainerLaunch) -> TaskRun:
        """Run a one-off command in a service's container environment (like `ecs run-task`), and wait."""
        run = TaskRun("one-off", container.name, list(container.command or []), "sandbox", time.monotonic())
        with self._lock:
            self.runs.append(run)
        self._execute(container, run)
        return run

    def _run(self, launch: TaskLaunch, container: ContainerLaunch, run: TaskRun) -> None:
        reason = None
        try:
            self._execute(container, run)
            if run.exit_code == 137:
                reason = f"Task stopped: ran longer than the sandbox's {self.timeout_seconds:g} s"
        except Exception as exc:  # the container never started: report it like ECS does
            run.output = f"{type(exc).__name__}: {exc}"
            reason = f"CannotStartContainerError: {exc}"
        finally:
            try:
                self.emulator.complete_task(launch.task_arn, run.exit_code, reason)
            except KeyError:
                pass  # the sandbox stopped first (a timeout): nobody waits for this task any more
            finally:  # the timeline shows the task even if the emulator is already gone
                if self.on_finish is not None:
                    self.on_finish(run)

    def _execute(self, container: ContainerLaunch, run: TaskRun) -> None:
        command = list(container.command or [])
        if not command:
            raise ValueError(f"container {container.name} has no command to run")
        env = self._environment(container)
        env.update(self._fault_environment(command, env))
        if self.docker:
            # `-e NAME` passes NAME's value from this process's environment (`env`) into the container.
            # Named so a timed-out task's container can be killed: killing the client leaves it running.
            name = f"event-tasks-{uuid.uuid4().hex[:12]}"
            argv = [
                "docker",
                "run",
                "--rm",
                "--name",
                name,
                "--network",
                "host",
                *[a for k in env if k not in HOST_ONLY for a in ("-e", k)],
                self.local_images.get(container.image or "", container.image or ""),
                *command,
            ]
            cwd = None
        else:
            source = self._source(container)
            # The image's `python` is the interpreter this sandbox runs on (same packages).
            argv = [sys.executable if command[0] in ("python", "python3") else command[0], *command[1:]]
            cwd = str(source)
        try:
            if self.warm and cwd is not None and warm_command(argv):
                run.forked = True
                code, stdout, stderr = self._warm_zygote().run(argv, cwd, env, self.timeout_seconds)
            else:
                done = subprocess.run(
                    argv,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,  # a container has no terminal to read
                    capture_output=True,
                    text=True,
                    timeout=self.timeout_seconds,
                    check=False,
                )
                code, stdout, stderr = done.returncode, done.stdout, done.stderr
            run.exit_code, run.output, run.stderr = code, (stdout + stderr).strip(), stderr
        except subprocess.TimeoutExpired as expired:
            if self.docker:
                subprocess.run(["docker", "kill", name], capture_output=True, check=False)
            run.exit_code = 137
            output = expired.stderr or b""
            run.output = run.stderr = output.decode(errors="replace") if isinstance(output, bytes) else output
        run.ended = time.monotonic()

    def _fault_environment(self, command: list[str], env: dict[str, str]) -> dict[str, str]:
        """`SANDBOX_FAULTS` and PYTHONPATH for a process some fault applies to ({} if none does)."""
        use_case = command[command.index("-m") + 1] if "-m" in command[:-1] else None
        order = _order_of(command, env)
        matching = []
        for index, fault in enumerate(self.faults):
            if fault.useCase != use_case or (fault.orders and order not in fault.orders):
                continue
            once = None
            if fault.times == "once":
                with self._lock:
                    if self._fault_dir is None:
                        self._fault_dir = Path(tempfile.mkdtemp(prefix="sandbox-faults-"))
                once = str(self._fault_dir / f"fault-{index}-{order or 'any'}")
            matching.append(
                {"when": fault.when, "how": fault.how, "onceFile": once, "label": f"{use_case}, order {order}"}
            )
        if not matching:
            return {}
        if self.docker:
            raise ValueError("faults need the task to run from source: the sandbox cannot inject them with --docker")
        path = os.pathsep.join(p for p in (str(FAULTS_PATH), env.get("PYTHONPATH", "")) if p)
        return {"SANDBOX_FAULTS": json.dumps(matching), "PYTHONPATH": path}

    def _source(self, container: ContainerLaunch) -> Path:
        source = self.sources.get(container.image or "")
        if source is None:
            raise LookupError(f"no source directory is known for image {container.image!r}")
        return source

    def _environment(self, container: ContainerLaunch) -> dict[str, str]:
        env = {key: os.environ[key] for key in HOST_ONLY if key in os.environ}
        env.update(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": self.emulator.region,
                "AWS_REGION": self.emulator.region,
                "AWS_ENDPOINT_URL": self.emulator.endpoint_url or "",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(container.environment)
        return env


def _order_of(command: list[str], env: dict[str, str]) -> str | None:
    """The order a task works on: its event's `orderId` (a failure event's: its original event's),
    else its `--order-id` argument."""
    if "--order-id" in command[:-1]:
        return command[command.index("--order-id") + 1]
    try:
        detail = json.loads(env.get("eventDetail") or "{}")
    except ValueError:
        return None
    if not isinstance(detail, dict):
        return None
    original = detail.get("event") if isinstance(detail.get("event"), dict) else {}
    found = detail.get("orderId") or (original.get("detail") or {}).get("orderId")
    return found if isinstance(found, str) else None
