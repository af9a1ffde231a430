from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields
from enum import StrEnum

#: The enum values as they were when this migration was written (never the live enums).
ConversionState = StrEnum('ConversionState', {'PENDING': 'pending', 'SENT': 'sent', 'DROPPED': 'dropped', 'FAILED': 'failed'})

class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0006_automations')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Conversion',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.CharField(unique=True, max_length=100)),
                ('event_name', fields.CharField(max_length=32)),
                ('deal_id', fields.IntField(null=True, db_index=True)),
                ('channel_id', fields.IntField(null=True, description='The WhatsApp channel whose business account id business messaging events carry.')),
                ('event_time', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('body', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('state', fields.CharEnumField(default='pending', description='PENDING: pending\nSENT: sent\nDROPPED: dropped\nFAILED: failed', enum_type=ConversionState, max_length=16)),
                ('next_attempt_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.SmallIntField(default=0)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'conversion', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'One server event for the Conversions API, queued by the event dispatcher and sent'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ConversionSettings',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('is_enabled', fields.BooleanField(default=False)),
                ('pixel_id', fields.CharField(max_length=32)),
                ('credentials', fields.TextField(unique=False)),
                ('test_event_code', fields.CharField(null=True, max_length=64)),
                ('default_currency', fields.CharField(default='USD', description='Purchase needs a currency: this one is used for deals that have no amount.', max_length=3)),
                ('api_base_url', fields.CharField(max_length=255)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'conversion_settings', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'The Meta Pixel (dataset) that deal events are reported to. One row, edited by admins.'},
            bases=['Model'],
        ),
    ]
