from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0010_intake_thread')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Outbox',
            name='next_attempt_at',
            field=fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Outbox',
            name='dialog_id',
            field=fields.IntField(null=True, db_index=True, description='The dialog whose sends go out in order (copied from the message for the claim).'),
        ),
        ops.AddField(
            model_name='Outbox',
            name='key',
            field=fields.CharField(null=True, unique=True, max_length=200),
        ),
        ops.AddField(
            model_name='Outbox',
            name='purpose',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.RemoveField(model_name='Outbox', name='claimed_until'),
        # sends of one dialog are claimed in order by dialog_id, finished ones leave the queue
        ops.RunSQL([
            'UPDATE outbox SET dialog_id = (SELECT dialog_id FROM message WHERE message.id = outbox.message_id)',
            "UPDATE outbox SET next_attempt_at = NULL WHERE state <> 'pending'",
            # pending stage-trigger messages keep being checked when due (inbox.outgoing)
            "UPDATE outbox SET purpose = 'stage_trigger' WHERE next_attempt_at IS NOT NULL"
            " AND message_id IN (SELECT id FROM message WHERE author = 'bot'"
            " AND CAST(payload AS TEXT) LIKE '%\"trigger_id\"%')",
        ]),
    ]
