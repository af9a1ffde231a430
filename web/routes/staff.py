"""A user's own Telegram chat for task notifications: get a link code, see, unlink."""

from aiohttp import web

from bot import staff
from web.api import EVERYONE, actor
from web.keys import vault
from web.routes import api
from web.schemas import LinkCodeOut, StaffChatOut


@api.route(
    "POST",
    "/api/v1/users/me/telegram-link",
    summary="A one-hour code: send /start <code> to the business's Telegram bot to get "
    "task notifications there",
    tag="users",
    roles=EVERYONE,
    response=LinkCodeOut,
    status=201,
)
async def create_link(request: web.Request) -> LinkCodeOut:
    code, expires = staff.link_code(vault(request), user=actor(request))
    return LinkCodeOut(code=code, start_command=f"/start {code}", expires_at=expires)


@api.route(
    "GET",
    "/api/v1/users/me/telegram",
    summary="Whether task notifications reach your Telegram, and through which bot",
    tag="users",
    roles=EVERYONE,
    response=StaffChatOut,
)
async def get_link(request: web.Request) -> StaffChatOut:
    found = await staff.get_chat(user=actor(request))
    if found is None:
        return StaffChatOut(linked=False)
    return StaffChatOut(linked=True, channel_id=found.channel_id)


@api.route(
    "DELETE",
    "/api/v1/users/me/telegram",
    summary="Stop task notifications on Telegram",
    tag="users",
    roles=EVERYONE,
    status=204,
)
async def delete_link(request: web.Request) -> None:
    await staff.unlink_chat(user=actor(request))
