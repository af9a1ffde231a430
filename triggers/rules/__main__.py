"""``python -m triggers.rules``: write the JSON Schema generated from the grammar to
``triggers/rules_schema.json``."""

from triggers.rules import SCHEMA_PATH, schema_json

SCHEMA_PATH.write_text(schema_json(), encoding="utf-8")
