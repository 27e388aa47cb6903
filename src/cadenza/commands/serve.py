"""``cadenza serve``: the studio page and the blind listening test (see cadenza.web)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cadenza.commands import add_command
from cadenza.validate import int_option


def register(commands) -> None:
    serve = add_command(commands, "serve", "the studio web page and the listening test",
                        run_serve)
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int_option(1, 65535, name="port"), default=8000,
                       help="port (default 8000)")
    serve.add_argument("--db", default=None, metavar="URL",
                       help="database URL, e.g. postgresql+psycopg://... "
                            "(default: SQLite in --data)")
    serve.add_argument("--data", type=Path, default=Path("cadenza-serve"),
                       help="folder for clips, studio results, the secret and the default "
                            "database (default ./cadenza-serve)")
    serve.add_argument("--run", type=Path, action="append", default=[],
                       help="a local run folder to offer besides the shipped ones "
                            "(repeatable)")
    serve.add_argument("--test-mode", choices=("pairs", "single", "mixed"), default="pairs",
                       help="listening test: pairs, single excerpts, or each session drawn "
                            "at random (default pairs)")
    serve.add_argument("--admin-token", default=None,
                       help="token for the results page (default: $CADENZA_ADMIN_TOKEN, "
                            "else a random one printed at start)")
    serve.add_argument("--jobs-per-minute", type=int_option(1, 10_000), default=12,
                       help="studio jobs a browser may start per minute (default 12; "
                            "five times that per IP address)")
    serve.add_argument("--no-pool", action="store_true",
                       help="do not build listening-test clips at start")


def run_serve(args: argparse.Namespace) -> int:
    import os
    import secrets

    from cadenza.errors import ConfigError

    for run in args.run:
        if not (run / "config.json").exists():
            raise ConfigError(f"{run} is not a cadenza run (no config.json)")
    try:
        import uvicorn

        from cadenza.web.app import create_app
        from cadenza.web.config import ServerConfig
    except ImportError as err:
        raise ConfigError(f"cadenza serve needs the web dependencies ({err.name} is "
                          "missing); reinstall cadenza") from None
    token = args.admin_token or os.environ.get("CADENZA_ADMIN_TOKEN") or \
        secrets.token_urlsafe(18)
    config = ServerConfig(data_dir=args.data.resolve(), db_url=args.db, admin_token=token,
                          test_mode=args.test_mode, runs=list(args.run),
                          build_pool=not args.no_pool,
                          generate_per_minute=args.jobs_per_minute)
    try:
        app = create_app(config)
    except Exception as err:  # a bad URL or an unreachable database: one line
        raise ConfigError(f"cannot open the database: {str(err).splitlines()[0]}") from None
    if not args.admin_token and not os.environ.get("CADENZA_ADMIN_TOKEN"):
        print(f"cadenza: results page http://{args.host}:{args.port}/admin, token {token}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
