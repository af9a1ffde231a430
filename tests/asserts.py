"""Assertions shared by the API tests."""

from typing import Any

#: ``field`` not checked.
ANY_FIELD: Any = object()


def assert_error(
    status: int, body: object, expected: int, code: str, field: str | None = ANY_FIELD
) -> None:
    """The answer is the one error shape: ``expected`` status, ``{"error": {code, message,
    field}}`` with a non-empty message, and (when given) that field, ``None`` included."""
    assert status == expected, body
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    if field is not ANY_FIELD:
        assert body["error"]["field"] == field, body
