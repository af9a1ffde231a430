"""Request and response bodies of the JSON API (also the OpenAPI components)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from core.models import Role, User
from funnels.models import BookingStatus, Deal, FieldKind, Stage, StageKind
from funnels.queries import DealPage, DealSort, DealView, StageColumn
from web.omitted import omitted

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]


class Input(BaseModel):
    """Unknown keys are errors, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    """Responses are built from ORM rows."""

    model_config = ConfigDict(from_attributes=True)


# --- users and sessions ----------------------------------------------------------


class LoginIn(Input):
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class UserIn(Input):
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)]
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    role: Role
    password: Annotated[str, StringConstraints(min_length=8, max_length=1000)]


class UserOut(Output):
    id: int
    email: str
    name: str
    role: Role
    is_active: bool


class UserNameIn(Input):
    """A display name, shown wherever the user appears instead of the e-mail."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TokenIn(Input):
    """A new API token: what it is for, and optionally after how many days it stops."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    expires_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class TokensQuery(Input):
    """An owner sees everyone's tokens, or ``user_id``'s; anyone else only their own."""

    user_id: Id | None = None


class TokenOut(Output):
    """An API token as listed: never its secret, which only its creation shows."""

    id: int
    user_id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class NewTokenOut(TokenOut):
    """The created token with its credential: keep it now, it cannot be shown again."""

    token: str


class LinkCodeOut(BaseModel):
    """A code to send to the business's Telegram bot to get task notifications there."""

    code: str
    start_command: str
    expires_at: datetime


class StaffChatOut(BaseModel):
    linked: bool
    channel_id: int | None = None


class LoginOut(BaseModel):
    """The signed-in user. The session token travels only in the HttpOnly cookie, out of
    reach of any script in the page; API clients use ``funnelbox token`` instead."""

    user: UserOut


# --- pipelines and stages --------------------------------------------------------


class StageOut(Output):
    id: int
    pipeline_id: int
    name: str
    probability: int
    kind: StageKind
    position: int


class PipelineOut(Output):
    id: int
    name: str
    color: str
    position: int
    auto_messages_enabled: bool
    auto_tasks_enabled: bool
    stages: list[StageOut]

    @classmethod
    def of(cls, pipeline: Any, stages: list[Stage]) -> "PipelineOut":
        return cls(
            id=pipeline.id,
            name=pipeline.name,
            color=pipeline.color,
            position=pipeline.position,
            auto_messages_enabled=pipeline.auto_messages_enabled,
            auto_tasks_enabled=pipeline.auto_tasks_enabled,
            stages=[StageOut.model_validate(s) for s in stages],
        )


class PipelineCreate(Input):
    name: Name
    color: Color | None = None
    initial_stage: Name = "New"
    initial_probability: Annotated[int, Field(ge=0, le=100)] = 10


class PipelineUpdate(Input):
    """Omitted fields stay as they are; null is not a name or a colour."""

    name: Name = omitted()
    color: Color = omitted()
    auto_messages_enabled: bool = omitted()
    auto_tasks_enabled: bool = omitted()


class Order(Input):
    ids: list[Id]


class StageCreate(Input):
    name: Name
    probability: Annotated[int, Field(ge=0, le=100)]
    position: Annotated[int, Field(ge=0)] | None = None


class StageUpdate(Input):
    name: Name = omitted()
    probability: Annotated[int, Field(ge=0, le=100)] = omitted()


# --- contacts --------------------------------------------------------------------


class ContactIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None


class ContactUpdate(Input):
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None


class ContactOut(Output):
    id: int
    name: str
    phone: str | None
    email: str | None
    created_at: datetime


class ContactQuery(Input):
    search: Annotated[str, StringConstraints(max_length=100)] | None = None
    after_id: Annotated[int, Field(ge=0)] = 0
    limit: Annotated[int, Field(ge=1, le=200)] = 50


# --- deals -----------------------------------------------------------------------


class DealCreate(Input):
    contact_ids: Annotated[list[Id], Field(min_length=1, max_length=50)]
    pipeline_id: Id
    stage_id: Id | None = None
    owner_id: Id | None = None
    title: Annotated[str, StringConstraints(max_length=255)] | None = None
    amount: Money | None = None
    currency: Currency | None = None
    close_date: date | None = None
    reference: Annotated[str, StringConstraints(max_length=255)] | None = None
    lost_reason_id: Id | None = None
    fields: dict[int, str | None] = Field(
        default_factory=dict, description="Custom field id to text, or ISO date for date fields."
    )
    tag_ids: list[Id] = Field(default_factory=list)


class DealUpdate(Input):
    title: Annotated[str, StringConstraints(max_length=255)] | None = None
    amount: Money | None = None
    currency: Currency | None = None
    close_date: date | None = None
    reference: Annotated[str, StringConstraints(max_length=255)] | None = None
    owner_id: Id | None = None
    fields: dict[int, str | None] | None = None
    tag_ids: list[Id] | None = None


class DealMove(Input):
    stage_id: Id
    lost_reason_id: Id | None = None


class ContactLink(Input):
    contact_id: Id


class BulkDelete(Input):
    ids: Annotated[list[Id], Field(min_length=1, max_length=1000)]


class DealQuery(Input):
    title: Annotated[str, StringConstraints(max_length=100)] | None = None
    pipeline_id: Id | None = None
    stage_id: Id | None = None
    owner_id: Id | None = None
    reference: Annotated[str, StringConstraints(max_length=255)] | None = None
    created_from: date | None = None
    created_to: date | None = None
    close_from: date | None = None
    close_to: date | None = None
    tag_id: Id | None = None
    sort: DealSort = DealSort.CREATED_AT
    order: Annotated[str, StringConstraints(pattern=r"^(asc|desc)$")] = "asc"
    cursor: Annotated[str, StringConstraints(max_length=500)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class BoardQuery(Input):
    cards: Annotated[int, Field(ge=0, le=200)] = 20


class Person(Output):
    id: int
    name: str
    email: str


class Ref(Output):
    id: int
    name: str


class DealOut(BaseModel):
    id: int
    title: str
    pipeline_id: int
    stage: Ref
    owner: Person
    amount: Decimal | None
    currency: str | None
    close_date: date | None
    reference: str | None
    lost_reason_id: int | None
    contacts: list[ContactOut]
    created_at: datetime
    updated_at: datetime
    stage_changed_at: datetime

    @classmethod
    def of(cls, deal: Deal) -> "DealOut":
        """Needs ``stage``, ``owner`` loaded and ``contact_list`` attached."""
        return cls(
            id=deal.id,
            title=deal.title,
            pipeline_id=deal.pipeline_id,
            stage=Ref.model_validate(deal.stage),
            owner=Person.model_validate(deal.owner),
            amount=deal.amount,
            currency=deal.currency,
            close_date=deal.close_date,
            reference=deal.reference,
            lost_reason_id=deal.lost_reason_id,
            contacts=[ContactOut.model_validate(c) for c in deal.contact_list],
            created_at=deal.created_at,
            updated_at=deal.updated_at,
            stage_changed_at=deal.stage_changed_at,
        )


class TagOut(Output):
    id: int
    name: str
    color: str


class FieldValueOut(BaseModel):
    field_id: int
    name: str
    kind: FieldKind
    value: str | date


class DealDetail(DealOut):
    tags: list[TagOut]
    fields: list[FieldValueOut]

    @classmethod
    def of_detail(cls, view: DealView) -> "DealDetail":
        return cls(
            **DealOut.of(view.deal).model_dump(),
            tags=[TagOut.model_validate(t) for t in view.tags],
            fields=[
                FieldValueOut(
                    field_id=v.field.id,
                    name=v.field.name,
                    kind=v.field.kind,
                    value=v.value,
                )
                for v in view.values
            ],
        )


class DealPageOut(BaseModel):
    items: list[DealOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: DealPage) -> "DealPageOut":
        return cls(items=[DealOut.of(d) for d in page.items], next_cursor=page.next_cursor)


class EventOut(Output):
    id: int
    kind: str
    actor_id: int | None
    data: dict[str, Any]
    created_at: datetime


class CurrencyTotalOut(Output):
    currency: str
    amount: Decimal
    weighted: Decimal


class ColumnOut(BaseModel):
    stage: StageOut
    count: int
    totals: list[CurrencyTotalOut]
    deals: list[DealOut]
    next_cursor: str | None

    @classmethod
    def of(cls, column: StageColumn) -> "ColumnOut":
        return cls(
            stage=StageOut.model_validate(column.stage),
            count=column.count,
            totals=[CurrencyTotalOut.model_validate(t) for t in column.totals],
            deals=[DealOut.of(d) for d in column.deals],
            next_cursor=column.next_cursor,
        )


class BoardOut(BaseModel):
    pipeline_id: int
    columns: list[ColumnOut]


class ContactDealsOut(BaseModel):
    open: list[DealOut]
    closed: list[DealOut]


class BookingService(BaseModel):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    cost: Money | None = None


class BookingIn(Input):
    """The appointment behind a deal; ``starts_at`` carries its UTC offset."""

    status: BookingStatus
    starts_at: datetime
    duration_minutes: Annotated[int, Field(ge=1, le=60 * 24 * 7)] = 60
    timezone: Annotated[str, StringConstraints(max_length=64)] = Field(
        default="UTC", description="IANA zone the date and time are shown in."
    )
    services: list[BookingService] = Field(default_factory=list, max_length=50)
    staff: Annotated[str, StringConstraints(max_length=200)] = ""


class BookingOut(Output):
    status: BookingStatus
    starts_at: datetime
    duration_minutes: int
    timezone: str
    services: list[dict[str, Any]]
    staff: str
    source: str
    external_id: str | None
    updated_at: datetime


# --- settings: custom fields, tags, lost reasons ----------------------------------


class CustomFieldIn(Input):
    name: Name
    kind: FieldKind


class CustomFieldUpdate(Input):
    name: Name


class CustomFieldOut(Output):
    id: int
    name: str
    kind: FieldKind
    position: int


class TagIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    color: Color | None = None


class TagUpdate(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = (
        omitted()
    )
    color: Color = omitted()


class LostReasonIn(Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class LostReasonOut(Output):
    id: int
    name: str
    position: int


class HealthOut(BaseModel):
    status: str
    database: str
    redis: str | None
    workers: dict[str, int] = Field(
        default_factory=dict,
        description="The background workers running in this process, each with the rounds"
        " it has completed (a round handles everything due): a growing count is a live worker.",
    )
    parked: dict[str, int] = Field(
        default_factory=dict,
        description="Parked items of each kind (delivery, event, send, conversion), waiting"
        " for a person: GET /api/v1/parked lists them.",
    )


ParkedKind = Literal["delivery", "event", "send", "conversion"]


class ParkedQuery(Input):
    kind: ParkedKind | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class ParkedOut(Output):
    ref: str = Field(description="The item's name for retrying it: <kind>:<id>.")
    kind: ParkedKind
    id: int
    error: str | None = Field(description="Why it was parked.")
    attempts: int
    parked_at: datetime | None
    detail: dict[str, Any] = Field(description="What the item carries (a delivery's payload).")


ParkedRef = Annotated[str, StringConstraints(max_length=64)]


class ParkedRetryIn(Input):
    ids: Annotated[list[ParkedRef], Field(max_length=1000)] | None = Field(
        default=None, description='Items to retry, e.g. ["delivery:12", "send:3"].'
    )
    all: bool = Field(default=False, description="Retry every parked item.")

    @model_validator(mode="after")
    def _one_of(self) -> "ParkedRetryIn":
        if (self.ids is None) == (not self.all):
            raise ValueError("give either ids or all: true")
        return self


class ParkedRetriedOut(BaseModel):
    retried: list[str]


def user_out(user: User) -> UserOut:
    """Users never leave the API with their password hash."""
    return UserOut.model_validate(user)
