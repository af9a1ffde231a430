from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0004_triggers')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Event',
            name='attempts',
            field=fields.SmallIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Event',
            name='last_error',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Event',
            name='next_attempt_at',
            field=fields.DatetimeField(null=True, db_index=True, description='Set while consumers (triggers, automations) still have to see the event.', auto_now=False, auto_now_add=False),
        ),
    ]
