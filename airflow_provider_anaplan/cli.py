"""``airflow-anaplan`` command line: OAuth device registration.

``airflow-anaplan oauth-register --client-id ID`` runs Anaplan's OAuth device grant: it shows the
verification URL and user code, polls the token endpoint (honouring ``slow_down``) until the user has
approved the device, then either prints a ready ``anaplan`` connection (URI and JSON) or, with
``--store --conn-id NAME``, writes the refresh token into an existing connection of the Airflow
metadata database. Registration is interactive by nature: run it once from a terminal, never in a DAG.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, TextIO

from airflow_provider_anaplan.client import (
    DEFAULT_API_URL,
    DEFAULT_AUTH_URL,
    DEFAULT_OAUTH_URL,
    poll_device_token,
    start_device_authorization,
)
from airflow_provider_anaplan.exceptions import AnaplanError

#: Connection extras written by the registration (besides the secrets).
_URL_EXTRAS = ("api_url", "auth_url", "oauth_url")


def _verify(value: str) -> bool | str:
    """``--verify-ssl``: ``true``/``false`` or a CA bundle path."""
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``airflow-anaplan`` (documented in the README)."""
    parser = argparse.ArgumentParser(prog="airflow-anaplan", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    reg = commands.add_parser(
        "oauth-register",
        help="Register this device with Anaplan's OAuth device grant and get a refresh token.",
    )
    reg.add_argument("--client-id", required=True, help="Client id of a device-grant OAuth client.")
    reg.add_argument("--oauth-url", default=DEFAULT_OAUTH_URL, help="OAuth service base URL.")
    reg.add_argument("--auth-url", default=DEFAULT_AUTH_URL, help="Authentication API base URL (stored).")
    reg.add_argument("--api-url", default=DEFAULT_API_URL, help="Bulk API base URL (stored).")
    reg.add_argument("--workspace-id", help="Workspace id to store in the connection.")
    reg.add_argument("--model-id", help="Model id to store in the connection.")
    reg.add_argument(
        "--rotatable",
        action="store_true",
        help="The client issues rotatable (single-use) refresh tokens (sets refresh_rotates); every process of "
        "the deployment then shares the current token pair through a sealed Airflow Variable.",
    )
    reg.add_argument("--verify-ssl", default="true", type=_verify, help="true, false or a CA bundle path.")
    reg.add_argument("--conn-id", default="anaplan_default", help="Connection id (printed or updated).")
    reg.add_argument(
        "--store",
        action="store_true",
        help="Write the refresh token into the existing connection --conn-id in the metadata database "
        "instead of printing it.",
    )
    return parser


def connection_extras(args: argparse.Namespace, refresh_token: str) -> dict[str, Any]:
    """The ``anaplan`` connection extras for an OAuth connection registered with ``args``."""
    extras: dict[str, Any] = {
        "auth_type": "oauth",
        "client_id": args.client_id,
        "refresh_token": refresh_token,
        "refresh_rotates": bool(args.rotatable),
        "api_url": args.api_url,
        "auth_url": args.auth_url,
        "oauth_url": args.oauth_url,
    }
    if args.workspace_id:
        extras["workspace_id"] = args.workspace_id
    if args.model_id:
        extras["model_id"] = args.model_id
    if args.verify_ssl is False:
        extras["verify_ssl"] = False
    elif isinstance(args.verify_ssl, str):  # a CA bundle path
        extras["ca_bundle"] = args.verify_ssl
    return extras


def _store(conn_id: str, extras: dict[str, Any]) -> None:
    """Merge ``extras`` into the metadata-database connection ``conn_id`` (must already exist)."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        conn = session.query(Connection).filter(Connection.conn_id == conn_id).one_or_none()
        if conn is None:
            raise SystemExit(
                f"Connection {conn_id!r} is not in the Airflow metadata database. Create it first "
                "(airflow connections add ... --conn-type anaplan) or run without --store to print one."
            )
        merged = dict(conn.extra_dejson)
        merged.pop("rotatable_token", None)  # deprecated name of refresh_rotates
        merged.update(extras)
        conn.conn_type = conn.conn_type or "anaplan"
        conn.set_extra(json.dumps(merged))


def _print_connection(conn_id: str, extras: dict[str, Any], out: TextIO) -> None:
    from urllib.parse import urlencode

    as_json = {"conn_type": "anaplan", "extra": extras}
    query = urlencode({k: json.dumps(v) if isinstance(v, bool) else v for k, v in extras.items()})
    print(f"# Connection {conn_id} (keep it secret: it holds the refresh token)", file=out)
    print(f"AIRFLOW_CONN_{conn_id.upper()}='{json.dumps(as_json)}'", file=out)
    print(f"URI: anaplan://?{query}", file=out)


async def _register(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    device = await start_device_authorization(args.client_id, args.oauth_url, verify=args.verify_ssl)
    target = device.verification_uri_complete or device.verification_uri
    print(f"Open {target} and enter the code {device.user_code} to approve this device.", file=err)
    print(f"USER_CODE={device.user_code}", file=err, flush=True)
    print(f"Waiting for approval (polling every {device.interval:g} s) ...", file=err, flush=True)
    tokens = await poll_device_token(device, verify=args.verify_ssl)
    if tokens.refresh_token is None:
        print(
            "Anaplan returned no refresh token: the client must allow the offline_access scope.",
            file=err,
        )
        return 2
    extras = connection_extras(args, tokens.refresh_token.get())
    if args.store:
        _store(args.conn_id, extras)
        print(f"Stored the refresh token in connection {args.conn_id!r}.", file=err)
    else:
        _print_connection(args.conn_id, extras, out)
    return 0


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point of the ``airflow-anaplan`` console script."""
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        return asyncio.run(_register(args, out, err))
    except AnaplanError as exc:
        print(f"Registration failed: {exc}", file=err)
        return 1
    except KeyboardInterrupt:
        print("Registration interrupted.", file=err)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
