"""Deal rules: a small JSON language that tests a deal and says which tags and fields to change.

The *Deal source* stage trigger runs a rule when a deal reaches its stage, and deal
automations use the same conditions. This module is pure: the caller builds the *facts*
document for a deal, and applies the :class:`Outcome`.

A rule is ``{"when": <condition>, "then": [<action>, ...]}``.

Conditions
    ``{"all": [c, ...]}`` every condition holds; ``{"any": [c, ...]}`` at least one does
    (both lists are non-empty); ``{"not": c}`` the condition does not hold; and a comparison
    ``{"field": "<dotted path>", "<operator>": <value>}`` with exactly one operator:

    ============== ===================================== =======================================
    operator       value                                 holds when the field...
    ============== ===================================== =======================================
    ``equals``     string, number or boolean             equals it (numbers compare as decimals)
    ``not_equals`` string, number or boolean             is present and does not equal it
    ``contains``   string, number or boolean             is a string containing it, or a list
                                                         with an element equal to it
    ``regex``      RE2 pattern (at most 500 characters)  is a string the pattern finds a match
                                                         in (only its first 10 000 characters)
    ``in``         non-empty list of those scalars       equals one of them; a list field holds
                                                         when any of its elements is in the list
    ``exists``     ``true`` / ``false``                  is present / is absent
    ``gt`` ``gte`` number or decimal string ("1500.00")  is a number greater (or equal), less
    ``lt`` ``lte``                                       (or equal); decimal strings count
    ============== ===================================== =======================================

    A field that is missing, or ``null``, is *absent*: only ``exists: false`` holds for it
    (and ``not`` around any other comparison). So ``not_equals`` wants the field present,
    while ``{"not": {"field": ..., "equals": ...}}`` also holds when it is absent.

    Numbers: JSON numbers, ``Decimal`` and strings of the form ``-123`` or ``-123.45`` are
    numeric and compare exactly as decimals; ``true``/``false`` are never numbers. Strings
    compare with strings exactly (case-sensitive; use ``regex`` with ``(?i)`` otherwise).

Actions
    ``{"add_tags": ["Loyal", ...]}``, ``{"remove_tags": [...]}`` (tag names: 1-64
    characters, trimmed) and ``{"set_field": {"name": "<custom field>", "value": "<text>"}}``.
    They apply in order: adding a tag a previous action removed takes it off the remove list,
    and the last ``set_field`` of a name wins. Whether the tags and fields exist is the
    caller's business.

Limits
    Conditions nest at most :data:`MAX_DEPTH` (10) levels, a rule has at most
    :data:`MAX_NODES` (200) nodes (conditions plus actions) and :data:`MAX_REGEXES` (10)
    ``regex`` comparisons, so evaluation stays cheap.

Facts
    A plain ``dict`` the caller builds for one deal. Paths are dotted keys into it; a
    mapping key that itself contains dots (a custom field called ``Ref. no``) is found too,
    the longest matching key first. Paths start with one of :data:`ROOTS`::

        {
          "deal": {"id": 7, "title": "Anna - sofa", "amount": "1500.00",  # Decimal, str or None
                   "currency": "USD", "reference": "A-17", "close_date": "2026-05-01",
                   "tags": ["VIP"],                                     # tag names
                   "fields": {"Notes": "call after 6pm"}},              # custom fields by name
          "pipeline": {"id": 1, "name": "Sales"},
          "stage": {"id": 3, "name": "Won", "probability": 100, "kind": "won"},
          "contact": {"id": 5, "name": "Anna", "phone": "+14155552671",  # the first contact
                      "email": "anna@example.com", "won_deals": 3},
          "dialog": {"channel": "whatsapp",                               # or "telegram"
                     "ctwa_clid": "ARAk...",                              # click-to-WhatsApp ad
                     "first_message": {"text": "I saw your ad",
                                       "referral": {"ctwa_clid": "ARAk...",
                                                    "source_type": "ad", ...}}},
          "booking": {"status": "confirmed", ...},                        # the Altegio booking
          "event": {"kind": "deal.updated",                               # what just happened
                    "changes": {"amount": {"from": "10.00", "to": "25.00"}}},
        }

    Dates and times are ISO 8601 strings. Leave out (or set to ``None``) whatever a deal
    does not have: a deal without a dialog has no ``dialog`` key.
"""

import dataclasses
import difflib
import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TypeAlias

import re2

from core.errors import ValidationFailed

__all__ = [
    "MAX_DEPTH",
    "MAX_INPUT_LENGTH",
    "MAX_NODES",
    "MAX_PATTERN_LENGTH",
    "MAX_REGEXES",
    "ROOTS",
    "RULE_JSON_SCHEMA",
    "SCHEMA_PATH",
    "Action",
    "AddTags",
    "AllOf",
    "AnyOf",
    "Compare",
    "Condition",
    "Not",
    "Op",
    "Outcome",
    "RemoveTags",
    "Rule",
    "RuleError",
    "SetField",
    "evaluate",
    "parse_condition",
    "parse_rule",
    "schema_json",
]

#: How deep conditions may nest: a comparison directly under ``when`` is level 1.
MAX_DEPTH: Final = 10
#: How many conditions and actions a rule may have in all.
MAX_NODES: Final = 200
#: The longest ``regex`` pattern, in characters.
MAX_PATTERN_LENGTH: Final = 500
#: How many ``regex`` comparisons a rule may have: a search is linear, but a pattern with
#: large counted repetitions (``.{999}x``) costs tens of milliseconds per 10 000 characters,
#: and each compiled pattern may take up to 8 MiB for RE2's automaton.
MAX_REGEXES: Final = 10
#: ``regex`` searches at most this many leading characters of a value.
MAX_INPUT_LENGTH: Final = 10_000
#: The longest string a comparison or ``set_field`` value may be.
MAX_VALUE_LENGTH: Final = 1000
#: The most values an ``in`` list may have.
MAX_IN_VALUES: Final = 100
#: The most tags one ``add_tags`` / ``remove_tags`` may name.
MAX_TAGS: Final = 50
#: Tag and custom field names are at most this long (the ``tag`` / ``custom_field`` columns).
MAX_TAG_LENGTH: Final = 64
MAX_FIELD_NAME_LENGTH: Final = 100
#: The longest field path.
MAX_PATH_LENGTH: Final = 200
#: The longest decimal string taken for a number.
MAX_NUMBER_LENGTH: Final = 64
#: The top-level keys of the facts document, where every field path starts.
ROOTS: Final = ("deal", "pipeline", "stage", "contact", "dialog", "booking", "event")

#: Where ``python -m triggers.rules`` writes :data:`RULE_JSON_SCHEMA`.
SCHEMA_PATH: Final = Path(__file__).with_name("rules_schema.json")

_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DECIMAL_PATTERN = "^-?[0-9]+(\\.[0-9]+)?$"
_PATH_PATTERN = "^(" + "|".join(ROOTS) + ")(\\.[^.]+)*$"

_ABSENT: Final = object()


class Op(StrEnum):
    """The comparison operators."""

    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    CONTAINS = "contains"
    REGEX = "regex"
    IN = "in"
    EXISTS = "exists"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"


_ORDER: Final[dict[Op, Callable[[Decimal, Decimal], bool]]] = {
    Op.GT: operator.gt,
    Op.GTE: operator.ge,
    Op.LT: operator.lt,
    Op.LTE: operator.le,
}
_OPS: Final = tuple(op.value for op in Op)
_GROUPS: Final = ("all", "any", "not")
_ACTIONS: Final = ("add_tags", "remove_tags", "set_field")
#: What people coming from other rule languages type, and what they mean.
_ALIASES: Final = {
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


# --- the language -----------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    """``value`` as a finite decimal, or ``None`` if it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and len(value) <= MAX_NUMBER_LENGTH and _DECIMAL.fullmatch(value):
        return Decimal(value)
    return None


def _equal(fact: Any, expected: Decimal | str | bool) -> bool:
    """Equality without Python's surprises: ``True != 1``, ``Decimal("1.50") == 1.5``."""
    if isinstance(expected, bool):
        return isinstance(fact, bool) and fact == expected
    if isinstance(expected, Decimal):
        number = _number(fact)
        return number is not None and number == expected
    if isinstance(fact, str):
        return fact == expected
    number = _number(fact)  # a numeric fact against a decimal string
    return number is not None and number == _number(expected)


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple | set | frozenset)


def _lookup(node: Any, segments: tuple[str, ...], start: int = 0) -> Any:
    """The value at ``segments[start:]`` below ``node``, or ``_ABSENT``; ``None`` is absent."""
    if start == len(segments):
        return _ABSENT if node is None else node
    if not isinstance(node, Mapping):
        return _ABSENT
    for end in range(len(segments), start, -1):  # a key may contain dots: longest first
        key = ".".join(segments[start:end])
        if key in node:
            return _lookup(node[key], segments, end)
    return _ABSENT


def _compile(pattern: str) -> Any:
    """``pattern`` compiled by RE2, which runs in linear time; raises ``re2.error``."""
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    return re2.compile(pattern, options)


def _operand(op: Op, value: Any) -> Any:
    """What a comparison tests against, prepared once: decimals, a compiled regex."""
    if op is Op.REGEX:
        return _compile(value)
    if op in _ORDER:
        return _number(value)
    if op is Op.IN:
        return tuple(_scalar(item) for item in value)
    if op is Op.EXISTS:
        return value
    return _scalar(value)


def _scalar(value: Any) -> Decimal | str | bool:
    if isinstance(value, bool | str):
        return value
    number = _number(value)
    if number is None:
        raise ValueError(f"not a string, number or boolean: {value!r}")
    return number


@dataclass(frozen=True)
class Compare:
    """``{"field": field, op: value}``: one comparison of a fact.

    :func:`parse_rule` validates ``value`` before building one. It is kept as written, except
    that an ``in`` list becomes a tuple.
    """

    field: str
    op: Op
    value: Any
    _segments: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)
    _operand: Any = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "op", Op(self.op))
        if isinstance(self.value, list):
            object.__setattr__(self, "value", tuple(self.value))
        object.__setattr__(self, "_segments", tuple(self.field.split(".")))
        object.__setattr__(self, "_operand", _operand(self.op, self.value))

    def matches(self, facts: Mapping[str, Any]) -> bool:
        """Whether the comparison holds for ``facts``."""
        fact = _lookup(facts, self._segments)
        if fact is _ABSENT:
            return self.op is Op.EXISTS and self.value is False
        operand = self._operand
        match self.op:
            case Op.EXISTS:
                return operand is True
            case Op.EQUALS:
                return _equal(fact, operand)
            case Op.NOT_EQUALS:
                return not _equal(fact, operand)
            case Op.CONTAINS:
                if isinstance(fact, str):
                    return isinstance(operand, str) and operand in fact
                return _is_list(fact) and any(_equal(item, operand) for item in fact)
            case Op.REGEX:
                if not isinstance(fact, str):
                    return False
                return operand.search(fact[:MAX_INPUT_LENGTH]) is not None
            case Op.IN:
                items = fact if _is_list(fact) else (fact,)
                return any(_equal(item, wanted) for item in items for wanted in operand)
            case _:
                number = _number(fact)
                return number is not None and _ORDER[self.op](number, operand)

    def to_json(self) -> dict[str, Any]:
        """The comparison as rule JSON."""
        return {"field": self.field, self.op.value: _plain(self.value)}


@dataclass(frozen=True)
class AllOf:
    """``{"all": [...]}``: holds when every condition does."""

    conditions: tuple["Condition", ...]

    def matches(self, facts: Mapping[str, Any]) -> bool:
        """Whether every condition holds for ``facts``."""
        return all(condition.matches(facts) for condition in self.conditions)

    def to_json(self) -> dict[str, Any]:
        """The condition as rule JSON."""
        return {"all": [condition.to_json() for condition in self.conditions]}


@dataclass(frozen=True)
class AnyOf:
    """``{"any": [...]}``: holds when at least one condition does."""

    conditions: tuple["Condition", ...]

    def matches(self, facts: Mapping[str, Any]) -> bool:
        """Whether some condition holds for ``facts``."""
        return any(condition.matches(facts) for condition in self.conditions)

    def to_json(self) -> dict[str, Any]:
        """The condition as rule JSON."""
        return {"any": [condition.to_json() for condition in self.conditions]}


@dataclass(frozen=True)
class Not:
    """``{"not": ...}``: holds when the condition does not."""

    condition: "Condition"

    def matches(self, facts: Mapping[str, Any]) -> bool:
        """Whether the condition fails for ``facts``."""
        return not self.condition.matches(facts)

    def to_json(self) -> dict[str, Any]:
        """The condition as rule JSON."""
        return {"not": self.condition.to_json()}


Condition: TypeAlias = AllOf | AnyOf | Not | Compare


@dataclass(frozen=True)
class AddTags:
    """``{"add_tags": [...]}``: put these tags on the deal."""

    tags: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The action as rule JSON."""
        return {"add_tags": list(self.tags)}


@dataclass(frozen=True)
class RemoveTags:
    """``{"remove_tags": [...]}``: take these tags off the deal."""

    tags: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The action as rule JSON."""
        return {"remove_tags": list(self.tags)}


@dataclass(frozen=True)
class SetField:
    """``{"set_field": {"name": ..., "value": ...}}``: set a custom field of the deal."""

    name: str
    value: str

    def to_json(self) -> dict[str, Any]:
        """The action as rule JSON."""
        return {"set_field": {"name": self.name, "value": self.value}}


Action: TypeAlias = AddTags | RemoveTags | SetField


@dataclass(frozen=True)
class Outcome:
    """What a rule says to do with a deal; empty unless it ``matched``."""

    matched: bool
    add_tags: list[str] = dataclasses.field(default_factory=list)
    remove_tags: list[str] = dataclasses.field(default_factory=list)
    set_fields: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """A parsed, valid rule: ``when`` it matches the facts, the ``actions`` apply."""

    when: Condition
    actions: tuple[Action, ...]

    def matches(self, facts: Mapping[str, Any]) -> bool:
        """Whether the condition holds for ``facts``. Never raises, whatever the facts hold."""
        return self.when.matches(facts)

    def to_json(self) -> dict[str, Any]:
        """The rule as JSON, normalized (tags trimmed and deduplicated); it parses back equal."""
        return {"when": self.when.to_json(), "then": [action.to_json() for action in self.actions]}


def evaluate(rule: Rule, facts: Mapping[str, Any]) -> Outcome:
    """Run ``rule`` on ``facts``: the tags to add and remove and the fields to set.

    Actions apply in order, so a tag added after being removed is only added (and the other
    way round), and the last value set for a field wins.
    """
    if not rule.matches(facts):
        return Outcome(matched=False)
    add: dict[str, None] = {}
    remove: dict[str, None] = {}
    fields: dict[str, str] = {}
    for action in rule.actions:
        match action:
            case AddTags(tags):
                for tag in tags:
                    remove.pop(tag, None)
                    add[tag] = None
            case RemoveTags(tags):
                for tag in tags:
                    add.pop(tag, None)
                    remove[tag] = None
            case SetField(name, value):
                fields[name] = value
    return Outcome(matched=True, add_tags=list(add), remove_tags=list(remove), set_fields=fields)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# --- parsing ----------------------------------------------------------------------------


def _kind(value: Any) -> str:
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


def _hint(word: Any, choices: tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for a near miss of one of ``choices``, else ``""``."""
    if not isinstance(word, str):
        return ""
    guess = _ALIASES.get(word.lower())
    if guess not in choices:
        close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
        guess = close[0] if close else None
    return f" (did you mean {guess!r}?)" if guess else ""


def _quoted(names: tuple[str, ...]) -> str:
    return ", ".join(repr(name) for name in names[:-1]) + f" or {names[-1]!r}"


class _Parser:
    """Turns rule JSON into a :class:`Rule`, counting nodes as it goes."""

    def __init__(self) -> None:
        self.nodes = 0
        self.regexes = 0

    def count(self, path: str) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise RuleError(
                f"the rule has more than {MAX_NODES} conditions and actions; split it up", path
            )

    def rule(self, data: Any) -> Rule:
        if not isinstance(data, Mapping):
            raise RuleError(
                f'a rule must be an object {{"when": ..., "then": [...]}}, got {_kind(data)}', "$"
            )
        for key in data:
            if key not in ("when", "then"):
                raise RuleError(
                    f"unknown key {key!r}{_hint(key, ('when', 'then'))}; a rule has only "
                    "'when' and 'then'",
                    "$",
                )
        if "when" not in data:
            raise RuleError("missing 'when': the condition the deal must meet", "$")
        if "then" not in data:
            raise RuleError("missing 'then': the list of actions", "$")
        when = self.condition(data["when"], "$.when", 1)
        return Rule(when=when, actions=self.actions(data["then"], "$.then"))

    # conditions

    def condition(self, node: Any, path: str, depth: int) -> Condition:
        if depth > MAX_DEPTH:
            raise RuleError(f"conditions nest deeper than {MAX_DEPTH} levels", path)
        self.count(path)
        if not isinstance(node, Mapping):
            raise RuleError(
                "a condition must be an object with 'all', 'any', 'not' or 'field', "
                f"got {_kind(node)}",
                path,
            )
        group = next((key for key in _GROUPS if key in node), None)
        if group is not None:
            if len(node) > 1:
                other = next(key for key in node if key != group)
                raise RuleError(
                    f"{group!r} cannot be combined with {other!r} in one condition; "
                    "nest them with 'all' or 'any'",
                    path,
                )
            if group == "not":
                return Not(self.condition(node["not"], f"{path}.not", depth + 1))
            items = node[group]
            where = f"{path}.{group}"
            if not isinstance(items, list | tuple):
                raise RuleError(f"expected an array of conditions, got {_kind(items)}", where)
            if not items:
                raise RuleError("expected at least one condition", where)
            conditions = tuple(
                self.condition(item, f"{where}[{index}]", depth + 1)
                for index, item in enumerate(items)
            )
            return AllOf(conditions) if group == "all" else AnyOf(conditions)
        if "field" in node:
            return self.comparison(node, path)
        if not node:
            raise RuleError(
                "empty condition: expected 'all', 'any', 'not' or a 'field' with an operator",
                path,
            )
        key = next(iter(node))
        if key in _OPS:
            raise RuleError(f"{key!r} needs a 'field' to compare", path)
        raise RuleError(
            f"unknown key {key!r}{_hint(key, (*_GROUPS, 'field', *_OPS))}; a condition is "
            "'all', 'any', 'not' or a 'field' with an operator",
            path,
        )

    def comparison(self, node: Mapping[str, Any], path: str) -> Compare:
        operators = [key for key in node if key != "field"]
        for key in operators:
            if key not in _OPS:
                raise RuleError(f"unknown operator {key!r}{_hint(key, _OPS)}", path)
        if not operators:
            raise RuleError(f"missing operator: add one of {_quoted(_OPS)}", path)
        if len(operators) > 1:
            raise RuleError(
                f"one operator per comparison, found {operators[0]!r} and {operators[1]!r}; "
                "combine comparisons with 'all' or 'any'",
                path,
            )
        field_path = self.field_path(node["field"], f"{path}.field")
        op = Op(operators[0])
        value = node[op.value]
        where = f"{path}.{op.value}"
        if op is Op.EXISTS:
            if not isinstance(value, bool):
                raise RuleError(f"expected true or false, got {_kind(value)}", where)
        elif op in _ORDER:
            if _number(value) is None:
                raise RuleError(
                    'expected a number or a decimal string such as "1500.00", '
                    f"got {_describe(value)}",
                    where,
                )
        elif op is Op.REGEX:
            value = self.pattern(value, where)
        elif op is Op.IN:
            if not isinstance(value, list | tuple):
                raise RuleError(
                    f"expected an array of strings, numbers or booleans, got {_kind(value)}", where
                )
            if not value:
                raise RuleError("expected at least one value", where)
            if len(value) > MAX_IN_VALUES:
                raise RuleError(f"expected at most {MAX_IN_VALUES} values", where)
            for index, item in enumerate(value):
                self.scalar(item, f"{where}[{index}]", in_list=True)
            value = tuple(value)
        else:
            self.scalar(value, where, in_list=False)
        return Compare(field_path, op, value)

    def field_path(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise RuleError(
                f"expected a dotted path such as 'deal.amount', got {_kind(value)}", path
            )
        if len(value) > MAX_PATH_LENGTH:
            raise RuleError(f"the path is longer than {MAX_PATH_LENGTH} characters", path)
        segments = value.split(".")
        if not all(segments):
            raise RuleError(f"{value!r} is not a dotted path: it has an empty part", path)
        if segments[0] not in ROOTS:
            close = difflib.get_close_matches(segments[0].lower(), ROOTS, n=1, cutoff=0.6)
            hint = f" (did you mean {'.'.join([close[0], *segments[1:]])!r}?)" if close else ""
            raise RuleError(
                f"unknown field {value!r}{hint}: paths start with {_quoted(ROOTS)}", path
            )
        return value

    def scalar(self, value: Any, path: str, *, in_list: bool) -> None:
        if isinstance(value, str):
            if len(value) > MAX_VALUE_LENGTH:
                raise RuleError(f"the value is longer than {MAX_VALUE_LENGTH} characters", path)
            return
        if isinstance(value, bool) or _number(value) is not None:
            return
        advice = ""
        if value is None:
            advice = " (to test for a missing value use 'exists': false)"
        elif isinstance(value, list | tuple) and not in_list:
            advice = " (to compare with several values use 'in')"
        raise RuleError(
            f"expected a string, number or boolean, got {_describe(value)}{advice}", path
        )

    def pattern(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise RuleError(f"expected a regular expression (string), got {_kind(value)}", path)
        if not value:
            raise RuleError("the pattern is empty", path)
        if len(value) > MAX_PATTERN_LENGTH:
            raise RuleError(f"the pattern is longer than {MAX_PATTERN_LENGTH} characters", path)
        self.regexes += 1
        if self.regexes > MAX_REGEXES:
            raise RuleError(f"a rule may have at most {MAX_REGEXES} regex comparisons", path)
        try:
            _compile(value)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else str(exc)
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            advice = ""
            if "perl operator" in reason or "escape sequence" in reason:
                advice = " (RE2 has no backreferences or lookaround)"
            elif "too large" in reason:
                advice = " (use smaller repetition counts)"
            raise RuleError(f"invalid regular expression: {reason}{advice}", path) from None
        return value

    # actions

    def actions(self, items: Any, path: str) -> tuple[Action, ...]:
        if isinstance(items, Mapping):
            raise RuleError("expected an array of actions, got object: wrap it in [ ]", path)
        if not isinstance(items, list | tuple):
            raise RuleError(f"expected an array of actions, got {_kind(items)}", path)
        if not items:
            raise RuleError("expected at least one action", path)
        return tuple(self.action(item, f"{path}[{index}]") for index, item in enumerate(items))

    def action(self, node: Any, path: str) -> Action:
        self.count(path)
        if not isinstance(node, Mapping):
            raise RuleError(
                f'an action must be an object such as {{"add_tags": ["Loyal"]}}, got {_kind(node)}',
                path,
            )
        if not node:
            raise RuleError(f"empty action: expected {_quoted(_ACTIONS)}", path)
        for key in node:
            if key not in _ACTIONS:
                raise RuleError(f"unknown action {key!r}{_hint(key, _ACTIONS)}", path)
        if len(node) > 1:
            first, second = list(node)[:2]
            raise RuleError(f"one action per object, found {first!r} and {second!r}", path)
        key = next(iter(node))
        where = f"{path}.{key}"
        if key == "set_field":
            return self.set_field(node[key], where)
        tags = self.tags(node[key], where)
        return AddTags(tags) if key == "add_tags" else RemoveTags(tags)

    def tags(self, items: Any, path: str) -> tuple[str, ...]:
        if isinstance(items, str):
            raise RuleError(f'expected an array of tag names such as ["{items}"], got string', path)
        if not isinstance(items, list | tuple):
            raise RuleError(f"expected an array of tag names, got {_kind(items)}", path)
        if not items:
            raise RuleError("expected at least one tag name", path)
        if len(items) > MAX_TAGS:
            raise RuleError(f"expected at most {MAX_TAGS} tag names", path)
        names = (
            self.name(item, f"{path}[{index}]", "tag name", MAX_TAG_LENGTH)
            for index, item in enumerate(items)
        )
        return tuple(dict.fromkeys(names))

    def set_field(self, node: Any, path: str) -> SetField:
        if not isinstance(node, Mapping):
            raise RuleError(
                f'expected an object {{"name": ..., "value": ...}}, got {_kind(node)}', path
            )
        for key in node:
            if key not in ("name", "value"):
                raise RuleError(
                    f"unknown key {key!r}{_hint(key, ('name', 'value'))}; set_field has "
                    "'name' and 'value'",
                    path,
                )
        for key in ("name", "value"):
            if key not in node:
                raise RuleError(f"missing {key!r}", path)
        name = self.name(node["name"], f"{path}.name", "field name", MAX_FIELD_NAME_LENGTH)
        value = node["value"]
        if not isinstance(value, str):
            raise RuleError(f"expected a string, got {_kind(value)}", f"{path}.value")
        if len(value) > MAX_VALUE_LENGTH:
            raise RuleError(
                f"the value is longer than {MAX_VALUE_LENGTH} characters", f"{path}.value"
            )
        return SetField(name, value)

    def name(self, value: Any, path: str, what: str, limit: int) -> str:
        if not isinstance(value, str):
            raise RuleError(f"expected a {what} (string), got {_kind(value)}", path)
        if not value.strip():
            raise RuleError(f"the {what} is blank", path)
        if len(value) > limit:
            raise RuleError(f"the {what} is longer than {limit} characters", path)
        return value.strip()


def _describe(value: Any) -> str:
    """The JSON type of ``value``, and the value itself when it is short and telling."""
    if isinstance(value, str):
        return f"string {value[:40]!r}" if len(value) <= 40 else "a string"
    if isinstance(value, float | Decimal) and _number(value) is None:
        return f"{value} (numbers must be finite)"
    return _kind(value)


def parse_rule(data: Any) -> Rule:
    """Validate decoded rule JSON and compile it into a :class:`Rule`.

    Raises :class:`RuleError` naming the JSON path of the first problem, for instance
    ``$.when.any[0]: unknown operator 'equal' (did you mean 'equals'?)``.
    """
    return _Parser().rule(data)


def parse_condition(data: Any) -> Condition:
    """Validate and compile a condition alone (what an automation tests before it acts);
    errors name paths from ``$``, the condition itself."""
    return _Parser().condition(data, "$", 1)


# --- JSON Schema ------------------------------------------------------------------------

_SCALAR: Final = {
    "anyOf": [
        {"type": "string", "maxLength": MAX_VALUE_LENGTH},
        {"type": "number"},
        {"type": "boolean"},
    ]
}
_NUMERIC: Final = {
    "anyOf": [
        {"type": "number"},
        {"type": "string", "pattern": _DECIMAL_PATTERN, "maxLength": MAX_NUMBER_LENGTH},
    ]
}
_OPERANDS: Final[dict[Op, tuple[str, dict[str, Any]]]] = {
    Op.EQUALS: ("The field equals the value; numbers compare as decimals.", _SCALAR),
    Op.NOT_EQUALS: ("The field is present and does not equal the value.", _SCALAR),
    Op.CONTAINS: (
        "The field is a string containing the value, or a list with an element equal to it.",
        _SCALAR,
    ),
    Op.REGEX: (
        "An RE2 pattern found somewhere in the field's string (its first "
        f"{MAX_INPUT_LENGTH} characters). No backreferences or lookaround.",
        {"type": "string", "minLength": 1, "maxLength": MAX_PATTERN_LENGTH},
    ),
    Op.IN: (
        "The field equals one of the values; a list field, when any element does.",
        {"type": "array", "minItems": 1, "maxItems": MAX_IN_VALUES, "items": _SCALAR},
    ),
    Op.EXISTS: (
        "true: the field is present and not null; false: it is absent.",
        {"type": "boolean"},
    ),
    Op.GT: ("The field is a number greater than the value.", _NUMERIC),
    Op.GTE: ("The field is a number greater than or equal to the value.", _NUMERIC),
    Op.LT: ("The field is a number less than the value.", _NUMERIC),
    Op.LTE: ("The field is a number less than or equal to the value.", _NUMERIC),
}
_TAGS: Final = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_TAGS,
    "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_LENGTH, "pattern": "\\S"},
}


def _group(key: str, description: str, inner: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "type": "object",
        "required": [key],
        "properties": {key: inner},
        "additionalProperties": False,
    }


#: The rule language as a JSON Schema (draft 2020-12). Limits it cannot state, and
#: :func:`parse_rule` enforces: nesting depth, node count, RE2 pattern syntax.
RULE_JSON_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Funnelbox deal rule",
    "description": (
        "When the condition holds for a deal, apply the actions. Also enforced, beyond this "
        f"schema: conditions nest at most {MAX_DEPTH} levels, a rule has at most {MAX_NODES} "
        f"conditions and actions and at most {MAX_REGEXES} regex comparisons, and regex "
        "patterns are valid RE2."
    ),
    "type": "object",
    "required": ["when", "then"],
    "properties": {
        "when": {"$ref": "#/$defs/condition"},
        "then": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/action"}},
    },
    "additionalProperties": False,
    "$defs": {
        "condition": {
            "oneOf": [
                {"$ref": "#/$defs/all"},
                {"$ref": "#/$defs/any"},
                {"$ref": "#/$defs/not"},
                {"$ref": "#/$defs/comparison"},
            ]
        },
        "all": _group(
            "all",
            "Every condition holds.",
            {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}},
        ),
        "any": _group(
            "any",
            "At least one condition holds.",
            {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}},
        ),
        "not": _group("not", "The condition does not hold.", {"$ref": "#/$defs/condition"}),
        "comparison": {
            "description": (
                "A field compared with exactly one operator. A missing or null field is "
                "absent: only 'exists': false holds for it."
            ),
            "type": "object",
            "required": ["field"],
            "properties": {
                "field": {"$ref": "#/$defs/field"},
                **{
                    op.value: {"description": text, **schema}
                    for op, (text, schema) in _OPERANDS.items()
                },
            },
            "additionalProperties": False,
            "minProperties": 2,
            "maxProperties": 2,
        },
        "field": {
            "description": "A dotted path into the deal's facts, such as 'contact.won_deals'.",
            "type": "string",
            "maxLength": MAX_PATH_LENGTH,
            "pattern": _PATH_PATTERN,
        },
        "action": {
            "oneOf": [
                {"$ref": "#/$defs/add_tags"},
                {"$ref": "#/$defs/remove_tags"},
                {"$ref": "#/$defs/set_field"},
            ]
        },
        "add_tags": _group("add_tags", "Put these tags on the deal.", _TAGS),
        "remove_tags": _group("remove_tags", "Take these tags off the deal.", _TAGS),
        "set_field": _group(
            "set_field",
            "Set a custom field of the deal.",
            {
                "type": "object",
                "required": ["name", "value"],
                "properties": {
                    "name": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_FIELD_NAME_LENGTH,
                        "pattern": "\\S",
                    },
                    "value": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
                },
                "additionalProperties": False,
            },
        ),
    },
}


def schema_json() -> str:
    """:data:`RULE_JSON_SCHEMA` as the text of ``triggers/rules_schema.json``."""
    return json.dumps(RULE_JSON_SCHEMA, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(schema_json(), encoding="utf-8")
