"""The inbox list at 100,000 dialogs: its order as one index, and search by substring.

``dialog_activity`` (last activity, id) serves the list's order and keyset pages on both
databases. On PostgreSQL only (a no-op on SQLite), trigram indexes answer the search's
substring matches on the contact's name and phone and on message text; each expression
must stay the one Tortoise generates: ``UPPER(CAST("name" AS VARCHAR)) LIKE UPPER('%q%')``
for ``icontains`` and ``CAST("phone" AS VARCHAR) LIKE '%q%'`` for ``contains``.

Depends on 0012_deal_intake; the integrator renumbers the chain.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

CREATE = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    'CREATE INDEX IF NOT EXISTS "contact_name_trgm" ON "contact" '
    'USING GIN (UPPER(CAST("name" AS VARCHAR)) gin_trgm_ops);'
    'CREATE INDEX IF NOT EXISTS "contact_phone_trgm" ON "contact" '
    'USING GIN (CAST("phone" AS VARCHAR) gin_trgm_ops);'
    'CREATE INDEX IF NOT EXISTS "message_text_trgm" ON "message" '
    'USING GIN (UPPER(CAST("text" AS VARCHAR)) gin_trgm_ops);'
    'ANALYZE "contact";'
    'ANALYZE "message"'
)
DROP = (
    'DROP INDEX IF EXISTS "contact_name_trgm";'
    'DROP INDEX IF EXISTS "contact_phone_trgm";'
    'DROP INDEX IF EXISTS "message_text_trgm"'
)


def _on_postgres(sql: str) -> Callable[[Any, Any], Awaitable[None]]:
    async def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.client.capabilities.dialect == "postgres":
            await schema_editor.client.execute_script(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("funnelbox", "0013_tokens")]
    operations = [
        ops.AddIndex(
            model_name="Dialog",
            index=Index(fields=["last_message_at", "id"], name="dialog_activity"),
        ),
        ops.RunPython(_on_postgres(CREATE), _on_postgres(DROP)),
    ]
