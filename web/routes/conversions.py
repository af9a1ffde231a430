"""Meta Conversions API settings and the queue of reported events (admins)."""

from aiohttp import web

from triggers.conversions import service
from web.api import actor
from web.keys import vault
from web.routes import api
from web.schemas_triggers import (
    ConversionOut,
    ConversionQuery,
    ConversionSettingsIn,
    ConversionSettingsOut,
)


@api.route(
    "GET",
    "/api/v1/conversions/settings",
    summary="The Conversions API settings (the access token is never shown)",
    tag="conversions",
    response=ConversionSettingsOut,
)
async def get_settings(request: web.Request) -> ConversionSettingsOut:
    return ConversionSettingsOut.model_validate(await service.get_conversion_settings())


@api.route(
    "PUT",
    "/api/v1/conversions/settings",
    summary="Connect a Meta Pixel (dataset), switch reporting on or off",
    tag="conversions",
    body=ConversionSettingsIn,
    response=ConversionSettingsOut,
)
async def put_settings(
    request: web.Request, *, body: ConversionSettingsIn
) -> ConversionSettingsOut:
    settings = await service.put_conversion_settings(
        actor=actor(request), vault=vault(request), **body.model_dump()
    )
    return ConversionSettingsOut.model_validate(settings)


@api.route(
    "DELETE",
    "/api/v1/conversions/settings",
    summary="Disconnect the Pixel (and forget its access token)",
    tag="conversions",
    status=204,
)
async def delete_settings(request: web.Request) -> None:
    await service.delete_conversion_settings(actor=actor(request))


@api.route(
    "GET",
    "/api/v1/conversions",
    summary="Reported events, newest first: queued, sent, dropped or failed",
    tag="conversions",
    query=ConversionQuery,
    response=list[ConversionOut],
)
async def list_conversions(request: web.Request, *, query: ConversionQuery) -> list[ConversionOut]:
    rows = await service.list_conversions(deal_id=query.deal_id, limit=query.limit)
    return [ConversionOut.model_validate(row) for row in rows]
