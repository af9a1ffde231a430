from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from enum import StrEnum

#: The enum values as they were when this migration was written (never the live enums).
BookingStatus = StrEnum('BookingStatus', {'PENDING': 'pending', 'CONFIRMED': 'confirmed', 'ARRIVED': 'arrived', 'NO_SHOW': 'no_show', 'CANCELLED': 'cancelled'})

class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0007_conversions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Booking',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('deal', fields.OneToOneField('funnelbox.Deal', source_field='deal_id', db_constraint=True, to_field='id', related_name='booking', on_delete=OnDelete.CASCADE)),
                ('source', fields.CharField(default='manual', max_length=32)),
                ('external_id', fields.CharField(null=True, max_length=64)),
                ('status', fields.CharEnumField(description='PENDING: pending\nCONFIRMED: confirmed\nARRIVED: arrived\nNO_SHOW: no_show\nCANCELLED: cancelled', enum_type=BookingStatus, max_length=16)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('duration_minutes', fields.IntField(default=60)),
                ('timezone', fields.CharField(default='UTC', max_length=64)),
                ('services', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('staff', fields.CharField(default='', max_length=200)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'booking', 'app': 'funnelbox', 'unique_together': (('source', 'external_id'),), 'pk_attr': 'id', 'table_description': 'The appointment behind a deal: an Altegio record, or one entered by hand.'},
            bases=['Model'],
        ),
    ]
