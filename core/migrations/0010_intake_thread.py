from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0009_staff_chat')]

    initial = False

    operations = [
        ops.AddField(
            model_name='InboundDelivery',
            name='thread',
            field=fields.CharField(null=True, description='The conversation (channel and chat) the item belongs to: handled in order.', max_length=200),
        ),
    ]
