from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from enum import StrEnum

#: The enum values as they were when this migration was written (never the live enums).
Role = StrEnum('Role', {'OWNER': 'owner', 'ADMIN': 'admin', 'OPERATOR': 'operator'})
TokenKind = StrEnum('TokenKind', {'API': 'api', 'SESSION': 'session'})
FieldKind = StrEnum('FieldKind', {'TEXT': 'text', 'DATE': 'date'})
StageKind = StrEnum('StageKind', {'OPEN': 'open', 'WON': 'won', 'LOST': 'lost'})

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Contact',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('phone', fields.CharField(null=True, db_index=True, max_length=20)),
                ('email', fields.CharField(null=True, db_index=True, max_length=254)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'contact', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'A customer. Phones are stored in E.164 so messengers and bookings match on them.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomField',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('kind', fields.CharEnumField(description='TEXT: text\nDATE: date', enum_type=FieldKind, max_length=8)),
                ('position', fields.IntField(default=0)),
            ],
            options={'table': 'custom_field', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'An extra deal field defined by admins (the guide calls them additional information).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LostReason',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=200)),
                ('position', fields.IntField(default=0)),
            ],
            options={'table': 'lost_reason', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'Why deals are lost, a list admins keep.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Pipeline',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=100)),
                ('color', fields.CharField(default='#4f7cff', max_length=7)),
                ('position', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'pipeline', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'A sales process, at most ten per account.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Stage',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('pipeline', fields.ForeignKeyField('funnelbox.Pipeline', source_field='pipeline_id', db_constraint=True, to_field='id', related_name='stages', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('probability', fields.SmallIntField()),
                ('kind', fields.CharEnumField(default='open', description='OPEN: open\nWON: won\nLOST: lost', enum_type=StageKind, max_length=8)),
                ('position', fields.IntField(default=0)),
            ],
            options={'table': 'stage', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'A step of a pipeline with its closing probability (0-100).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Tag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('color', fields.CharField(default='#888888', max_length=7)),
            ],
            options={'table': 'tag', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'A label on deals, such as Loyal.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('name', fields.CharField(default='', max_length=200)),
                ('role', fields.CharEnumField(description='OWNER: owner\nADMIN: admin\nOPERATOR: operator', enum_type=Role, max_length=16)),
                ('password_hash', fields.CharField(max_length=200)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'user', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'A person who signs in: owners and admins run the CRM, operators work the inbox.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('funnelbox.User', source_field='user_id', db_constraint=True, to_field='id', related_name='tokens', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(default='api', description='API: api\nSESSION: session', enum_type=TokenKind, max_length=16)),
                ('secret_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_token', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'A bearer credential. Only a SHA-256 of the secret is stored.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Deal',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=255)),
                ('pipeline', fields.ForeignKeyField('funnelbox.Pipeline', source_field='pipeline_id', db_constraint=True, to_field='id', related_name='deals', on_delete=OnDelete.RESTRICT)),
                ('stage', fields.ForeignKeyField('funnelbox.Stage', source_field='stage_id', db_constraint=True, to_field='id', related_name='deals', on_delete=OnDelete.RESTRICT)),
                ('owner', fields.ForeignKeyField('funnelbox.User', source_field='owner_id', db_constraint=True, to_field='id', related_name='deals', on_delete=OnDelete.RESTRICT)),
                ('amount', fields.DecimalField(null=True, max_digits=18, decimal_places=2)),
                ('currency', fields.CharField(null=True, max_length=3)),
                ('close_date', fields.DateField(null=True)),
                ('reference', fields.CharField(null=True, db_index=True, max_length=255)),
                ('lost_reason', fields.ForeignKeyField('funnelbox.LostReason', source_field='lost_reason_id', null=True, db_constraint=True, to_field='id', related_name='deals', on_delete=OnDelete.SET_NULL)),
                ('tags', fields.ManyToManyField('funnelbox.Tag', unique=True, db_constraint=True, through='deal_tag', forward_key='tag_id', backward_key='deal_id', related_name='deals', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('stage_changed_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'deal', 'app': 'funnelbox', 'indexes': [Index(fields=['pipeline_id', 'stage_id', 'currency', 'amount'], name='deal_board'), Index(fields=['stage_id', 'created_at', 'id'], name='deal_stage_created'), Index(fields=['pipeline_id', 'created_at', 'id'], name='deal_pipeline_created'), Index(fields=['created_at', 'id'], name='deal_created'), Index(fields=['owner_id', 'created_at'], name='deal_owner_created'), Index(fields=['close_date', 'id'], name='deal_close_date'), Index(fields=['title', 'id'], name='deal_title'), Index(fields=['amount', 'id'], name='deal_amount')], 'pk_attr': 'id', 'table_description': "A sales opportunity with one or more contacts, moving through a pipeline's stages."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DealContact',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('deal', fields.ForeignKeyField('funnelbox.Deal', source_field='deal_id', db_constraint=True, to_field='id', related_name='deal_contacts', on_delete=OnDelete.CASCADE)),
                ('contact', fields.ForeignKeyField('funnelbox.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name='deal_contacts', on_delete=OnDelete.CASCADE)),
                ('position', fields.SmallIntField(default=0)),
            ],
            options={'table': 'deal_contact', 'app': 'funnelbox', 'unique_together': (('deal', 'contact'),), 'pk_attr': 'id', 'table_description': 'A contact on a deal. The position keeps the order, and the first contact names the deal.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DealFieldValue',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('deal', fields.ForeignKeyField('funnelbox.Deal', source_field='deal_id', db_constraint=True, to_field='id', related_name='field_values', on_delete=OnDelete.CASCADE)),
                ('field', fields.ForeignKeyField('funnelbox.CustomField', source_field='field_id', db_constraint=True, to_field='id', related_name='values', on_delete=OnDelete.CASCADE)),
                ('value_text', fields.TextField(null=True, unique=False)),
                ('value_date', fields.DateField(null=True)),
            ],
            options={'table': 'deal_field_value', 'app': 'funnelbox', 'unique_together': (('deal', 'field'),), 'pk_attr': 'id', 'table_description': 'The value of one custom field on one deal.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Event',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=64)),
                ('deal_id', fields.IntField(null=True, db_index=True)),
                ('actor', fields.ForeignKeyField('funnelbox.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'event', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'One domain event: written in the transaction of the change it describes.'},
            bases=['Model'],
        ),
    ]
