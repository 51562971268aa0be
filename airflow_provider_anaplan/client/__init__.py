"""Airflow-free Anaplan client core (httpx, cryptography, isal). No network at import time.

>>> cfg = ClientConfig(credentials=BasicCredentials("user", "pass"),
...                    workspace_id="8a868cd985f53e7701860542f59e276e",
...                    model_id="75A40874E6B64FA3AE0B4E5D5B4B9A0B")
>>> with AnaplanClient(cfg) as client:                       # doctest: +SKIP
...     client.upload_and_import(113000000000, "products.csv", 112000000000)   # a str is a path
"""

from __future__ import annotations

from airflow_provider_anaplan.client.auth import (
    DeviceAuthorization,
    OAuthTokens,
    Token,
    poll_device_token,
    start_device_authorization,
)
from airflow_provider_anaplan.client.bulk import AnaplanAsyncClient, MappingParameters, raise_for_task
from airflow_provider_anaplan.client.config import (
    DEFAULT_API_URL,
    DEFAULT_AUTH_URL,
    DEFAULT_OAUTH_URL,
    ClientConfig,
)
from airflow_provider_anaplan.client.credentials import (
    BasicCredentials,
    CertificateCredentials,
    Credentials,
    OAuthCredentials,
    Secret,
)
from airflow_provider_anaplan.client.http import RetryPolicy
from airflow_provider_anaplan.client.status import (
    RowCounts,
    TaskOutcome,
    TaskResult,
    TaskState,
    TaskStatus,
    TaskVerdict,
)
from airflow_provider_anaplan.client.sync import AnaplanClient, run_sync
from airflow_provider_anaplan.client.tokens import clear_token_cache, on_new_token
from airflow_provider_anaplan.client.transfer import Content

__all__ = [
    "AnaplanAsyncClient",
    "AnaplanClient",
    "BasicCredentials",
    "CertificateCredentials",
    "ClientConfig",
    "Content",
    "Credentials",
    "DEFAULT_API_URL",
    "DEFAULT_AUTH_URL",
    "DEFAULT_OAUTH_URL",
    "DeviceAuthorization",
    "MappingParameters",
    "OAuthCredentials",
    "OAuthTokens",
    "RetryPolicy",
    "RowCounts",
    "Secret",
    "TaskOutcome",
    "TaskResult",
    "TaskState",
    "TaskStatus",
    "TaskVerdict",
    "Token",
    "clear_token_cache",
    "on_new_token",
    "poll_device_token",
    "raise_for_task",
    "run_sync",
    "start_device_authorization",
]
