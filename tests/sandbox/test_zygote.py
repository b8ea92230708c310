"""The warm task runner: a task forked from the zygote is the process a new interpreter would be."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_runner import FakeEmulator, launch, run

from sandbox.runner import TaskRunner
from sandbox.zygote import Zygote, ZygoteGone

# What a task can observe of its own process; printed as JSON by the probe module.
PROBE = """
import atexit, json, os, sys, threading, time

facts = {
    "argv": sys.argv,
    "cwd": os.getcwd(),
    "path": sys.path,
    "env": dict(os.environ),
    "name": __name__,
    "file": __file__,
    "main": sorted(globals()),
    "customized": "sitecustomize" in sys.modules and getattr(sys.modules["sitecustomize"], "MARK", None),
    "stdin": sys.stdin.read(),
    "encoding": [sys.stdout.encoding, sys.stderr.encoding, sys.stderr.errors],
    "bytecode": sys.dont_write_bytecode,
}
print(json.dumps(facts))
print("to stderr", file=sys.stderr)
atexit.register(lambda: print("atexit ran"))
threading.Thread(target=lambda: (time.sleep(0.1), print("thread ended"))).start()
how = sys.argv[1]
if how == "raise":
    raise ValueError("the use case failed")
if how == "crash":
    os._exit(137)
if how == "message":
    sys.exit("the use case says why")
if how == "interrupt":
    raise KeyboardInterrupt
sys.exit(int(how))
"""
# What botocore registered: every event handler of a session and of a client made from it, as
# (event, position, handler) after botocore's aliasing, and whether a handler without **kwargs is
# refused.
HANDLERS = """
import json, sys
import boto3

def named(handler):
    handler = getattr(handler, "__func__", handler)
    return getattr(handler, "__module__", "") + "." + getattr(handler, "__qualname__", type(handler).__qualname__)

def registered(events):
    found, stack = [], [((), events._emitter._handlers._root)]
    while stack:
        path, node = stack.pop()
        values = node["values"]
        for where in ("first", "middle", "last") if values else ():
            found += [[".".join(path), where, named(h)] for h in getattr(values, where)]
        stack += [((*path, chunk), child) for chunk, child in node["children"].items()]
    return sorted(found)

session = boto3.Session(region_name="ap-southeast-1", aws_access_key_id="a", aws_secret_access_key="b")
client = session.client(sys.argv[1], endpoint_url="http://127.0.0.1:9")
try:
    client.meta.events.register("before-call.*", lambda request: None)
    refused = False
except ValueError:
    refused = True
print(json.dumps({"session": registered(session._session._events), "client": registered(client.meta.events),
                  "refused": refused}))
"""
PRELOADED = "import sys; print(json.dumps(sorted(m for m in ('boto3', 'botocore') if m in sys.modules)))"


@pytest.fixture(scope="module")
def zygote():
    zygote = Zygote({key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ})
    yield zygote
    zygote.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "__init__.py").write_text("")
    (tmp_path / "svc" / "probe.py").write_text(PROBE)
    (tmp_path / "svc" / "loaded.py").write_text("import json\n" + PRELOADED + "\n")
    (tmp_path / "svc" / "handlers.py").write_text(HANDLERS)
    (tmp_path / "svc" / "parent.py").write_text("import os\nprint(os.getppid())\n")
    (tmp_path / "svc" / "sleep.py").write_text("import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "sitecustomize.py").write_text("MARK = 'from PYTHONPATH'\n")
    return tmp_path


def task_env(source: Path, **extra: str) -> dict[str, str]:
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return env | {"AWS_REGION": "ap-southeast-1", "eventId": "e-1", "PYTHONUNBUFFERED": "1"} | extra


def cold(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    done = subprocess.run(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("how", ["0", "3", "raise", "crash", "message", "interrupt"])
@pytest.mark.parametrize("pythonpath", [False, True])
def test_a_forked_task_sees_and_does_exactly_what_a_new_interpreter_would(zygote, source, how, pythonpath):
    # GIVEN a task `python -m svc.probe` with its own environment and working directory, with and
    # without a sitecustomize on its PYTHONPATH (how a scenario's fault is injected)
    env = task_env(source, **({"PYTHONPATH": str(source / "custom")} if pythonpath else {}))
    argv = [sys.executable, "-m", "svc.probe", how]
    # WHEN it is forked from the zygote, and started as a new interpreter
    warm = zygote.run(argv, str(source), env, timeout=60)
    started = cold(argv, source, env)
    # THEN both exit alike and print the same: argv, working directory, sys.path, environment,
    # a fresh __main__, the sitecustomize, stdin, stream encodings, and the interpreter's exit path
    # (atexit handlers, the wait for a non-daemon thread, an uncaught exception's traceback)
    assert warm[0] == started[0] == {"0": 0, "3": 3, "raise": 1, "crash": 137, "message": 1, "interrupt": -2}[how]
    assert json.loads(warm[1].splitlines()[0]) == json.loads(started[1].splitlines()[0])
    assert warm[1].splitlines()[1:] == started[1].splitlines()[1:]
    assert warm[2].splitlines()[0] == started[2].splitlines()[0] == "to stderr"
    assert warm[2].splitlines()[-1] == started[2].splitlines()[-1]
    facts = json.loads(warm[1].splitlines()[0])
    assert facts["env"] == env and facts["argv"] == [str(source / "svc" / "probe.py"), how]
    assert facts["customized"] == ("from PYTHONPATH" if pythonpath else False)


@pytest.mark.parametrize("how", ["0", "raise", "message", "interrupt"])
def test_a_forked_task_with_buffered_streams_loses_nothing_at_exit(zygote, source, how):
    # GIVEN the probe without PYTHONUNBUFFERED: its streams are block-buffered, flushed at exit
    env = {k: v for k, v in task_env(source).items() if k != "PYTHONUNBUFFERED"}
    argv = [sys.executable, "-m", "svc.probe", how]
    # WHEN it is forked from the zygote, and started as a new interpreter
    warm = zygote.run(argv, str(source), env, timeout=60)
    started = cold(argv, source, env)
    # THEN both end alike, with every line written (the atexit handler's and the thread's too)
    assert warm[0] == started[0]
    assert warm[1].splitlines()[1:] == started[1].splitlines()[1:]
    assert "atexit ran" in warm[1] and "thread ended" in warm[1]
    assert warm[2].splitlines()[-1] == started[2].splitlines()[-1]


@pytest.mark.parametrize("service", ["dynamodb", "events", "sqs"])
def test_a_forked_tasks_botocore_registers_exactly_the_handlers_of_a_new_interpreter(zygote, source, service):
    # GIVEN a task that makes a session and a client (a preloaded service's, and one the zygote
    # never made), and lists every event handler botocore registered for them
    argv = [sys.executable, "-m", "svc.handlers", service]
    # WHEN it is forked from the zygote (botocore's registration answers remembered), and started
    # as a new interpreter
    warm = zygote.run(argv, str(source), task_env(source), timeout=60)
    started = cold(argv, source, task_env(source))
    # THEN the two registered the same handlers for the same (aliased) events, and both refused a
    # handler without **kwargs
    assert warm[0] == started[0] == 0, warm[2] + started[2]
    assert json.loads(warm[1]) == json.loads(started[1])
    assert json.loads(warm[1])["refused"] is True
    assert len(json.loads(warm[1])["client"]) > 100


def test_a_forked_task_starts_with_the_runtime_imported_and_is_the_zygotes_child(zygote, source):
    # GIVEN a task that reports which of boto3/botocore it finds imported, and one its parent pid
    env = task_env(source)
    # WHEN each is forked from the zygote and started as a new interpreter
    loaded = zygote.run([sys.executable, "-m", "svc.loaded"], str(source), env, timeout=60)
    parent = zygote.run([sys.executable, "-m", "svc.parent"], str(source), env, timeout=60)
    # THEN the forked one did not import them itself (the zygote had), the new interpreter did not
    # have them, and the forked task's parent is the zygote, not this process
    assert json.loads(loaded[1]) == ["boto3", "botocore"]
    assert json.loads(cold([sys.executable, "-m", "svc.loaded"], source, env)[1]) == []
    assert int(parent[1]) not in (os.getpid(), 1)


def test_a_forked_task_running_too_long_is_killed(zygote, source):
    # GIVEN a forked task that sleeps for a minute
    # WHEN its timeout passes
    with pytest.raises(subprocess.TimeoutExpired) as expired:
        zygote.run([sys.executable, "-m", "svc.sleep"], str(source), task_env(source), timeout=1)
    # THEN it is killed (the zygote reaped it) and what it had written is kept
    assert b"started" in expired.value.output


def test_the_runner_reports_a_warm_task_over_its_timeout_like_a_stopped_container(source):
    # GIVEN the runner (warm by default) with a short task timeout
    emulator = FakeEmulator()
    runner = TaskRunner(emulator, {"repo/order:1": source}, timeout_seconds=1)  # type: ignore[arg-type]
    try:
        # WHEN a `python -m` task sleeps longer
        run(runner, emulator, launch(["python", "-m", "svc.sleep"]))
    finally:
        runner.close()
    # THEN it is reported as exit 137 with the reason, and it was forked
    ((_, code, reason),) = emulator.completed
    assert code == 137 and "ran longer than the sandbox's 1 s" in reason
    assert runner.runs[0].forked


def test_a_cold_runner_starts_a_new_interpreter_per_task(source):
    # GIVEN a runner with warm=False (`--cold`)
    emulator = FakeEmulator()
    runner = TaskRunner(emulator, {"repo/order:1": source}, warm=False)  # type: ignore[arg-type]
    # WHEN it runs a `python -m` task
    run(runner, emulator, launch(["python", "-m", "svc.loaded"]))
    runner.close()
    # THEN the task imported nothing it did not import itself
    assert emulator.completed == [("arn:task/1", 0, None)]
    assert json.loads(runner.runs[0].output) == [] and not runner.runs[0].forked


def test_a_task_in_flight_when_the_zygote_dies_never_started_and_the_next_gets_a_new_zygote(source):
    # GIVEN a warm runner whose zygote is running a task
    emulator = FakeEmulator()
    runner = TaskRunner(emulator, {"repo/order:1": source})  # type: ignore[arg-type]
    runner(launch(["python", "-m", "svc.sleep"]))
    deadline = time.monotonic() + 30
    while runner._zygote is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first = runner._zygote
    assert first is not None
    try:
        # WHEN the zygote is killed
        first._process.send_signal(signal.SIGKILL)
        # THEN the task is reported as a container that never started, without waiting for its timeout
        assert emulator.done.wait(20), "the runner never completed the task"
        ((_, code, reason),) = emulator.completed
        assert code is None and reason.startswith("CannotStartContainerError: ")
        # AND the next task runs on a new zygote
        emulator.done.clear()
        run(runner, emulator, launch(["python", "-m", "svc.loaded"]))
        assert emulator.completed[-1] == ("arn:task/1", 0, None)
        assert runner._zygote is not first
        # AND the dead one was waited for (no zombie; its tasks' CPU counts in RUSAGE_CHILDREN)
        assert first._process.returncode == -signal.SIGKILL
    finally:
        runner.close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has died; whoever adopted it has yet to reap it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the death signal is Linux's prctl")
def test_a_task_whose_pid_the_runner_never_learnt_dies_with_the_zygote(source):
    # GIVEN a zygote running a task that wrote down its pid and sleeps, and a runner that has not
    # learnt that pid yet (as when the zygote dies between the fork and its report)
    (source / "svc" / "pid.py").write_text(
        "import os, pathlib, time\npathlib.Path('task.pid').write_text(str(os.getpid()))\ntime.sleep(60)\n"
    )
    zygote = Zygote(task_env(source))
    ended: list[BaseException | tuple[int, str, str]] = []
    worker = threading.Thread(
        target=lambda: ended.append(
            _outcome(lambda: zygote.run([sys.executable, "-m", "svc.pid"], str(source), task_env(source), 60))
        )
    )
    worker.start()
    deadline = time.monotonic() + 30
    while not (source / "task.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int((source / "task.pid").read_text())
    with zygote._lock:
        for request in zygote._requests.values():
            request.pid = None
    try:
        # WHEN the zygote is killed
        zygote._process.send_signal(signal.SIGKILL)
        zygote._process.wait(10)
        # THEN the task dies with it (nobody else would kill it) and the run ends, not after 60 s
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid)
        worker.join(10)
        assert ended and isinstance(ended[0], ZygoteGone)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        zygote.close()


def _outcome(call):
    try:
        return call()
    except BaseException as error:
        return error


def test_closing_the_zygote_kills_its_tasks_and_counts_their_cpu(source):
    # GIVEN a zygote with one task burning CPU to its end and one still sleeping
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
    (source / "svc" / "burn.py").write_text(burn)
    zygote = Zygote(task_env(source))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    zygote.run([sys.executable, "-m", "svc.burn"], str(source), task_env(source), timeout=60)
    with pytest.raises(subprocess.TimeoutExpired):
        zygote.run([sys.executable, "-m", "svc.sleep"], str(source), task_env(source), timeout=0.5)
    # WHEN it is closed
    zygote.close()
    # THEN it has exited, it starts nothing more, and its tasks' CPU time is this process's children's
    assert zygote._process.returncode == 0
    with pytest.raises(ZygoteGone):
        zygote.run([sys.executable, "-m", "svc.loaded"], str(source), task_env(source), timeout=5)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) >= 0.3
