"""Errors of the service use cases and the exit codes they map to (see ``run``)."""

EXIT_OK = 0
"""The use case ran: a state change, a replay, a business rejection or a documented no-op."""
EXIT_ERROR = 1
"""Unexpected, configuration or infrastructure error (AWS call failed, event not accepted...)."""
EXIT_BAD_INPUT = 2
"""The input (command line or triggering event) is invalid: nothing was written or emitted."""


class BadInput(Exception):
    """Invalid input; the message starts with the offending field (``eventDetail.total: ...``)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class ConfigError(Exception):
    """The task is misconfigured (e.g. TABLE_NAME missing): an infrastructure error, exit 1."""


class EmitFailed(Exception):
    """PutEvents did not accept the event (FailedEntryCount > 0): exit 1, never silently lost."""


class ConcurrentUpdate(Exception):
    """A conditional write kept failing because other writers changed the same items."""
