"""How one outbound message reaches each messenger, and what its answer means.

A :class:`Transport` sends one message and sorts the platform's answer into the queue's
outcomes (``core.queue``): ``Done`` with the platform's message id, ``Retry`` (rate
limits, server errors, timeouts: the outbox tries again, when the platform says to) or
``Park`` (the customer blocked the bot, the chat is gone, the template does not exist:
trying again would fail the same way). It also names the rate limits a send to a chat
counts against.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import FSInputFile
from aiogram.types import Message as TelegramMessage
from aiohttp import ClientError, ClientSession

from bot.graph import GraphClient, GraphError, excerpt
from core.errors import NotFound
from core.files import FileStore
from core.queue import Done, Outcome, Park, Retry
from inbox.models import Channel, Message

FILE_KINDS = ("image", "document")


@dataclass(frozen=True)
class Timeouts:
    """Seconds a send may take before it is abandoned and retried (shorter than a claim):
    ``text`` for a text or template, ``media`` for a photo or document, whose upload takes
    longer (50 MB in 25 s is 16 Mbit/s). Whole seconds: aiogram takes them so."""

    text: int = 10
    media: int = 25

    def of(self, message: Message) -> int:
        """How long sending ``message`` may take: longer for a file than for text."""
        return self.media if message.kind in FILE_KINDS else self.text


#: The timeouts sends run with (tests pass shorter ones to the outbox worker).
TIMEOUTS = Timeouts()


def unreadable(detail: str, content: object) -> str:
    """The reason of a Telegram answer that is not the Bot API's: what was wrong and the
    start of what came."""
    return f"Telegram answered something unreadable ({detail}): {excerpt(content)}"


def retry(reason: str, after_seconds: float | None = None) -> Retry:
    """Try again, ``after_seconds`` from now when the platform said how long to wait."""
    at = None if after_seconds is None else datetime.now(UTC) + timedelta(seconds=after_seconds)
    return Retry(reason, at=at)


@dataclass(frozen=True)
class Limit:
    """A token bucket a send takes a token from: ``rate`` per second, ``burst`` at once."""

    key: str
    rate: float
    burst: int


class Transport(Protocol):
    """One messenger's way of sending."""

    def limits(self, channel: Channel, chat_id: str) -> list[Limit]:
        """The buckets a send to ``chat_id`` draws on, narrowest first."""
        ...

    async def send(
        self, channel: Channel, credentials: dict[str, Any], chat_id: str, message: Message
    ) -> Outcome:
        """Send ``message`` to ``chat_id`` once and classify the answer."""
        ...


class BotSource(Protocol):
    """Hands out the aiogram ``Bot`` of a channel (``bot.telegram.Bots``)."""

    def get(self, channel: Channel, token: str) -> Bot: ...


# aiogram raises these by HTTP status (403, 400, 404, 401, 413) or for a group turned
# supergroup; each means this message to this chat will never go through.
_TELEGRAM_PERMANENT = (
    TelegramForbiddenError,
    TelegramBadRequest,
    TelegramNotFound,
    TelegramUnauthorizedError,
    TelegramMigrateToChat,
    TelegramEntityTooLarge,
)
# 5xx, timeouts and connection errors, and errors aiogram could not place (answers it
# could not read at all are ``ClientDecodeError``, retried too, with a short reason).
_TELEGRAM_TRANSIENT = (
    TelegramServerError,
    TelegramNetworkError,
    TelegramAPIError,
)


def attachment(files: FileStore, message: Message) -> FSInputFile | Park:
    """The stored file of a photo or document message, named as the operator's was, or
    why it cannot be sent (the file is gone from the store)."""
    try:
        path = files.path(message.payload["sha256"])
    except NotFound as exc:
        return Park(exc.message)
    return FSInputFile(path, filename=message.payload.get("file_name") or path.name)


class TelegramTransport:
    """Sends through the real aiogram client, one ``Bot`` per channel: text with
    sendMessage, photos with sendPhoto, other files with sendDocument (uploaded as
    multipart from the file store).

    Telegram asks bots to stay near 30 messages a second overall and one a second per
    chat (20 a minute in groups, whose ids are negative).
    """

    def __init__(self, bots: BotSource, files: FileStore, timeouts: Timeouts) -> None:
        self._bots = bots
        self._files = files
        self._timeouts = timeouts

    def limits(self, channel: Channel, chat_id: str) -> list[Limit]:
        bot = channel.external_id
        chat = (
            Limit(f"telegram:{bot}:{chat_id}", 20 / 60, 3)
            if chat_id.startswith("-")
            else Limit(f"telegram:{bot}:{chat_id}", 1.0, 1)
        )
        return [chat, Limit(f"telegram:{bot}", 30.0, 30)]

    async def send(
        self, channel: Channel, credentials: dict[str, Any], chat_id: str, message: Message
    ) -> Outcome:
        bot = self._bots.get(channel, credentials["token"])
        chat: int | str = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        try:
            if message.kind == "text":
                sent = await bot.send_message(
                    chat_id=chat,
                    text=message.text,
                    reply_markup=message.payload.get("reply_markup"),
                    request_timeout=self._timeouts.text,
                )
            elif message.kind in FILE_KINDS:
                file = attachment(self._files, message)
                if isinstance(file, Park):
                    return file
                caption = message.text or None
                if message.kind == "image":
                    sent = await bot.send_photo(
                        chat, file, caption=caption, request_timeout=self._timeouts.media
                    )
                else:
                    sent = await bot.send_document(
                        chat, file, caption=caption, request_timeout=self._timeouts.media
                    )
            else:
                return Park(f"{message.kind} messages cannot be sent to Telegram")
        except TelegramRetryAfter as exc:
            return retry(exc.message, float(exc.retry_after))
        except _TELEGRAM_PERMANENT as exc:
            return Park(exc.message)
        except ClientDecodeError as exc:
            return retry(unreadable(exc.message, exc.data))
        except _TELEGRAM_TRANSIENT as exc:
            return retry(str(exc))
        return sent_as(sent)


def sent_as(sent: object) -> Outcome:
    """The outcome of a send Telegram answered ``ok``: done under the chat and message
    id, or a retry when the answer carries no message (``{"ok": true}`` alone)."""
    if not isinstance(sent, TelegramMessage):
        return retry(unreadable("ok without a message", sent))
    return Done(f"{sent.chat.id}:{sent.message_id}")


#: Graph error codes of rate limits: API calls (4), the account (80007), the number's
#: throughput (130429), spam limits (131048), the pair limit (131056: at least 6 s).
_WHATSAPP_RATE_LIMITS: dict[int, float | None] = {
    4: None,
    80007: None,
    130429: None,
    131048: None,
    131056: 6.0,
}
#: Meta's "temporary" codes: unknown/service errors, something went wrong, service
#: unavailable, maintenance or throughput upgrade, server temporarily unavailable.
_WHATSAPP_TRANSIENT = frozenset({1, 2, 131000, 131016, 131057, 133004})


class WhatsAppTransport:
    """Sends text, templates and media through :class:`bot.graph.GraphClient`; a photo
    or document is first uploaded to the number's media (``POST /{number}/media``), then
    sent as an ``image`` or ``document`` message of that media id. A retry uploads again:
    nothing but the send's outcome is recorded between attempts.

    The Cloud API allows 80 messages a second per number and, per customer, one every
    6 seconds with bursts of up to 45 borrowed from the future.
    """

    def __init__(self, session: ClientSession, files: FileStore, timeouts: Timeouts) -> None:
        self._session = session
        self._files = files
        self._timeouts = timeouts

    def limits(self, channel: Channel, chat_id: str) -> list[Limit]:
        number = channel.external_id
        return [
            Limit(f"whatsapp:{number}:{chat_id}", 1 / 6, 45),
            Limit(f"whatsapp:{number}", 80, 80),
        ]

    async def send(
        self, channel: Channel, credentials: dict[str, Any], chat_id: str, message: Message
    ) -> Outcome:
        client = GraphClient(
            self._session,
            channel.api_base_url,
            credentials["access_token"],
            timeout=self._timeouts.of(message),
        )
        number = credentials["phone_number_id"]
        try:
            if message.kind == "text":
                wamid = await client.send_text(number, chat_id, message.text)
            elif message.kind == "template":
                template = message.payload["template"]
                wamid = await client.send_template(
                    number, chat_id, template["name"], template["language"], template["parameters"]
                )
            elif message.kind in FILE_KINDS:
                file = attachment(self._files, message)
                if isinstance(file, Park):
                    return file
                media_id = await client.upload_media(
                    number, file.path, file.filename or "file", message.payload["mime_type"]
                )
                wamid = await client.send_media(
                    number, chat_id, message.kind, media_id, caption=message.text,
                    file_name=file.filename if message.kind == "document" else None,
                )  # fmt: skip
            else:
                return Park(f"{message.kind} messages cannot be sent to WhatsApp yet")
        except GraphError as exc:
            return classify(exc)
        except (ClientError, TimeoutError) as exc:
            return retry(f"WhatsApp did not answer: {exc!r}")
        return Done(wamid)


def classify(error: GraphError) -> Outcome:
    """Rate limits, Meta's temporary errors and answers that are not Graph's (no error
    code: a proxy's page, a cut-off body, another shape) are retried; every error Meta
    coded otherwise is final (131026 undeliverable, 131047 window closed, 132001 no such
    template, 190 token...)."""
    if error.code in _WHATSAPP_RATE_LIMITS:
        return retry(str(error), _WHATSAPP_RATE_LIMITS[error.code])
    transient = error.code is None or error.code in _WHATSAPP_TRANSIENT
    if transient or error.status >= 500 or error.status == 429:
        return retry(str(error))
    return Park(str(error))
