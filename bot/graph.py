"""A small client of the WhatsApp Cloud API (Meta's Graph API) on a shared aiohttp session.

Only what the outbox, the template picker, the Conversions API sender and the inbox
need: send a text, a template or uploaded media, list the account's templates, post
conversion events, download a customer's media. Errors come back in Graph's envelope
(``{"error": {"message", "type", "code", "error_subcode", "error_data": {"details"}}}``)
and are raised as :class:`GraphError`, which keeps the code the caller decides by.
"""

import json as jsonlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, FormData

#: Templates per page when listing (Graph's maximum is higher, its default 25).
PAGE_SIZE = 100
#: How much of an unreadable answer an error quotes.
EXCERPT = 200


def excerpt(content: object) -> str:
    """The start of an answer that is not the API's (a proxy's page, a cut-off body),
    quoted in a reason: enough to recognise it, never the whole of a large page."""
    text = content.decode(errors="replace") if isinstance(content, bytes) else str(content)
    return repr(text if len(text) <= EXCERPT else f"{text[:EXCERPT]}...")


class GraphError(Exception):
    """A Graph API error answer; ``code`` is None when the body was not Graph's envelope."""

    def __init__(
        self, status: int, code: int | None, message: str, details: str | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        text = message if code is None else f"{code}: {message}"
        super().__init__(f"{text} ({details})" if details else text)

    @classmethod
    def from_answer(cls, status: int, body: Any, raw: bytes = b"") -> "GraphError":
        """The error an answer means; ``raw`` is quoted when it is not Graph's envelope."""
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return cls(status, None, f"HTTP {status} without a Graph error body: {excerpt(raw)}")
        data = error.get("error_data")
        details = data.get("details") if isinstance(data, dict) else None
        code = str(error.get("code"))
        return cls(
            status,
            int(code) if code.isdigit() else None,
            str(error.get("message") or "unknown error"),
            str(details) if details else None,
        )


@dataclass
class Template:
    """A message template as Meta lists it; only APPROVED ones can be sent."""

    id: str
    name: str
    language: str
    status: str
    category: str
    components: list[dict[str, Any]] = field(default_factory=list)


class GraphClient:
    """Calls on behalf of one access token; ``base_url`` includes the API version.

    A request taking longer than ``timeout`` seconds is abandoned (the outbox keeps its
    sends shorter than its claims).
    """

    def __init__(
        self, session: ClientSession, base_url: str, access_token: str, *, timeout: float = 10
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._timeout = ClientTimeout(total=timeout)

    async def send_text(self, phone_number_id: str, to: str, body: str) -> str:
        """Send free text (inside the 24-hour window); returns the wamid."""
        return await self._send(phone_number_id, to, "text", {"body": body, "preview_url": False})

    async def send_template(
        self, phone_number_id: str, to: str, name: str, language: str, parameters: list[str]
    ) -> str:
        """Send an approved template with positional body parameters; returns the wamid."""
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if parameters:
            body = [{"type": "text", "text": value} for value in parameters]
            template["components"] = [{"type": "body", "parameters": body}]
        return await self._send(phone_number_id, to, "template", template)

    async def upload_media(
        self, phone_number_id: str, path: Path | str, file_name: str, mime_type: str
    ) -> str:
        """Upload a file to the number's media (multipart, as Meta documents); the media id."""
        with open(path, "rb") as file:  # noqa: ASYNC230  (aiohttp streams it from here)
            form = FormData()
            form.add_field("messaging_product", "whatsapp")
            form.add_field("type", mime_type)
            form.add_field("file", file, filename=file_name, content_type=mime_type)
            answer = await self._call("POST", f"{self._base}/{phone_number_id}/media", data=form)
        media_id = answer.get("id")
        if not media_id:
            raise GraphError(200, None, "the upload's answer carries no media id")
        return str(media_id)

    async def send_media(
        self,
        phone_number_id: str,
        to: str,
        kind: str,
        media_id: str,
        *,
        caption: str = "",
        file_name: str | None = None,
    ) -> str:
        """Send uploaded media as an ``image`` or ``document`` message; returns the wamid.
        A document carries the file name the customer sees."""
        content: dict[str, Any] = {"id": media_id}
        if caption:
            content["caption"] = caption
        if file_name:
            content["filename"] = file_name
        return await self._send(phone_number_id, to, kind, content)

    async def download_media(self, media_id: str) -> tuple[bytes, str]:
        """A customer's photo, document or voice note and its MIME type. Graph answers the
        media id with a short-lived URL, which is fetched with the same token."""
        media = await self._call("GET", f"{self._base}/{media_id}")
        url = media.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise GraphError(200, None, f"the media answer carries no url: {excerpt(media)}")
        async with self._session.get(url, headers=self._headers, timeout=self._timeout) as response:
            content = await response.read()
        if response.status >= 400:
            raise GraphError.from_answer(response.status, None, content)
        return content, str(media.get("mime_type") or response.content_type)

    async def list_templates(self, waba_id: str) -> list[Template]:
        """Every template of the business account, following Graph's ``paging.next``."""
        found: list[Template] = []
        url: str | None = f"{self._base}/{waba_id}/message_templates"
        params: dict[str, str] | None = {"limit": str(PAGE_SIZE)}
        while url:
            page = await self._call("GET", url, params=params)
            data = page.get("data") or []
            found += [_template(raw) for raw in data]
            # ``next`` is a complete URL (cursor included); an empty page ends it too
            url = (page.get("paging") or {}).get("next") if data else None
            params = None
        return found

    async def send_events(
        self, dataset_id: str, events: list[dict[str, Any]], test_event_code: str | None
    ) -> int:
        """Post server events to the Conversions API; returns how many Meta received."""
        body: dict[str, Any] = {"data": events}
        if test_event_code:
            body["test_event_code"] = test_event_code
        answer = await self._call("POST", f"{self._base}/{dataset_id}/events", json=body)
        return int(answer.get("events_received") or 0)

    async def _send(self, phone_number_id: str, to: str, kind: str, content: dict) -> str:
        answer = await self._call(
            "POST",
            f"{self._base}/{phone_number_id}/messages",
            json={
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": kind,
                kind: content,
            },
        )
        messages = answer.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else None
        wamid = first.get("id") if isinstance(first, dict) else None
        if not isinstance(wamid, str) or not wamid:
            raise GraphError(200, None, f"the answer carries no message id: {excerpt(answer)}")
        return wamid

    async def _call(
        self,
        method: str,
        url: str,
        *,
        json: dict[str, Any] | None = None,
        data: FormData | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        async with self._session.request(
            method, url, json=json, data=data, params=params, headers=self._headers,
            timeout=self._timeout,
        ) as response:  # fmt: skip
            raw = await response.read()
        try:
            body = jsonlib.loads(raw)
        except ValueError:  # an HTML error page from a proxy, a body cut off, not UTF-8
            body = None
        if response.status >= 400 or not isinstance(body, dict) or "error" in body:
            raise GraphError.from_answer(response.status, body, raw)
        return body


def _template(raw: dict[str, Any]) -> Template:
    return Template(
        id=str(raw.get("id", "")),
        name=str(raw.get("name", "")),
        language=str(raw.get("language", "")),
        status=str(raw.get("status", "")),
        category=str(raw.get("category", "")),
        components=list(raw.get("components") or []),
    )
