"""Team notes in dialogs (a message whose direction is ``note``) and canned replies.

A note is a ``message`` row, so the only schema change for it is the direction's new
value, which only the column's description records. Tortoise's SQLite schema editor
would rebuild the whole ``message`` table for that, losing its unique key and index and
cascading its DROP TABLE to every queued send: on SQLite (no column comments) the change
is left to the migration state.

Depends on 0012_deal_intake: 0013 and 0014 are written on other branches.
"""

from enum import StrEnum
from typing import Any

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

Direction = StrEnum('Direction', {'IN': 'in', 'OUT': 'out', 'NOTE': 'note'})


class DescribeField(ops.AlterField):
    """AlterField for a change of description only: a column comment on PostgreSQL,
    nothing on SQLite (where AlterField would rebuild the table)."""

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor is None or state_editor.client.capabilities.dialect == "sqlite":
            return None
        return await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor is None or state_editor.client.capabilities.dialect == "sqlite":
            return None
        return await super().database_backward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0014_dialog_list')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CannedReply',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shortcut', fields.CharField(unique=True, max_length=32)),
                ('title', fields.CharField(max_length=100)),
                ('text', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'canned_reply', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'A reply admins keep ready for operators, who pick it by its shortcut in the reply box.'},
            bases=['Model'],
        ),
        DescribeField(
            model_name='Message',
            name='direction',
            field=fields.CharEnumField(description='IN: in\nOUT: out\nNOTE: note', enum_type=Direction, max_length=4),
        ),
    ]
