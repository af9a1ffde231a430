from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum

#: The enum values as they were when this migration was written (never the live enums).
ChannelKind = StrEnum('ChannelKind', {'TELEGRAM': 'telegram', 'WHATSAPP': 'whatsapp'})
DeliveryKind = StrEnum('DeliveryKind', {'TELEGRAM_UPDATE': 'telegram_update', 'WHATSAPP_MESSAGE': 'whatsapp_message', 'WHATSAPP_STATUS': 'whatsapp_status'})
OutboxState = StrEnum('OutboxState', {'PENDING': 'pending', 'DONE': 'done', 'FAILED': 'failed'})
Author = StrEnum('Author', {'CUSTOMER': 'customer', 'OPERATOR': 'operator', 'BOT': 'bot'})
DeliveryStatus = StrEnum('DeliveryStatus', {'QUEUED': 'queued', 'SENT': 'sent', 'DELIVERED': 'delivered', 'READ': 'read', 'FAILED': 'failed', 'RECEIVED': 'received'})
Direction = StrEnum('Direction', {'IN': 'in', 'OUT': 'out'})

class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Channel',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='TELEGRAM: telegram\nWHATSAPP: whatsapp', enum_type=ChannelKind, max_length=16)),
                ('name', fields.CharField(max_length=100)),
                ('api_base_url', fields.CharField(max_length=255)),
                ('external_id', fields.CharField(db_index=True, description='Telegram bot id or WhatsApp phone_number_id: routes webhooks to the channel.', max_length=64)),
                ('credentials', fields.TextField(unique=False)),
                ('settings', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('pipeline', fields.ForeignKeyField('funnelbox.Pipeline', source_field='pipeline_id', db_constraint=True, to_field='id', related_name='channels', on_delete=OnDelete.RESTRICT)),
                ('stage', fields.ForeignKeyField('funnelbox.Stage', source_field='stage_id', db_constraint=True, to_field='id', related_name='channels', on_delete=OnDelete.RESTRICT)),
                ('owner', fields.ForeignKeyField('funnelbox.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='channels', on_delete=OnDelete.RESTRICT)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'channel', 'app': 'funnelbox', 'unique_together': (('kind', 'external_id'),), 'pk_attr': 'id', 'table_description': 'A connected bot or business number, configured by admins.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ContactIdentity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.ForeignKeyField('funnelbox.Channel', source_field='channel_id', db_constraint=True, to_field='id', related_name='identities', on_delete=OnDelete.CASCADE)),
                ('contact', fields.ForeignKeyField('funnelbox.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name='identities', on_delete=OnDelete.CASCADE)),
                ('external_id', fields.CharField(max_length=64)),
                ('user_id', fields.CharField(null=True, max_length=128)),
                ('ctwa_clid', fields.CharField(null=True, max_length=255)),
            ],
            options={'table': 'contact_identity', 'app': 'funnelbox', 'unique_together': (('channel', 'external_id'),), 'pk_attr': 'id', 'table_description': 'How a channel knows a contact: Telegram user id, or WhatsApp wa_id and user_id.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Dialog',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.ForeignKeyField('funnelbox.Channel', source_field='channel_id', db_constraint=True, to_field='id', related_name='dialogs', on_delete=OnDelete.CASCADE)),
                ('contact', fields.ForeignKeyField('funnelbox.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name='dialogs', on_delete=OnDelete.CASCADE)),
                ('chat_id', fields.CharField(description='Telegram chat id or WhatsApp wa_id: where replies go.', max_length=64)),
                ('last_inbound_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_message_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'dialog', 'app': 'funnelbox', 'unique_together': (('channel', 'contact'),), 'pk_attr': 'id', 'table_description': 'The conversation of one contact on one channel.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InboundDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.ForeignKeyField('funnelbox.Channel', source_field='channel_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='TELEGRAM_UPDATE: telegram_update\nWHATSAPP_MESSAGE: whatsapp_message\nWHATSAPP_STATUS: whatsapp_status', enum_type=DeliveryKind, max_length=24)),
                ('key', fields.CharField(max_length=160)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('next_attempt_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('processed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.SmallIntField(default=0)),
                ('last_error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'inbound_delivery', 'app': 'funnelbox', 'unique_together': (('channel', 'key'),), 'pk_attr': 'id', 'table_description': 'A webhook item, stored before the webhook is answered and processed after.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.ForeignKeyField('funnelbox.Channel', source_field='channel_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('dialog', fields.ForeignKeyField('funnelbox.Dialog', source_field='dialog_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('direction', fields.CharEnumField(description='IN: in\nOUT: out', enum_type=Direction, max_length=4)),
                ('author', fields.CharEnumField(description='CUSTOMER: customer\nOPERATOR: operator\nBOT: bot', enum_type=Author, max_length=16)),
                ('author_user', fields.ForeignKeyField('funnelbox.User', source_field='author_user_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('kind', fields.CharField(default='text', max_length=32)),
                ('text', fields.TextField(default='', unique=False)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('external_id', fields.CharField(null=True, max_length=128)),
                ('status', fields.CharEnumField(description='QUEUED: queued\nSENT: sent\nDELIVERED: delivered\nREAD: read\nFAILED: failed\nRECEIVED: received', enum_type=DeliveryStatus, max_length=16)),
                ('error', fields.TextField(null=True, unique=False)),
                ('edited_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'message', 'app': 'funnelbox', 'unique_together': (('channel', 'external_id'),), 'indexes': [Index(fields=['dialog_id', 'id'], name='message_dialog')], 'pk_attr': 'id', 'table_description': 'One message of a dialog. The external id is unique per channel: redeliveries collide.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Outbox',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.OneToOneField('funnelbox.Message', source_field='message_id', db_constraint=True, to_field='id', related_name='outbox', on_delete=OnDelete.CASCADE)),
                ('state', fields.CharEnumField(default='pending', description='PENDING: pending\nDONE: done\nFAILED: failed', enum_type=OutboxState, max_length=8)),
                ('attempts', fields.SmallIntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'outbox', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'A send recorded before it is attempted, so a crash or restart loses nothing.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Deal',
            name='dialog',
            field=fields.ForeignKeyField('funnelbox.Dialog', source_field='dialog_id', null=True, description='The messenger dialog this deal came from, if any.', db_constraint=True, to_field='id', related_name='deals', on_delete=OnDelete.SET_NULL),
        ),
    ]
