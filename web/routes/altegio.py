"""Altegio connections and their mapping (admins), and Altegio's record webhook."""

import hmac

from aiohttp import web

from altegio_sync import connections
from altegio_sync.models import AltegioConnection
from bot import intake
from core.crypto import Vault
from core.errors import NotFound, Unauthenticated
from web.api import actor, json_body, json_response
from web.keys import INTAKE, vault
from web.routes import api
from web.schemas_altegio import (
    AltegioConnectionIn,
    AltegioConnectionOut,
    AltegioConnectionUpdate,
    AltegioHookQuery,
    AltegioMapping,
)

TAG = "altegio"


def _out(connection: AltegioConnection, box: Vault) -> AltegioConnectionOut:
    secret = connections.webhook_secret(box, connection)
    path = f"/webhooks/altegio/{connection.id}?secret={secret}"
    return AltegioConnectionOut.model_validate(connection).model_copy(update={"webhook_path": path})


@api.route(
    "GET",
    "/api/v1/altegio/connections",
    summary="List Altegio connections",
    tag=TAG,
    response=list[AltegioConnectionOut],
)
async def list_connections(request: web.Request) -> list[AltegioConnectionOut]:
    box = vault(request)
    return [_out(c, box) for c in await connections.list_connections()]


@api.route(
    "POST",
    "/api/v1/altegio/connections",
    summary="Connect an Altegio company (creates the Altegio Records pipeline and mapping)",
    tag=TAG,
    body=AltegioConnectionIn,
    response=AltegioConnectionOut,
    status=201,
)
async def create_connection(
    request: web.Request, *, body: AltegioConnectionIn
) -> AltegioConnectionOut:
    box = vault(request)
    connection = await connections.create_connection(
        actor=actor(request), vault=box, **body.model_dump()
    )
    return _out(connection, box)


@api.route(
    "GET",
    "/api/v1/altegio/connections/{connection_id}",
    summary="Get an Altegio connection and its last sync",
    tag=TAG,
    response=AltegioConnectionOut,
)
async def get_connection(request: web.Request, *, connection_id: int) -> AltegioConnectionOut:
    return _out(await connections.get_connection(connection_id=connection_id), vault(request))


@api.route(
    "PATCH",
    "/api/v1/altegio/connections/{connection_id}",
    summary="Edit, re-key or pause an Altegio connection",
    tag=TAG,
    body=AltegioConnectionUpdate,
    response=AltegioConnectionOut,
)
async def update_connection(
    request: web.Request, *, connection_id: int, body: AltegioConnectionUpdate
) -> AltegioConnectionOut:
    box = vault(request)
    connection = await connections.update_connection(
        actor=actor(request),
        vault=box,
        connection_id=connection_id,
        **body.model_dump(exclude_unset=True),
    )
    return _out(connection, box)


@api.route(
    "DELETE",
    "/api/v1/altegio/connections/{connection_id}",
    summary="Disconnect an Altegio company (its deals, contacts and bookings stay)",
    tag=TAG,
    status=204,
)
async def delete_connection(request: web.Request, *, connection_id: int) -> None:
    await connections.delete_connection(actor=actor(request), connection_id=connection_id)


@api.route(
    "GET",
    "/api/v1/altegio/connections/{connection_id}/mapping",
    summary="Which stage each booking status puts a deal in",
    tag=TAG,
    response=AltegioMapping,
)
async def get_mapping(request: web.Request, *, connection_id: int) -> AltegioMapping:
    mapping = await connections.get_mapping(connection_id=connection_id)
    return AltegioMapping.model_validate({k.value: v for k, v in mapping.items()})


@api.route(
    "PUT",
    "/api/v1/altegio/connections/{connection_id}/mapping",
    summary="Point booking statuses at stages of any pipeline",
    tag=TAG,
    body=AltegioMapping,
    response=AltegioMapping,
)
async def set_mapping(
    request: web.Request, *, connection_id: int, body: AltegioMapping
) -> AltegioMapping:
    mapping = await connections.set_mapping(
        actor=actor(request), connection_id=connection_id, mapping=body.statuses()
    )
    return AltegioMapping.model_validate({k.value: v for k, v in mapping.items()})


@api.route(
    "POST",
    "/webhooks/altegio/{connection_id}",
    summary="Altegio record events (create, update, delete)",
    tag="webhooks",
    roles=None,
    query=AltegioHookQuery,
)
async def altegio_webhook(
    request: web.Request, *, connection_id: int, query: AltegioHookQuery
) -> web.Response:
    """Verified by the secret in the URL (Altegio signs nothing), stored, answered at
    once; applied after by the intake. Altegio does not retry a failed delivery: the
    periodic pull is the safety net."""
    try:
        connection = await connections.get_connection(connection_id=connection_id)
    except NotFound:
        connection = None
    box = vault(request)
    expected = connections.webhook_secret(box, connection) if connection else ""
    if connection is None or not hmac.compare_digest(query.secret.encode(), expected.encode()):
        raise Unauthenticated("wrong secret or no such connection", field="secret")
    body = await json_body(request, repair=True)
    items = intake.altegio_items(body, company_id=connection.company_id)
    await request.app[INTAKE].accept((connection, items))
    return json_response({"success": True})
