"""Database wiring: one Tortoise app holding every domain's models, migrated by Tortoise itself."""

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as tortoise_migrate
from tortoise.models import Model

APP_LABEL = "funnelbox"

#: Every module that defines models, in dependency order (shared core first).
MODEL_MODULES = [
    "core.models",
    "inbox.models",
    "funnels.models",
    "altegio_sync.models",
    "bot.models",
    "triggers.models",
    "triggers.automations.models",
    "triggers.conversions.models",
]


async def _rolled_back(connection: object) -> None:
    """A pooled connection's reset on release: nothing beyond the rollback of an open
    transaction, which asyncpg always does first.

    asyncpg's default reset is a query of its own on every release (advisory locks,
    cursors, LISTEN, session settings), and tortoise takes a connection from the pool
    for every statement outside a transaction: one round trip more per query. Funnelbox
    holds no session state (it never takes advisory locks, listens, declares cursors or
    SETs anything), so there is nothing to reset.
    """


def one_writer(database_url: str) -> bool:
    """Whether the database takes one writer at a time (SQLite): work split across
    concurrent transactions only queues for its lock there."""
    return database_url.startswith("sqlite")


def tortoise_config(database_url: str, *, pool_size: int = 10) -> dict[str, Any]:
    """Build the Tortoise config; PostgreSQL gets a bounded connection pool whose
    connections are not reset on release (see :func:`_rolled_back`)."""
    connection = expand_db_url(database_url.replace("postgresql://", "postgres://", 1))
    if connection["engine"].endswith("asyncpg"):
        connection["credentials"].update(
            {"minsize": 1, "maxsize": pool_size, "reset": _rolled_back}
        )
    return {
        "connections": {"default": connection},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "core.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate(database_url: str) -> list[str]:
    """Apply every committed migration (the same files serve SQLite and PostgreSQL);
    returns the names of those applied now, oldest first."""
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(name)

    await tortoise_migrate(config=tortoise_config(database_url), progress=progress)
    await Tortoise.close_connections()
    return applied


async def open_database(database_url: str, *, pool_size: int = 10) -> None:
    """Connect for serving. ``_enable_global_fallback`` lets aiohttp request tasks see it."""
    await Tortoise.init(
        config=tortoise_config(database_url, pool_size=pool_size),
        _enable_global_fallback=True,
    )


@asynccontextmanager
async def database(database_url: str, *, pool_size: int = 10) -> AsyncIterator[None]:
    """Open the database for the duration of a block (CLI commands, app cleanup_ctx)."""
    await open_database(database_url, pool_size=pool_size)
    try:
        yield
    finally:
        await Tortoise.close_connections()


#: For ``tortoise makemigrations`` (pyproject's ``[tool.tortoise]``): migrations are
#: computed from the models and the committed files, so an in-memory database will do.
TORTOISE_ORM = tortoise_config("sqlite://:memory:")


async def insert_all(objects: Sequence[Model], *, rows_per_statement: int = 500) -> None:
    """Insert new instances of one model in one statement per ``rows_per_statement`` and
    give each its id, as ``save()`` one by one would, in a fraction of the round trips
    and of the ORM's per-statement work (tortoise's ``bulk_create`` leaves ids unset).

    A multi-row INSERT numbers its rows in the order they are listed, on PostgreSQL and
    SQLite alike, so the returned ids, sorted, are the objects' ids in order whatever
    order RETURNING lists them in.
    """
    for chunk, db, statement, values in _inserts(objects, rows_per_statement, ""):
        found = await db.execute_query_dict(statement, values)
        ids = sorted(row[chunk[0]._meta.db_pk_column] for row in found)
        for instance, pk in zip(chunk, ids, strict=True):
            instance.pk = pk
            instance._saved_in_db = True


async def insert_new(objects: Sequence[Model], *, rows_per_statement: int = 500) -> int:
    """Insert the instances that collide with no stored row on a unique key, skipping
    the rest (and later ones repeating an earlier one's key); returns how many were
    inserted. The instances get no ids: which of them went in is not reported.

    What a webhook does with its items: a redelivery is dropped by the database in the
    same statement that stores what is new, with no error raised and caught per item.
    """
    inserted = 0
    skip = " ON CONFLICT DO NOTHING"  # any unique key, on PostgreSQL and SQLite
    for _, db, statement, values in _inserts(objects, rows_per_statement, skip):
        inserted += len(await db.execute_query_dict(statement, values))
    return inserted


async def update_all(objects: Sequence[Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of stored instances of one model in one UPDATE, as ``save()``
    of each would (tortoise's ``bulk_update`` builds the same statement through its
    query builder, which costs more CPU than the round trips it saves).

    A field every instance holds the same value of is set once; one that differs is a
    ``CASE`` on the primary key, whose ``ELSE`` keeps the column's own type for
    PostgreSQL to read the parameters by.
    """
    if not objects:
        return
    model = type(objects[0])
    meta, db = model._meta, model._meta.db
    values: list[Any] = []

    def mark(value: Any) -> str:
        values.append(value)
        return _parameter(db, len(values))

    pk = f'"{meta.db_pk_column}"'
    sets = []
    for name in fields:
        column = f'"{meta.fields_db_projection[name]}"'
        field = meta.fields_map[name]
        each = [(o.pk, field.to_db_value(getattr(o, name), o)) for o in objects]
        if all(value == each[0][1] for _, value in each):
            sets.append(f"{column}={mark(each[0][1])}")
        else:
            cases = " ".join(f"WHEN {mark(key)} THEN {mark(value)}" for key, value in each)
            sets.append(f"{column}=CASE {pk} {cases} ELSE {column} END")
    where = ",".join(mark(o.pk) for o in objects)
    statement = f'UPDATE "{meta.db_table}" SET {",".join(sets)} WHERE {pk} IN ({where})'  # noqa: S608 (names from the model)
    await db.execute_query(statement, values)


def _parameter(db: BaseDBAsyncClient, n: int) -> str:
    """The ``n``-th (from 1) parameter's placeholder: ``$n`` on PostgreSQL, ``?`` on SQLite."""
    return f"${n}" if db.capabilities.dialect == "postgres" else "?"


def _inserts(
    objects: Sequence[Model], rows_per_statement: int, on_conflict: str
) -> Iterator[tuple[Sequence[Model], BaseDBAsyncClient, str, list[Any]]]:
    """Multi-row INSERT ... RETURNING statements for instances of one model, with their
    values converted by the model's own fields (defaults and ``auto_now`` filled in as
    by ``save()``). Written here because the query builder copies itself on every row
    added, which costs more than the round trips saved."""
    if not objects:
        return
    model = type(objects[0])
    meta, db = model._meta, model._meta.db
    executor = db.executor_class(model=model, db=db)
    fields = [name for name in executor.regular_columns if name != meta.pk_attr]
    columns = ",".join(f'"{meta.fields_db_projection[name]}"' for name in fields)
    into = f'INSERT INTO "{meta.db_table}" ({columns}) VALUES '  # noqa: S608 (names from the model)
    tail = f'{on_conflict} RETURNING "{meta.db_pk_column}"'
    for start in range(0, len(objects), rows_per_statement):
        chunk = objects[start : start + rows_per_statement]
        values = [
            meta.fields_map[name].to_db_value(getattr(instance, name), instance)
            for instance in chunk
            for name in fields
        ]
        marks = [_parameter(db, i) for i in range(1, len(values) + 1)]
        rows = ",".join(
            f"({','.join(marks[i : i + len(fields)])})" for i in range(0, len(marks), len(fields))
        )
        yield chunk, db, into + rows + tail, values
