"""A fake Telegram Bot API (https://core.telegram.org/bots/api) served on 127.0.0.1.

It speaks the real wire format, so the real aiogram client can be pointed at it::

    async with FakeTelegram() as fake:
        bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))

Every call is recorded in ``fake.calls``; ``fail_next`` scripts the errors Telegram returns
(429 with ``retry_after``, 403 blocked by the user, 500s), ``slow`` late answers and
``garble`` answers that are not the Bot API's (``GARBAGE``); the ``*_update`` builders make the
inbound Update objects a user's actions produce, for ``push_update`` (getUpdates) or for
posting to our webhook endpoint.
"""

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import PurePosixPath
from typing import Any, ClassVar

from aiohttp import web

from tests.fakes._server import FakeServer, take

DEFAULT_TOKEN = "123456789:AAFakeTokenForFunnelboxTests"

# Bot API parameters that are plain strings. Clients that post forms (aiogram does) JSON-encode
# every other value, so those are decoded, and a text of "42" stays a string.
_STRING_PARAMS = frozenset(
    {
        "text", "caption", "photo", "document", "url", "secret_token", "ip_address",
        "callback_query_id", "file_id", "inline_message_id", "parse_mode",
    }
)  # fmt: skip

# Descriptions Telegram sends with each status, for errors scripted without one (other
# statuses get their HTTP reason phrase, e.g. "Bad Gateway").
_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    500: "Internal Server Error",
}

JsonDict = dict[str, Any]


class TelegramError(Exception):
    """An ``{"ok": false}`` answer; raised by method handlers or scripted with ``fail_next``."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def response(self) -> web.Response:
        body: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.status)


@dataclass(frozen=True)
class TelegramCall:
    """One Bot API request as the fake received it (form values already decoded)."""

    method: str
    token: str
    params: JsonDict


@dataclass(frozen=True)
class TelegramUser:
    """A person writing to the bot in a private chat."""

    id: int = 111_222_333
    first_name: str = "Alice"
    last_name: str | None = None
    username: str | None = "alice"
    language_code: str = "en"

    def user(self) -> JsonDict:
        return _compact(
            id=self.id,
            is_bot=False,
            first_name=self.first_name,
            last_name=self.last_name,
            username=self.username,
            language_code=self.language_code,
        )

    def chat(self) -> JsonDict:
        return _compact(
            id=self.id,
            type="private",
            first_name=self.first_name,
            last_name=self.last_name,
            username=self.username,
        )


@dataclass(frozen=True)
class TelegramFile:
    """A file stored on the fake server, reachable by getFile and the file download URL."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    mime_type: str
    #: The name it was sent or uploaded with.
    file_name: str = "file.bin"

    def as_file(self) -> JsonDict:
        """The Bot API File object."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }

    def ref(self) -> JsonDict:
        """The fields every media object (PhotoSize, Document, Voice) starts with."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
        }


@dataclass
class _Bot:
    """What Telegram keeps per bot token."""

    user: JsonDict
    webhook: JsonDict | None = None
    updates: list[JsonDict] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


Handler = Callable[[_Bot, JsonDict], Awaitable[Any]]


class FakeTelegram(FakeServer):
    """The Bot API for the given tokens (the bot's id is the token's number, as in Telegram).

    ``calls`` holds every request; ``messages`` the bot's sent messages by (chat_id,
    message_id); ``files`` the stored files by file_id; ``bots[token].webhook`` what
    setWebhook set.

    ``long_poll_cap`` bounds how long getUpdates waits, whatever ``timeout`` the client asks
    for, so a polling loop under test stops promptly.
    """

    #: A sendMessage answer cut off mid-way, and answers whose JSON is not the Bot API's
    #: documented shape (a result that is not a Message; ok without a result).
    GARBAGE: ClassVar[dict[str, str]] = {
        "truncated": '{"ok":true,"result":{"message_id":4,"from":{"id":123456789,"is_bot":tr',
        "shape": '{"ok":true,"result":true}',
        "empty": '{"ok":true}',
    }

    def __init__(self, *tokens: str, long_poll_cap: float = 1.0) -> None:
        super().__init__()
        self.bots = {token: _Bot(_bot_user(token)) for token in tokens or (DEFAULT_TOKEN,)}
        self.token = next(iter(self.bots))
        self.long_poll_cap = long_poll_cap
        self.calls: list[TelegramCall] = []
        self.files: dict[str, TelegramFile] = {}
        self.chats: dict[int, JsonDict] = {}
        self.messages: dict[tuple[int, int], JsonDict] = {}
        self._failures: defaultdict[str, list[tuple[int | None, TelegramError]]] = defaultdict(list)
        self._message_ids: defaultdict[int, itertools.count[int]] = defaultdict(
            lambda: itertools.count(1)
        )
        self._update_ids = itertools.count(100_000_001)
        self._serials = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._methods: dict[str, Handler] = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "getfile": self._get_file,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getupdates": self._get_updates,
            "answercallbackquery": self._answer_callback_query,
        }
        self.app.router.add_route("*", "/bot{token}/{method}", self._api)
        self.app.router.add_get("/file/bot{token}/{path:.+}", self._download)

    # -- scripting and inspection ---------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        chat: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (to ``chat`` only, when given)
        with this error instead of a result."""
        if status == 429:
            retry_after = retry_after or 1
            description = description or f"Too Many Requests: retry after {retry_after}"
        for _ in range(times):
            error = TelegramError(
                status, description or _DESCRIPTIONS.get(status) or HTTPStatus(status).phrase,
                retry_after,
            )  # fmt: skip
            self._failures[method.lower()].append((chat, error))

    def calls_to(self, method: str) -> list[TelegramCall]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def add_file(
        self, content: bytes, *, kind: str = "documents", name: str = "file.bin", mime_type: str
    ) -> TelegramFile:
        """Store a file, as if a user had sent it; ``kind`` is the folder of its file_path."""
        serial = next(self._serials)
        stored = TelegramFile(
            file_id=f"{kind}-file-id-{serial}",
            file_unique_id=f"{kind}-unique-{serial}",
            file_path=f"{kind}/file_{serial}{PurePosixPath(name).suffix}",
            content=content,
            mime_type=mime_type,
            file_name=name,
        )
        self.files[stored.file_id] = stored
        return stored

    def push_update(self, update: JsonDict, token: str | None = None) -> None:
        """Queue an update for getUpdates (and wake a long poll waiting for one)."""
        bot = self.bots[token or self.token]
        bot.updates.append(update)
        bot.arrived.set()

    # -- inbound Update builders ----------------------------------------------------------

    def text_update(self, user: TelegramUser, text: str) -> JsonDict:
        """A text message; a leading /command gets its bot_command entity, as Telegram adds."""
        content: JsonDict = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
        return self._update(message=self._inbound(user, content))

    def start_update(self, user: TelegramUser, payload: str | None = None) -> JsonDict:
        """/start, with the deep-link payload of a t.me/<bot>?start=<payload> link."""
        return self.text_update(user, f"/start {payload}" if payload else "/start")

    def edited_update(self, original: JsonDict, text: str) -> JsonDict:
        """The user edited ``original`` (the ``message`` of an earlier update)."""
        edited = {**original, "text": text, "edit_date": int(time.time())}
        return self._update(edited_message=edited)

    def photo_update(
        self, user: TelegramUser, content: bytes = b"\xff\xd8\xff fake jpeg", caption: str = ""
    ) -> JsonDict:
        photo = self.add_file(content, kind="photos", name="photo.jpg", mime_type="image/jpeg")
        return self._update(
            message=self._inbound(user, _compact(photo=_photo_sizes(photo), caption=caption))
        )

    def document_update(
        self,
        user: TelegramUser,
        content: bytes = b"%PDF-1.4 fake",
        *,
        file_name: str = "invoice.pdf",
        mime_type: str = "application/pdf",
        caption: str = "",
    ) -> JsonDict:
        document = self.add_file(content, name=file_name, mime_type=mime_type)
        fields = {**document.ref(), "file_name": file_name, "mime_type": mime_type}
        return self._update(message=self._inbound(user, _compact(document=fields, caption=caption)))

    def voice_update(
        self, user: TelegramUser, content: bytes = b"OggS fake voice", duration: int = 3
    ) -> JsonDict:
        voice = self.add_file(content, kind="voice", name="voice.oga", mime_type="audio/ogg")
        fields = {**voice.ref(), "duration": duration, "mime_type": "audio/ogg"}
        return self._update(message=self._inbound(user, {"voice": fields}))

    def contact_update(self, user: TelegramUser, phone_number: str) -> JsonDict:
        """The user shared their own contact (a request_contact keyboard button)."""
        contact = _compact(
            phone_number=phone_number,
            first_name=user.first_name,
            last_name=user.last_name,
            user_id=user.id,
        )
        return self._update(message=self._inbound(user, {"contact": contact}))

    def callback_update(
        self, user: TelegramUser, data: str, message_id: int | None = None
    ) -> JsonDict:
        """The user pressed an inline button on a bot message (by default the latest one)."""
        if message_id is None:
            message_id = max(mid for chat, mid in self.messages if chat == user.id)
        query_id = str(4_000_000_000_000_000 + next(self._serials))
        self._open_callbacks.add(query_id)
        query = {
            "id": query_id,
            "from": user.user(),
            "message": self.messages[(user.id, message_id)],
            "chat_instance": str(-user.id * 7919),
            "data": data,
        }
        return self._update(callback_query=query)

    def _update(self, **payload: JsonDict) -> JsonDict:
        return {"update_id": next(self._update_ids), **payload}

    def _inbound(self, user: TelegramUser, content: JsonDict) -> JsonDict:
        """A message from ``user``; it shares the chat's message_id sequence with the bot's."""
        self.chats[user.id] = user.chat()
        return {
            "message_id": next(self._message_ids[user.id]),
            "from": user.user(),
            "chat": user.chat(),
            "date": int(time.time()),
            **content,
        }

    # -- HTTP -----------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params = await _read_params(request)
        self.calls.append(TelegramCall(method, token, params))
        await self._count_arrival()
        scripted = None
        try:
            if token not in self.bots:
                raise TelegramError(401, "Unauthorized")
            handler = self._methods.get(method.lower())
            if handler is None:
                raise TelegramError(404, "Not Found")
            if failure := take(self._failures[method.lower()], params.get("chat_id")):
                raise failure
            scripted = self._misbehaviour(method, params.get("chat_id"))
            if scripted is not None and scripted.garbage:
                return self._garbage(scripted.garbage)
            result = await handler(self.bots[token], params)
        except TelegramError as error:
            return error.response()
        if scripted is not None:
            await self._late(scripted.delay)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] not in self.bots:
            return TelegramError(401, "Unauthorized").response()
        path = request.match_info["path"]
        for stored in self.files.values():
            if stored.file_path == path:
                return web.Response(body=stored.content, content_type=stored.mime_type)
        return TelegramError(404, "Not Found").response()

    # -- Bot API methods ------------------------------------------------------------------

    async def _get_me(self, bot: _Bot, params: JsonDict) -> JsonDict:
        return {
            **bot.user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _send_message(self, bot: _Bot, params: JsonDict) -> JsonDict:
        content: JsonDict = {"text": _required(params, "text")}
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            content["reply_markup"] = markup  # Telegram echoes only inline keyboards
        return self._outbound(bot, params, content)

    async def _edit_message_text(self, bot: _Bot, params: JsonDict) -> JsonDict | bool:
        text = _required(params, "text")
        if "inline_message_id" in params:
            return True
        key = (_required(params, "chat_id"), _required(params, "message_id"))
        message = self.messages.get(key)
        if message is None:
            raise TelegramError(400, "Bad Request: message to edit not found")
        if message.get("text") == text:
            raise TelegramError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message.update(text=text, edit_date=int(time.time()))
        return message

    async def _send_photo(self, bot: _Bot, params: JsonDict) -> JsonDict:
        photo = self._resolve_file(params, "photo", kind="photos", mime_type="image/jpeg")
        content = _compact(photo=_photo_sizes(photo), caption=params.get("caption"))
        return self._outbound(bot, params, content)

    async def _send_document(self, bot: _Bot, params: JsonDict) -> JsonDict:
        document = self._resolve_file(
            params, "document", kind="documents", mime_type="application/octet-stream"
        )
        fields = {
            **document.ref(),
            "file_name": document.file_name,
            "mime_type": document.mime_type,
        }
        content = _compact(document=fields, caption=params.get("caption"))
        return self._outbound(bot, params, content)

    async def _get_file(self, bot: _Bot, params: JsonDict) -> JsonDict:
        stored = self.files.get(_required(params, "file_id"))
        if stored is None:
            raise TelegramError(400, "Bad Request: invalid file_id")
        return stored.as_file()

    async def _set_webhook(self, bot: _Bot, params: JsonDict) -> bool:
        url = params.get("url", "")
        if not url:
            bot.webhook = None
            return True
        if not url.startswith("https://"):
            raise TelegramError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        if params.get("drop_pending_updates"):
            bot.updates.clear()
        keep = ("url", "secret_token", "max_connections", "allowed_updates", "ip_address")
        bot.webhook = {key: params[key] for key in keep if key in params}
        return True

    async def _delete_webhook(self, bot: _Bot, params: JsonDict) -> bool:
        bot.webhook = None
        if params.get("drop_pending_updates"):
            bot.updates.clear()
        return True

    async def _get_webhook_info(self, bot: _Bot, params: JsonDict) -> JsonDict:
        webhook = bot.webhook or {"url": ""}
        info = {
            "url": webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }
        for key in ("ip_address", "max_connections", "allowed_updates"):
            if key in webhook:
                info[key] = webhook[key]
        return info

    async def _get_updates(self, bot: _Bot, params: JsonDict) -> list[JsonDict]:
        """Updates below ``offset`` count as confirmed and are forgotten, as in Telegram."""
        if bot.webhook is not None:
            raise TelegramError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset", 0)
        bot.updates = [update for update in bot.updates if update["update_id"] >= offset]
        if not bot.updates and params.get("timeout"):
            bot.arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(params["timeout"], self.long_poll_cap)):
                    await bot.arrived.wait()
        return bot.updates[: params.get("limit", 100)]

    async def _answer_callback_query(self, bot: _Bot, params: JsonDict) -> bool:
        query_id = _required(params, "callback_query_id")
        if query_id not in self._open_callbacks:
            raise TelegramError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_callbacks.discard(query_id)
        return True

    # -- helpers --------------------------------------------------------------------------

    def _outbound(self, bot: _Bot, params: JsonDict, content: JsonDict) -> JsonDict:
        """A message from the bot, numbered in the chat's message_id sequence and kept."""
        chat_id = _required(params, "chat_id")
        if not isinstance(chat_id, int):
            raise TelegramError(400, "Bad Request: chat not found")
        chat = self.chats.get(chat_id) or {
            "id": chat_id,
            "type": "private" if chat_id > 0 else "supergroup",
        }
        message = {
            "message_id": next(self._message_ids[chat_id]),
            "from": bot.user,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _resolve_file(
        self, params: JsonDict, name: str, *, kind: str, mime_type: str
    ) -> TelegramFile:
        """A file_id we know, an HTTP URL (Telegram fetches it), or an uploaded part."""
        value = _required(params, name)
        if isinstance(value, web.FileField):
            return self.add_file(
                value.file.read(),
                kind=kind,
                name=value.filename,
                mime_type=value.content_type or mime_type,
            )
        if value in self.files:
            return self.files[value]
        if value.startswith(("http://", "https://")):
            return self.add_file(
                b"", kind=kind, name=PurePosixPath(value).name, mime_type=mime_type
            )
        raise TelegramError(400, "Bad Request: wrong file identifier/HTTP URL specified")


async def _read_params(request: web.Request) -> JsonDict:
    """Merge the query string with a JSON, urlencoded or multipart body, as Telegram does."""
    raw: dict[str, Any] = dict(request.query)
    body: JsonDict = {}
    if request.content_type == "application/json":
        body = await request.json() if request.can_read_body else {}
    else:
        raw.update(await request.post())
    params = {key: _decode(key, value) for key, value in raw.items()} | body
    # aiogram uploads a file as its own multipart part and refers to it as "attach://<part>".
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            params[key] = params.pop(value.removeprefix("attach://"))
    return params


def _decode(key: str, value: Any) -> Any:
    if not isinstance(value, str) or key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id="@channelusername"


def _required(params: JsonDict, name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise TelegramError(400, f"Bad Request: {name} is empty")
    return value


def _bot_user(token: str) -> JsonDict:
    bot_id = int(token.split(":", 1)[0])
    return {
        "id": bot_id,
        "is_bot": True,
        "first_name": "Funnelbox Test Bot",
        "username": f"funnelbox_{bot_id}_bot",
    }


def _photo_sizes(photo: TelegramFile) -> list[JsonDict]:
    return [{**photo.ref(), "width": 1280, "height": 960}]


def _compact(**fields: Any) -> JsonDict:
    """Drop unset optional fields: the Bot API omits them rather than sending null."""
    return {key: value for key, value in fields.items() if value is not None and value != ""}
