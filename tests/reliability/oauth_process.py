"""One "machine" using a rotatable OAuth registration: run as a separate OS process by the tests.

``python oauth_process.py SPEC_JSON`` where the spec holds ``api_url``, ``oauth_url``,
``workspace_id``, ``model_id``, ``client_id``, ``refresh_token`` (the registered one), ``state_path``
(the shared raw store: a file standing in for the Airflow Variable), ``duration`` and ``interval``
(seconds), ``start_at`` (epoch seconds to begin, to line processes up). It calls ``get_model`` in a
loop and prints one JSON line: ``{"ok": n, "errors": ["Type: message", ...]}``. Each process gets
its own ``ANAPLAN_TOKEN_LOCK_DIR`` from the test, so no machine lock is shared (separate machines).
"""

from __future__ import annotations

import json
import sys
import time

from airflow_provider_anaplan.client import AnaplanClient, ClientConfig, OAuthCredentials, RetryPolicy
from airflow_provider_anaplan.client.token_store import FileRawStore, SealedTokenStore


def main() -> None:
    spec = json.loads(sys.argv[1])
    store = SealedTokenStore(
        FileRawStore(spec["state_path"]), client_id=spec["client_id"], origin_refresh_token=spec["refresh_token"]
    )
    creds = OAuthCredentials(spec["client_id"], spec["refresh_token"], rotatable=True, store=store)
    config = ClientConfig(
        credentials=creds,
        workspace_id=spec["workspace_id"],
        model_id=spec["model_id"],
        api_url=spec["api_url"],
        auth_url=spec["oauth_url"],
        oauth_url=spec["oauth_url"],
        timeout=float(spec.get("timeout", 10.0)),
        retry=RetryPolicy(max_attempts=5, backoff_initial=0.05, backoff_max=0.5),
        token_refresh_lead=float(spec.get("lead", 0.5)),
    )
    ok, errors = 0, []
    time.sleep(max(0.0, float(spec.get("start_at", 0)) - time.time()))
    end = time.monotonic() + float(spec["duration"])
    with AnaplanClient(config) as client:
        while True:
            try:
                client.get_model()
                ok += 1
            except Exception as exc:  # report every failure, keep going
                errors.append(f"{type(exc).__name__}: {exc}")
            if time.monotonic() >= end:
                break
            time.sleep(float(spec["interval"]))
    print(json.dumps({"ok": ok, "errors": errors}))


if __name__ == "__main__":
    main()
