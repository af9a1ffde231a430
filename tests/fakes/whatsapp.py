"""A fake WhatsApp Cloud API and Meta Conversions API (both on the Graph API) on 127.0.0.1,
and builders of the webhook payloads Meta posts to us.

Paths are those of https://graph.facebook.com, so a client only swaps its base URL for
``fake.url``::

    POST /{version}/{phone_number_id}/messages       send text, template, media, reaction
    POST /{version}/{phone_number_id}/media          upload media (multipart), get its id
    GET  /{version}/{waba_id}/message_templates      list templates (paged)
    GET  /{version}/{media_id}                       media URL metadata
    GET  /whatsapp_business/attachments/?mid=...     media download (the metadata's url)
    POST /{version}/{pixel_id}/events                Conversions API

Every request is recorded in ``fake.calls``; ``fail_next(code)`` answers the next request
with one of Meta's documented errors (``ERRORS``), in the Graph error envelope and with the
HTTP status Meta uses for it; ``slow`` answers late and ``garble`` with what is not the
Graph API's answer (``GARBAGE``).
"""

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from aiohttp import web

from tests.fakes._server import FakeServer, take

JsonDict = dict[str, Any]

DEFAULT_ACCESS_TOKEN = "EAAFakeSystemUserTokenForFunnelboxTests"
DEFAULT_WABA_ID = "102290129340398"
DEFAULT_PHONE_NUMBER_ID = "106540352242922"
DEFAULT_DISPLAY_PHONE_NUMBER = "15550783881"
ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


@dataclass(frozen=True)
class GraphError:
    """One row of Meta's error-code table: the synchronous answer, and a failed status's error."""

    code: int
    http_status: int
    message: str
    details: str | None = None
    type: str = "OAuthException"

    @property
    def title(self) -> str:
        return self.message.removeprefix(f"(#{self.code}) ")

    def body(self, subcode: int | None = None) -> JsonDict:
        """The Graph API error envelope."""
        error: JsonDict = {"message": self.message, "type": self.type, "code": self.code}
        if self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if subcode is not None:
            error["error_subcode"] = subcode
        error["fbtrace_id"] = secrets.token_urlsafe(17)
        return {"error": error}

    def status_error(self) -> JsonDict:
        """The entry of ``errors`` in a ``failed`` status webhook."""
        return {
            "code": self.code,
            "title": self.title,
            "message": self.title,
            "error_data": {"details": self.details or self.title},
            "href": ERROR_CODES_URL,
        }


ERRORS: dict[int, GraphError] = {
    error.code: error
    for error in (
        GraphError(190, 401, "Invalid OAuth access token - Cannot parse access token"),
        GraphError(100, 400, "(#100) Invalid parameter"),
        GraphError(
            130429,
            400,
            "(#130429) Rate limit hit",
            "Cloud API message throughput has been reached.",
        ),
        GraphError(
            131056,
            400,
            "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            "Message failed to send because there were too many messages sent from this phone "
            "number to the same phone number in a short period of time.",
        ),
        GraphError(
            80007,
            400,
            "(#80007) Rate limit issues",
            "The WhatsApp Business Account has reached its rate limit.",
        ),
        GraphError(131026, 400, "(#131026) Message undeliverable", "Message Undeliverable."),
        GraphError(
            131047,
            400,
            "(#131047) Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer "
            "last replied to this number.",
        ),
        GraphError(
            131000,
            500,
            "(#131000) Something went wrong",
            "Message failed to send due to an unknown error.",
        ),
        GraphError(132001, 400, "(#132001) Template name does not exist in the translation"),
    )
}


class GraphFailure(Exception):
    """A Graph error about to be answered; raised by handlers or scripted by ``fail_next``."""

    def __init__(self, error: GraphError, subcode: int | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.subcode = subcode

    def response(self) -> web.Response:
        return web.json_response(self.error.body(self.subcode), status=self.error.http_status)


@dataclass(frozen=True)
class GraphCall:
    """One request as the fake received it; ``endpoint`` names its route."""

    endpoint: str
    method: str
    path: str
    query: dict[str, str]
    body: JsonDict


@dataclass(frozen=True)
class GraphMedia:
    """A stored media object: what GET /{media_id} describes and its URL downloads."""

    id: str
    content: bytes
    mime_type: str
    #: The name an upload gave the file (none for a customer's media).
    file_name: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class ConversionsBatch:
    """One Conversions API request: its events and the Events Manager test code, if any."""

    pixel_id: str
    data: list[JsonDict]
    test_event_code: str | None


Handler = Callable[[web.Request, JsonDict], Awaitable[web.StreamResponse]]


class FakeGraph(FakeServer):
    """One WhatsApp Business Account with one phone number, plus the Conversions API.

    ``calls`` holds every request; ``sent`` maps the wamid of each accepted message to its
    request body; ``conversions`` holds the Conversions API batches; ``webhooks`` builds
    webhook payloads for this account's ids.
    """

    #: A messages answer cut off mid-way, and answers whose JSON is not the documented
    #: shape (``messages`` not a list of objects; no ``messages`` at all).
    GARBAGE: ClassVar[dict[str, str]] = {
        "truncated": '{"messaging_product":"whatsapp","contacts":[{"input":"1650',
        "shape": '{"messaging_product":"whatsapp","messages":"accepted"}',
        "empty": "{}",
    }

    def __init__(
        self,
        *,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        waba_id: str = DEFAULT_WABA_ID,
        phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
        display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.waba_id = waba_id
        self.phone_number_id = phone_number_id
        self.webhooks = WhatsAppWebhooks(
            waba_id=waba_id,
            phone_number_id=phone_number_id,
            display_phone_number=display_phone_number,
        )
        self.calls: list[GraphCall] = []
        self.sent: dict[str, JsonDict] = {}
        self.templates: list[JsonDict] = []
        self.media: dict[str, GraphMedia] = {}
        self.conversions: list[ConversionsBatch] = []
        self._failures: defaultdict[str, list[tuple[str | None, GraphFailure]]] = defaultdict(list)
        self._ids = itertools.count(1_000_000_000_000_001)
        version = r"/{version:v\d+\.\d+}"
        router = self.app.router
        router.add_post(version + "/{node}/messages", self._messages, name="messages")
        router.add_get(
            version + "/{node}/message_templates", self._message_templates, name="templates"
        )
        router.add_post(version + "/{node}/events", self._events, name="events")
        router.add_post(version + "/{node}/media", self._upload, name="upload")
        router.add_get(version + "/{node}", self._media_url, name="media")
        router.add_get("/whatsapp_business/attachments/", self._download, name="download")
        self.app.middlewares.append(self._guard)

    # -- scripting and inspection ---------------------------------------------------------

    def fail_next(
        self,
        code: int,
        *,
        endpoint: str = "messages",
        details: str | None = None,
        subcode: int | None = None,
        times: int = 1,
        chat: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests to ``endpoint`` (messages, templates, upload,
        media, download, events; those ``to`` ``chat`` only, when given) with Meta's error
        ``code``; ``details`` overrides its error_data."""
        if endpoint not in {route.name for route in self.app.router.routes()}:
            raise ValueError(f"no endpoint named {endpoint!r}")
        error = ERRORS[code] if details is None else replace(ERRORS[code], details=details)
        self._failures[endpoint] += [(chat, GraphFailure(error, subcode)) for _ in range(times)]

    def calls_to(self, endpoint: str) -> list[GraphCall]:
        return [call for call in self.calls if call.endpoint == endpoint]

    def add_template(
        self,
        name: str,
        *,
        language: str = "en_US",
        category: str = "UTILITY",
        components: list[JsonDict] | None = None,
        status: str = "APPROVED",
    ) -> JsonDict:
        """Register a message template, as listed by GET message_templates."""
        template = {
            "name": name,
            "parameter_format": "POSITIONAL",
            "components": components
            or [
                {
                    "type": "BODY",
                    "text": "Hello {{1}}, your order is ready.",
                    "example": {"body_text": [["Alice"]]},
                }
            ],
            "language": language,
            "status": status,
            "category": category,
            "id": str(next(self._ids)),
        }
        self.templates.append(template)
        return template

    def add_media(self, content: bytes, mime_type: str = "image/jpeg") -> str:
        """Store a media object (as a user's upload would be) and return its media id."""
        media = GraphMedia(str(next(self._ids)), content, mime_type)
        self.media[media.id] = media
        return media.id

    # -- HTTP -----------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record the call, check the access token, then play a scripted failure if any."""
        body = await _read_body(request)
        endpoint = request.match_info.route.name or ""
        self.calls.append(
            GraphCall(endpoint, request.method, request.path, dict(request.query), body)
        )
        await self._count_arrival()
        try:
            if _access_token(request, body) != self.access_token:
                raise GraphFailure(ERRORS[190])
            if failure := take(self._failures[endpoint], body.get("to")):
                raise failure
            scripted = self._misbehaviour(endpoint, body.get("to"))
            if scripted is not None and scripted.garbage:
                return self._garbage(scripted.garbage)
            answer = await handler(request, body)
        except GraphFailure as failure:
            return failure.response()
        if scripted is not None:
            await self._late(scripted.delay)
        return answer

    async def _messages(self, request: web.Request, body: JsonDict) -> web.Response:
        self._expect_node(request, self.phone_number_id, "post")
        if body.get("messaging_product") != "whatsapp":
            raise _missing("messaging_product")
        if body.get("status") == "read":  # marking an inbound message as read
            _require(body, "message_id")
            return web.json_response({"success": True})
        to = _require(body, "to")
        kind = body.get("type", "text")
        content = body.get(kind)
        if not isinstance(content, dict):
            raise _missing(kind)
        for param in _CONTENT_REQUIREMENTS.get(kind, ()):
            _require(content, param, prefix=kind)
        if kind in _MEDIA_TYPES and not ("id" in content or "link" in content):
            raise _missing(f"{kind}['id'] or {kind}['link']")
        if kind == "reaction" and "emoji" not in content:  # "" is allowed: it removes one
            raise _missing("reaction['emoji']")
        message: JsonDict = {"id": _wamid(to)}
        if kind == "template":
            self._check_template(content)
            message["message_status"] = "accepted"
        self.sent[message["id"]] = body
        wa_id = "".join(char for char in to if char.isdigit())
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [message],
            }
        )

    async def _upload(self, request: web.Request, body: JsonDict) -> web.Response:
        """Media upload: multipart with ``messaging_product``, ``type`` and ``file``."""
        self._expect_node(request, self.phone_number_id, "post")
        if body.get("messaging_product") != "whatsapp":
            raise _missing("messaging_product")
        mime_type = _require(body, "type")
        file = body.get("file")
        if not isinstance(file, web.FileField):
            raise _missing("file")
        media = GraphMedia(str(next(self._ids)), file.file.read(), mime_type, file.filename)
        self.media[media.id] = media
        return web.json_response({"id": media.id})

    async def _message_templates(self, request: web.Request, body: JsonDict) -> web.Response:
        """Paged like the Graph API: opaque cursors, and ``next`` only while more remain."""
        self._expect_node(request, self.waba_id, "get")
        limit = int(request.query.get("limit", "25"))
        after = request.query.get("after")
        start = int(base64.b64decode(after)) if after else 0
        page = self.templates[start : start + limit]
        end = start + len(page)
        paging: JsonDict = {"cursors": {"before": _cursor(start), "after": _cursor(end)}}
        if end < len(self.templates):
            paging["next"] = f"{self.url}{request.path}?limit={limit}&after={_cursor(end)}"
        return web.json_response({"data": page, "paging": paging})

    async def _media_url(self, request: web.Request, body: JsonDict) -> web.Response:
        media = self.media.get(request.match_info["node"])
        if media is None:
            raise _unknown_object(request.match_info["node"], "get")
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.url}/whatsapp_business/attachments/?mid={media.id}",
                "mime_type": media.mime_type,
                "sha256": media.sha256,
                "file_size": len(media.content),
                "id": media.id,
            }
        )

    async def _download(self, request: web.Request, body: JsonDict) -> web.Response:
        media = self.media.get(request.query.get("mid", ""))
        if media is None:
            return web.Response(status=404)
        return web.Response(body=media.content, content_type=media.mime_type)

    async def _events(self, request: web.Request, body: JsonDict) -> web.Response:
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise _missing("data")
        for event in data:
            for param in ("event_name", "event_time", "action_source"):
                _require(event, param, prefix="data[]")
        self.conversions.append(
            ConversionsBatch(request.match_info["node"], data, body.get("test_event_code"))
        )
        return web.json_response(
            {
                "events_received": len(data),
                "messages": [],
                "fbtrace_id": secrets.token_urlsafe(17),
            }
        )

    # -- helpers --------------------------------------------------------------------------

    def _expect_node(self, request: web.Request, node_id: str, verb: str) -> None:
        if request.match_info["node"] != node_id:
            raise _unknown_object(request.match_info["node"], verb)

    def _check_template(self, template: JsonDict) -> None:
        name = _require(template, "name", prefix="template")
        language = _require(template, "language", prefix="template")
        code = _require(language, "code", prefix="template['language']")
        if not any(t["name"] == name and t["language"] == code for t in self.templates):
            raise GraphFailure(
                replace(ERRORS[132001], details=f"template name ({name}) does not exist in {code}")
            )


# Fields each message type must carry, per the Cloud API messages reference.
_CONTENT_REQUIREMENTS = {
    "text": ("body",),
    "reaction": ("message_id",),
    "interactive": ("type", "action"),
    "location": ("latitude", "longitude"),
}
_MEDIA_TYPES = frozenset({"image", "document", "audio", "video", "sticker"})


class WhatsAppWebhooks:
    """Builds the JSON Meta POSTs to our webhook, shaped like the samples in Meta's
    "messages webhook reference". Each message gets a fresh wamid and the current time.

    ``**options`` of the message builders go to ``message``: the sender's profile ``name``,
    their business-scoped ``user_id`` (BSUID), ``context_id`` (the message replied to) and a
    ``referral`` (see ``ctwa_referral``).
    """

    def __init__(
        self,
        *,
        waba_id: str = DEFAULT_WABA_ID,
        phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
        display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
    ) -> None:
        self.waba_id = waba_id
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number

    def channel(self, pipeline: dict[str, Any], app_secret: str) -> dict[str, Any]:
        """Our ``POST /api/v1/channels`` body connecting this number, new dialogs going to
        ``pipeline``'s first stage."""
        return {
            "kind": "whatsapp", "name": "Salon", "pipeline_id": pipeline["id"],
            "stage_id": pipeline["stages"][0]["id"],
            "credentials": {"access_token": "token-1234567", "app_secret": app_secret,
                            "verify_token": "verify-123", "waba_id": self.waba_id,
                            "phone_number_id": self.phone_number_id},
        }  # fmt: skip

    def message(
        self,
        wa_id: str,
        kind: str,
        content: JsonDict,
        *,
        name: str = "Sheena Nelson",
        user_id: str | None = None,
        context_id: str | None = None,
        referral: JsonDict | None = None,
    ) -> JsonDict:
        """An inbound message of type ``kind`` whose ``kind`` object is ``content``."""
        contact: JsonDict = {"profile": {"name": name}, "wa_id": wa_id}
        message: JsonDict = {"from": wa_id, "id": _wamid(wa_id), "timestamp": _now()}
        if user_id:
            contact["user_id"] = user_id
            message["from_user_id"] = user_id
        if context_id:
            message["context"] = {"from": self.display_phone_number, "id": context_id}
        if referral:
            message["referral"] = referral
        message |= {"type": kind, kind: content}
        return self._envelope({"contacts": [contact], "messages": [message]})

    def text(self, wa_id: str, body: str, **options: Any) -> JsonDict:
        return self.message(wa_id, "text", {"body": body}, **options)

    def image(
        self,
        wa_id: str,
        media_id: str,
        *,
        mime_type: str = "image/jpeg",
        caption: str | None = None,
        **options: Any,
    ) -> JsonDict:
        return self.message(wa_id, "image", _media(media_id, mime_type, caption=caption), **options)

    def document(
        self,
        wa_id: str,
        media_id: str,
        *,
        filename: str = "invoice.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        **options: Any,
    ) -> JsonDict:
        content = _media(media_id, mime_type, caption=caption, filename=filename)
        return self.message(wa_id, "document", content, **options)

    def audio(
        self,
        wa_id: str,
        media_id: str,
        *,
        mime_type: str = "audio/ogg; codecs=opus",
        voice: bool = True,
        **options: Any,
    ) -> JsonDict:
        """A voice note (``voice=True``) or a forwarded audio file."""
        return self.message(wa_id, "audio", _media(media_id, mime_type, voice=voice), **options)

    def video(
        self,
        wa_id: str,
        media_id: str,
        *,
        mime_type: str = "video/mp4",
        caption: str | None = None,
        **options: Any,
    ) -> JsonDict:
        return self.message(wa_id, "video", _media(media_id, mime_type, caption=caption), **options)

    def location(
        self,
        wa_id: str,
        latitude: float,
        longitude: float,
        *,
        name: str | None = None,
        address: str | None = None,
        **options: Any,
    ) -> JsonDict:
        content = {"latitude": latitude, "longitude": longitude}
        content |= {key: value for key, value in (("name", name), ("address", address)) if value}
        return self.message(wa_id, "location", content, **options)

    def button_reply(
        self, wa_id: str, reply_id: str, title: str, *, context_id: str, **options: Any
    ) -> JsonDict:
        """The user tapped a reply button of our interactive message ``context_id``."""
        content = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
        return self.message(wa_id, "interactive", content, context_id=context_id, **options)

    def list_reply(
        self,
        wa_id: str,
        reply_id: str,
        title: str,
        *,
        description: str = "",
        context_id: str,
        **options: Any,
    ) -> JsonDict:
        """The user picked a row of our interactive list message ``context_id``."""
        row = {"id": reply_id, "title": title} | (
            {"description": description} if description else {}
        )
        content = {"type": "list_reply", "list_reply": row}
        return self.message(wa_id, "interactive", content, context_id=context_id, **options)

    def button(
        self, wa_id: str, text: str, payload: str, *, context_id: str, **options: Any
    ) -> JsonDict:
        """The user tapped a quick-reply button of our template message ``context_id``."""
        content = {"payload": payload, "text": text}
        return self.message(wa_id, "button", content, context_id=context_id, **options)

    def reaction(self, wa_id: str, message_id: str, emoji: str, **options: Any) -> JsonDict:
        """A reaction to ``message_id``; an empty ``emoji`` removes it."""
        content = {"message_id": message_id, "emoji": emoji}
        return self.message(wa_id, "reaction", content, **options)

    def status(
        self,
        message_id: str,
        status: str,
        recipient_id: str,
        *,
        user_id: str | None = None,
        error_code: int = 131026,
        category: str = "service",
    ) -> JsonDict:
        """A status of our message ``message_id``: sent, delivered, read or failed (with
        ``error_code``'s error); ``category`` is the pricing category of the others."""
        entry: JsonDict = {
            "id": message_id,
            "status": status,
            "timestamp": _now(),
            "recipient_id": recipient_id,
        }
        if user_id:
            entry["recipient_user_id"] = user_id
        if status == "failed":
            entry["errors"] = [ERRORS[error_code].status_error()]
        else:
            billable = category != "service"
            entry["pricing"] = {
                "billable": billable,
                "pricing_model": "PMP",
                "category": category,
                "type": "regular" if billable else "free_customer_service",
            }
        return self._envelope({"statuses": [entry]})

    def _envelope(self, value: JsonDict) -> JsonDict:
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self.waba_id,
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": self.display_phone_number,
                                    "phone_number_id": self.phone_number_id,
                                },
                                **value,
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }


def ctwa_referral(
    ctwa_clid: str = "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4N",
    *,
    source_id: str = "120208765432109876",
    headline: str = "Free delivery this week",
    body: str = "Message us to order",
) -> JsonDict:
    """The ``referral`` of the first message a user sends from a Click to WhatsApp ad."""
    return {
        "source_url": f"https://fb.me/{source_id[-8:]}",
        "source_id": source_id,
        "source_type": "ad",
        "body": body,
        "headline": headline,
        "media_type": "image",
        "image_url": "https://scontent.xx.fbcdn.net/v/ad-image.jpg",
        "ctwa_clid": ctwa_clid,
    }


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` header Meta sends with a webhook of raw ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed(payload: JsonDict, app_secret: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers of Meta's POST of ``payload`` to our webhook."""
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, app_secret)}


async def _read_body(request: web.Request) -> JsonDict:
    """JSON, or a form whose JSON-valued fields (the Conversions API's ``data``) are decoded."""
    if not request.can_read_body:
        return {}
    if request.content_type == "application/json":
        return await request.json()
    return {key: _maybe_json(value) for key, value in (await request.post()).items()}


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _access_token(request: web.Request, body: JsonDict) -> str | None:
    """The Graph API takes the token as a Bearer header or an ``access_token`` parameter."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return token
    return request.query.get("access_token") or body.get("access_token")


def _require(obj: JsonDict, param: str, *, prefix: str = "") -> Any:
    if obj.get(param) in (None, ""):
        raise _missing(f"{prefix}['{param}']" if prefix else param)
    return obj[param]


def _missing(param: str) -> GraphFailure:
    return GraphFailure(
        replace(
            ERRORS[100],
            message=f"(#100) The parameter {param} is required.",
            details=f"The parameter {param} is required.",
        )
    )


def _unknown_object(node: str, verb: str) -> GraphFailure:
    message = (
        f"Unsupported {verb} request. Object with ID '{node}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation."
    )
    return GraphFailure(GraphError(100, 400, message, type="GraphMethodException"), subcode=33)


def _wamid(wa_id: str) -> str:
    """A fresh WhatsApp message id: ``wamid.`` and an opaque base64 string, as Meta's are."""
    raw = f"{wa_id}\x15\x02\x00\x11\x18\x12{secrets.token_hex(9).upper()}".encode()
    return "wamid." + base64.b64encode(raw).decode()


def _media(media_id: str, mime_type: str, **extra: Any) -> JsonDict:
    fields = {key: value for key, value in extra.items() if value is not None}
    sha256 = hashlib.sha256(media_id.encode()).hexdigest()
    return {**fields, "mime_type": mime_type, "sha256": sha256, "id": media_id}


def _cursor(index: int) -> str:
    return base64.b64encode(str(index).encode()).decode()


def _now() -> str:
    return str(int(time.time()))
