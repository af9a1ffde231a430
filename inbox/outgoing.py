"""Saying something to a customer: the service functions pages, the API and triggers call.

Each records the outbound message, queues its send and records ``message.queued``, in
one transaction (``inbox.dialogs.queue``); the outbox worker (``bot.outbox``) only sends
what is queued, so nothing that wants to say something imports the worker.

Some sends are wanted only while something still holds when they come due (a stage
trigger's message while the deal is in the stage, a reminder while its booking stands).
The inbox cannot know those rules, and may not import the layers that do, so the queued
row names its ``purpose`` and the layer that owns the purpose registers a check for it
here (:func:`register_check`); the worker asks :func:`unwanted` before each send.
"""

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import IO

from core.errors import ValidationFailed
from core.events import change
from core.files import FileStore
from core.models import User
from inbox.attachments import CAPTION_MAX, HEAD, display_name, mime_type, sort_file
from inbox.dialogs import check_service_window, get_dialog, queue
from inbox.models import Author, Dialog, Message, Outbox

#: Why a due message is no longer wanted, or None to send it.
Check = Callable[[Message], Awaitable[str | None]]
_checks: dict[str, Check] = {}


def register_check(purpose: str, check: Check) -> Callable[[], None]:
    """Have ``check`` decide, when a send queued for ``purpose`` is due, whether it still
    goes; returns the function that takes the check back."""
    _checks[purpose] = check

    def take_back() -> None:
        _checks.pop(purpose, None)

    return take_back


async def unwanted(row: Outbox, message: Message) -> str | None:
    """Why the due send ``row`` of ``message`` is no longer wanted, or None to send it.

    A purpose nobody registered a check for raises :class:`LookupError`: the send waits
    and is retried rather than going out unchecked.
    """
    if row.purpose is None:
        return None
    check = _checks.get(row.purpose)
    if check is None:
        raise LookupError(f"no check is registered for sends queued for {row.purpose!r}")
    return await check(message)


async def send_text(*, actor: User, dialog_id: int, text: str) -> Message:
    """An operator's reply. WhatsApp refuses free text outside the 24-hour window."""
    dialog = await _dialog(dialog_id)
    if dialog.channel.kind == "whatsapp":
        check_service_window(dialog)
    async with change(actor) as batch:
        return await queue(
            batch, dialog=dialog, author=Author.OPERATOR, author_user=actor, text=text
        )


@dataclass(frozen=True)
class Upload:
    """A file as the client sent it: its bytes (a seekable file), name and declared type."""

    file: IO[bytes]
    file_name: str
    content_type: str | None = None


async def send_file(
    *, actor: User, dialog_id: int, store: FileStore, upload: Upload, caption: str = ""
) -> Message:
    """An operator's photo or document, with ``caption`` (may be empty).

    The platform's types and sizes are checked first (``inbox.attachments``), then the
    file is kept in ``store`` under its SHA-256 and queued like any reply, so the outbox
    sends it with the same order, pacing, retries and statuses. The message's ``kind``
    is ``image`` or ``document``; its ``payload`` holds ``sha256``, ``size``,
    ``mime_type`` and the ``file_name`` shown to people.
    """
    if len(caption) > CAPTION_MAX:
        raise ValidationFailed(
            f"a caption may be at most {CAPTION_MAX} characters", field="caption"
        )
    dialog = await _dialog(dialog_id)
    if dialog.channel.kind == "whatsapp":
        check_service_window(dialog)
    name = display_name(upload.file_name)
    declared = mime_type(upload.content_type, name)
    upload.file.seek(0)
    head = upload.file.read(HEAD)
    size = upload.file.seek(0, os.SEEK_END)
    kind = sort_file(dialog.channel.kind, mime_type=declared, size=size, head=head)
    sha256, size = store.put(upload.file)
    payload = {"sha256": sha256, "size": size, "mime_type": declared, "file_name": name}
    async with change(actor) as batch:
        return await queue(
            batch, dialog=dialog, author=Author.OPERATOR, author_user=actor, text=caption,
            kind=kind, payload=payload,
        )  # fmt: skip


async def send_template(
    *, actor: User, dialog_id: int, name: str, language: str, parameters: list[str]
) -> Message:
    """An approved WhatsApp template: the way to write first or after the 24-hour window.

    The message's text is the template's name (Meta renders the body); ``payload``
    holds ``{"template": {name, language, parameters}}``. Whether the template exists
    is Meta's answer: an unknown one fails the message with code 132001.
    """
    dialog = await _dialog(dialog_id)
    if dialog.channel.kind != "whatsapp":
        raise ValidationFailed("message templates are a WhatsApp feature", field="name")
    template = {"name": name, "language": language, "parameters": list(parameters)}
    async with change(actor) as batch:
        return await queue(
            batch,
            dialog=dialog,
            author=Author.OPERATOR,
            author_user=actor,
            text=name,
            kind="template",
            payload={"template": template},
        )


async def _dialog(dialog_id: int) -> Dialog:
    """The dialog with its channel (whose kind decides what may be sent)."""
    dialog = await get_dialog(dialog_id=dialog_id)
    await dialog.fetch_related("channel")
    return dialog
