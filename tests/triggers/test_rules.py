"""The deal rule language: parsing, friendly errors, evaluation, limits and its JSON Schema."""

import copy
import json
import pickle
import time
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from core.errors import ValidationFailed
from triggers import rules
from triggers.rules import (
    MAX_DEPTH,
    MAX_INPUT_LENGTH,
    MAX_NODES,
    MAX_PATTERN_LENGTH,
    MAX_REGEXES,
    RULE_JSON_SCHEMA,
    SCHEMA_PATH,
    AddTags,
    AllOf,
    AnyOf,
    Compare,
    Not,
    Op,
    Outcome,
    RemoveTags,
    Rule,
    RuleError,
    SetField,
    evaluate,
    parse_rule,
)

#: The facts document as the documentation describes it.
FACTS: dict[str, Any] = {
    "deal": {
        "id": 7,
        "title": "Anna - corner sofa",
        "amount": "1500.00",
        "currency": "USD",
        "reference": "A-17",
        "close_date": "2026-05-01",
        "tags": ["VIP", "Sofa"],
        "fields": {"Notes": "call after 6pm", "Ref. no": "R-9", "Delivery": ""},
    },
    "pipeline": {"id": 1, "name": "Sales"},
    "stage": {"id": 3, "name": "Won", "probability": 100, "kind": "won"},
    "contact": {
        "id": 5,
        "name": "Anna",
        "phone": "+14155552671",
        "email": "anna@example.com",
        "won_deals": 3,
    },
    "dialog": {
        "channel": "whatsapp",
        "ctwa_clid": "ARAkLkA8rmlF",
        "first_message": {
            "text": "Hi! I saw your ad about the sofa",
            "referral": {"ctwa_clid": "ARAkLkA8rmlF", "source_type": "ad"},
        },
    },
    "booking": {"status": "confirmed", "staff": None},
}

LOYAL = {"when": {"field": "contact.won_deals", "gte": 3}, "then": [{"add_tags": ["Loyal"]}]}
INSTAGRAM_AD = {
    "when": {"field": "dialog.first_message.referral.ctwa_clid", "exists": True},
    "then": [{"add_tags": ["Instagram ad"]}],
}
SCHEMA = jsonschema.Draft202012Validator(RULE_JSON_SCHEMA)


def rule_of(condition: Any) -> dict[str, Any]:
    return {"when": condition, "then": [{"add_tags": ["T"]}]}


def holds(condition: dict[str, Any], facts: dict[str, Any] | None = None) -> bool:
    return parse_rule(rule_of(condition)).matches(FACTS if facts is None else facts)


def error_of(data: Any) -> RuleError:
    with pytest.raises(RuleError) as caught:
        parse_rule(data)
    return caught.value


def nested(depth: int) -> dict[str, Any]:
    """A comparison wrapped in ``depth - 1`` nots: ``depth`` levels of conditions."""
    condition: dict[str, Any] = {"field": "deal.title", "exists": True}
    for _ in range(depth - 1):
        condition = {"not": condition}
    return condition


# --- the README examples ------------------------------------------------------------------


def test_loyal_when_the_contact_has_three_won_deals():
    rule = parse_rule(LOYAL)
    assert rule == Rule(Compare("contact.won_deals", Op.GTE, 3), (AddTags(("Loyal",)),))
    assert evaluate(rule, FACTS) == Outcome(matched=True, add_tags=["Loyal"])
    assert evaluate(rule, {"contact": {"won_deals": 7}}).add_tags == ["Loyal"]
    assert evaluate(rule, {"contact": {"won_deals": 2}}) == Outcome(matched=False)
    assert evaluate(rule, {"contact": {"name": "New"}}) == Outcome(matched=False)
    assert evaluate(rule, {}) == Outcome(matched=False)


def test_instagram_ad_when_the_first_message_came_from_a_click_to_whatsapp_ad():
    rule = parse_rule(INSTAGRAM_AD)
    assert evaluate(rule, FACTS) == Outcome(matched=True, add_tags=["Instagram ad"])
    organic = copy.deepcopy(FACTS)
    del organic["dialog"]["first_message"]["referral"]
    assert evaluate(rule, organic) == Outcome(matched=False)
    telegram = {"dialog": {"channel": "telegram", "first_message": {"text": "hi"}}}
    assert not rule.matches(telegram)
    assert not rule.matches({"dialog": {"first_message": {"referral": {"ctwa_clid": None}}}})


# --- operators ----------------------------------------------------------------------------

CASES = [
    # equals: strings exactly, numbers as decimals, booleans only as booleans
    ({"field": "pipeline.name", "equals": "Sales"}, True),
    ({"field": "pipeline.name", "equals": "sales"}, False),
    ({"field": "stage.probability", "equals": 100}, True),
    ({"field": "stage.probability", "equals": 100.0}, True),
    ({"field": "stage.probability", "equals": "100"}, True),
    ({"field": "stage.probability", "equals": 99}, False),
    ({"field": "deal.amount", "equals": 1500}, True),
    ({"field": "deal.amount", "equals": "1500"}, False),  # two strings compare as strings
    ({"field": "deal.amount", "equals": "1500.00"}, True),
    ({"field": "deal.tags", "equals": "VIP"}, False),  # a list is not a string: use contains
    ({"field": "deal.fields.Delivery", "equals": ""}, True),
    # not_equals
    ({"field": "dialog.channel", "not_equals": "telegram"}, True),
    ({"field": "dialog.channel", "not_equals": "whatsapp"}, False),
    ({"field": "deal.amount", "not_equals": 1500.5}, True),
    ({"field": "deal.amount", "not_equals": 1500}, False),
    # contains: substring of a string, element of a list
    ({"field": "dialog.first_message.text", "contains": "saw your ad"}, True),
    ({"field": "dialog.first_message.text", "contains": "SAW"}, False),
    ({"field": "deal.tags", "contains": "VIP"}, True),
    ({"field": "deal.tags", "contains": "VI"}, False),
    ({"field": "contact.won_deals", "contains": 3}, False),  # a number contains nothing
    # regex: RE2, unanchored search
    ({"field": "contact.phone", "regex": r"^\+1\d{10}$"}, True),
    ({"field": "contact.phone", "regex": r"^\+7"}, False),
    ({"field": "dialog.first_message.text", "regex": "(?i)SOFA|couch"}, True),
    ({"field": "dialog.first_message.text", "regex": "couch"}, False),
    ({"field": "contact.won_deals", "regex": "3"}, False),  # only strings are searched
    # in: one of the values; for a list field, any element
    ({"field": "stage.name", "in": ["Won", "Paid"]}, True),
    ({"field": "stage.name", "in": ["Lost", "Paid"]}, False),
    ({"field": "contact.won_deals", "in": [1, 2, 3]}, True),
    ({"field": "contact.won_deals", "in": ["3"]}, True),
    ({"field": "deal.tags", "in": ["Loyal", "VIP"]}, True),
    ({"field": "deal.tags", "in": ["Loyal"]}, False),
    # exists
    ({"field": "deal.reference", "exists": True}, True),
    ({"field": "deal.reference", "exists": False}, False),
    ({"field": "deal.lost_reason", "exists": True}, False),
    ({"field": "deal.lost_reason", "exists": False}, True),
    ({"field": "booking.staff", "exists": False}, True),  # null is absent
    ({"field": "deal.fields.Delivery", "exists": True}, True),  # "" is present
    ({"field": "dialog.first_message", "exists": True}, True),  # an object is present
    # gt, gte, lt, lte: decimals, decimal strings count
    ({"field": "deal.amount", "gt": 1499.99}, True),
    ({"field": "deal.amount", "gt": "1500"}, False),
    ({"field": "deal.amount", "gte": "1500"}, True),
    ({"field": "deal.amount", "gte": 1500.01}, False),
    ({"field": "deal.amount", "lt": 1500.01}, True),
    ({"field": "deal.amount", "lt": 1500}, False),
    ({"field": "deal.amount", "lte": "1500.000"}, True),
    ({"field": "deal.amount", "lte": -1}, False),
    ({"field": "stage.probability", "gte": 50}, True),
    ({"field": "pipeline.name", "gt": 0}, False),  # not a number
    # paths: a key with dots in it, and paths through non-objects
    ({"field": "deal.fields.Ref. no", "equals": "R-9"}, True),
    ({"field": "deal.title.length", "exists": True}, False),
    ({"field": "deal.tags.0", "exists": True}, False),
]


@pytest.mark.parametrize(("condition", "expected"), CASES, ids=[json.dumps(c) for c, _ in CASES])
def test_operators(condition: dict[str, Any], expected: bool):
    assert holds(condition) is expected
    assert holds({"not": condition}) is not expected
    assert SCHEMA.is_valid(rule_of(condition))


def test_every_operator_is_covered():
    assert {key for condition, _ in CASES for key in condition} - {"field"} == set(Op)
    for op in Op:
        outcomes = {expected for condition, expected in CASES if op.value in condition}
        assert outcomes == {True, False}, op


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "deal.lost_reason", "equals": "Too expensive"},
        {"field": "deal.lost_reason", "not_equals": "Too expensive"},
        {"field": "deal.lost_reason", "contains": "x"},
        {"field": "deal.lost_reason", "regex": ".*"},
        {"field": "deal.lost_reason", "in": ["x"]},
        {"field": "deal.lost_reason", "exists": True},
        {"field": "deal.lost_reason", "gt": -1},
        {"field": "deal.lost_reason", "gte": -1},
        {"field": "deal.lost_reason", "lt": 1},
        {"field": "deal.lost_reason", "lte": 1},
    ],
    ids=list(Op),
)
def test_an_absent_field_matches_only_exists_false_and_not(condition: dict[str, Any]):
    missing = {"deal": {"title": "x"}}
    null = {"deal": {"title": "x", "lost_reason": None}}
    for facts in (missing, null, {}, {"deal": None}, {"deal": "not an object"}):
        assert not holds(condition, facts)
        assert holds({"not": condition}, facts)
    field = condition["field"]
    assert holds({"field": field, "exists": False}, missing)
    assert holds({"field": field, "exists": False}, null)


def test_not_equals_wants_the_field_present_unlike_not_equals():
    facts = {"dialog": {"channel": "telegram"}}
    not_equals = {"field": "booking.status", "not_equals": "cancelled"}
    assert not holds(not_equals, facts)
    assert holds({"not": {"field": "booking.status", "equals": "cancelled"}}, facts)


def test_all_any_not_nesting():
    vip_sofa = {
        "all": [
            {"field": "deal.tags", "contains": "VIP"},
            {
                "any": [
                    {"field": "deal.title", "regex": "(?i)sofa"},
                    {"field": "deal.amount", "gt": 10_000},
                ]
            },
            {"not": {"field": "dialog.channel", "equals": "telegram"}},
        ]
    }
    assert holds(vip_sofa)
    assert not holds(vip_sofa, {**FACTS, "dialog": {"channel": "telegram"}})
    assert not holds(vip_sofa, {**FACTS, "deal": {**FACTS["deal"], "title": "Chair"}})
    assert holds(vip_sofa, {**FACTS, "deal": {**FACTS["deal"], "title": "Chair", "amount": 12e3}})
    assert holds({"any": [{"field": "stage.name", "equals": "Lost"}, {"not": vip_sofa}]}) is False
    assert holds({"not": {"not": vip_sofa}})


def test_all_and_any_short_circuit_and_evaluate_in_order():
    calls: list[str] = []

    class Spy(dict):
        def __contains__(self, key: object) -> bool:
            calls.append(str(key))
            return super().__contains__(key)

    facts = Spy(deal=Spy(title="x"))
    assert holds(
        {"any": [{"field": "deal.title", "exists": True}, {"field": "stage", "gt": 1}]}, facts
    )
    assert "stage" not in calls
    assert not holds(
        {"all": [{"field": "deal.x", "exists": True}, {"field": "pipeline", "gt": 1}]}, facts
    )
    assert "pipeline" not in calls


# --- numbers ------------------------------------------------------------------------------


NOT_NUMBERS = [
    "1,500.00",
    "1 500",
    " 1500",
    "1500.",
    "1e4",
    "1_500",
    "NaN",
    "١٥٠٠",  # Arabic-Indic digits
    "9" * 65,  # longer than a number may be
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("Infinity"),
    float("inf"),
    float("nan"),
    True,
    [1500],
    {"value": 1500},
]


@pytest.mark.parametrize(
    ("amount", "at_least_1500"),
    [
        ("1500.00", True),
        ("1500", True),
        ("1499.99", False),
        ("-1500.00", False),
        (Decimal("1500.000"), True),
        (Decimal("99999999999999999999.99"), True),
        (1500, True),
        (1500.0, True),
        (1499.9999, False),
    ],
)
def test_amounts_compare_as_decimals(amount: Any, at_least_1500: bool):
    facts = {"deal": {"amount": amount}}
    assert holds({"field": "deal.amount", "gte": "1500.00"}, facts) is at_least_1500
    assert holds({"field": "deal.amount", "gte": 1500}, facts) is at_least_1500
    assert holds({"field": "deal.amount", "lt": "1500"}, facts) is not at_least_1500
    assert holds({"field": "deal.amount", "equals": 1500}, facts) is (
        amount in ("1500.00", "1500") or amount == 1500
    )


@pytest.mark.parametrize("amount", NOT_NUMBERS, ids=repr)
def test_values_that_are_not_numbers_match_no_numeric_comparison(amount: Any):
    facts = {"deal": {"amount": amount}}
    for op in ("gt", "gte", "lt", "lte", "equals"):
        assert not holds({"field": "deal.amount", op: 1500}, facts)
    assert holds({"field": "deal.amount", "not_equals": 1500}, facts)


def test_decimal_equality_is_exact_and_ignores_trailing_zeros():
    assert holds({"field": "deal.amount", "equals": 0.1}, {"deal": {"amount": "0.10"}})
    assert holds({"field": "deal.amount", "equals": "0.3"}, {"deal": {"amount": 0.3}})
    assert not holds({"field": "deal.amount", "equals": 0.3}, {"deal": {"amount": 0.1 + 0.2}})
    assert holds({"field": "deal.amount", "equals": 10**30}, {"deal": {"amount": 10**30}})


def test_booleans_are_not_numbers():
    assert not holds({"field": "deal.x", "equals": 1}, {"deal": {"x": True}})
    assert not holds({"field": "deal.x", "equals": True}, {"deal": {"x": 1}})
    assert holds({"field": "deal.x", "equals": True}, {"deal": {"x": True}})
    assert holds({"field": "deal.x", "equals": False}, {"deal": {"x": False}})
    assert not holds({"field": "deal.x", "gte": 0}, {"deal": {"x": False}})
    assert not holds({"field": "deal.x", "in": [1]}, {"deal": {"x": True}})


# --- regex --------------------------------------------------------------------------------


def test_a_catastrophic_pattern_for_python_re_returns_promptly():
    facts = {"dialog": {"first_message": {"text": "a" * 5000 + "b"}}}
    rule = parse_rule(rule_of({"field": "dialog.first_message.text", "regex": "(a+)+$"}))
    started = time.perf_counter()
    assert not rule.matches(facts)
    # Python's re needs about 2**n steps for n a's here: 5000 would never finish
    assert time.perf_counter() - started < 0.5


def test_nested_quantifiers_and_alternation_stay_linear():
    text = ("ab" * 5000)[:MAX_INPUT_LENGTH]
    started = time.perf_counter()
    for pattern in ("^(a|ab|b)*c$", "(a*)*b{2}$", "(x+x+)+y", "^(\\w+\\s?)*$!"):
        assert not holds({"field": "deal.title", "regex": pattern}, {"deal": {"title": text}})
    assert time.perf_counter() - started < 1


def test_regex_searches_only_the_first_characters_of_a_long_value():
    head = "x" * (MAX_INPUT_LENGTH - 3)
    assert holds({"field": "deal.title", "regex": "end"}, {"deal": {"title": head + "end"}})
    assert not holds({"field": "deal.title", "regex": "end"}, {"deal": {"title": head + "xend"}})


def test_regex_is_unicode_aware():
    facts = {"contact": {"name": "Алёна Ёлкина"}}
    assert holds({"field": "contact.name", "regex": "^Алёна"}, facts)
    assert holds({"field": "contact.name", "regex": r"(?i)^\p{Cyrillic}+ ёлкина$"}, facts)
    assert holds({"field": "contact.name", "contains": "Ёлк"}, facts)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(", "missing ): ("),
        ("(a)\\1", "invalid escape sequence: \\1 (RE2 has no backreferences or lookaround)"),
        ("(?<=a)b", "invalid perl operator: (?<= (RE2 has no backreferences or lookaround)"),
        ("(?=a)", "invalid perl operator: (?= (RE2 has no backreferences or lookaround)"),
        ("[z-a]", "invalid character class range: z-a"),
        ("*", "no argument for repetition operator: *"),
        ("a{1001}", "invalid repetition size: {1001}"),
        ("(a{1000}){1000}", "invalid repetition size: {1000}"),
        ("\\pL{1000}", "pattern too large - compile failed (use smaller repetition counts)"),
    ],
)
def test_invalid_regex_is_rejected_with_its_path(pattern: str, reason: str):
    data = {
        "when": {
            "all": [
                {"field": "deal.title", "exists": True},
                {"field": "deal.title", "regex": pattern},
            ]
        },
        "then": [{"add_tags": ["T"]}],
    }
    error = error_of(data)
    assert error.path == "$.when.all[1].regex"
    assert error.message == f"invalid regular expression: {reason}"


def test_the_number_of_regexes_is_capped():
    leaf = {"field": "deal.title", "regex": "(?i)sofa"}
    fits = rule_of({"all": [leaf] * MAX_REGEXES})
    assert parse_rule(fits).matches(FACTS)
    error = error_of(rule_of({"all": [leaf] * MAX_REGEXES + [{"not": leaf}]}))
    assert (
        str(error)
        == f"$.when.all[{MAX_REGEXES}].not.regex: a rule may have at most 10 regex comparisons"
    )


def test_pattern_length_is_capped():
    assert holds({"field": "deal.title", "regex": "x?" * (MAX_PATTERN_LENGTH // 2)})
    error = error_of(rule_of({"field": "deal.title", "regex": "x" * (MAX_PATTERN_LENGTH + 1)}))
    assert str(error) == "$.when.regex: the pattern is longer than 500 characters"


# --- actions and outcomes -----------------------------------------------------------------


def test_actions_apply_in_order():
    rule = parse_rule(
        {
            "when": {"field": "stage.kind", "equals": "won"},
            "then": [
                {"add_tags": ["  Loyal ", "Repeat", "Loyal"]},
                {"remove_tags": ["Lead", "Repeat"]},
                {"set_field": {"name": "Notes", "value": "first"}},
                {"add_tags": ["Lead"]},
                {"set_field": {"name": " Notes", "value": "second"}},
                {"set_field": {"name": "Source", "value": ""}},
            ],
        }
    )
    assert rule.actions == (
        AddTags(("Loyal", "Repeat")),
        RemoveTags(("Lead", "Repeat")),
        SetField("Notes", "first"),
        AddTags(("Lead",)),
        SetField("Notes", "second"),
        SetField("Source", ""),
    )
    assert evaluate(rule, FACTS) == Outcome(
        matched=True,
        add_tags=["Loyal", "Lead"],
        remove_tags=["Repeat"],
        set_fields={"Notes": "second", "Source": ""},
    )
    assert evaluate(rule, {"stage": {"kind": "open"}}) == Outcome(matched=False)


def test_rules_round_trip_through_json():
    data = {
        "when": {
            "all": [
                {"field": "deal.amount", "gte": "1500.00"},
                {"field": "stage.name", "in": ["Won", 3, True]},
                {"not": {"any": [{"field": "dialog.channel", "regex": "^tele"}]}},
            ]
        },
        "then": [{"remove_tags": ["Cold"]}, {"set_field": {"name": "Notes", "value": "big"}}],
    }
    rule = parse_rule(data)
    assert rule.to_json() == data
    assert parse_rule(json.loads(json.dumps(rule.to_json()))) == rule
    assert isinstance(rule.when, AllOf)
    assert isinstance(rule.when.conditions[2], Not)
    assert isinstance(rule.when.conditions[2].condition, AnyOf)
    assert rule.when.conditions[1] == Compare("stage.name", Op.IN, ("Won", 3, True))


def test_rules_decoded_with_decimal_floats_parse_the_same():
    text = '{"when": {"field": "deal.amount", "in": [1500.50, "x"]}, "then": [{"add_tags": ["A"]}]}'
    rule = parse_rule(json.loads(text, parse_float=Decimal))
    assert rule.matches({"deal": {"amount": "1500.5"}})
    assert rule.matches({"deal": {"amount": 1500.5}})
    assert parse_rule(json.loads(text)).matches({"deal": {"amount": Decimal("1500.500")}})


def test_comparisons_built_directly_normalize_their_operator_and_lists():
    direct = Compare("stage.name", "in", ["Won", "Paid"])  # type: ignore[arg-type]
    assert direct == Compare("stage.name", Op.IN, ("Won", "Paid"))
    assert direct.op is Op.IN
    assert direct.matches({"stage": {"name": "Paid"}})


def test_rules_are_immutable_and_hashable():
    rule = parse_rule(LOYAL)
    assert hash(rule) == hash(parse_rule(copy.deepcopy(LOYAL)))
    with pytest.raises(AttributeError):
        rule.when = Not(rule.when)  # type: ignore[misc]


# --- validation errors --------------------------------------------------------------------

ERRORS = [
    ([], "$", 'a rule must be an object {"when": ..., "then": [...]}, got array'),
    ('{"when": {}}', "$", 'a rule must be an object {"when": ..., "then": [...]}, got string'),
    ({"then": []}, "$", "missing 'when': the condition the deal must meet"),
    ({"when": {"field": "deal.title", "exists": True}}, "$", "missing 'then': the list of actions"),
    (
        {**LOYAL, "If": 1},
        "$",
        "unknown key 'If' (did you mean 'when'?); a rule has only 'when' and 'then'",
    ),
    (
        {**LOYAL, "name": "loyal"},
        "$",
        "unknown key 'name'; a rule has only 'when' and 'then'",
    ),
    (
        rule_of({"any": [{"field": "deal.title", "equal": "x"}]}),
        "$.when.any[0]",
        "unknown operator 'equal' (did you mean 'equals'?)",
    ),
    (
        rule_of({"field": "deal.amount", ">=": 3}),
        "$.when",
        "unknown operator '>=' (did you mean 'gte'?)",
    ),
    (
        rule_of({"field": "deal.title", "matches": "x"}),
        "$.when",
        "unknown operator 'matches' (did you mean 'regex'?)",
    ),
    (
        rule_of({"field": "deal.title", "Exists": True}),
        "$.when",
        "unknown operator 'Exists' (did you mean 'exists'?)",
    ),
    (rule_of({"field": "deal.title", "frobnicate": 1}), "$.when", "unknown operator 'frobnicate'"),
    (
        rule_of({"field": "deal.title"}),
        "$.when",
        "missing operator: add one of 'equals', 'not_equals', 'contains', 'regex', 'in', 'exists', "
        "'gt', 'gte', 'lt' or 'lte'",
    ),
    (
        rule_of({"field": "deal.amount", "gt": 1, "lt": 5}),
        "$.when",
        "one operator per comparison, found 'gt' and 'lt'; combine comparisons with 'all' or 'any'",
    ),
    (rule_of({"equals": "x"}), "$.when", "'equals' needs a 'field' to compare"),
    (
        rule_of({"alll": []}),
        "$.when",
        "unknown key 'alll' (did you mean 'all'?); a condition is 'all', 'any', 'not' or a "
        "'field' with an operator",
    ),
    (
        rule_of({"and": []}),
        "$.when",
        "unknown key 'and' (did you mean 'all'?); a condition is 'all', 'any', 'not' or a "
        "'field' with an operator",
    ),
    (
        rule_of({}),
        "$.when",
        "empty condition: expected 'all', 'any', 'not' or a 'field' with an operator",
    ),
    (
        rule_of({"all": [{"field": "deal.title", "exists": True}], "any": []}),
        "$.when",
        "'all' cannot be combined with 'any' in one condition; nest them with 'all' or 'any'",
    ),
    (
        rule_of({"not": {"field": "deal.title", "exists": True}, "field": "deal.title"}),
        "$.when",
        "'not' cannot be combined with 'field' in one condition; nest them with 'all' or 'any'",
    ),
    (
        rule_of("deal.title"),
        "$.when",
        "a condition must be an object with 'all', 'any', 'not' or 'field', got string",
    ),
    (
        rule_of({"all": {"field": "deal.title", "exists": True}}),
        "$.when.all",
        "expected an array of conditions, got object",
    ),
    (rule_of({"any": []}), "$.when.any", "expected at least one condition"),
    (
        rule_of({"all": [{"field": "deal.title", "exists": True}, None]}),
        "$.when.all[1]",
        "a condition must be an object with 'all', 'any', 'not' or 'field', got null",
    ),
    (
        rule_of({"not": [{"field": "deal.title", "exists": True}]}),
        "$.when.not",
        "a condition must be an object with 'all', 'any', 'not' or 'field', got array",
    ),
    # fields
    (
        rule_of({"field": 3, "equals": 3}),
        "$.when.field",
        "expected a dotted path such as 'deal.amount', got number",
    ),
    (
        rule_of({"field": "contacts.won_deals", "gte": 3}),
        "$.when.field",
        "unknown field 'contacts.won_deals' (did you mean 'contact.won_deals'?): paths start with "
        "'deal', 'pipeline', 'stage', 'contact', 'dialog', 'booking' or 'event'",
    ),
    (
        rule_of({"field": "amount", "gte": 3}),
        "$.when.field",
        "unknown field 'amount': paths start with "
        "'deal', 'pipeline', 'stage', 'contact', 'dialog', 'booking' or 'event'",
    ),
    (
        rule_of({"field": "deal..amount", "gte": 3}),
        "$.when.field",
        "'deal..amount' is not a dotted path: it has an empty part",
    ),
    (
        rule_of({"field": "", "exists": True}),
        "$.when.field",
        "'' is not a dotted path: it has an empty part",
    ),
    (
        rule_of({"field": "deal." + "x" * 200, "exists": True}),
        "$.when.field",
        "the path is longer than 200 characters",
    ),
    # operator values
    (
        rule_of({"field": "deal.title", "exists": "yes"}),
        "$.when.exists",
        "expected true or false, got string",
    ),
    (
        rule_of({"field": "deal.amount", "gt": "a lot"}),
        "$.when.gt",
        "expected a number or a decimal string such as \"1500.00\", got string 'a lot'",
    ),
    (
        rule_of({"field": "deal.amount", "gt": "1,500"}),
        "$.when.gt",
        "expected a number or a decimal string such as \"1500.00\", got string '1,500'",
    ),
    (
        rule_of({"field": "deal.amount", "lte": True}),
        "$.when.lte",
        'expected a number or a decimal string such as "1500.00", got boolean',
    ),
    (
        rule_of({"field": "deal.amount", "lt": float("inf")}),
        "$.when.lt",
        'expected a number or a decimal string such as "1500.00", got inf (numbers must be finite)',
    ),
    (
        rule_of({"field": "deal.title", "equals": None}),
        "$.when.equals",
        "expected a string, number or boolean, got null (to test for a missing value use "
        "'exists': false)",
    ),
    (
        rule_of({"field": "deal.title", "equals": ["a", "b"]}),
        "$.when.equals",
        "expected a string, number or boolean, got array (to compare with several values use 'in')",
    ),
    (
        rule_of({"field": "deal.title", "contains": {"a": 1}}),
        "$.when.contains",
        "expected a string, number or boolean, got object",
    ),
    (
        rule_of({"field": "deal.title", "not_equals": float("nan")}),
        "$.when.not_equals",
        "expected a string, number or boolean, got nan (numbers must be finite)",
    ),
    (
        rule_of({"field": "deal.title", "equals": "x" * 1001}),
        "$.when.equals",
        "the value is longer than 1000 characters",
    ),
    (
        rule_of({"field": "stage.name", "in": "Won"}),
        "$.when.in",
        "expected an array of strings, numbers or booleans, got string",
    ),
    (rule_of({"field": "stage.name", "in": []}), "$.when.in", "expected at least one value"),
    (
        rule_of({"field": "stage.name", "in": list(range(101))}),
        "$.when.in",
        "expected at most 100 values",
    ),
    (
        rule_of({"field": "stage.name", "in": ["Won", None]}),
        "$.when.in[1]",
        "expected a string, number or boolean, got null (to test for a missing value use "
        "'exists': false)",
    ),
    (
        rule_of({"field": "stage.name", "in": [["Won"]]}),
        "$.when.in[0]",
        "expected a string, number or boolean, got array",
    ),
    (
        rule_of({"field": "deal.title", "regex": 5}),
        "$.when.regex",
        "expected a regular expression (string), got number",
    ),
    (rule_of({"field": "deal.title", "regex": ""}), "$.when.regex", "the pattern is empty"),
    # actions
    (
        {"when": LOYAL["when"], "then": {"add_tags": ["x"]}},
        "$.then",
        "expected an array of actions, got object: wrap it in [ ]",
    ),
    (
        {"when": LOYAL["when"], "then": "Loyal"},
        "$.then",
        "expected an array of actions, got string",
    ),
    ({"when": LOYAL["when"], "then": []}, "$.then", "expected at least one action"),
    (
        {"when": LOYAL["when"], "then": ["Loyal"]},
        "$.then[0]",
        'an action must be an object such as {"add_tags": ["Loyal"]}, got string',
    ),
    (
        {"when": LOYAL["when"], "then": [{}]},
        "$.then[0]",
        "empty action: expected 'add_tags', 'remove_tags' or 'set_field'",
    ),
    (
        {"when": LOYAL["when"], "then": [{"add_tags": ["x"]}, {"add_tag": ["x"]}]},
        "$.then[1]",
        "unknown action 'add_tag' (did you mean 'add_tags'?)",
    ),
    (
        {"when": LOYAL["when"], "then": [{"add_tags": ["x"], "remove_tags": ["y"]}]},
        "$.then[0]",
        "one action per object, found 'add_tags' and 'remove_tags'",
    ),
    (
        {"when": LOYAL["when"], "then": [{"add_tags": "Loyal"}]},
        "$.then[0].add_tags",
        'expected an array of tag names such as ["Loyal"], got string',
    ),
    (
        {"when": LOYAL["when"], "then": [{"remove_tags": []}]},
        "$.then[0].remove_tags",
        "expected at least one tag name",
    ),
    (
        {"when": LOYAL["when"], "then": [{"add_tags": [f"t{i}" for i in range(51)]}]},
        "$.then[0].add_tags",
        "expected at most 50 tag names",
    ),
    (
        {"when": LOYAL["when"], "then": [{"add_tags": ["ok", 7]}]},
        "$.then[0].add_tags[1]",
        "expected a tag name (string), got number",
    ),
    (
        {"when": LOYAL["when"], "then": [{"add_tags": [" "]}]},
        "$.then[0].add_tags[0]",
        "the tag name is blank",
    ),
    (
        {"when": LOYAL["when"], "then": [{"add_tags": ["x" * 65]}]},
        "$.then[0].add_tags[0]",
        "the tag name is longer than 64 characters",
    ),
    (
        {"when": LOYAL["when"], "then": [{"set_field": ["Notes", "x"]}]},
        "$.then[0].set_field",
        'expected an object {"name": ..., "value": ...}, got array',
    ),
    (
        {"when": LOYAL["when"], "then": [{"set_field": {"name": "Notes"}}]},
        "$.then[0].set_field",
        "missing 'value'",
    ),
    (
        {"when": LOYAL["when"], "then": [{"set_field": {"name": "Notes", "vale": "x"}}]},
        "$.then[0].set_field",
        "unknown key 'vale' (did you mean 'value'?); set_field has 'name' and 'value'",
    ),
    (
        {"when": LOYAL["when"], "then": [{"set_field": {"name": "", "value": "x"}}]},
        "$.then[0].set_field.name",
        "the field name is blank",
    ),
    (
        {"when": LOYAL["when"], "then": [{"set_field": {"name": "Notes", "value": 5}}]},
        "$.then[0].set_field.value",
        "expected a string, got number",
    ),
    (
        {"when": LOYAL["when"], "then": [{"set_field": {"name": "Notes", "value": "x" * 1001}}]},
        "$.then[0].set_field.value",
        "the value is longer than 1000 characters",
    ),
]


@pytest.mark.parametrize(("data", "path", "message"), ERRORS, ids=[e[2][:60] for e in ERRORS])
def test_errors_name_the_json_path(data: Any, path: str, message: str):
    error = error_of(data)
    assert (error.path, error.message) == (path, message)
    assert str(error) == f"{path}: {message}"


def test_a_rule_error_survives_pickling():
    pickled = pickle.dumps(error_of(rule_of({"field": "deal.x", "eq": 1})))
    error = pickle.loads(pickled)  # noqa: S301
    assert (type(error), error.path, error.field) == (RuleError, "$.when", "$.when")
    assert str(error) == "$.when: unknown operator 'eq' (did you mean 'equals'?)"


def test_errors_report_the_first_problem_in_document_order():
    data = {
        "when": {"all": [{"field": "deal.title", "exists": True}, {"field": "deal.x", "eq": 1}]},
        "then": [{"add_tags": 5}],
    }
    assert str(error_of(data)) == "$.when.all[1]: unknown operator 'eq' (did you mean 'equals'?)"


def test_a_rule_error_is_a_validation_failure_naming_the_path():
    error = error_of(rule_of({"any": [{"field": "deal.title", "equal": "x"}]}))
    assert isinstance(error, ValidationFailed)
    assert error.code == "invalid_rule"
    assert error.field == "$.when.any[0]"
    assert error.message == "unknown operator 'equal' (did you mean 'equals'?)"
    assert str(error) == "$.when.any[0]: unknown operator 'equal' (did you mean 'equals'?)"


# --- limits -------------------------------------------------------------------------------


def test_nesting_depth_is_limited():
    assert holds(nested(MAX_DEPTH)) is (MAX_DEPTH % 2 == 1)
    error = error_of(rule_of(nested(MAX_DEPTH + 1)))
    assert error.path == "$.when" + ".not" * MAX_DEPTH
    assert error.message == "conditions nest deeper than 10 levels"
    deep_all = {"field": "deal.title", "exists": True}
    for _ in range(MAX_DEPTH):
        deep_all = {"all": [{"field": "deal.title", "exists": True}, deep_all]}
    assert error_of(rule_of(deep_all)).path == "$.when" + ".all[1]" * (MAX_DEPTH - 1) + ".all[0]"


def test_a_hostile_depth_is_rejected_without_recursing_into_it():
    condition: Any = {"field": "deal.title", "exists": True}
    for _ in range(5000):
        condition = {"not": condition}
    assert error_of(rule_of(condition)).message == "conditions nest deeper than 10 levels"


def test_the_number_of_nodes_is_limited():
    leaf = {"field": "deal.title", "exists": True}
    # the "any" and one action are nodes too
    fits = {"when": {"any": [leaf] * (MAX_NODES - 2)}, "then": [{"add_tags": ["T"]}]}
    assert parse_rule(fits).matches(FACTS)
    error = error_of({"when": {"any": [leaf] * (MAX_NODES - 1)}, "then": [{"add_tags": ["T"]}]})
    assert (error.path, error.message) == (
        "$.then[0]",
        "the rule has more than 200 conditions and actions; split it up",
    )
    too_many = {"when": {"any": [leaf] * 1000}, "then": [{"add_tags": ["T"]}]}
    assert error_of(too_many).path == f"$.when.any[{MAX_NODES - 1}]"
    actions = {"when": leaf, "then": [{"add_tags": ["T"]}] * MAX_NODES}
    assert error_of(actions).path == f"$.then[{MAX_NODES - 1}]"


def test_a_rule_at_the_limits_evaluates_quickly():
    """The most regexes a rule may have, with costly patterns, each searching a long text."""
    costly = [".{999}x", "(\\w+\\s?){999}$", "((a|aa)+){999}$", "(a|b){999}c", "(.{100}){10}"]
    # "any" with an always-true second branch: every regex runs whatever it finds
    each = [
        {"any": [{"field": "deal.title", "regex": costly[i % len(costly)]}, nested(1)]}
        for i in range(MAX_REGEXES)
    ]
    rule = parse_rule(rule_of({"all": each}))
    for text in ("a" * MAX_INPUT_LENGTH * 10, "ёжик " * MAX_INPUT_LENGTH, "ab" * MAX_INPUT_LENGTH):
        started = time.perf_counter()
        assert rule.matches({"deal": {"title": text}})
        assert time.perf_counter() - started < 3


# --- the JSON Schema ----------------------------------------------------------------------


def test_the_committed_schema_file_is_current():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == rules.schema_json(), (
        "regenerate it: make rules-schema"
    )
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == RULE_JSON_SCHEMA


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(RULE_JSON_SCHEMA)
    assert RULE_JSON_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    defs = RULE_JSON_SCHEMA["$defs"]
    conditions = [defs[item["$ref"].rsplit("/", 1)[1]] for item in defs["Condition"]["oneOf"]]
    keys = {key for condition in conditions for key in condition["properties"]}
    assert keys - {"field", "all", "any", "not"} == set(Op)


VALID = [
    LOYAL,
    INSTAGRAM_AD,
    rule_of(
        {
            "all": [
                {"field": "deal.amount", "gte": "1500.00"},
                {"field": "deal.currency", "equals": "USD"},
            ]
        }
    ),
    rule_of(
        {
            "any": [
                {"field": "stage.name", "in": ["Won", 1, False]},
                {"not": {"field": "booking", "exists": True}},
            ]
        }
    ),
    rule_of({"field": "dialog.first_message.text", "regex": "(?i)price|cost"}),
    rule_of({"field": "deal.fields.Ref. no", "contains": "R-"}),
    {
        "when": {"field": "stage.probability", "lt": 50.5},
        "then": [{"remove_tags": ["Hot"]}, {"set_field": {"name": "Notes", "value": ""}}],
    },
]


def _is_json(data: Any) -> bool:
    try:
        json.dumps(data, allow_nan=False)
    except ValueError:
        return False
    return True


#: Invalid only for the parser: limits, RE2 syntax and non-finite numbers (which JSON has not,
#: but Python's json module reads) are beyond a JSON Schema.
PARSER_ONLY = [
    rule_of(nested(MAX_DEPTH + 1)),
    {
        "when": {"any": [{"field": "deal.title", "exists": True}] * MAX_NODES},
        "then": [{"add_tags": ["T"]}],
    },
    rule_of({"field": "deal.title", "regex": "(a)\\1"}),
    rule_of({"all": [{"field": "deal.title", "regex": "x"}] * 11}),
    rule_of({"field": "deal.amount", "lt": float("inf")}),
    rule_of({"field": "deal.title", "not_equals": float("nan")}),
]
#: Invalid for both the schema and the parser.
INVALID = [data for data, _, _ in ERRORS if _is_json(data)]


@pytest.mark.parametrize("data", VALID, ids=[json.dumps(v)[:60] for v in VALID])
def test_the_schema_and_the_parser_accept_valid_rules(data: dict[str, Any]):
    SCHEMA.validate(data)
    parse_rule(data)


@pytest.mark.parametrize("data", INVALID, ids=[repr(v)[:60] for v in INVALID])
def test_the_schema_and_the_parser_reject_invalid_rules(data: Any):
    assert not SCHEMA.is_valid(_jsonable(data))
    with pytest.raises(RuleError):
        parse_rule(data)


@pytest.mark.parametrize(
    "data", PARSER_ONLY, ids=["depth", "nodes", "re2", "regexes", "inf", "nan"]
)
def test_the_parser_also_enforces_what_the_schema_cannot(data: dict[str, Any]):
    assert SCHEMA.is_valid(_jsonable(data))
    with pytest.raises(RuleError):
        parse_rule(data)


def _jsonable(data: Any) -> Any:
    """What ``data`` would be after a JSON round trip (tuples to lists)."""
    return json.loads(json.dumps(data))


# --- properties ---------------------------------------------------------------------------

PATHS = [
    "deal.title",
    "deal.amount",
    "deal.tags",
    "deal.fields.Notes",
    "stage.probability",
    "contact.won_deals",
    "dialog.first_message.referral.ctwa_clid",
    "booking",
]
TEXT = st.text(alphabet="ab1.-0 Ё", max_size=8)
SCALARS = st.one_of(
    TEXT,
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.sampled_from(["1500.00", "-0.5", "3"]),
)
NUMERIC = st.one_of(st.integers(-5, 5), st.sampled_from(["1500.00", "-0.5", "3", "0"]))


@st.composite
def comparisons(draw: st.DrawFn) -> dict[str, Any]:
    path = draw(st.sampled_from(PATHS))
    op = draw(st.sampled_from(list(Op)))
    if op is Op.EXISTS:
        value: Any = draw(st.booleans())
    elif op in (Op.GT, Op.GTE, Op.LT, Op.LTE):
        value = draw(NUMERIC)
    elif op is Op.REGEX:
        value = draw(st.sampled_from(["a", "^b", "(a+)+$", "(?i)Ё|1", "[0-9]{2}", r"\d+\.\d\d"]))
    elif op is Op.IN:
        value = draw(st.lists(SCALARS, min_size=1, max_size=3))
    else:
        value = draw(SCALARS)
    return {"field": path, op.value: value}


def conditions(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    if depth <= 1:
        return comparisons()
    inner = conditions(depth - 1)
    return st.one_of(
        comparisons(),
        st.builds(lambda items: {"all": items}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda item: {"not": item}, inner),
    )


ODD = st.sampled_from(
    [
        None,
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("-Infinity"),
        Decimal("1E+999999"),
        float("nan"),
        float("-inf"),
        10**400,
        b"bytes",
        object(),
        (1, "a"),
        {1, 2},
        "x" * (MAX_INPUT_LENGTH + 5),
    ]
)
VALUES = st.recursive(
    st.one_of(SCALARS, ODD, st.decimals(allow_nan=True)),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["title", "amount", "tags", "Notes", "referral", "fields"]),
            children,
            max_size=3,
        ),
    ),
    max_leaves=8,
)


@st.composite
def facts_documents(draw: st.DrawFn) -> Any:
    """Facts with values at the paths the rules read, and odd things all around."""
    facts: dict[str, Any] = {}
    for path in draw(st.lists(st.sampled_from(PATHS), max_size=len(PATHS))):
        *parents, last = path.split(".")
        node = facts
        for key in parents:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[last] = draw(VALUES)
    return draw(st.one_of(st.just(facts), VALUES))


@settings(max_examples=400, deadline=None, database=None)
@given(conditions(MAX_DEPTH - 6), facts_documents())
def test_evaluation_never_raises_and_not_inverts_matches(condition: dict[str, Any], facts: Any):
    rule = parse_rule(rule_of(condition))
    assert SCHEMA.is_valid(rule_of(condition))
    outcome = evaluate(rule, facts)
    assert isinstance(outcome.matched, bool)
    assert outcome.add_tags == (["T"] if outcome.matched else [])
    negated = parse_rule(rule_of({"not": condition}))
    assert negated.matches(facts) is (not outcome.matched)
    assert parse_rule(rule.to_json()) == rule


# --- the parser and the schema accept the same rules -----------------------------------------

#: Paths, good and bad; no newlines (jsonschema's ``$`` matches before a trailing one).
ANY_PATHS = st.sampled_from(["deal.title", "contact.won_deals", "deal.fields.Ref. no", "amount"])
BAD_PATHS = st.sampled_from(["", "deal..x", "Deal.x", "deal." + "x" * 200, 7])
NAMES = st.text(alphabet="aZ1. \t\x1c\u3000Ё", max_size=5)
JUNK = st.recursive(
    st.one_of(
        NAMES,
        st.none(),
        st.booleans(),
        st.integers(-3, 10**20),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(["1500.00", "-0.5", "1,5", "1e3", "x" * 1001, "9" * 65]),
    ),
    lambda children: (
        st.lists(children, max_size=2)
        | st.dictionaries(st.sampled_from(["field", "all", "not", "equals", "name", "x"]), children)
    ),
    max_leaves=3,
)
PATTERNS = st.sampled_from(["a", "^b$", "(?i)x|Ё", "[0-9]{2}", "", "x" * 501])


def often(value: Any = True, otherwise: Any = False) -> st.SearchStrategy[Any]:
    """``value`` nine times in ten (Hypothesis draws small integers far more often)."""
    return st.sampled_from([value] * 9 + [otherwise])


def some(items: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """One to three items, now and then none."""
    return st.one_of(*[st.lists(items, min_size=1, max_size=3)] * 4, st.just([]))


def operands(key: str) -> st.SearchStrategy[Any]:
    """Mostly what ``key`` takes, sometimes anything at all."""
    right = {
        "regex": PATTERNS,
        "in": some(st.one_of(SCALARS, SCALARS, JUNK)),
        "exists": st.booleans(),
    }.get(key, st.one_of(SCALARS, NUMERIC))
    return st.one_of(right, right, right, right, JUNK)


@st.composite
def near_comparisons(draw: st.DrawFn) -> dict[str, Any]:
    """A comparison with one operator, or none, two, a misspelt one, no field or a bad one."""
    node: dict[str, Any] = {}
    if draw(often()):
        node["field"] = draw(st.one_of(ANY_PATHS, ANY_PATHS, BAD_PATHS))
    keys = st.sampled_from([op.value for op in Op] + ["equal"])
    for key in draw(st.lists(keys, min_size=draw(often(1, 2)), max_size=2, unique=True)):
        node[key] = draw(operands(key))
    return node


def near_conditions(depth: int) -> st.SearchStrategy[Any]:
    if depth <= 1:
        return st.one_of(*[near_comparisons()] * 6, JUNK)
    inner = near_conditions(depth - 1)
    items = some(inner)
    return st.one_of(
        near_comparisons(),
        near_comparisons(),
        st.builds(lambda it: {"all": it}, items),
        st.builds(lambda it: {"any": it}, items),
        st.builds(lambda it: {"not": it}, inner),
        st.builds(lambda it, other: {"all": it, **other}, items, st.dictionaries(NAMES, JUNK)),
        JUNK,
    )


TAG_LISTS = st.one_of(*[some(st.one_of(*[NAMES] * 6, JUNK))] * 4, JUNK)
NEAR_ACTIONS = st.one_of(
    st.builds(lambda tags: {"add_tags": tags}, TAG_LISTS),
    st.builds(lambda tags: {"remove_tags": tags}, TAG_LISTS),
    st.builds(
        lambda value: {"set_field": value},
        st.one_of(
            st.fixed_dictionaries(
                {"name": st.one_of(NAMES, JUNK)}, optional={"value": st.one_of(NAMES, JUNK)}
            ),
            JUNK,
        ),
    ),
    st.builds(lambda a, b: {"add_tags": a, "remove_tags": b}, TAG_LISTS, TAG_LISTS),
)


@st.composite
def near_rules(draw: st.DrawFn) -> Any:
    """Rule JSON, valid or nearly so, within the limits the schema cannot state."""
    rule: dict[str, Any] = {}
    if draw(often()):
        rule["when"] = draw(near_conditions(3))
    if draw(often()):
        rule["then"] = draw(st.one_of(*[some(NEAR_ACTIONS)] * 9, JUNK))
    if draw(often(False, True)):
        rule[draw(NAMES)] = draw(JUNK)
    return rule if draw(often()) else draw(JUNK)


@settings(max_examples=400, deadline=None, database=None)
@given(near_rules())
def test_the_parser_accepts_exactly_the_rules_the_generated_schema_accepts(data: Any):
    try:
        parse_rule(data)
    except RuleError:
        accepted = False
    else:
        accepted = True
    event(f"accepted={accepted}")
    assert SCHEMA.is_valid(data) is accepted
