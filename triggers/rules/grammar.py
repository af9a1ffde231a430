"""The rule language's grammar, declared once as pydantic models of rule JSON.

Parsing validates a document against these models and turns them into
:mod:`triggers.rules.nodes`; the JSON Schema editors use is generated from them
(:func:`json_schema`), so the parser and the schema cannot drift. Conditions and actions
are tagged unions picked by their keys. Validation runs with a context that counts nodes,
nesting and regexes in document order: the limits a JSON Schema cannot state. Leaf
validators raise errors of their own kinds; :mod:`triggers.rules.messages` words those and
pydantic's alike.
"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final, TypeAlias, Union

import re2
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    WrapValidator,
    create_model,
)
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticCustomError, core_schema
from typing_extensions import TypeAliasType

from triggers.rules import nodes


def fail(kind: str, **context: Any) -> PydanticCustomError:
    """An error of our own ``kind``; :mod:`triggers.rules.messages` words it."""
    return PydanticCustomError(kind, kind, context)


def counters() -> dict[str, int]:
    """A fresh validation context: what one parse has seen so far."""
    return {"nodes": 0, "depth": 0, "regexes": 0}


def _seen(info: ValidationInfo) -> dict[str, int]:
    """The parse's :func:`counters`: rules are only ever validated with them."""
    if info.context is None:
        raise TypeError("validate rule JSON with context=counters()")
    seen: dict[str, int] = info.context
    return seen


def _count(info: ValidationInfo) -> None:
    seen = _seen(info)
    seen["nodes"] += 1
    if seen["nodes"] > nodes.MAX_NODES:
        raise fail("too_many_nodes")


# --- leaves -----------------------------------------------------------------------------


def _scalar(value: Any) -> Any:
    """A string, number or boolean to compare with, kept as written."""
    if isinstance(value, str):
        if len(value) > nodes.MAX_VALUE_LENGTH:
            raise fail("value_too_long")
        return value
    if isinstance(value, bool) or nodes.as_number(value) is not None:
        return value
    raise fail("not_scalar")


def _numeric(value: Any) -> Any:
    """A number or decimal string to order by, kept as written."""
    if nodes.as_number(value) is None:
        raise fail("not_numeric")
    return value


def _regex(pattern: str, info: ValidationInfo) -> str:
    """Counts the rule's regexes and compiles the pattern with RE2 (linear time, no
    backreferences), so a rule that saves is one that runs."""
    seen = _seen(info)
    seen["regexes"] += 1
    if seen["regexes"] > nodes.MAX_REGEXES:
        raise fail("too_many_regexes")
    try:
        nodes.compile_regex(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise fail("bad_regex", reason=reason) from None
    return pattern


def _distinct(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


_NUMBER: Final = {"type": "number"}
_SCALARS: Final = [
    {"type": "string", "maxLength": nodes.MAX_VALUE_LENGTH},
    _NUMBER,
    {"type": "boolean"},
]
_DECIMAL: Final = {
    "type": "string",
    "pattern": nodes.DECIMAL_PATTERN,
    "maxLength": nodes.MAX_NUMBER_LENGTH,
}
Scalar = Annotated[Any, PlainValidator(_scalar), WithJsonSchema({"anyOf": _SCALARS})]
Numeric = Annotated[Any, PlainValidator(_numeric), WithJsonSchema({"anyOf": [_NUMBER, _DECIMAL]})]
Pattern = Annotated[
    str, Field(min_length=1, max_length=nodes.MAX_PATTERN_LENGTH), AfterValidator(_regex)
]
FieldPath = Annotated[
    str,
    Field(
        max_length=nodes.MAX_PATH_LENGTH,
        pattern="^(" + "|".join(nodes.ROOTS) + ")(\\.[^.]+)*$",
        description="A dotted path into the deal's facts, such as 'contact.won_deals'. A "
        "missing or null field is absent: only 'exists': false holds for it.",
    ),
]
#: A tag or custom field name: not blank, stored trimmed.
TagName = Annotated[
    str,
    Field(min_length=1, max_length=nodes.MAX_TAG_LENGTH, pattern=r"\S"),
    AfterValidator(str.strip),
]
FieldName = Annotated[
    str,
    Field(min_length=1, max_length=nodes.MAX_FIELD_NAME_LENGTH, pattern=r"\S"),
    AfterValidator(str.strip),
]
Tags = Annotated[
    list[TagName],
    Field(min_length=1, max_length=nodes.MAX_TAGS),
    AfterValidator(_distinct),
]


class Node(BaseModel):
    """One object of rule JSON; ``key`` is the key that says which (for tagged ones)."""

    # python-re: patterns mean what they mean to the jsonschema package, which uses re too
    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")
    key: ClassVar[str]
    #: What it compiles to (a :mod:`triggers.rules.nodes` class), given its fields compiled.
    builds: ClassVar[Callable[..., Any]]

    def node(self) -> Any:
        """The compiled node: ``builds`` of the fields, in order, themselves compiled."""
        return type(self).builds(*map(_compiled, self.__dict__.values()))


def _compiled(value: Any) -> Any:
    if isinstance(value, Node):
        return value.node()
    return tuple(map(_compiled, value)) if isinstance(value, list) else value


def _tagged(
    name: str,
    key: str,
    value: Any,
    doc: str,
    builds: Callable[..., Any],
    base: type[Node] = Node,
) -> Any:
    """A model of the one key ``key`` (tagged ``name`` in unions); ``doc`` describes it."""
    model = create_model(name, __base__=base, __doc__=doc, **{key: value})
    model.key, model.builds = key, builds
    return model


# --- conditions -------------------------------------------------------------------------


class Comparison(Node):
    """A field compared with one operator: a subclass per operator, named after it."""

    field: FieldPath


def _compare(op: nodes.Op) -> Callable[[str, Any], nodes.Compare]:
    return lambda field, value: nodes.Compare(field, op, value)


_OPERANDS: Final[dict[nodes.Op, tuple[Any, str]]] = {
    nodes.Op.EQUALS: (Scalar, "The field equals the value; numbers compare as decimals."),
    nodes.Op.NOT_EQUALS: (Scalar, "The field is present and does not equal the value."),
    nodes.Op.CONTAINS: (
        Scalar,
        "The field is a string containing the value, or a list with an element equal to it.",
    ),
    nodes.Op.REGEX: (
        Pattern,
        "An RE2 pattern found somewhere in the field's string (its first "
        f"{nodes.MAX_INPUT_LENGTH} characters). No backreferences or lookaround.",
    ),
    nodes.Op.IN: (
        Annotated[list[Scalar], Field(min_length=1, max_length=nodes.MAX_IN_VALUES)],
        "The field equals one of the values; a list field, when any element does.",
    ),
    nodes.Op.EXISTS: (bool, "true: the field is present and not null; false: it is absent."),
    nodes.Op.GT: (Numeric, "The field is a number greater than the value."),
    nodes.Op.GTE: (Numeric, "The field is a number greater than or equal to the value."),
    nodes.Op.LT: (Numeric, "The field is a number less than the value."),
    nodes.Op.LTE: (Numeric, "The field is a number less than or equal to the value."),
}
COMPARISONS: Final[dict[str, type[Comparison]]] = {
    op.value: _tagged(op.title().replace("_", ""), op.value, operand, doc, _compare(op), Comparison)
    for op, (operand, doc) in _OPERANDS.items()
}


def _enter_condition(
    node: Any, handler: core_schema.ValidatorFunctionWrapHandler, info: ValidationInfo
) -> Any:
    """Counts the condition and its depth before validating what is inside (so a hostile
    depth is refused without recursing into it)."""
    seen = _seen(info)
    if seen["depth"] >= nodes.MAX_DEPTH:
        raise fail("too_deep")
    _count(info)
    seen["depth"] += 1
    try:
        return handler(node)
    finally:
        seen["depth"] -= 1


def _condition_model(node: Any) -> str | None:
    """The tag of ``node``'s model: a group key decides, else (given a field) the first
    operator."""
    if not isinstance(node, Mapping):
        return None
    models = {**GROUPS, **COMPARISONS}
    keys = (*GROUPS, *(node if "field" in node else ()))
    return next((models[key].__name__ for key in keys if key in node and key in models), None)


if TYPE_CHECKING:
    # Built below from the tables of models, which a type checker cannot follow; to it a
    # condition or an action is what every one of them is, a Node.
    ConditionSpec: TypeAlias = Node
    ActionSpec: TypeAlias = Node
else:
    ConditionSpec = TypeAliasType(
        "Condition",
        Annotated[
            Union[
                Annotated["AllSpec", Tag("AllSpec")],
                Annotated["AnySpec", Tag("AnySpec")],
                Annotated["NotSpec", Tag("NotSpec")],
                *(Annotated[model, Tag(model.__name__)] for model in COMPARISONS.values()),
            ],
            Discriminator(
                _condition_model, custom_error_type="condition", custom_error_message="?"
            ),
            WrapValidator(_enter_condition),
        ],
    )
_CONDITIONS = Annotated[list[ConditionSpec], Field(min_length=1, fail_fast=True)]
AllSpec = _tagged("AllSpec", "all", _CONDITIONS, "Every condition holds.", nodes.AllOf)
AnySpec = _tagged("AnySpec", "any", _CONDITIONS, "At least one condition holds.", nodes.AnyOf)
NotSpec = _tagged("NotSpec", "not", ConditionSpec, "The condition does not hold.", nodes.Not)
GROUPS: Final[dict[str, type[Node]]] = {"all": AllSpec, "any": AnySpec, "not": NotSpec}


# --- actions ----------------------------------------------------------------------------


class FieldValue(Node):
    """A custom field's name and its new value."""

    builds = nodes.SetField
    name: FieldName
    value: Annotated[str, Field(max_length=nodes.MAX_VALUE_LENGTH)]


ACTIONS: Final[dict[str, type[Node]]] = {
    "add_tags": _tagged(
        "AddTagsSpec", "add_tags", Tags, "Put these tags on the deal.", nodes.AddTags
    ),
    "remove_tags": _tagged(
        "RemoveTagsSpec", "remove_tags", Tags, "Take these tags off the deal.", nodes.RemoveTags
    ),
    "set_field": _tagged(
        "SetFieldSpec", "set_field", FieldValue, "Set a custom field of the deal.", lambda x: x
    ),
}


def _action_model(node: Any) -> str | None:
    """The tag of ``node``'s model: its first action key."""
    if not isinstance(node, Mapping):
        return None
    return next((ACTIONS[key].__name__ for key in node if key in ACTIONS), None)


def _enter_action(node: Any, info: ValidationInfo) -> Any:
    _count(info)
    return node


if not TYPE_CHECKING:
    ActionSpec = TypeAliasType(
        "Action",
        Annotated[
            Union[tuple(Annotated[model, Tag(model.__name__)] for model in ACTIONS.values())],  # noqa: UP007
            Discriminator(_action_model, custom_error_type="action", custom_error_message="?"),
            BeforeValidator(_enter_action),
        ],
    )


class RuleSpec(Node):
    """When the condition holds for a deal, apply the actions."""

    model_config = ConfigDict(title="Funnelbox deal rule")
    builds = nodes.Rule
    when: ConditionSpec = Field(description="The condition the deal must meet.")
    then: list[ActionSpec] = Field(min_length=1, fail_fast=True, description="The list of actions.")


_RECURSIVE: Final[tuple[type[Node], ...]] = (*GROUPS.values(), RuleSpec)
for _model in _RECURSIVE:
    _model.model_rebuild()

#: Every tagged model by its tag: what pydantic puts into error locations.
TAGGED: Final[dict[str, type[Node]]] = {
    model.__name__: model for model in (*COMPARISONS.values(), *GROUPS.values(), *ACTIONS.values())
}


# --- JSON Schema ------------------------------------------------------------------------


class _Schema(GenerateJsonSchema):
    """Pydantic's schema without the titles it derives from Python names."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def json_schema() -> dict[str, Any]:
    """The rule language as a JSON Schema (draft 2020-12), from :class:`RuleSpec`."""
    schema = RuleSpec.model_json_schema(schema_generator=_Schema)
    schema["description"] += (
        " Also enforced, beyond this schema: conditions nest at most "
        f"{nodes.MAX_DEPTH} levels, a rule has at most {nodes.MAX_NODES} conditions and actions "
        f"and at most {nodes.MAX_REGEXES} regex comparisons, and regex patterns are valid RE2."
    )
    for definition in schema["$defs"].values():
        definition.pop("title", None)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
