"""Opaque keyset cursors: the last row's sort value and id, as URL-safe text.

Lists hand them out as ``next_cursor`` and take them back as ``cursor``; anything else
is refused as bad input rather than a server error.
"""

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from core.errors import ValidationFailed
from core.events import jsonable


def encode(value: Any, row_id: int) -> str:
    """The cursor after the row with sort ``value`` and ``row_id``."""
    raw = json.dumps([jsonable(value), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, parse: Callable[[Any], Any]) -> tuple[Any, int]:
    """The (sort value, id) a cursor carries; ``parse`` turns the JSON value back (never
    called for ``None``). Raises :class:`ValidationFailed` for a cursor we did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, row_id = json.loads(raw)
        if not isinstance(row_id, int):
            raise TypeError(row_id)
        return (None if value is None else parse(value)), row_id
    except (binascii.Error, ValueError, TypeError, ArithmeticError):
        raise ValidationFailed("cursor is not one this list handed out", field="cursor") from None
