from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum

#: The enum values as they were when this migration was written (never the live enums).
TriggerKind = StrEnum('TriggerKind', {'AUTO_MESSAGE': 'auto_message', 'AUTO_TASK': 'auto_task', 'DEAL_SOURCE': 'deal_source'})

class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0003_deal_title_trigram')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Trigger',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('stage', fields.ForeignKeyField('funnelbox.Stage', source_field='stage_id', db_constraint=True, to_field='id', related_name='triggers', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='AUTO_MESSAGE: auto_message\nAUTO_TASK: auto_task\nDEAL_SOURCE: deal_source', enum_type=TriggerKind, max_length=16)),
                ('config', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('is_active', fields.BooleanField(default=True)),
                ('position', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'trigger', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'One action a stage runs for each deal that enters it. Config depends on the kind.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Task',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=255)),
                ('description', fields.TextField(default='', unique=False)),
                ('deal', fields.ForeignKeyField('funnelbox.Deal', source_field='deal_id', null=True, db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.CASCADE)),
                ('assignee', fields.ForeignKeyField('funnelbox.User', source_field='assignee_id', db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.CASCADE)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('trigger', fields.ForeignKeyField('funnelbox.Trigger', source_field='trigger_id', null=True, db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.SET_NULL)),
                ('source_event_id', fields.BigIntField(null=True)),
            ],
            options={'table': 'task', 'app': 'funnelbox', 'unique_together': (('trigger', 'source_event_id'),), 'indexes': [Index(fields=['assignee_id', 'done_at', 'due_at'], name='task_assignee'), Index(fields=['deal_id', 'due_at'], name='task_deal')], 'pk_attr': 'id', 'table_description': 'A to-do for a user, usually about a deal, made by hand or by an auto-task trigger.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Pipeline',
            name='auto_messages_enabled',
            field=fields.BooleanField(default=True, description='Switches for the stage triggers of the whole pipeline.', db_default=True),
        ),
        ops.AddField(
            model_name='Pipeline',
            name='auto_tasks_enabled',
            field=fields.BooleanField(default=True, db_default=True),
        ),
    ]
