"""Entry point wrapper and argument parsing that report bad input as one line and exit code 2."""

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from .errors import (
    EXIT_BAD_INPUT,
    EXIT_ERROR,
    BadInput,
    ConcurrentUpdate,
    ConfigError,
    EmitFailed,
)

Handler = Callable[[Sequence[str]], int]


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises ``BadInput`` (one line, naming the argument) instead of printing usage."""

    def error(self, message: str) -> NoReturn:
        raise BadInput("arguments", message)


def run(handler: Handler, argv: Sequence[str] | None = None) -> int:
    """Run ``handler(argv)`` and map its result/errors to the process exit code.

    - handler's return value (0: handled business outcome, including rejections and no-ops)
    - ``BadInput`` -> 2, one line ``bad input: <field>: <problem>`` on stderr
    - ``ConfigError`` / ``EmitFailed`` / ``ConcurrentUpdate`` -> 1, one line on stderr
    - any other exception (AWS errors...) -> 1, traceback then one summary line on stderr
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return handler(args)
    except SystemExit as exc:  # argparse --help
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    except BadInput as exc:
        _line(f"bad input: {exc}")
        return EXIT_BAD_INPUT
    except (ConfigError, EmitFailed, ConcurrentUpdate) as exc:
        _line(f"error: {type(exc).__name__}: {exc}")
        return EXIT_ERROR
    except Exception as exc:  # the task must end with an exit code, not a crash
        traceback.print_exc(file=sys.stderr)
        _line(f"error: unexpected {type(exc).__name__}: {exc}")
        return EXIT_ERROR


def _line(message: str) -> None:
    print(" ".join(message.split()), file=sys.stderr, flush=True)
