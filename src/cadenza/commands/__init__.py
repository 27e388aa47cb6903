"""One module per group of CLI subcommands; each defines ``register(subparsers)``.

The modules stay thin: parse, build a config, call a library function. Heavy
imports happen inside the handlers so ``cadenza --help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_command(commands, name: str, help_text: str, handler: Callable) -> argparse.ArgumentParser:
    """A subcommand whose ``args.handler`` is ``handler``."""
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    return parser


def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--corpus", default="bach-chorales",
        help="an embedded corpus (bach-chorales) or a folder of music files",
    )
    from cadenza.validate import int_option

    parser.add_argument("--jobs", type=int_option(1, 4096), default=None,
                        help="worker processes (default, and at most: the number of cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
