"""What :class:`core.queue.Queue` needs of a table, said once for the type checker."""

from datetime import datetime

from tortoise.models import Model


class QueueRow(Model):
    """A table served as a queue: pending while ``next_attempt_at`` is set, ``attempts``
    tries so far, ``last_error`` the latest failure, ``parked_at`` set while the row is
    parked (a bad item, waiting for a person to retry it).

    Annotations only: each table declares the columns itself (their defaults and indexes
    differ), so this abstract base adds no column and changes no migration.
    """

    next_attempt_at: datetime | None
    attempts: int
    last_error: str | None
    parked_at: datetime | None

    class Meta:
        abstract = True
