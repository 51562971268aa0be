"""CloudWorks connections: AmazonS3 and AzureBlob connect to a bucket of the emulated object store."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from .auth import get_state, require_user
from .cloudworks_common import OK, meta_of, paging_args, who
from .cloudworks_common import body as body_of
from .objectstore import object_store
from .responses import ApiError, json_response
from .state.alm import iso_now
from .state.cloudworks import Connection, cloudworks_state


async def list_connections(request: Request) -> Response:
    """``GET /integrations/connections``: every connection (secrets never shown)."""
    require_user(request)
    cw = cloudworks_state(get_state(request))
    items = [c.to_api() for c in cw.connections.values()]
    offset, limit = paging_args(request, 25)
    page = items[offset : offset + limit]
    paging = {"currentPageSize": len(page), "totalSize": len(items), "offset": offset}
    return json_response(
        {"status": OK, "connections": page, "meta": meta_of(request, "connections", paging=paging)}
    )


_CONNECTION_FIELDS = {
    "AmazonS3": (("name", "accessKeyId", "secretAccessKey", "bucketName"), "bucketName", ("name", "accessKeyId", "bucketName", "roleArn")),
    "AzureBlob": (("name", "storageAccountName", "containerName", "auth_method"), "containerName", ("name", "storageAccountName", "containerName")),
}  # fmt: skip


async def create_connection(request: Request) -> Response:
    """``POST /integrations/connections``: AmazonS3 and AzureBlob connect to a bucket of the object store."""
    user = require_user(request)
    cw = cloudworks_state(get_state(request))
    body = await body_of(request)
    kind, spec = body.get("type"), body.get("body")
    if kind == "GoogleBigQuery":
        raise ApiError(400, "GoogleBigQuery connections are not emulated: use AmazonS3 or AzureBlob")
    if kind not in _CONNECTION_FIELDS or not isinstance(spec, dict):
        raise ApiError(
            400, "Invalid request body: type must be AmazonS3, GoogleBigQuery or AzureBlob, with a body"
        )
    required, bucket_field, public_fields = _CONNECTION_FIELDS[str(kind)]
    missing = [f for f in required if not isinstance(spec.get(f), str) or not spec[f]]
    if kind == "AzureBlob" and spec.get("auth_method") == "SAS-based" and not spec.get("sasToken"):
        missing.append("sasToken")
    if missing:
        raise ApiError(400, f"Invalid request body: missing {', '.join(missing)}")
    if spec.get("secretAccessKey") == "invalid" or spec.get("sasToken") == "invalid":
        raise ApiError(400, "Credentials are invalid")
    if any(c.name == spec["name"] for c in cw.connections.values()):
        raise ApiError(400, "Duplicate resource name not allowed")
    bucket = str(spec[bucket_field])
    try:
        object_store().ensure_bucket(bucket)
    except ValueError as exc:
        raise ApiError(400, f"Invalid {bucket_field}: {exc}") from None
    public = {f: spec[f] for f in public_fields if f in spec}
    if kind == "AzureBlob":
        public["authMethod"] = spec["auth_method"]
    connection = Connection(
        id=uuid.uuid4().hex,
        type=str(kind),
        name=str(spec["name"]),
        bucket=bucket,
        public=public,
        workspace_id=spec.get("workspaceId"),
        created=iso_now(),
        created_by=who(user),
    )
    cw.connections[connection.id] = connection
    return json_response({"status": OK, "connectionId": connection.id})


async def delete_connection(request: Request) -> Response:
    """``DELETE /integrations/connections/{connectionId}``: 409 while an integration uses it."""
    require_user(request)
    cw = cloudworks_state(get_state(request))
    connection_id = request.path_params["connectionId"]
    if connection_id not in cw.connections:
        raise ApiError(404, "Resource not found")
    for integration in cw.integrations.values():
        for job in integration.jobs:
            ends = [*job.get("sources", []), *job.get("targets", [])]
            if any(e.get("connectionId") == connection_id for e in ends):
                raise ApiError(409, f"Connection is referenced by integration {integration.id}")
    del cw.connections[connection_id]
    return json_response({"status": OK})
