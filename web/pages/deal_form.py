"""The deal form's fields, read from a posted form into the deal services' keywords.

The deal page's Save and the Create deal form post the same fields. Only what a form
can get wrong before the services see it is checked here (a number that is not one, a
date that is not a date); every rule of a deal stays in :mod:`funnels.deals`. Each refusal
names the form field it is about, so the page shows it under that field.
"""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from multidict import MultiDictProxy

from core.errors import ValidationFailed
from core.storable import checked_text
from funnels.models import CustomField, Pipeline, StageKind

Form = MultiDictProxy[Any]


def text(form: Form, name: str) -> str:
    """A field's text, stripped; text no database can store is refused."""
    return str(checked_text(str(form.get(name, "")), path=(name,))).strip()


def number(form: Form, name: str) -> int | None:
    """An id from a select (``None`` when empty)."""
    raw = text(form, name)
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise ValidationFailed(f"{name} must be a number", field=name)
    return int(raw)


def amount(form: Form, name: str = "amount") -> Decimal | None:
    """Money as typed: ``1200``, ``1200.50``, ``1 200,50`` (a lone comma is the decimal
    mark); the services check range and places."""
    raw = text(form, name).replace(" ", "").replace("\u00a0", "")
    if not raw:
        return None
    if "," in raw and "." not in raw:
        raw = raw.replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValidationFailed("amount must be a number like 1200.50", field=name) from None
    if not value.is_finite():
        raise ValidationFailed("amount must be a number like 1200.50", field=name)
    return value


def day(form: Form, name: str) -> date | None:
    """A date input's ``2026-01-31``."""
    raw = text(form, name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed("give a date like 2026-01-31", field=name) from None


def moment(form: Form, name: str, zone: ZoneInfo) -> datetime:
    """A ``datetime-local`` input, read in the workspace's zone."""
    raw = text(form, name)
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed("give a date and time", field=name) from None
    return local.replace(tzinfo=zone) if local.tzinfo is None else local


def deal_fields(form: Form, custom_fields: list[CustomField]) -> dict[str, Any]:
    """Title, owner, money, dates, reference, custom fields and tags: the keywords
    :func:`funnels.deals.update_deal` and :func:`~funnels.deals.create_deal` share."""
    currency = text(form, "currency").upper()
    return {
        "title": text(form, "title"),
        "owner_id": number(form, "owner_id"),
        "amount": amount(form),
        "currency": currency or None,
        "close_date": day(form, "close_date"),
        "reference": text(form, "reference") or None,
        "fields": {f.id: text(form, f"fields.{f.id}") or None for f in custom_fields},
        "tag_ids": [int(v) for v in form.getall("tag_ids", []) if str(v).isdigit()],
    }


def placement(form: Form, pipelines: list[Pipeline]) -> dict[str, Any]:
    """The chosen pipeline, its stage and (only in a Lost stage) the lost reason."""
    pipeline_id = number(form, "pipeline_id")
    if pipeline_id is None:
        raise ValidationFailed("choose a pipeline", field="pipeline_id")
    stage_id = number(form, "stage_id")
    if stage_id is None:
        raise ValidationFailed("choose a stage", field="stage_id")
    pipeline = next((p for p in pipelines if p.id == pipeline_id), None)
    if pipeline is None:
        raise ValidationFailed(f"pipeline {pipeline_id} does not exist", field="pipeline_id")
    stage = next((s for s in pipeline.stages if s.id == stage_id), None)
    if stage is None:
        raise ValidationFailed(f"that stage is not a stage of {pipeline.name}", field="stage_id")
    lost = stage.kind == StageKind.LOST
    reason = number(form, "lost_reason_id") if lost else None
    return {"pipeline_id": pipeline_id, "stage_id": stage_id, "lost_reason_id": reason}


def submitted(form: Form) -> dict[str, Any]:
    """What was typed, to show again next to the error. Tags (the set of checked ids)
    only when the deal form itself was posted: unchecked boxes send nothing, so another
    form's post says nothing about them."""
    values: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "tag_ids"}
    if "title" in form:
        values["tag_ids"] = {int(v) for v in form.getall("tag_ids", []) if str(v).isdigit()}
    values["contact_ids"] = [int(v) for v in form.getall("contact_ids", []) if str(v).isdigit()]
    return values
