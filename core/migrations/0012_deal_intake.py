"""A channel's routing into the funnels (pipeline, stage, owner) moves to ``deal_intake``.

The channel is the inbox's, and the inbox may not point up at the funnels: the funnels'
``deal_intake`` row points down at the channel instead. Every existing channel keeps its
routing (copied before the columns go). Not reversible: the columns cannot come back
NOT NULL on a table that holds rows.

Depends on 0010_intake_thread: the 0011 written alongside this one is on another branch.
"""

from typing import Any

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

COPY = (
    'INSERT INTO "deal_intake" ("channel_id", "pipeline_id", "stage_id", "owner_id") '
    'SELECT "id", "pipeline_id", "stage_id", "owner_id" FROM "channel"'
)


class DropColumn(ops.RemoveField):
    """RemoveField, except that SQLite drops the column in place (SQLite 3.35+).

    Tortoise's SQLite schema editor rebuilds the table instead, and for this table that
    is wrong three ways: it keeps the foreign key's column (NOT NULL, not copied, so any
    row fails), it loses the unique key and the index, and its DROP TABLE cascades to
    every dialog, message and delivery of every channel.
    """

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor is None or state_editor.client.capabilities.dialect != "sqlite":
            return await super().database_forward(app_label, old_state, new_state, state_editor)
        drop = ops.RunSQL(f'ALTER TABLE "channel" DROP COLUMN "{self.name}_id"')
        return await drop.database_forward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0011_one_queue')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DealIntake',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.OneToOneField('funnelbox.Channel', source_field='channel_id', db_constraint=True, to_field='id', related_name='deal_intake', on_delete=OnDelete.CASCADE)),
                ('pipeline', fields.ForeignKeyField('funnelbox.Pipeline', source_field='pipeline_id', db_constraint=True, to_field='id', related_name='deal_intakes', on_delete=OnDelete.RESTRICT)),
                ('stage', fields.ForeignKeyField('funnelbox.Stage', source_field='stage_id', db_constraint=True, to_field='id', related_name='deal_intakes', on_delete=OnDelete.RESTRICT)),
                ('owner', fields.ForeignKeyField('funnelbox.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='deal_intakes', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'deal_intake', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': "Where a channel's new dialogs become deals: a pipeline, its stage and their owner."},
            bases=['Model'],
        ),
        ops.RunSQL(COPY),
        DropColumn(model_name='Channel', name='owner'),
        DropColumn(model_name='Channel', name='pipeline'),
        DropColumn(model_name='Channel', name='stage'),
    ]
