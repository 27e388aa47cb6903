"""The ``cadenza`` command: parse arguments, build a config, call the library.

Every error a user can act on ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import cadenza.commands
from cadenza import __version__
from cadenza.errors import CadenzaError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except CadenzaError as err:
        print(f"cadenza: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cadenza: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The parser; each module of :mod:`cadenza.commands` adds its own subcommands."""
    parser = argparse.ArgumentParser(
        prog="cadenza", description="Deep-learning symbolic music generation."
    )
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
