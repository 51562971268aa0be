"""``anaplan-emulator`` / ``python -m airflow_provider_anaplan.testing.emulator``."""

from __future__ import annotations

import argparse
import logging
import sys

from .seed import FixtureError, build_state, read_fixture_file
from .server import serve


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="anaplan-emulator",
        description="A local Anaplan emulator: /token, /oauth, /2/0 (bulk API v2) and /_emulator (admin) on one port.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--fixture", help="JSON or YAML fixture replacing the default seed")
    parser.add_argument("--ssl-certfile", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--ssl-keyfile", help="private key (PEM) for --ssl-certfile")
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    fixture = None
    if args.fixture:
        try:
            fixture = read_fixture_file(args.fixture)
            build_state(fixture)
        except (OSError, ValueError, FixtureError) as exc:
            print(f"anaplan-emulator: bad fixture: {exc}", file=sys.stderr)
            return 2
    serve(args.host, args.port, fixture, args.ssl_certfile, args.ssl_keyfile, args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
