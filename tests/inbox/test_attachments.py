"""Each platform's photo and document rules, file names people see, and the file store."""

import io
from pathlib import Path

import pytest

from core.errors import NotFound, ValidationFailed
from core.files import FileStore
from inbox.attachments import MB, display_name, mime_type, sort_file
from inbox.models import ChannelKind

TELEGRAM, WHATSAPP = ChannelKind.TELEGRAM, ChannelKind.WHATSAPP
JPEG_HEAD, PNG_HEAD = b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n"
WEBP_HEAD = b"RIFF\x10\x00\x00\x00WEBPVP8 "
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.parametrize(
    ("channel", "mime", "size", "head", "kind"),
    [
        (TELEGRAM, "image/jpeg", 10 * MB, JPEG_HEAD, "image"),
        (TELEGRAM, "image/webp", 1000, WEBP_HEAD, "image"),
        (TELEGRAM, "image/gif", 1000, b"GIF89a", "document"),  # no photo: a file
        (TELEGRAM, "application/zip", 50 * MB, b"PK", "document"),
        (WHATSAPP, "image/png", 5 * MB, PNG_HEAD, "image"),
        (WHATSAPP, "application/pdf", 100 * MB, b"%PDF", "document"),
        (WHATSAPP, DOCX, 1000, b"PK", "document"),
        (WHATSAPP, "text/plain", 10, b"hello", "document"),
    ],
)
def test_files_each_platform_takes(
    channel: ChannelKind, mime: str, size: int, head: bytes, kind: str
) -> None:
    assert sort_file(channel, mime_type=mime, size=size, head=head) == kind


@pytest.mark.parametrize(
    ("channel", "mime", "size", "head", "reason"),
    [
        (TELEGRAM, "image/jpeg", 10 * MB + 1, JPEG_HEAD, "photo on Telegram may be at most 10 MB"),
        (TELEGRAM, "application/pdf", 50 * MB + 1, b"%PDF", "on Telegram may be at most 50 MB"),
        (TELEGRAM, "image/png", 100, JPEG_HEAD, "not the image/png it claims"),
        (TELEGRAM, "image/webp", 100, b"RIFF\x00\x00\x00\x00WAVE", "not the image/webp"),
        (WHATSAPP, "image/jpeg", 5 * MB + 1, JPEG_HEAD, "photo on WhatsApp may be at most 5 MB"),
        (WHATSAPP, "application/pdf", 100 * MB + 1, b"%PDF", "100 MB; this file is 100.0 MB"),
        (WHATSAPP, "image/webp", 100, WEBP_HEAD, "WhatsApp does not take image/webp files"),
        (WHATSAPP, "video/mp4", 100, b"", "WhatsApp does not take video/mp4"),
        (WHATSAPP, "application/pdf", 0, b"", "the file is empty"),
    ],
)  # fmt: skip
def test_files_a_platform_would_refuse_are_refused_with_the_reason(
    channel: ChannelKind, mime: str, size: int, head: bytes, reason: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        sort_file(channel, mime_type=mime, size=size, head=head)
    assert reason in refused.value.message and refused.value.field == "file"


def test_the_type_comes_from_the_client_or_else_the_name() -> None:
    assert mime_type("image/PNG; charset=binary", "x.jpg") == "image/png"
    assert mime_type("application/octet-stream", "Invoice.PDF") == "application/pdf"
    assert mime_type(None, "notes.txt") == "text/plain"
    assert mime_type("", "no-extension") == "application/octet-stream"


def test_a_file_name_is_never_a_path() -> None:
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("C:\\Users\\ann\\Desktop\\price list.pdf") == "price list.pdf"
    assert display_name("bad\x00\nname\u202e.pdf") == "badname.pdf"
    assert display_name("   ") == display_name("..") == "file"
    assert len(display_name("a" * 500 + ".pdf")) == 200


def test_the_store_keeps_files_by_content(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "media")
    digest, size = store.put(io.BytesIO(b"hello"))
    assert size == 5 and digest.startswith("2cf24dba")
    assert store.path(digest).read_bytes() == b"hello"
    assert store.put(io.BytesIO(b"hello")) == (digest, 5)
    kept = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert kept == [tmp_path / "media" / digest[:2] / digest]  # no temporary file left
    for bad in ("../../etc/passwd", digest.upper(), digest[:-1], "0" * 64):
        with pytest.raises(NotFound):
            store.path(bad)
