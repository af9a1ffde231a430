"""One phone is one contact, held by a unique index; unread counts get a per-user start.

``contact.phone`` gets a unique index (NULLs allowed).

Until now only the service checked it, so a database may hold duplicates: two concurrent
creates, or contacts from before the check. Merging contacts is a person's decision (their
dialogs, deals and bookings), so the migration merges nothing: the oldest contact keeps the
phone, each later one keeps everything but the phone, and that change is recorded as the
contact's ``contact.updated`` event (phone from the number to none, with the contact that
keeps it) and logged, so a person can find them and merge by hand.

On SQLite the index is swapped in place: Tortoise's SQLite editor would rebuild the table,
and its DROP TABLE cascades to every identity, dialog and deal link of every contact.

``read_baseline`` holds where each user's unread counts start (a new user does not see
the whole history as unread). Every existing user gets 0, so their counts stay as they
were; later users get theirs on their first count (``inbox.unread``).
"""

import logging
from typing import Any

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

log = logging.getLogger("funnelbox.migrations")
EXISTING_USERS_COUNT_FROM_0 = (
    'INSERT INTO "read_baseline" ("user_id", "message_id") SELECT "id", 0 FROM "user"'
)


async def free_duplicate_phones(apps: Any, schema_editor: Any) -> None:
    """Every contact but the oldest of each phone lets go of it, with an event each."""
    contact_model = apps.get_model("funnelbox.Contact")
    event_model = apps.get_model("funnelbox.Event")
    keeper: dict[str, int] = {}
    for contact in await contact_model.filter(phone__isnull=False).order_by("id"):
        holder = keeper.setdefault(contact.phone, contact.id)
        if holder == contact.id:
            continue
        await contact_model.filter(id=contact.id).update(phone=None)
        await event_model.create(
            kind="contact.updated",
            data={
                "contact_id": contact.id,
                "changes": {"phone": {"from": contact.phone, "to": None}},
                "reason": f"contact {holder} has this phone: one phone is one contact",
            },
        )
        log.warning(
            "contact %s (%s) lost phone %s to contact %s: merge them by hand if they are one",
            contact.id, contact.name, contact.phone, holder,
        )  # fmt: skip


class AlterInPlace(ops.AlterField):
    """AlterField, except that SQLite takes the editor's in-place path (drop the index,
    create the unique one) instead of rebuilding the table."""

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor is None or state_editor.client.capabilities.dialect != "sqlite":
            return await super().database_forward(app_label, old_state, new_state, state_editor)
        old_model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
        new_model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        old_field = old_model._meta.fields_map[self.name]
        new_field = new_model._meta.fields_map[self.name]
        await BaseSchemaEditor._alter_field(state_editor, new_model, old_field, new_field)


class Migration(migrations.Migration):
    dependencies = [('funnelbox', '0016_dialog_assignment')]

    initial = False

    operations = [
        ops.RunPython(free_duplicate_phones, ops.RunPython.noop),
        AlterInPlace(
            model_name='Contact',
            name='phone',
            field=fields.CharField(null=True, unique=True, max_length=20),
        ),
        ops.CreateModel(
            name='ReadBaseline',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('funnelbox.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('message_id', fields.BigIntField()),
            ],
            options={'table': 'read_baseline', 'app': 'funnelbox', 'pk_attr': 'id', 'table_description': 'Where the unread counts of one user start, a message id.'},
            bases=['Model'],
        ),
        ops.RunSQL(EXISTING_USERS_COUNT_FROM_0),
    ]
