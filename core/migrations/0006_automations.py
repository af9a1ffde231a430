from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum

#: The enum values as they were when this migration was written (never the live enums).
AutomationEvent = StrEnum('AutomationEvent', {'DEAL_CREATED': 'deal.created', 'DEAL_UPDATED': 'deal.updated', 'STAGE_CHANGED': 'deal.stage_changed', 'CONTACT_ADDED': 'deal.contact_added', 'CONTACT_REMOVED': 'deal.contact_removed'})
RunOutcome = StrEnum('RunOutcome', {'APPLIED': 'applied', 'CONDITION_FALSE': 'condition_false', 'OWN_CHANGE': 'own_change', 'DEPTH_LIMIT': 'depth_limit', 'FAILED': 'failed'})

class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0005_event_dispatch')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Automation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=255)),
                ('event', fields.CharEnumField(description='DEAL_CREATED: deal.created\nDEAL_UPDATED: deal.updated\nSTAGE_CHANGED: deal.stage_changed\nCONTACT_ADDED: deal.contact_added\nCONTACT_REMOVED: deal.contact_removed', enum_type=AutomationEvent, max_length=32)),
                ('pipeline', fields.ForeignKeyField('funnelbox.Pipeline', source_field='pipeline_id', null=True, db_constraint=True, to_field='id', related_name='automations', on_delete=OnDelete.CASCADE)),
                ('stage', fields.ForeignKeyField('funnelbox.Stage', source_field='stage_id', null=True, db_constraint=True, to_field='id', related_name='automations', on_delete=OnDelete.CASCADE)),
                ('condition', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('action', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'automation', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'When a deal event happens (in a pipeline, into a stage, if a condition holds), create'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AutomationRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('automation', fields.ForeignKeyField('funnelbox.Automation', source_field='automation_id', db_constraint=True, to_field='id', related_name='runs', on_delete=OnDelete.CASCADE)),
                ('event_id', fields.BigIntField()),
                ('deal_id', fields.IntField(null=True)),
                ('depth', fields.SmallIntField(default=0)),
                ('outcome', fields.CharEnumField(description='APPLIED: applied\nCONDITION_FALSE: condition_false\nOWN_CHANGE: own_change\nDEPTH_LIMIT: depth_limit\nFAILED: failed', enum_type=RunOutcome, max_length=16)),
                ('detail', fields.TextField(default='', unique=False)),
                ('result_deal_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'automation_run', 'app': 'funnelbox', 'unique_together': (('automation', 'event_id'),), 'indexes': [Index(fields=['automation_id', 'id'], name='automation_run_log')], 'pk_attr': 'id', 'table_description': 'The log of an automation meeting one event. At most one run per automation and'},
            bases=['Model'],
        ),
    ]
