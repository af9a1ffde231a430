"""Request and response bodies of the Altegio connections API."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from funnels.models import BookingStatus
from web.omitted import omitted
from web.schemas import Currency, Id, Input, Name

Token = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Zone = Annotated[str, StringConstraints(min_length=1, max_length=64)]
BaseUrl = Annotated[str, StringConstraints(pattern=r"^https?://", max_length=255)]
CompanyId = Annotated[int, Field(ge=1, le=2**53)]


class AltegioConnectionIn(Input):
    company_id: CompanyId
    name: Name
    partner_token: Token = Field(description="Stored encrypted, never returned.")
    user_token: Token = Field(description="Stored encrypted, never returned.")
    timezone: Zone = Field(
        description="The company's IANA zone (e.g. Europe/Belgrade): Altegio's naive local "
        "record times are read in it."
    )
    currency: Currency = Field(description="ISO 4217 code of the services' costs.")
    api_base_url: BaseUrl | None = None
    owner_id: Id | None = Field(default=None, description="Owner of new deals (default: you).")
    enabled: bool = True


class AltegioConnectionUpdate(Input):
    """Omitted fields stay as they are; none of them can be null."""

    name: Name = omitted()
    partner_token: Token = omitted()
    user_token: Token = omitted()
    timezone: Zone = omitted()
    currency: Currency = omitted()
    api_base_url: BaseUrl = omitted()
    owner_id: Id = omitted()
    enabled: bool = omitted()


class AltegioConnectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    company_id: int
    name: str
    api_base_url: str
    timezone: str
    currency: str
    owner_id: int
    enabled: bool
    watermark: datetime | None
    last_sync_at: datetime | None
    last_sync: dict[str, Any]
    webhook_path: str = Field(
        default="",
        description="Where Altegio posts record events: append it to the public base URL. "
        "It carries the connection's secret: keep it private.",
    )


class AltegioMapping(Input):
    """Each booking status's stage (any pipeline's); a PUT may name only some."""

    pending: Id = omitted()
    confirmed: Id = omitted()
    arrived: Id = omitted()
    no_show: Id = omitted()
    cancelled: Id = omitted()

    def statuses(self) -> dict[BookingStatus, int]:
        return {BookingStatus(k): v for k, v in self.model_dump(exclude_unset=True).items()}


class AltegioHookQuery(Input):
    secret: Annotated[str, StringConstraints(max_length=200)] = Field(
        description="The connection's webhook secret (in its webhook_path)."
    )
