"""Crash a task at a scenario's fault point: imported at interpreter start-up by every task the
sandbox's runner gives a fault (sandbox/runner.py puts this directory first on PYTHONPATH and the
fault in ``SANDBOX_FAULTS``). Nothing of the service's code is changed.

The points are the service's own AWS calls, as botocore makes them:

- ``beforeCommit``: before its first TransactWriteItems (nothing of the use case is written);
- ``afterCommit``: after a TransactWriteItems succeeded, or before PutEvents when this run has no
  commit of its own (a re-run of a decision recorded earlier): written, not announced;
- ``afterEmit``: after PutEvents succeeded (announced, and whatever the service records next not).

A crash is what the OOM killer or a lost host does: the process ends at once with exit code 137,
its buffers unflushed. An ``error`` fault raises instead, as a failed AWS call would: the use case
reports it (exit 1; an orchestrated step answers ``TaskError`` at once). ``once`` faults fire when
their file can be created, so only the first time.
"""

import json
import os
import sys


def _install(faults: list) -> None:
    from botocore.client import BaseClient

    make_api_call = BaseClient._make_api_call
    state = {"committed": False}

    def crash_if(point: str) -> None:
        for fault in faults:
            if fault["when"] != point:
                continue
            if fault.get("onceFile"):
                try:
                    os.close(os.open(fault["onceFile"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    continue
            if fault.get("how") == "error":
                # The use case fails as on an AWS error: the task reports it (exit 1; a step answers TaskError).
                raise RuntimeError(f"sandbox fault: failed {point} ({fault.get('label', '')})")
            sys.stderr.write(f"sandbox fault: crashed {point} ({fault.get('label', '')})\n")
            sys.stderr.flush()
            os._exit(137)

    def call(self, operation_name, api_params):
        if operation_name == "TransactWriteItems":
            crash_if("beforeCommit")
        elif operation_name == "PutEvents" and not state["committed"]:
            crash_if("afterCommit")
        result = make_api_call(self, operation_name, api_params)
        if operation_name == "TransactWriteItems":
            state["committed"] = True
            crash_if("afterCommit")
        elif operation_name == "PutEvents":
            crash_if("afterEmit")
        return result

    BaseClient._make_api_call = call


_faults = json.loads(os.environ.get("SANDBOX_FAULTS") or "[]")
if _faults:
    _install(_faults)
