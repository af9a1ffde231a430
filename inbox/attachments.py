"""What each messenger accepts as a photo or a document, decided before anything is queued.

Telegram's Bot API takes photos up to 10 MB (sendPhoto) and any file up to 50 MB
(sendDocument). The WhatsApp Cloud API takes JPEG and PNG images up to 5 MB, and
documents of its listed types (PDF, text, Word, Excel, PowerPoint) up to 100 MB. A file
the platform would refuse is refused here with the reason, so an operator learns it at
once instead of from a failed bubble minutes later. Sizes are decimal megabytes, the
stricter reading of the platforms' "MB".
"""

import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from core.errors import ValidationFailed
from inbox.models import ChannelKind

MB = 1_000_000
JPEG, PNG, WEBP = "image/jpeg", "image/png", "image/webp"
#: How an image of each type begins: a photo must be what it says it is.
SIGNATURES = {
    JPEG: re.compile(b"\xff\xd8\xff"),
    PNG: re.compile(b"\x89PNG\r\n\x1a\n"),
    WEBP: re.compile(b"RIFF....WEBP", re.DOTALL),
}
#: The document types the Cloud API lists as supported.
WHATSAPP_DOCUMENTS = frozenset(
    {
        "text/plain",
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
#: The longest caption both platforms take.
CAPTION_MAX = 1024
#: Bytes of a file's start that :func:`sort_file` looks at.
HEAD = 16


@dataclass(frozen=True)
class Limits:
    """One messenger's photos (their types and size) and documents (types, ``None``: any)."""

    platform: str
    photo_types: frozenset[str]
    photo_bytes: int
    document_types: frozenset[str] | None
    document_bytes: int


LIMITS = {
    ChannelKind.TELEGRAM: Limits("Telegram", frozenset({JPEG, PNG, WEBP}), 10 * MB, None, 50 * MB),
    ChannelKind.WHATSAPP: Limits(
        "WhatsApp", frozenset({JPEG, PNG}), 5 * MB, WHATSAPP_DOCUMENTS, 100 * MB
    ),
}
#: The largest file any channel takes: what an upload request may carry.
LARGEST = max(limit.document_bytes for limit in LIMITS.values())


def sort_file(channel: ChannelKind, *, mime_type: str, size: int, head: bytes) -> str:
    """``image`` or ``document``: how the file goes out on ``channel``, or
    :class:`ValidationFailed` (field ``file``) saying why the platform would refuse it."""
    limits = LIMITS[channel]
    if size == 0:
        raise ValidationFailed("the file is empty", field="file")
    if mime_type in limits.photo_types:
        if not SIGNATURES[mime_type].match(head):
            raise ValidationFailed(f"the file is not the {mime_type} it claims to be", field="file")
        _check_size(size, limits.photo_bytes, f"a photo on {limits.platform}")
        return "image"
    if limits.document_types is not None and mime_type not in limits.document_types:
        raise ValidationFailed(
            f"{limits.platform} does not take {mime_type} files: send a JPEG or PNG photo,"
            " or a PDF, text, Word, Excel or PowerPoint document",
            field="file",
        )
    _check_size(size, limits.document_bytes, f"a document on {limits.platform}")
    return "document"


def _check_size(size: int, most: int, what: str) -> None:
    if size > most:
        raise ValidationFailed(
            f"{what} may be at most {most // MB} MB; this file is {size / MB:.1f} MB",
            field="file",
        )


def mime_type(declared: str | None, file_name: str) -> str:
    """The file's type as the client declared it, or guessed from its name when the
    client only said "bytes" (``application/octet-stream``) or nothing."""
    found = (declared or "").split(";")[0].strip().lower()
    if found in ("", "application/octet-stream"):
        found = mimetypes.guess_type(file_name, strict=False)[0] or "application/octet-stream"
    return found


def display_name(name: str) -> str:
    """The client's file name as people see it (never a path: it names nothing on disk):
    the last path component, without control characters, at most 200 characters."""
    last = PurePosixPath(name.replace("\\", "/")).name
    clean = "".join(c for c in last if unicodedata.category(c)[0] != "C").strip()
    clean = re.sub(r"\s+", " ", clean)[:200]
    return clean if clean.strip(".") else "file"
