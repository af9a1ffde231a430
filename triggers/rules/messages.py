"""Rule errors: pydantic's and the grammar's, worded for people writing rules, at their JSON
path.

Only wording lives here: what is valid is :mod:`triggers.rules.grammar`'s business. A message
says what was expected and, for near misses, what was probably meant.
"""

import difflib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from pydantic_core import ErrorDetails

from core.errors import ValidationFailed
from triggers.rules import nodes
from triggers.rules.grammar import ACTIONS, COMPARISONS, GROUPS, TAGGED, FieldValue, RuleSpec

#: What people coming from other rule languages type, by what they mean.
_MEANT: Final = {
    "equals": ("eq", "=", "==", "is"),
    "not_equals": ("ne", "neq", "!=", "not_equal"),
    "gt": (">",),
    "gte": (">=", "ge"),
    "lt": ("<",),
    "lte": ("<=", "le"),
    "regex": ("match", "matches", "re", "regexp", "pattern"),
    "contains": ("has", "includes"),
    "in": ("one_of",),
    "all": ("and",),
    "any": ("or",),
    "when": ("if", "condition"),
    "then": ("do", "actions"),
    "add_tags": ("tags", "add_tag"),
    "remove_tags": ("remove_tag",),
    "set_field": ("set", "set_fields"),
}
ALIASES: Final = {alias: meant for meant, aliases in _MEANT.items() for alias in aliases}


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

    def under(self, prefix: str) -> "RuleError":
        """The same error with its path put under a request field (``$.when`` ->
        ``rule.when``), for an API whose body holds the rule in ``prefix``."""
        return RuleError(self.message, prefix + self.path.removeprefix("$"))

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
    if isinstance(value, float | Decimal) and nodes.as_number(value) is None:
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


_OPS: Final = tuple(COMPARISONS)
_ACTIONS: Final = tuple(ACTIONS)
_CONDITION: Final = "'all', 'any', 'not' or a 'field' with an operator"
#: Each array by its key: one item, several, and what the items may be.
_ARRAYS: Final = {
    "then": ("action", "actions", "actions"),
    "all": ("condition", "conditions", "conditions"),
    "any": ("condition", "conditions", "conditions"),
    "in": ("value", "values", "strings, numbers or booleans"),
    "add_tags": ("tag name", "tag names", "tag names"),
    "remove_tags": ("tag name", "tag names", "tag names"),
}
#: Each string by its key: what it should be, and what to call it.
_STRINGS: Final = {
    "field": ("a dotted path such as 'deal.amount'", "the path"),
    "regex": ("a regular expression (string)", "the pattern"),
    "add_tags": ("a tag name (string)", "the tag name"),
    "remove_tags": ("a tag name (string)", "the tag name"),
    "name": ("a field name (string)", "the field name"),
    "value": ("a string", "the value"),
}
#: Our own errors that need no more words than these.
_LIMITS: Final = {
    "too_many_nodes": f"the rule has more than {nodes.MAX_NODES} conditions and actions; "
    "split it up",
    "too_deep": f"conditions nest deeper than {nodes.MAX_DEPTH} levels",
    "too_many_regexes": f"a rule may have at most {nodes.MAX_REGEXES} regex comparisons",
    "value_too_long": f"the value is longer than {nodes.MAX_VALUE_LENGTH} characters",
}
_OBJECTS: Final = {
    RuleSpec.__name__: 'a rule must be an object {"when": ..., "then": [...]}',
    FieldValue.__name__: 'expected an object {"name": ..., "value": ...}',
}


def explain(errors: list[ErrorDetails]) -> RuleError:
    """The first problem a reader meets, as a :class:`RuleError`: an object's unknown keys
    come before what is missing or wrong inside it (pydantic reports them last)."""
    error = errors[0]
    error = next((e for e in errors if _unknown_key_around(e, error["loc"])), error)
    loc = error["loc"]
    if error["type"] in ("missing", "extra_forbidden"):
        return RuleError(_key_message(error["type"], loc), _path(loc[:-1]))
    return RuleError(_message(error), _path(loc))


def _unknown_key_around(error: ErrorDetails, loc: tuple[int | str, ...]) -> bool:
    owner = error["loc"][:-1]
    return error["type"] == "extra_forbidden" and loc[: len(owner)] == owner


def _path(loc: tuple[int | str, ...]) -> str:
    """The JSON path of ``loc``, leaving out the union tags pydantic puts in."""
    steps = (f"[{step}]" if isinstance(step, int) else f".{step}" for step in loc)
    return "$" + "".join(step for step, raw in zip(steps, loc, strict=True) if raw not in TAGGED)


def _key(loc: tuple[int | str, ...]) -> str:
    """The key whose value failed (for an array item, the array's)."""
    return next(step for step in reversed(loc) if isinstance(step, str) and step not in TAGGED)


def _message(error: ErrorDetails) -> str:
    value, ctx = error["input"], error.get("ctx", {})
    if error["type"] in _LIMITS:
        return _LIMITS[error["type"]]
    match error["type"]:
        case "not_numeric":
            return f'expected a number or a decimal string such as "1500.00", got {describe(value)}'
        case "bad_regex":
            return f"invalid regular expression: {ctx['reason']}{_regex_advice(ctx['reason'])}"
        case "condition":
            return _condition(value)
        case "action":
            return _action(value)
        case "model_type":
            return f"{_OBJECTS[ctx['class_name']]}, got {kind(value)}"
        case "bool_type":
            return f"expected true or false, got {kind(value)}"
    key = _key(error["loc"])
    if error["type"] == "not_scalar":
        return _not_scalar(key, value)
    if error["type"] in ("list_type", "too_short", "too_long"):
        return _array(error["type"], key, value, ctx)
    return _string(error["type"], key, value, ctx)


def _not_scalar(key: str, value: Any) -> str:
    advice = ""
    if value is None:
        advice = " (to test for a missing value use 'exists': false)"
    elif isinstance(value, list | tuple) and key != "in":
        advice = " (to compare with several values use 'in')"
    return f"expected a string, number or boolean, got {describe(value)}{advice}"


def _regex_advice(reason: str) -> str:
    if "perl operator" in reason or "escape sequence" in reason:
        return " (RE2 has no backreferences or lookaround)"
    return " (use smaller repetition counts)" if "too large" in reason else ""


def _array(error: str, key: str, value: Any, ctx: dict[str, Any]) -> str:
    one, several, items = _ARRAYS[key]
    if error == "too_short":
        return f"expected at least one {one}"
    if error == "too_long":
        return f"expected at most {ctx['max_length']} {several}"
    if key == "then" and isinstance(value, Mapping):
        return "expected an array of actions, got object: wrap it in [ ]"
    if key in ("add_tags", "remove_tags") and isinstance(value, str):
        return f'expected an array of tag names such as ["{value}"], got string'
    return f"expected an array of {items}, got {kind(value)}"


def _string(error: str, key: str, value: Any, ctx: dict[str, Any]) -> str:
    expected, subject = _STRINGS[key]
    if error == "string_type":
        return f"expected {expected}, got {kind(value)}"
    if error == "string_too_long":
        return f"{subject} is longer than {ctx['max_length']} characters"
    if key == "field":
        return _field_path(value)
    return f"{subject} is {'empty' if key == 'regex' else 'blank'}"


def _field_path(value: str) -> str:
    segments = value.split(".")
    if not all(segments):
        return f"{value!r} is not a dotted path: it has an empty part"
    close = difflib.get_close_matches(segments[0].lower(), nodes.ROOTS, n=1, cutoff=0.6)
    guess = f" (did you mean {'.'.join([close[0], *segments[1:]])!r}?)" if close else ""
    return f"unknown field {value!r}{guess}: paths start with {quoted(nodes.ROOTS)}"


def _condition(node: Any) -> str:
    """Why ``node`` is no condition at all (its keys did not say which one)."""
    if not isinstance(node, Mapping):
        return (
            f"a condition must be an object with 'all', 'any', 'not' or 'field', got {kind(node)}"
        )
    if not node:
        return f"empty condition: expected {_CONDITION}"
    others = [key for key in node if key != "field"]
    if "field" in node:
        if others:
            return f"unknown operator {others[0]!r}{hint(others[0], _OPS)}"
        return f"missing operator: add one of {quoted(_OPS)}"
    if others[0] in COMPARISONS:
        return f"{others[0]!r} needs a 'field' to compare"
    choices = (*GROUPS, "field", *_OPS)
    return f"unknown key {others[0]!r}{hint(others[0], choices)}; a condition is {_CONDITION}"


def _action(node: Any) -> str:
    """Why ``node`` is no action at all (none of its keys is one)."""
    if not isinstance(node, Mapping):
        return f'an action must be an object such as {{"add_tags": ["Loyal"]}}, got {kind(node)}'
    if not node:
        return f"empty action: expected {quoted(_ACTIONS)}"
    key = next(iter(node))
    return f"unknown action {key!r}{hint(key, _ACTIONS)}"


def _key_message(error: str, loc: tuple[int | str, ...]) -> str:
    """A missing or an unknown key, worded for the object that has (or lacks) it."""
    key, owner = loc[-1], (loc[-2] if len(loc) > 1 else None)
    if error == "missing":
        field = RuleSpec.model_fields.get(str(key)) if owner is None else None
        about = field.description if field else None
        return f"missing {key!r}" + (f": {about[0].lower()}{about[1:-1]}" if about else "")
    if owner is None:
        return (
            f"unknown key {key!r}{hint(key, ('when', 'then'))}; a rule has only 'when' and 'then'"
        )
    if owner == "set_field":
        return (
            f"unknown key {key!r}{hint(key, ('name', 'value'))}; set_field has 'name' and 'value'"
        )
    first = TAGGED[str(owner)].key
    if first in GROUPS:
        return (
            f"{first!r} cannot be combined with {key!r} in one condition; "
            "nest them with 'all' or 'any'"
        )
    if first in ACTIONS:
        if key in ACTIONS:
            return f"one action per object, found {first!r} and {key!r}"
        return f"unknown action {key!r}{hint(key, _ACTIONS)}"
    if key in COMPARISONS:
        return (
            f"one operator per comparison, found {first!r} and {key!r}; "
            "combine comparisons with 'all' or 'any'"
        )
    return f"unknown operator {key!r}{hint(key, _OPS)}"
