from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0008_bookings')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StaffChat',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('funnelbox.User', source_field='user_id', db_constraint=True, to_field='id', related_name='staff_chat', on_delete=OnDelete.CASCADE)),
                ('channel', fields.ForeignKeyField('funnelbox.Channel', source_field='channel_id', db_constraint=True, to_field='id', related_name='staff_chats', on_delete=OnDelete.CASCADE)),
                ('chat_id', fields.CharField(max_length=32)),
                ('linked_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'staff_chat', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': "A user's own chat with one of the business's Telegram bots, where the bot tells"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Task',
            name='notified_at',
            field=fields.DatetimeField(null=True, description='When the assignee was told through the Telegram bot, if the trigger asks for it.', auto_now=False, auto_now_add=False),
        ),
    ]
