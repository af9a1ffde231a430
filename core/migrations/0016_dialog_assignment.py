"""Dialogs get an assignee and per-user read markers (unread counts).

``dialog.last_inbound_id`` is filled from the stored messages so existing dialogs count
their customer messages as unread for everyone until read.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

BACKFILL = (
    'UPDATE "dialog" SET "last_inbound_id" = (SELECT MAX("id") FROM "message" '
    'WHERE "message"."dialog_id" = "dialog"."id" AND "message"."direction" = \'in\')'
)


class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0015_notes_canned')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DialogRead',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('funnelbox.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('dialog', fields.ForeignKeyField('funnelbox.Dialog', source_field='dialog_id', db_constraint=True, to_field='id', related_name='reads', on_delete=OnDelete.CASCADE)),
                ('message_id', fields.BigIntField()),
            ],
            options={'table': 'dialog_read', 'app': 'funnelbox', 'unique_together': (('user', 'dialog'),), 'pk_attr': 'id', 'table_description': 'How far one user has read one dialog: the id of the newest message they saw.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Dialog',
            name='assignee',
            field=fields.ForeignKeyField('funnelbox.User', source_field='assignee_id', null=True, description='The operator who answers it (none: anyone may pick it up).', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Dialog',
            name='last_inbound_id',
            field=fields.BigIntField(null=True, description="The newest customer message: a reader whose marker is below it has unread ones."),
        ),
        ops.AddIndex(
            model_name='Dialog',
            index=Index(fields=['assignee_id', 'last_message_at'], name='dialog_assignee'),
        ),
        ops.RunSQL(BACKFILL),
    ]
