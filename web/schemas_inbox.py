"""Request and response bodies of the channels, dialogs and messages API."""

from datetime import datetime
from typing import Annotated, Any

from aiohttp.web import FileField
from pydantic import (
    AliasPath,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    computed_field,
)

from inbox.attachments import CAPTION_MAX
from inbox.dialog_list import Shown
from inbox.models import Author, ChannelKind, DeliveryStatus, Direction
from inbox.unread import TOTAL_CAP
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
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="e.g. {greeting}. {round_robin: true} gives each new dialog to the next "
        "active operator in turn.",
    )


class ChannelUpdate(Input):
    """Omitted fields stay as they are; none of them can be null."""

    name: Name = omitted()
    pipeline_id: Id = omitted()
    stage_id: Id = omitted()
    owner_id: Id = omitted()
    settings: dict[str, Any] = omitted()
    is_active: bool = omitted()


class DestroyChannel(Input):
    confirm: str = Field(max_length=200, description="The channel's name, typed again.")


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
    assignee_id: int | None = Field(description="The operator who answers it, or null.")
    last_inbound_at: datetime | None
    last_message_at: datetime | None
    unread: int = Field(default=0, description="The caller's unread customer messages.")


class AssignIn(Input):
    user_id: Id | None = Field(description="Who answers the dialog; null unassigns it.")


class UnreadOut(BaseModel):
    total: int = Field(
        description=f"The caller's unread customer messages, counted up to {TOTAL_CAP}."
    )


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
    q: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="Part of the contact's name or phone, or of a message."
    )
    cursor: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="The previous page's next_cursor."
    )
    shown: Shown = Field(
        default=Shown.ALL, alias="filter", description="mine: the caller's dialogs."
    )
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class DialogPageOut(BaseModel):
    items: list[DialogOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null: last.")


class MessageQuery(Input):
    before_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class NoteIn(Input):
    text: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


Shortcut = Annotated[
    str,
    StringConstraints(max_length=32),
    Field(description="What follows / in the reply box: lower-case letters, digits, - and _."),
]
CannedText = Annotated[
    str,
    StringConstraints(max_length=4000),
    Field(description="A template with the fields auto-messages have, e.g. {{ contact.name }}."),
]


class CannedReplyIn(Input):
    shortcut: Shortcut
    title: Annotated[str, StringConstraints(max_length=100)]
    text: CannedText


class CannedReplyUpdate(Input):
    """Omitted fields stay as they are; none of them can be null."""

    shortcut: Shortcut = omitted()
    title: Annotated[str, StringConstraints(max_length=100)] = omitted()
    text: CannedText = omitted()


class CannedReplyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    shortcut: str
    title: str
    text: str
    created_at: datetime


class RenderedOut(BaseModel):
    text: str = Field(description="The canned reply filled for this dialog; nothing was sent.")


class MediaForm(Input):
    """A photo or document for the customer, as ``multipart/form-data``."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    file: Annotated[
        FileField,
        WithJsonSchema({"type": "string", "format": "binary"}),
        Field(
            description="The file, with its name and Content-Type. Telegram: photos (JPEG, "
            "PNG, WebP) up to 10 MB, any document up to 50 MB. WhatsApp: JPEG or PNG photos "
            "up to 5 MB, PDF, text, Word, Excel or PowerPoint documents up to 100 MB."
        ),
    ]
    caption: Annotated[str, StringConstraints(max_length=CAPTION_MAX)] = ""
