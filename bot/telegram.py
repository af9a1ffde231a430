"""Telegram through aiogram: routers per concern, fed by our webhook view or long polling.

The view feeds each update to the dispatcher and answers Telegram only after the
handlers have committed (aiogram's own request handler answers first by default,
which would lose an update if the process died in between).
"""

import asyncio
import logging
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher, F, Router, types
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import AiogramError, TelegramBadRequest, TelegramNotFound
from aiogram.filters import CommandStart
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types.update import UpdateTypeLookupError
from pydantic import ValidationError

from bot.inbound import Answer, receive, receive_edit
from bot.staff import on_link
from core.crypto import Vault
from core.errors import NotFound, Unavailable
from core.phones import normalize_phone
from inbox.dialogs import Inbound, Sender
from inbox.models import Channel

log = logging.getLogger(__name__)
DEFAULT_GREETING = "Hello! Write your question here and we will answer shortly."
SHARE_PHONE = "Share my phone number"
#: How long a media download may take before the caller gets a 502 (aiogram's is 30 s).
DOWNLOAD_SECONDS = 15


def build_dispatcher(storage: BaseStorage | None = None, vault: Vault | None = None) -> Dispatcher:
    """One dispatcher for every Telegram channel; the channel arrives with each update.

    Routers are made per dispatcher (aiogram attaches a router to one parent only).
    With the vault, staff can link their own chats (``/start link_...``, bot.staff).
    """
    start, contacts, messages = Router(name="start"), Router(name="contacts"), Router()
    if vault is not None:
        start.message.register(
            on_link, CommandStart(deep_link=True, magic=F.args.startswith("link_"))
        )
    start.message.register(on_start, CommandStart())
    contacts.message.register(on_contact, F.contact)
    messages.message.register(on_message)
    messages.edited_message.register(on_edit)
    dispatcher = Dispatcher(storage=storage or MemoryStorage(), vault=vault)
    dispatcher.include_routers(start, contacts, messages)
    return dispatcher


def make_bot(channel: Channel, token: str) -> Bot:
    """An aiogram Bot talking to the channel's API server (a local fake in tests)."""
    server = TelegramAPIServer.from_base(channel.api_base_url)
    return Bot(token, session=AiohttpSession(api=server))


def _sender(user: types.User | None, chat: types.Chat, phone: str | None = None) -> Sender:
    name = " ".join(p for p in (user.first_name, user.last_name) if p) if user else ""
    return Sender(
        external_id=str(user.id if user else chat.id),
        name=name or (user.username if user and user.username else "") or str(chat.id),
        phone=phone,
    )


def _content(message: types.Message) -> tuple[str, str, dict[str, Any]]:
    """(kind, text, payload): media are kept as Telegram file ids, fetched on demand."""
    text = message.text or message.caption or ""
    if message.photo:
        largest = message.photo[-1]
        return "image", text, {"file_id": largest.file_id, "file_unique_id": largest.file_unique_id}
    for kind in ("document", "voice", "audio", "video", "video_note", "sticker"):
        media = getattr(message, kind)
        if media is not None:
            extra = {"mime_type": getattr(media, "mime_type", None),
                     "file_name": getattr(media, "file_name", None)}  # fmt: skip
            payload = {"file_id": media.file_id, **{k: v for k, v in extra.items() if v}}
            return kind, text, payload
    if message.location:
        loc = message.location
        return "location", text, {"latitude": loc.latitude, "longitude": loc.longitude}
    return "text", text, {}


def _inbound(message: types.Message, *, phone: str | None = None) -> Inbound:
    kind, text, payload = _content(message)
    return Inbound(
        sender=_sender(message.from_user, message.chat, phone),
        chat_id=str(message.chat.id),
        external_id=f"{message.chat.id}:{message.message_id}",
        kind=kind,
        text=text,
        payload=payload,
        sent_at=message.date,
    )


def _phone_keyboard() -> dict[str, Any]:
    button = types.KeyboardButton(text=SHARE_PHONE, request_contact=True)
    keyboard = types.ReplyKeyboardMarkup(
        keyboard=[[button]], resize_keyboard=True, one_time_keyboard=True
    )
    return keyboard.model_dump(exclude_none=True)


async def on_start(message: types.Message, channel: Channel) -> None:
    """Greet, and offer to share the phone number so bookings can be matched."""
    greeting = channel.settings.get("greeting") or DEFAULT_GREETING
    await receive(
        channel=channel,
        message=_inbound(message),
        answer=Answer(greeting, {"reply_markup": _phone_keyboard()}),
    )


async def on_contact(message: types.Message, channel: Channel) -> None:
    """A shared contact fills the customer's phone when it is their own number."""
    shared = message.contact
    own = (
        shared is not None
        and message.from_user is not None
        and (shared.user_id == message.from_user.id)
    )
    phone = normalize_phone(shared.phone_number) if own and shared else None
    inbound = _inbound(message, phone=phone)
    inbound.kind, inbound.payload = (
        "contact",
        shared.model_dump(exclude_none=True) if shared else {},
    )
    inbound.text = shared.phone_number if shared else ""
    await receive(channel=channel, message=inbound)


async def on_message(message: types.Message, channel: Channel) -> None:
    """Everything else a customer writes goes to the inbox."""
    await receive(channel=channel, message=_inbound(message))


async def on_edit(message: types.Message, channel: Channel) -> None:
    """Edits change the stored text; the timeline keeps the old one."""
    await receive_edit(
        channel=channel,
        external_id=f"{message.chat.id}:{message.message_id}",
        text=message.text or message.caption or "",
    )


class Bots:
    """One aiogram ``Bot`` (and HTTP session) per channel, reused across updates."""

    def __init__(self) -> None:
        self._bots: dict[tuple[int, str], Bot] = {}

    def get(self, channel: Channel, token: str) -> Bot:
        """The channel's bot; a changed token or API address gets a new one."""
        key = (channel.id, f"{token}@{channel.api_base_url}")
        if key not in self._bots:
            self._bots[key] = make_bot(channel, token)
        return self._bots[key]

    async def close(self) -> None:
        """Close every bot's HTTP session."""
        for bot in self._bots.values():
            await bot.session.close()
        self._bots.clear()


class UnreadableUpdate(ValueError):
    """An update aiogram cannot read (what and where it failed in the message)."""


async def process_update(
    dispatcher: Dispatcher, bot: Bot, channel: Channel, data: dict[str, Any]
) -> None:
    """Run one accepted update through the routers; returns once handlers committed.

    Update types this aiogram does not know are ignored. An update it cannot read raises
    :class:`UnreadableUpdate`: it may hold a customer's message, so the intake parks it,
    stored as it came, with the reason, for a person to see (never dropped silently).
    """
    try:
        update = types.Update.model_validate(data, context={"bot": bot})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "update"
        raise UnreadableUpdate(f"{where}: {error['msg']}") from None
    try:
        update.event_type  # noqa: B018 (raises for update types this aiogram does not know)
    except UpdateTypeLookupError:
        log.info("ignoring update %s of a type we do not know", update.update_id)
        return
    await dispatcher.feed_update(bot, update, channel=channel)


async def set_webhook(bot: Bot, *, url: str, secret: str) -> None:
    """Point Telegram at our webhook; it will echo ``secret`` in every delivery's header."""
    await bot.set_webhook(url=url, secret_token=secret, drop_pending_updates=False)


async def poll(dispatcher: Dispatcher, bot: Bot, channel: Channel) -> None:
    """Long polling for development without a public URL: same handlers, same dedupe."""
    await bot.delete_webhook(drop_pending_updates=False)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, channel=channel, handle_signals=False)
    )
    try:
        await asyncio.shield(polling)
    except asyncio.CancelledError:
        # Cancelling start_polling leaves aiogram's per-bot polling task running (and
        # opening HTTP sessions) for ever: its own stop signal ends them.
        try:
            await dispatcher.stop_polling()
        except RuntimeError:  # not started yet: nothing runs but the task itself
            polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
        raise


async def download(bot: Bot, file_id: str) -> bytes:
    """A customer's photo, document or voice note, fetched from Telegram when asked for.

    A file Telegram refuses (expired, unknown) is :class:`NotFound`; Telegram down, slow
    or answering nonsense is :class:`Unavailable` (502), never a crash of ours.
    """
    try:
        buffer = await bot.download(file_id, timeout=DOWNLOAD_SECONDS)
    except (TelegramBadRequest, TelegramNotFound) as exc:
        raise NotFound(
            f"Telegram no longer serves this file: {exc.message}", field="message_id"
        ) from None
    except (AiogramError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("media download from Telegram failed: %s: %s", type(exc).__name__, exc)
        raise Unavailable(
            "Telegram could not be reached or gave an unreadable answer; try again later",
            field="message_id",
        ) from None
    assert buffer is not None  # download() returns the buffer when no destination is given
    return buffer.read()
