"""Account-wide deal settings kept by admins: custom fields, tags and lost reasons."""

import re
from typing import Any, TypeVar

from tortoise.models import Model

from core.errors import Conflict, NotFound, ValidationFailed
from core.events import change
from core.models import User
from funnels.models import CustomField, FieldKind, LostReason, Tag

M = TypeVar("M", bound=Model)
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_KIND = {CustomField: "custom_field", Tag: "tag", LostReason: "lost_reason"}


async def _get(model: type[M], obj_id: int) -> M:
    obj = await model.get_or_none(id=obj_id)
    if obj is None:
        kind = _KIND[model]
        raise NotFound(f"{kind.replace('_', ' ')} {obj_id} does not exist", field=f"{kind}_id")
    return obj


def check_color(color: str) -> str:
    """Colours are ``#rrggbb``, the form a browser colour picker gives."""
    if not COLOR.fullmatch(color):
        raise ValidationFailed("color must look like #1a2b3c", field="color")
    return color.lower()


def _name(name: str, limit: int) -> str:
    if not name or not name.strip():
        raise ValidationFailed("name must not be empty", field="name")
    if len(name.strip()) > limit:
        raise ValidationFailed(f"name is longer than {limit} characters", field="name")
    return name.strip()


async def _unique_name(model: type[Model], name: str, exclude_id: int | None = None) -> None:
    query = model.filter(name=name)
    if exclude_id is not None:
        query = query.exclude(id=exclude_id)
    if await query.exists():
        raise Conflict(f"{name!r} already exists", field="name")


async def _create(actor: User | None, model: type[M], **values: Any) -> M:
    await _unique_name(model, values["name"])
    async with change(actor) as batch:
        if "position" in model._meta.fields_map:
            # after the last one: a count would repeat a position once an earlier one is deleted
            last = await model.all().order_by("-position").first()
            values.setdefault("position", last.position + 1 if last else 0)  # type: ignore[attr-defined]
        obj = await model.create(**values)
        await batch.record(f"{_KIND[model]}.created", id=obj.pk, **values)
    return obj


async def _update(actor: User | None, model: type[M], obj_id: int, **values: Any) -> M:
    if "name" in values:
        await _unique_name(model, values["name"], exclude_id=obj_id)
    async with change(actor) as batch:
        obj = await _get(model, obj_id)
        await batch.save(obj, values, f"{_KIND[model]}.updated", id=obj_id)
    return obj


async def _delete(actor: User | None, model: type[Model], obj_id: int) -> None:
    async with change(actor) as batch:
        obj = await _get(model, obj_id)
        await obj.delete()
        await batch.record(f"{_KIND[model]}.deleted", id=obj_id, name=obj.name)  # type: ignore[attr-defined]


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


async def list_custom_fields() -> list[CustomField]:
    """Custom deal fields in display order."""
    return await CustomField.all()


async def create_custom_field(*, actor: User | None, name: str, kind: FieldKind) -> CustomField:
    """Define a text or date field that every deal can fill."""
    return await _create(actor, CustomField, name=_name(name, 100), kind=FieldKind(kind))


async def update_custom_field(
    *, actor: User | None, field_id: int, name: str | None = None
) -> CustomField:
    """Rename a custom field; its kind is fixed once values exist."""
    return await _update(actor, CustomField, field_id, **_given(name=name and _name(name, 100)))


async def delete_custom_field(*, actor: User | None, field_id: int) -> None:
    """Remove a custom field and its values on every deal."""
    await _delete(actor, CustomField, field_id)


async def list_tags() -> list[Tag]:
    """Tags by name."""
    return await Tag.all()


async def create_tag(*, actor: User | None, name: str, color: str | None = None) -> Tag:
    """Add a tag that deals can carry."""
    return await _create(
        actor, Tag, **_given(name=_name(name, 64), color=color and check_color(color))
    )


async def update_tag(
    *, actor: User | None, tag_id: int, name: str | None = None, color: str | None = None
) -> Tag:
    """Rename or recolour a tag."""
    return await _update(
        actor,
        Tag,
        tag_id,
        **_given(name=name and _name(name, 64), color=color and check_color(color)),
    )


async def delete_tag(*, actor: User | None, tag_id: int) -> None:
    """Remove a tag from the account and from every deal."""
    await _delete(actor, Tag, tag_id)


async def get_lost_reason(*, reason_id: int) -> LostReason:
    """A lost reason by id, or :class:`NotFound`."""
    return await _get(LostReason, reason_id)


async def list_lost_reasons() -> list[LostReason]:
    """Lost reasons in display order."""
    return await LostReason.all()


async def create_lost_reason(*, actor: User | None, name: str) -> LostReason:
    """Add a reason operators can pick when a deal is lost."""
    return await _create(actor, LostReason, name=_name(name, 200))


async def update_lost_reason(*, actor: User | None, reason_id: int, name: str) -> LostReason:
    """Rename a lost reason."""
    return await _update(actor, LostReason, reason_id, name=_name(name, 200))


async def delete_lost_reason(*, actor: User | None, reason_id: int) -> None:
    """Remove a lost reason; deals that had it keep their stage and lose the reason."""
    await _delete(actor, LostReason, reason_id)
