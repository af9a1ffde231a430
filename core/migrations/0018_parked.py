"""Every queue table gets ``parked_at``: set while a row is parked, so parked deliveries,
events, sends and Conversions API events can be listed and put back in their queue.

Rows parked before this migration are marked where their columns tell: an inbound
delivery neither pending nor processed, an event no longer pending with an error left,
a Conversions API event that failed. (A failed send may have been dropped as no longer
wanted rather than parked; those are left unmarked.)
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

TABLES = {
    "InboundDelivery": 'UPDATE "inbound_delivery" SET "parked_at" = "received_at" '
    'WHERE "next_attempt_at" IS NULL AND "processed_at" IS NULL',
    "Event": 'UPDATE "event" SET "parked_at" = "created_at" '
    'WHERE "next_attempt_at" IS NULL AND "last_error" IS NOT NULL',
    "Outbox": None,
    "Conversion": 'UPDATE "conversion" SET "parked_at" = "created_at" WHERE "state" = \'failed\'',
}
DESCRIPTION = "Set while parked: a bad item kept for a person, who may put it back in the queue."


class Migration(migrations.Migration):
    dependencies = [("funnelbox", "0017_phone_unique_read_baseline")]

    initial = False

    operations = [
        ops.AddField(
            model_name=model,
            name="parked_at",
            field=fields.DatetimeField(null=True, db_index=True, description=DESCRIPTION),
        )
        for model in TABLES
    ] + [ops.RunSQL(sql) for sql in TABLES.values() if sql]
