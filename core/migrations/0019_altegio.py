"""Altegio connections, their status mapping and synced records and clients; Altegio
webhook deliveries join the intake (a delivery comes from a channel or a connection)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint
from enum import StrEnum
from typing import Any

#: The enum values as they were when this migration was written (never the live enums).
BookingStatus = StrEnum('BookingStatus', {'PENDING': 'pending', 'CONFIRMED': 'confirmed', 'ARRIVED': 'arrived', 'NO_SHOW': 'no_show', 'CANCELLED': 'cancelled'})
DeliveryKind = StrEnum('DeliveryKind', {'TELEGRAM_UPDATE': 'telegram_update', 'WHATSAPP_MESSAGE': 'whatsapp_message', 'WHATSAPP_STATUS': 'whatsapp_status', 'ALTEGIO_RECORD': 'altegio_record'})


def _sqlite(state_editor: Any) -> bool:
    return state_editor is not None and state_editor.client.capabilities.dialect == "sqlite"


class NullableChannel(ops.AlterField):
    """AlterField, except that SQLite rebuilds the table from its own schema.

    Tortoise's SQLite schema editor would rebuild it from the model and lose the unique
    key on (channel, key) and the index on next_attempt_at (see 0012). Here the stored
    CREATE TABLE is reused with channel_id nullable, the rows copied, the indexes
    recreated. Nothing points at inbound_delivery, so dropping the old table cascades
    to nothing.
    """

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if not _sqlite(state_editor):
            return await super().database_forward(app_label, old_state, new_state, state_editor)
        client = state_editor.client
        _, tables = await client.execute_query(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'inbound_delivery'"
        )
        _, indexes = await client.execute_query(
            "SELECT sql FROM sqlite_master WHERE type = 'index'"
            " AND tbl_name = 'inbound_delivery' AND sql IS NOT NULL"
        )
        old = tables[0]["sql"]
        new = old.replace('"channel_id" INT NOT NULL', '"channel_id" INT', 1).replace(
            'CREATE TABLE "inbound_delivery"', 'CREATE TABLE "new__inbound_delivery"', 1
        )
        assert new.count('"channel_id" INT ') == 1 and "new__" in new, "unexpected schema"
        for sql in (
            new,
            'INSERT INTO "new__inbound_delivery" SELECT * FROM "inbound_delivery"',
            'DROP TABLE "inbound_delivery"',
            'ALTER TABLE "new__inbound_delivery" RENAME TO "inbound_delivery"',
            *(row["sql"] for row in indexes),
        ):
            await client.execute_script(sql)


class DescribeKind(ops.AlterField):
    """A new enum value changes only the column's description: no SQL on SQLite (where
    Tortoise would rebuild the table for it), the column comment on PostgreSQL."""

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if not _sqlite(state_editor):
            return await super().database_forward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0018_parked')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AltegioConnection',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('company_id', fields.BigIntField(unique=True)),
                ('name', fields.CharField(max_length=100)),
                ('api_base_url', fields.CharField(max_length=255)),
                ('credentials', fields.TextField(unique=False)),
                ('timezone', fields.CharField(max_length=64)),
                ('currency', fields.CharField(max_length=3)),
                ('owner', fields.ForeignKeyField('funnelbox.User', source_field='owner_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('enabled', fields.BooleanField(default=True)),
                ('watermark', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_sync_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_sync', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'altegio_connection', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'One Altegio company whose records become deals.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AltegioClient',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('connection', fields.ForeignKeyField('funnelbox.AltegioConnection', source_field='connection_id', db_constraint=True, to_field='id', related_name='clients', on_delete=OnDelete.CASCADE)),
                ('client_id', fields.BigIntField()),
                ('contact', fields.ForeignKeyField('funnelbox.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'altegio_client', 'app': 'funnelbox', 'unique_together': (('connection', 'client_id'),), 'pk_attr': 'id', 'table_description': 'An Altegio client and the contact it is: matched once, by id ever after.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AltegioMapping',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('connection', fields.ForeignKeyField('funnelbox.AltegioConnection', source_field='connection_id', db_constraint=True, to_field='id', related_name='mappings', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(description='PENDING: pending\nCONFIRMED: confirmed\nARRIVED: arrived\nNO_SHOW: no_show\nCANCELLED: cancelled', enum_type=BookingStatus, max_length=16)),
                ('stage', fields.ForeignKeyField('funnelbox.Stage', source_field='stage_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'altegio_mapping', 'app': 'funnelbox', 'unique_together': (('connection', 'status'),), 'pk_attr': 'id', 'table_description': 'Which stage (of any pipeline) a record in one status puts its deal in.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AltegioRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('connection', fields.ForeignKeyField('funnelbox.AltegioConnection', source_field='connection_id', db_constraint=True, to_field='id', related_name='records', on_delete=OnDelete.CASCADE)),
                ('record_id', fields.BigIntField()),
                ('deal', fields.ForeignKeyField('funnelbox.Deal', source_field='deal_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('status', fields.CharEnumField(description='PENDING: pending\nCONFIRMED: confirmed\nARRIVED: arrived\nNO_SHOW: no_show\nCANCELLED: cancelled', enum_type=BookingStatus, max_length=16)),
                ('stage_id', fields.IntField(null=True)),
                ('last_change', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'altegio_record', 'app': 'funnelbox', 'unique_together': (('connection', 'record_id'),), 'pk_attr': 'id', 'table_description': 'An Altegio record and the deal it became.'},
            bases=['Model'],
        ),
        NullableChannel(
            model_name='InboundDelivery',
            name='channel',
            field=fields.ForeignKeyField('funnelbox.Channel', source_field='channel_id', null=True, db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE),
        ),
        DescribeKind(
            model_name='InboundDelivery',
            name='kind',
            field=fields.CharEnumField(description='TELEGRAM_UPDATE: telegram_update\nWHATSAPP_MESSAGE: whatsapp_message\nWHATSAPP_STATUS: whatsapp_status\nALTEGIO_RECORD: altegio_record', enum_type=DeliveryKind, max_length=24),
        ),
        ops.AddField(
            model_name='InboundDelivery',
            name='altegio',
            field=fields.ForeignKeyField('funnelbox.AltegioConnection', source_field='altegio_id', null=True, db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE),
        ),
        ops.AddConstraint(
            model_name='InboundDelivery',
            constraint=UniqueConstraint(fields=('altegio', 'key'), name=None),
        ),
    ]
