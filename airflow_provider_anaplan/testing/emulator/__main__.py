"""``anaplan-emulator`` / ``python -m airflow_provider_anaplan.testing.emulator``."""

from __future__ import annotations

import argparse
import logging
import sys

from .seed import (
    DEMO_PASSWORD,
    DEMO_USER,
    DEVICE_CLIENT_ID,
    MODEL_ID,
    ROTATING_CLIENT_ID,
    WORKSPACE_ID,
    FixtureError,
    build_state,
    read_fixture_file,
)
from .server import BindError, serve

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765

EPILOG = f"""\
default seed (replaced by --fixture):
  user       {DEMO_USER} / {DEMO_PASSWORD}
  workspace  {WORKSPACE_ID}
  model      {MODEL_ID}
  OAuth      {DEVICE_CLIENT_ID} (non-rotatable), {ROTATING_CLIENT_ID} (rotatable)

examples:
  anaplan-emulator                                  # http://{DEFAULT_HOST}:{DEFAULT_PORT}
  anaplan-emulator --port 8800 --fixture model.yaml
  anaplan-emulator --port 8443 --ssl-certfile cert.pem --ssl-keyfile key.pem
  make emulator PORT=8800

On start it prints a banner with the URLs and an Airflow connection pointing at them.
Documentation: docs/emulator.md
"""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default (except an absent one) and keeps the epilog's layout."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``anaplan-emulator``."""
    parser = argparse.ArgumentParser(
        prog="anaplan-emulator",
        description=(
            "A local Anaplan emulator. On one port: the Authentication API (/token), OAuth (/oauth),\n"
            "the bulk API v2 (/2/0), an admin API (/_emulator) and browser pages (/, /activate,\n"
            "/anaplan/framework.jsp)."
        ),
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="address to listen on (0.0.0.0: every interface)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (0: any free port)")
    parser.add_argument(
        "--fixture",
        metavar="FILE",
        help="JSON or YAML fixture replacing the default seed (none: the default seed)",
    )
    parser.add_argument(
        "--ssl-certfile", metavar="PEM", help="serve HTTPS with this certificate (default: HTTP)"
    )
    parser.add_argument("--ssl-keyfile", metavar="PEM", help="private key for --ssl-certfile")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level of the server",
    )
    parser.add_argument(
        "--no-banner", action="store_true", help="do not print the start-up banner (it is printed by default)"
    )
    parser.add_argument(
        "--object-store",
        metavar="DIR",
        help="directory of the emulated CloudWorks object store, one sub-directory per bucket "
        "(default: $ANAPLAN_EMULATOR_OBJECT_STORE, else a temporary directory)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve until interrupted."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.object_store:
        from .objectstore import object_store

        try:
            object_store().set_root(args.object_store)
        except OSError as exc:
            print(f"anaplan-emulator: bad --object-store: {exc}", file=sys.stderr)
            return 2
    fixture = None
    if args.fixture:
        try:
            fixture = read_fixture_file(args.fixture)
            build_state(fixture)
        except (OSError, ValueError, FixtureError) as exc:
            print(f"anaplan-emulator: bad fixture: {exc}", file=sys.stderr)
            return 2
    try:
        serve(
            args.host,
            args.port,
            fixture,
            args.ssl_certfile,
            args.ssl_keyfile,
            args.log_level,
            banner=not args.no_banner,
        )
    except BindError as exc:
        print(
            f"anaplan-emulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
            " (another process uses the port? pick another with --port N, or make emulator PORT=N)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
