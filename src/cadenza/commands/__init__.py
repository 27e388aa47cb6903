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


class _CorpusAction(argparse.Action):
    """``--corpus NAME`` or ``--corpus LAYOUT FOLDER``, kept as one string."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from cadenza.corpus.sources import corpus_name
        from cadenza.errors import ConfigError

        try:
            setattr(namespace, self.dest, corpus_name(list(values)))
        except ConfigError as err:
            parser.error(str(err))


def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--corpus", default="bach-chorales", nargs="+", action=_CorpusAction,
        metavar="NAME_OR_FOLDER",
        help="an embedded corpus (bach-chorales; jsb, nottingham, musedata, piano-midi; "
             "essen, oneills, ryans), a folder of music files, or `maestro FOLDER` "
             "(MAESTRO's layout and split)",
    )
    from cadenza.validate import int_option

    parser.add_argument("--jobs", type=int_option(1, 4096), default=None,
                        help="worker processes (default, and at most: the number of cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
