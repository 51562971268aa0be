"""The ALM and CloudWorks methods of both hooks: every public client method of the family mixins is
written out in the hook mixins with the client's signature (the rule ``test_hook_api.py`` holds the
bulk methods to), and the hooks reach the emulator's ALM and CloudWorks APIs through the connection."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_anaplan.client.alm import AlmMixin
from airflow_provider_anaplan.client.cloudworks import CloudWorksMixin
from airflow_provider_anaplan.client.cloudworks_flows import CloudWorksFlowsMixin
from airflow_provider_anaplan.client.sync import AnaplanClient
from airflow_provider_anaplan.hooks.alm import AlmHookMethods, AsyncAlmHookMethods
from airflow_provider_anaplan.hooks.anaplan import DELEGATED_METHODS, AnaplanAsyncHook, AnaplanHook
from airflow_provider_anaplan.hooks.cloudworks import AsyncCloudWorksHookMethods, CloudWorksHookMethods

PROD = "D3A1B5C7E9F24680ACE13579BDF02468"
DEV = "75A40874E6B64FA3AE0B4E5D5B4B9A0B"
FAMILIES = [
    (AlmMixin, AlmHookMethods, AsyncAlmHookMethods),
    (CloudWorksMixin, CloudWorksHookMethods, AsyncCloudWorksHookMethods),
    (CloudWorksFlowsMixin, CloudWorksHookMethods, AsyncCloudWorksHookMethods),
]


def family_api() -> list[tuple[str, Callable[..., Any], type, type]]:
    return [
        (name, member, sync_cls, async_cls)
        for mixin, sync_cls, async_cls in FAMILIES
        for name, member in vars(mixin).items()
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    ]


@pytest.mark.parametrize("name,client_fn,sync_cls,async_cls", family_api(), ids=[f[0] for f in family_api()])
def test_hook_methods_have_the_client_signature(
    name: str, client_fn: Callable[..., Any], sync_cls: type, async_cls: type
) -> None:
    client_sig = inspect.signature(client_fn)
    sync_fn, async_fn = vars(sync_cls)[name], vars(async_cls)[name]
    assert inspect.iscoroutinefunction(async_fn) and not inspect.iscoroutinefunction(sync_fn)
    assert inspect.signature(async_fn) == client_sig
    assert inspect.signature(sync_fn) == client_sig
    assert sync_fn.__doc__ and async_fn.__doc__
    assert name in DELEGATED_METHODS and hasattr(AnaplanClient, name)
    assert getattr(AnaplanHook, name) is sync_fn and getattr(AnaplanAsyncHook, name) is async_fn


def test_the_family_api_is_complete() -> None:
    names = {f[0] for f in family_api()}
    assert {"create_revision", "get_syncable_revisions", "sync_models", "get_sync_task_status"} <= names
    assert {
        "run_integration",
        "get_run_job_status",
        "cancel_run_job",
        "run_flow",
        "get_flow_run_job_status",
    } <= names


def test_sync_hook_reaches_alm_and_cloudworks(emulator: Any, emulator_conn: Any) -> None:
    emulator_conn(model_id=PROD)
    with AnaplanHook() as hook:
        assert hook.get_client_config().cloudworks_url == f"{emulator.url}/cloudworks/2/0"
        assert hook.get_latest_revision()["id"] == hook.get_latest_revision(DEV)["id"]
        assert hook.get_syncable_revisions(DEV) == []
        assert [c["connectionType"] for c in hook.get_connections()] == ["AmazonS3"]
        assert len(hook.get_integrations(PROD)) >= 4


def test_async_hook_reaches_alm_and_cloudworks(emulator: Any, emulator_conn: Any) -> None:
    emulator_conn(model_id=PROD)

    async def main() -> None:
        hook = AnaplanAsyncHook()
        try:
            assert (await hook.get_latest_revision()) is not None
            flows = await hook.get_flows()
            assert len(flows) == 1 and flows[0]["stepsCount"] == 3
        finally:
            await hook.aclose()

    asyncio.run(main())
