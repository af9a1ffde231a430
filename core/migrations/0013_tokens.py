"""API tokens get a name and a last-used time. Existing tokens keep working, unnamed."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0012_deal_intake')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ApiToken',
            name='last_used_at',
            field=fields.DatetimeField(null=True, description='Refreshed at most once a minute, so a request does not cost a write.', auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ApiToken',
            name='name',
            field=fields.CharField(default='', max_length=100),
        ),
    ]
