"""Text and JSON every database can store: the one check (and repair) of input.

API bodies and queries are refused when they hold what PostgreSQL cannot store or nest
too deep; a messenger's webhook is repaired instead, since it carries what a customer
typed and must be kept.
"""

import re
from typing import Any

from core.errors import ValidationFailed

#: How deep a request's JSON may nest (the deepest real body is a rule: 10 levels).
MAX_DEPTH = 32
#: Text PostgreSQL cannot store (NUL) or that is not Unicode at all (lone surrogates).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def checked_text(node: Any, *, repair: bool = False, path: tuple[str, ...] = ()) -> Any:
    """``node`` once it nests at most :data:`MAX_DEPTH` deep (else 400) and holds no text,
    keys included, that a database cannot store: refused with a 422 naming the field, the
    same on SQLite and PostgreSQL, or with ``repair`` NUL dropped and lone surrogates
    replaced by U+FFFD."""
    if len(path) > MAX_DEPTH:
        raise too_deep()
    if isinstance(node, str):
        if not UNSTORABLE.search(node):
            return node
        if repair:
            return UNSTORABLE.sub(lambda m: "" if m[0] == "\x00" else "\ufffd", node)
        where = ".".join(path) or "body"
        raise ValidationFailed(
            f"{where}: text must not contain NUL or unpaired surrogate characters", field=where
        )
    if isinstance(node, dict):
        return {
            checked_text(key, repair=repair, path=(*path, str(key))): checked_text(
                value, repair=repair, path=(*path, str(key))
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [checked_text(v, repair=repair, path=(*path, str(i))) for i, v in enumerate(node)]
    return node


def too_deep() -> ValidationFailed:
    return ValidationFailed(
        f"the JSON nests deeper than {MAX_DEPTH} levels", field="body", code="malformed_json"
    )
