"""The rule error and the words its messages are made of: JSON type names and near misses."""

import difflib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from core.errors import ValidationFailed
from triggers.rules.nodes import as_number

#: What people coming from other rule languages type, and what they mean.
ALIASES: Final = {
    "eq": "equals",
    "=": "equals",
    "==": "equals",
    "is": "equals",
    "ne": "not_equals",
    "neq": "not_equals",
    "!=": "not_equals",
    "not_equal": "not_equals",
    ">": "gt",
    ">=": "gte",
    "ge": "gte",
    "<": "lt",
    "<=": "lte",
    "le": "lte",
    "match": "regex",
    "matches": "regex",
    "re": "regex",
    "regexp": "regex",
    "pattern": "regex",
    "has": "contains",
    "includes": "contains",
    "one_of": "in",
    "and": "all",
    "or": "any",
    "if": "when",
    "condition": "when",
    "do": "then",
    "actions": "then",
    "tags": "add_tags",
    "add_tag": "add_tags",
    "remove_tag": "remove_tags",
    "set": "set_field",
    "set_fields": "set_field",
}


class RuleError(ValidationFailed):
    """A rule is not valid. ``path`` is the JSON path of the offending node (``$.when.all[1]``).

    It is a :class:`core.errors.ValidationFailed` with code ``invalid_rule``: raised through
    the web layer it becomes a 422 whose ``field`` is the path and whose ``message`` is the
    bare message. ``str(error)`` is ``"<path>: <message>"``, the form to show a user.
    """

    code = "invalid_rule"

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message, field=path)
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def __reduce__(self) -> tuple[type["RuleError"], tuple[str, str]]:
        return (RuleError, (self.message, self.path))


def kind(value: Any) -> str:
    """The JSON name of ``value``'s type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def describe(value: Any) -> str:
    """The JSON type of ``value``, and the value itself when it is short and telling."""
    if isinstance(value, str):
        return f"string {value[:40]!r}" if len(value) <= 40 else "a string"
    if isinstance(value, float | Decimal) and as_number(value) is None:
        return f"{value} (numbers must be finite)"
    return kind(value)


def hint(word: Any, choices: tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for a near miss of one of ``choices``, else ``""``."""
    if not isinstance(word, str):
        return ""
    guess = ALIASES.get(word.lower())
    if guess not in choices:
        close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
        guess = close[0] if close else None
    return f" (did you mean {guess!r}?)" if guess else ""


def quoted(names: tuple[str, ...]) -> str:
    """``'a', 'b' or 'c'``."""
    return ", ".join(repr(name) for name in names[:-1]) + f" or {names[-1]!r}"
