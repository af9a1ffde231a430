"""Request and response bodies of the channels, dialogs and messages API."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasPath, BaseModel, ConfigDict, Field, StringConstraints, computed_field

from inbox.models import Author, ChannelKind, DeliveryStatus, Direction
from web.omitted import omitted
from web.schemas import ContactOut, Id, Input, Name


class ChannelIn(Input):
    kind: ChannelKind
    name: Name
    credentials: dict[str, str] = Field(
        description="telegram: {token}. whatsapp: {access_token, app_secret, verify_token, "
        "phone_number_id, waba_id}. Stored encrypted, never returned."
    )
    pipeline_id: Id
    stage_id: Id
    owner_id: Id | None = None
    api_base_url: (
        Annotated[str, StringConstraints(pattern=r"^https?://", max_length=255)] | None
    ) = None
    settings: dict[str, Any] = Field(default_factory=dict, description="e.g. {greeting}")


class ChannelUpdate(Input):
    """Omitted fields stay as they are; none of them can be null."""

    name: Name = omitted()
    pipeline_id: Id = omitted()
    stage_id: Id = omitted()
    owner_id: Id = omitted()
    settings: dict[str, Any] = omitted()
    is_active: bool = omitted()


class ChannelOut(BaseModel):
    # One object for clients: the routing is read from the channel's deal_intake (funnels).
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: ChannelKind
    name: str
    external_id: str
    api_base_url: str
    pipeline_id: int = Field(validation_alias=AliasPath("deal_intake", "pipeline_id"))
    stage_id: int = Field(validation_alias=AliasPath("deal_intake", "stage_id"))
    owner_id: int = Field(validation_alias=AliasPath("deal_intake", "owner_id"))
    settings: dict[str, Any]
    is_active: bool

    @computed_field  # type: ignore[prop-decorator]
    @property
    def webhook_path(self) -> str:
        """Where the platform must deliver this channel's updates."""
        if self.kind == ChannelKind.TELEGRAM:
            return f"/webhooks/telegram/{self.id}"
        return "/webhooks/whatsapp"


class DialogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    channel_id: int
    contact: ContactOut
    chat_id: str
    last_inbound_at: datetime | None
    last_message_at: datetime | None


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    dialog_id: int
    direction: Direction
    author: Author
    author_user_id: int | None
    kind: str
    text: str
    payload: dict[str, Any]
    external_id: str | None
    status: DeliveryStatus
    error: str | None
    created_at: datetime
    edited_at: datetime | None


class ReplyIn(Input):
    text: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class TemplateIn(Input):
    """An approved WhatsApp template, allowed outside the 24-hour window."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,512}$")]
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")] = Field(
        description="The template's language code, e.g. en_US."
    )
    parameters: list[Annotated[str, StringConstraints(min_length=1, max_length=1024)]] = Field(
        default_factory=list, max_length=60, description="Values of the body's {{1}}, {{2}}..."
    )


class TemplateQuery(Input):
    refresh: bool = Field(default=False, description="Ask Meta again instead of the cache.")


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    language: str
    status: str = Field(description="Only APPROVED templates can be sent.")
    category: str
    components: list[dict[str, Any]]


class DialogQuery(Input):
    channel_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class MessageQuery(Input):
    before_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
