"""The warm task runner: a zygote process that has imported the tasks' runtime once, and forks a
fresh process for every task.

A task's Python process spends ~0.46 CPU-s of its ~0.55 s starting up: the interpreter, `import
boto3`, and botocore reading and compiling its service models for two clients. The zygote pays
that once. Each task is still its own process, forked from the zygote, with its own environment,
working directory, argv, stdin (/dev/null), stdout and stderr (pipes to the runner), and exit code
(the zygote reaps it and reports the status, as `subprocess` would: negative for a signal).

In the child, before the task's module runs, the process is made what `python -m <module> <args>`
from the task's working directory and environment would be:

- `os.environ` is the task's environment, exactly;
- `sys.path` is the task's PYTHONPATH, then the interpreter's own entries, and the working
  directory first once `sitecustomize` has been imported (its import is redone, so a scenario's
  fault, which is a `sitecustomize` on PYTHONPATH, is injected as at an interpreter's start);
- `sys.argv` and `__main__` are set by `runpy`, the way `-m` sets them;
- stdout and stderr are new streams on the task's pipes, unbuffered when PYTHONUNBUFFERED is set;
- the module runs at the zygote script's top level, and its end is the interpreter's exit path,
  step by step (`end`): an uncaught exception's traceback or `sys.exit`'s message and code, the
  wait for non-daemon threads, atexit handlers, the flush of stdout and stderr, death by SIGINT
  after a KeyboardInterrupt. Only the interpreter's teardown is skipped (it would copy the
  zygote's pages); a task cannot rely on it anyway.

What the child shares with the zygote is read-only and identical in a fresh interpreter: imported
modules (boto3, botocore, the services' shared helper) and botocore's loaded service models (every
session a task makes reads them through the zygote's loader: the same files, already parsed), and
what botocore has worked out about its event handlers (`_memoize_event_registration`).

Protocol: one AF_UNIX SOCK_SEQPACKET socket; each message is one JSON object. The runner sends
`{"id", "argv", "cwd", "env"}` with the task's stdout and stderr write ends attached (SCM_RIGHTS),
or `{"kill": id}`. The zygote answers `{"ready": true}` once, then `{"id", "pid"}` when a task is
forked (or `{"id", "error"}`) and `{"id", "exit"}` when it is reaped. When the runner's end closes,
the zygote kills the tasks still running, reaps them and exits. When the zygote dies, its tasks die
with it (the kernel's parent-death signal), as containers die with their host.

This file is run as a script by path (`python sandbox/zygote.py FD`), so the zygote imports nothing
of the sandbox; the runner imports `Zygote` from it.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

MAX_MESSAGE = 1 << 20
"""Bytes per message: a task's environment is bounded by ECS's 8 KiB of overrides."""
PRELOADED_SERVICES = ("dynamodb", "events", "stepfunctions")
"""The AWS services the tasks' code makes clients for: their models are read and parsed once."""
PRELOADED_MODULES = ("event_tasks_common",)


# --------------------------------------------------------------------------------------------
# The zygote (runs as its own process)
# --------------------------------------------------------------------------------------------


def _preload() -> None:
    """Import what every task imports, and parse the models of the services they call."""
    import importlib

    import boto3  # noqa: F401  (imported to be inherited)
    import botocore.loaders
    import botocore.session

    shared = botocore.loaders.create_loader()
    create_loader = botocore.loaders.create_loader

    def loader(search_path_string: str | None = None) -> Any:
        # Only the default data path is shared; AWS_DATA_PATH set by a task gets its own loader.
        return shared if search_path_string is None else create_loader(search_path_string)

    botocore.session.create_loader = loader
    _memoize_event_registration()
    session = botocore.session.Session()
    for service in PRELOADED_SERVICES:
        session.create_client(
            service,
            region_name="us-east-1",
            endpoint_url="http://127.0.0.1:9",
            aws_access_key_id="preload",
            aws_secret_access_key="preload",
        )
    for module in PRELOADED_MODULES:
        importlib.import_module(module)


def _memoize_event_registration() -> None:
    """Remember what botocore works out each time it registers an event handler, so that a task's
    sessions and clients register theirs without working it out again.

    Every new session registers ~130 built-in handlers and every client copies and extends them.
    For each, botocore inspects the handler's signature (`accepts_kwargs`) and rewrites the event
    name through its aliases (cached per emitter, and every session and client has a new one).
    That is ~18 ms of a forked task's ~60 ms of its own work. Both are pure functions of what
    they are given, so the answers are the same: a handler without `**kwargs` is still refused,
    and an emitter with other aliases keeps a cache of its own.
    """
    import botocore.hooks

    inspect_handler = botocore.hooks.accepts_kwargs
    answers: dict[Any, bool] = {}

    def accepts_kwargs(func: Any) -> bool:
        try:
            return answers[func]
        except KeyError:
            answers[func] = found = inspect_handler(func)
            return found
        except TypeError:  # unhashable: ask every time
            return inspect_handler(func)

    botocore.hooks.accepts_kwargs = accepts_kwargs
    aliaser = botocore.hooks.EventAliaser
    new_aliaser = aliaser.__init__
    default_names: dict[str, str] = {}

    def init(self: Any, event_emitter: Any, event_aliases: Any = None) -> None:
        new_aliaser(self, event_emitter, event_aliases)
        if self._event_aliases == botocore.hooks.EVENT_ALIASES:
            self._alias_name_cache = default_names

    aliaser.__init__ = init  # type: ignore[method-assign]


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.send(json.dumps(message).encode())


@dataclass
class _Task:
    argv: list[str]
    cwd: str
    env: dict[str, str]


def _death_signal_setter() -> Callable[[], None]:
    """What a forked task calls first, so that it is killed when the zygote dies, as a container
    dies with its host. The runner kills the tasks it knows of when the zygote dies; this covers
    the one forked a moment before, whose pid the zygote never got to report. Linux only
    (`prctl(PR_SET_PDEATHSIG)`); elsewhere only the runner's kill applies."""
    if not sys.platform.startswith("linux"):
        return lambda: None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    set_death_signal = 1  # PR_SET_PDEATHSIG, <linux/prctl.h>
    return lambda: libc.prctl(set_death_signal, signal.SIGKILL, 0, 0, 0)


def serve(sock: socket.socket) -> _Task | None:
    """Fork a process per request until the runner hangs up. Returns, in a forked child only, the
    task that child must become (the zygote itself returns None when it is done)."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    running: dict[int, str] = {}  # pid -> request id
    by_id: dict[str, int] = {}

    def reap() -> None:
        while running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            task_id = running.pop(pid, None)
            if task_id is not None:
                by_id.pop(task_id, None)
                _send(sock, {"id": task_id, "exit": os.waitstatus_to_exitcode(status)})

    die_with_zygote = _death_signal_setter()
    zygote = os.getpid()
    _send(sock, {"ready": True})
    while True:
        for key, _ in selector.select():
            if key.fileobj == wake_r:
                os.read(wake_r, 4096)
                reap()
                continue
            message, fds, _flags, _address = socket.recv_fds(sock, MAX_MESSAGE, 2)
            if not message:  # the runner is gone: so are its tasks
                for pid in running:
                    os.kill(pid, signal.SIGKILL)
                for pid in list(running):
                    os.waitpid(pid, 0)
                return None
            request = json.loads(message)
            if "kill" in request:
                pid = by_id.get(request["kill"])
                if pid is not None:  # not reaped yet, so the pid is still this task's
                    os.kill(pid, signal.SIGKILL)
                continue
            try:
                pid = os.fork()
            except OSError as error:
                for fd in fds:
                    os.close(fd)
                _send(sock, {"id": request["id"], "error": f"fork: {error}"})
                continue
            if pid == 0:
                die_with_zygote()
                if os.getppid() != zygote:  # it died before the line above: so must this task
                    os._exit(128 + signal.SIGKILL)
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                selector.close()
                sock.close()
                os.close(wake_r)
                os.close(wake_w)
                stdin = os.open(os.devnull, os.O_RDONLY)
                for source, target in ((stdin, 0), (fds[0], 1), (fds[1], 2)):
                    os.dup2(source, target)
                for fd in (stdin, *fds):
                    os.close(fd)
                return _Task(request["argv"], request["cwd"], request["env"])
            for fd in fds:
                os.close(fd)
            running[pid] = request["id"]
            by_id[request["id"]] = pid
            _send(sock, {"id": request["id"], "pid": pid})


def become(task: _Task, interpreter_path: list[str]) -> str:
    """Make this forked child what `python -m <module>` would be; return the module to run."""
    import importlib
    import io

    module = task.argv[2]
    os.chdir(task.cwd)
    os.environ.clear()
    os.environ.update(task.env)
    if not task.env.get("LC_ALL") and (task.env.get("LC_CTYPE") or task.env.get("LANG") or "C") in ("C", "POSIX"):
        os.environ["LC_CTYPE"] = "C.UTF-8"  # PEP 538: a new interpreter coerces the C locale so
    sys.dont_write_bytecode = bool(task.env.get("PYTHONDONTWRITEBYTECODE"))
    unbuffered = bool(task.env.get("PYTHONUNBUFFERED"))
    encoding = sys.stdout.encoding if sys.stdout is not None else "utf-8"

    def stream(fd: int, errors: str, line_buffering: bool) -> io.TextIOWrapper:
        raw = io.FileIO(fd, "w", closefd=False)
        buffered = raw if unbuffered else io.BufferedWriter(raw)
        return io.TextIOWrapper(
            buffered,  # type: ignore[arg-type]
            encoding=encoding,
            errors=errors,
            line_buffering=line_buffering,
            write_through=unbuffered,
        )

    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=encoding)
    sys.stdout = sys.__stdout__ = stream(1, "strict", False)
    sys.stderr = sys.__stderr__ = stream(2, "backslashreplace", True)
    python_path = [p for p in task.env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [*python_path, *interpreter_path]
    # As `site` does at start-up: a sitecustomize on the task's path runs before its module.
    sys.modules.pop("sitecustomize", None)
    with contextlib.suppress(ImportError):
        importlib.import_module("sitecustomize")
    importlib.invalidate_caches()
    sys.path.insert(0, task.cwd)  # `-m` puts the working directory first
    sys.argv = ["-m", *task.argv[3:]]
    return module


def end(raised: BaseException | None) -> NoReturn:
    """End the task as the interpreter's exit path does (`Py_RunMain`, then `Py_FinalizeEx` up to
    the point where it tears the interpreter down), then leave without the teardown.

    The teardown (clearing every module, a last collection) would write to the reference count of
    nearly every object the zygote preloaded, so the child would copy most of the zygote's pages:
    ~35 ms of a ~110 ms task. `multiprocessing` ends its forked children the same way. What is
    skipped is what a task cannot rely on anyway: `__del__` of objects still alive at exit.
    """
    import atexit
    import threading

    code = 0
    interrupted = isinstance(raised, KeyboardInterrupt)
    if isinstance(raised, SystemExit):  # as _Py_HandleSystemExit
        if raised.code is None:
            code = 0
        elif isinstance(raised.code, int):
            code = raised.code
        else:
            with contextlib.suppress(Exception):
                print(raised.code, file=sys.stderr)
            code = 1
    elif raised is not None:
        sys.excepthook(type(raised), raised, raised.__traceback__)
        code = 1
    del raised
    threading._shutdown()  # type: ignore[attr-defined]  # wait for non-daemon threads
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):  # as flush_std_files: a failed stdout flush is 120
        if stream is not None and not stream.closed:
            try:
                stream.flush()
            except Exception:
                if stream is sys.stdout:
                    code = 120
    if interrupted:  # as exit_sigint: die of the signal, so the parent sees it
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        code = 128 + signal.SIGINT
    os._exit(code & 0xFF)


# --------------------------------------------------------------------------------------------
# The runner's side
# --------------------------------------------------------------------------------------------


def warm_command(argv: list[str]) -> bool:
    """Whether a task's argv can be forked from the zygote: `python -m <module> ...`."""
    return len(argv) >= 3 and argv[0] == sys.executable and argv[1] == "-m"


@dataclass
class _Request:
    pid: int | None = None
    exit: int | None = None
    error: str | None = None
    started: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)


class ZygoteGone(RuntimeError):
    """The zygote process ended: it can start no more tasks."""


class Zygote:
    """The runner's handle on a zygote process; thread-safe."""

    def __init__(self, env: dict[str, str]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        theirs.close()
        self._lock = threading.Lock()
        self._requests: dict[str, _Request] = {}
        self._next = 0
        self._gone = False
        self._closed = False
        ready = self._sock.recv(MAX_MESSAGE)
        if json.loads(ready or b"{}").get("ready") is not True:
            self.close()
            raise ZygoteGone(f"the zygote did not start (exit code {self._process.poll()})")
        threading.Thread(target=self._listen, daemon=True, name="zygote-listener").start()

    def _listen(self) -> None:
        while True:
            try:
                data = self._sock.recv(MAX_MESSAGE)
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            with self._lock:
                request = self._requests.get(message["id"])
            if request is None:
                continue
            if "pid" in message:
                request.pid = message["pid"]
                request.started.set()
            else:
                request.exit, request.error = message.get("exit"), message.get("error")
                with self._lock:
                    self._requests.pop(message["id"], None)
                request.started.set()
                request.ended.set()
        with self._lock:
            self._gone = True
            pending, self._requests = list(self._requests.values()), {}
        for request in pending:
            # Its tasks die with it, as containers die with their host: nobody would reap them, and
            # their pipes would keep the runner reading until their timeout.
            if request.pid is not None and not self._closed:  # close(): the zygote killed and reaped them
                with contextlib.suppress(ProcessLookupError):
                    os.kill(request.pid, signal.SIGKILL)
            request.error = request.error or "the zygote ended"
            request.started.set()
            request.ended.set()

    @property
    def gone(self) -> bool:
        """The zygote has ended (or been closed): it starts no more tasks."""
        with self._lock:
            return self._gone

    def run(self, argv: list[str], cwd: str, env: dict[str, str], timeout: float) -> tuple[int, str, str]:
        """Run one task to its end: (exit code, stdout, stderr). On timeout the task is killed and
        `subprocess.TimeoutExpired` raised with what it wrote to stderr."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        with self._lock:
            if self._gone:
                for fd in (out_r, out_w, err_r, err_w):
                    os.close(fd)
                raise ZygoteGone("the zygote ended")
            self._next += 1
            task_id = str(self._next)
            request = self._requests[task_id] = _Request()
        try:
            payload = json.dumps({"id": task_id, "argv": argv, "cwd": cwd, "env": env}).encode()
            socket.send_fds(self._sock, [payload], [out_w, err_w])
        except OSError as error:
            with self._lock:
                self._requests.pop(task_id, None)
            for fd in (out_r, err_r):
                os.close(fd)
            raise ZygoteGone(f"cannot reach the zygote: {error}") from None
        finally:
            os.close(out_w)
            os.close(err_w)
        stdout, stderr, timed_out = _read_both(out_r, err_r, timeout)
        if timed_out:
            self._kill(task_id)
        request.ended.wait()
        if request.error is not None:
            raise ZygoteGone(request.error)
        if timed_out:
            raise subprocess.TimeoutExpired(argv, timeout, output=stdout, stderr=stderr)
        assert request.exit is not None
        return request.exit, _text(stdout), _text(stderr)

    def _kill(self, task_id: str) -> None:
        with self._lock:
            if self._gone:
                return
        with contextlib.suppress(OSError):
            self._sock.send(json.dumps({"kill": task_id}).encode())

    def close(self) -> None:
        """Hang up: the zygote kills the tasks still running and exits; wait for it (its tasks'
        CPU time then counts in this process's RUSAGE_CHILDREN)."""
        with self._lock:
            self._gone = self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _text(data: bytes) -> str:
    """Output as `subprocess.run(..., text=True)` gives it: decoded, with universal newlines."""
    return data.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def _read_both(out_fd: int, err_fd: int, timeout: float) -> tuple[bytes, bytes, bool]:
    """Read two pipes to their end, or until `timeout` seconds have passed (then True)."""
    import time

    deadline = time.monotonic() + timeout
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    selector = selectors.DefaultSelector()
    for fd in chunks:
        selector.register(fd, selectors.EVENT_READ)
    timed_out = False
    try:
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in selector.select(remaining):
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
    finally:
        selector.close()
        os.close(out_fd)
        os.close(err_fd)
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd]), timed_out


if __name__ == "__main__":
    # sys.path[0] is this file's directory: not the interpreter's, and not the task's.
    _interpreter_path = sys.path[1:]
    _preload()
    import gc

    # Move everything preloaded out of the collector's sight: a child's collections would otherwise
    # touch (and so copy) every page the zygote has, which costs more than the imports saved.
    gc.freeze()
    _task = serve(socket.socket(fileno=int(sys.argv[1])))
    if _task is None:
        sys.exit(0)
    import builtins
    import runpy
    import types

    _module = become(_task, _interpreter_path)
    # The task's `__main__` is a fresh module, as in a new interpreter: not this script's namespace.
    _main = sys.modules["__main__"] = types.ModuleType("__main__")
    _main.__builtins__ = builtins  # type: ignore[attr-defined]
    _main.__annotations__ = {}
    try:
        runpy._run_module_as_main(_module, alter_argv=True)  # what `python -m` itself calls
    except BaseException as _ended:
        end(_ended)
    end(None)
