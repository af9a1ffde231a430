"""Indexes that keep the intake's work independent of how much history a database holds.

Each queue table (webhook deliveries, events, sends, Conversions API events) gets a
partial index of its pending rows, by id. A claim asks for the oldest due rows in id
order; without it, PostgreSQL walked the primary key through every row ever processed
(next_attempt_at NULL) to find them, and the events table, with no index on
next_attempt_at at all, was read whole for the soonest due time. A claim now reads the
pending rows alone, a few hundred at most, whether the table holds ten thousand rows or
ten million. SQLite and PostgreSQL take the same partial index statement.

``deal_dialog`` serves the question every customer message asks: does its dialog have
an open deal?
"""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

QUEUES = ("inbound_delivery", "event", "outbox", "conversion")


class Migration(migrations.Migration):
    dependencies = [("funnelbox", "0019_altegio")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="Deal",
            index=Index(fields=["dialog_id", "id"], name="deal_dialog"),
        ),
    ] + [
        ops.RunSQL(
            f'CREATE INDEX "{table}_pending" ON "{table}" ("id") WHERE "next_attempt_at" IS NOT NULL',
            reverse_sql=f'DROP INDEX "{table}_pending"',
        )
        for table in QUEUES
    ]
