"""The ``cadenza`` command: parse arguments, build a config, call the library.

Every error a user can act on ends as one line on stderr and exit status 2: readers
raise :class:`~cadenza.errors.CadenzaError` naming the file, and :func:`main` is the
last-resort boundary that still prints one line for anything else
(``CADENZA_DEBUG=1`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from typing import NoReturn

import cadenza.commands
from cadenza import __version__
from cadenza.errors import CadenzaError
from cadenza.safety import one_line


class Parser(argparse.ArgumentParser):
    """argparse with its errors in the one-line form (subcommands inherit it)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("cadenza").strip()
        fail(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")


def fail(message: str) -> NoReturn:
    print(f"cadenza: error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a one-line usage error
        return done.code if isinstance(done.code, int) else 2
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except KeyboardInterrupt:
        print("cadenza: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # the last resort: one line, never a traceback
        if os.environ.get("CADENZA_DEBUG") and not isinstance(err, CadenzaError):
            raise
        print(f"cadenza: error: {one_line(err)}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    """The parser; each module of :mod:`cadenza.commands` adds its own subcommands."""
    parser = Parser(prog="cadenza", description="Deep-learning symbolic music generation.")
    parser.add_argument("--version", action="version", version=f"cadenza {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cadenza.commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):  # helpers shared by commands, not commands
            continue
        module = importlib.import_module(f"cadenza.commands.{info.name}")
        module.register(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
