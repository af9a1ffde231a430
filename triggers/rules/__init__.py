"""Deal rules: a small JSON language that tests a deal and says which tags and fields to change.

The *Deal source* stage trigger runs a rule when a deal reaches its stage, and deal
automations use the same conditions. This module is pure: the caller builds the *facts*
document for a deal, and applies the :class:`Outcome`.

The grammar is declared once, in :mod:`triggers.rules.grammar`: parsing validates against
it and ``triggers/rules_schema.json`` is generated from it (``make rules-schema``).
:mod:`triggers.rules.nodes` evaluates; :mod:`triggers.rules.messages` words the errors.

A rule is ``{"when": <condition>, "then": [<action>, ...]}``.

Conditions
    ``{"all": [c, ...]}``, ``{"any": [c, ...]}``, ``{"not": c}`` and comparisons
    ``{"field": "<dotted path>", "<operator>": <value>}`` with exactly one operator. What
    each operator takes and when it holds is declared, with a description, in
    :mod:`triggers.rules.grammar` (and so in the schema).

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

import json
from pathlib import Path
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from triggers.rules.grammar import ConditionSpec, RuleSpec, counters, json_schema
from triggers.rules.messages import RuleError, explain
from triggers.rules.nodes import (
    MAX_DEPTH,
    MAX_INPUT_LENGTH,
    MAX_NODES,
    MAX_PATTERN_LENGTH,
    MAX_REGEXES,
    MAX_TAG_LENGTH,
    ROOTS,
    Action,
    AddTags,
    AllOf,
    AnyOf,
    Compare,
    Condition,
    Not,
    Op,
    Outcome,
    RemoveTags,
    Rule,
    SetField,
    evaluate,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_INPUT_LENGTH",
    "MAX_NODES",
    "MAX_PATTERN_LENGTH",
    "MAX_REGEXES",
    "MAX_TAG_LENGTH",
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

#: The rule language as a JSON Schema (draft 2020-12), generated from the grammar. Limits it
#: cannot state, and :func:`parse_rule` enforces: nesting depth, node count, RE2 syntax.
RULE_JSON_SCHEMA: Final[dict[str, Any]] = json_schema()
#: Where ``make rules-schema`` (``python -m triggers.rules``) writes :data:`RULE_JSON_SCHEMA`.
SCHEMA_PATH: Final = Path(__file__).parent.with_name("rules_schema.json")

_CONDITION: Final = TypeAdapter(ConditionSpec)


def parse_rule(data: Any) -> Rule:
    """Validate decoded rule JSON and compile it into a :class:`Rule`.

    Raises :class:`RuleError` naming the JSON path of the first problem, for instance
    ``$.when.any[0]: unknown operator 'equal' (did you mean 'equals'?)``.
    """
    try:
        rule: Rule = RuleSpec.model_validate(data, context=counters()).node()
    except ValidationError as exc:
        raise explain(exc.errors()) from None
    return rule


def parse_condition(data: Any) -> Condition:
    """Validate and compile a condition alone (what an automation tests before it acts);
    errors name paths from ``$``, the condition itself."""
    try:
        condition: Condition = _CONDITION.validate_python(data, context=counters()).node()
    except ValidationError as exc:
        raise explain(exc.errors()) from None
    return condition


def schema_json() -> str:
    """:data:`RULE_JSON_SCHEMA` as the text of ``triggers/rules_schema.json``."""
    return json.dumps(RULE_JSON_SCHEMA, indent=2, ensure_ascii=False) + "\n"
