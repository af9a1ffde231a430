"""The rule language's runtime: compiled conditions and actions, and how they evaluate.

:mod:`triggers.rules.grammar` validates rule JSON and builds these; they can also be built
directly (tests do). Evaluation is pure and never raises, whatever the facts hold.
"""

import dataclasses
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, TypeAlias

import re2

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


#: The form of a decimal string (``"-1500.00"``), for the parser and the JSON Schema alike.
DECIMAL_PATTERN: Final = r"^-?[0-9]+(\.[0-9]+)?$"
_DECIMAL: Final = re.compile(DECIMAL_PATTERN)

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


def as_number(value: Any) -> Decimal | None:
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
        number = as_number(fact)
        return number is not None and number == expected
    if isinstance(fact, str):
        return fact == expected
    number = as_number(fact)  # a numeric fact against a decimal string
    return number is not None and number == as_number(expected)


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


def compile_regex(pattern: str) -> Any:
    """``pattern`` compiled by RE2, which runs in linear time; raises ``re2.error``."""
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    return re2.compile(pattern, options)


def _operand(op: Op, value: Any) -> Any:
    """What a comparison tests against, prepared once: decimals, a compiled regex."""
    if op is Op.REGEX:
        return compile_regex(value)
    if op in _ORDER:
        return as_number(value)
    if op is Op.IN:
        return tuple(_scalar(item) for item in value)
    if op is Op.EXISTS:
        return value
    return _scalar(value)


def _scalar(value: Any) -> Decimal | str | bool:
    if isinstance(value, bool | str):
        return value
    number = as_number(value)
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
                number = as_number(fact)
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
