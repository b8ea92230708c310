"""Entry point wrapper and argument parsing that report bad input as one line and exit code 2.

Whatever a message quotes, stderr gets it with every non-printable character escaped (``\x1b``,
``\u202e``, ``\udcff``), so a hostile argument or event cannot forge, hide or recolour log lines.
"""

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from . import validate
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

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        """Refuse control/format characters and undecodable bytes in any argument, naming its option."""
        argv = list(sys.argv[1:] if args is None else args)
        for index, arg in enumerate(argv):
            validate.clean(arg, _option_of(argv, index))
        return super().parse_known_args(argv, namespace)


def _option_of(argv: Sequence[str], index: int) -> str:
    """The option an argument belongs to (``--total`` for ``--total 5`` or ``--total=5``)."""
    arg = argv[index]
    if arg.startswith("--") and "=" in arg and validate.hostile_character(arg.split("=", 1)[0]) is None:
        return arg.split("=", 1)[0]
    previous = argv[index - 1] if index else ""
    if previous.startswith("-") and "=" not in previous and validate.hostile_character(previous) is None:
        return previous
    return "arguments"


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
        for line in traceback.format_exc().rstrip("\n").split("\n"):
            print(escape(line), file=sys.stderr)
        _line(f"error: unexpected {type(exc).__name__}: {exc}")
        return EXIT_ERROR


def escape(text: str) -> str:
    """``text`` with every non-printable character as a Python escape (spaces kept)."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


def _line(message: str) -> None:
    print(escape(message), file=sys.stderr, flush=True)
