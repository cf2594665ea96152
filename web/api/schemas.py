"""The API's request and response bodies. The OpenAPI document is made from these."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from interactions.db import MAX_ID

#: An id as a request may name one: what the database's keys can hold.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Model(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class ErrorDetail(Model):
    code: str = Field(description="A stable code: not_found, forbidden, invalid...")
    message: str = Field(description="A sentence a person can act on.")
    field: str | None = Field(None, description="The field at fault, if one is.")


class Error(Model):
    error: ErrorDetail


class FirmOut(Model):
    id: int
    name: str
    tier: str
    has_salespitch: bool
    has_interactions: bool


class UserOut(Model):
    id: int
    name: str
    email: str


class Me(Model):
    user: UserOut
    firm: FirmOut
    rights: list[str]


class InteractionTypeOut(Model):
    id: int
    base_name: str
    display_name: str
    description: str
    is_active: bool
    is_system: bool
    roles: list[str]


class InteractionTypeList(Model):
    types: list[InteractionTypeOut]


class InteractionTypeQuery(Model):
    active: bool = Field(False, description="Only the active types, for pickers.")


class InteractionTypeIn(Model):
    base_name: str | None = None
    display_name: str | None = None
    description: str | None = None
    is_active: bool | None = None
    roles: list[str] | None = None


class RecordIn(Model):
    record_type: str = Field(
        description="plan, contact, opportunity, proposal, prospect"
    )
    record_id: Id


class ParticipantIn(Model):
    role: str
    contact_id: Id | None = None
    user_id: Id | None = None
    address: str | None = Field(None, max_length=320)
    display_name: str = Field("", max_length=300)


class ParticipantOut(Model):
    id: int
    role: str
    contact_id: int | None
    user_id: int | None
    address: str | None
    display_name: str


class LinkOut(Model):
    record_type: str
    record_id: int
    name: str


class InteractionIn(Model):
    type_id: Id | None = None
    title: str | None = None
    occurred_at: AwareDatetime | None = None
    duration_minutes: int | None = Field(None, ge=0, le=MAX_ID)
    body_text: str | None = Field(None, max_length=1_000_000)
    body_html: str | None = Field(None, max_length=5_000_000)
    links: list[RecordIn] = Field(default_factory=list, max_length=100)
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=1000)


class InteractionPatch(Model):
    type_id: Id | None = None
    title: str | None = None
    occurred_at: AwareDatetime | None = None
    duration_minutes: int | None = Field(None, ge=0, le=MAX_ID)
    body_text: str | None = Field(None, max_length=1_000_000)
    body_html: str | None = Field(None, max_length=5_000_000)


class InteractionOut(Model):
    id: int
    type: InteractionTypeOut
    title: str
    occurred_at: datetime
    duration_minutes: int | None
    body_text: str
    body_html: str
    source: str
    internet_message_id: str | None
    conversation_id: str | None
    attachments: list[dict[str, object]]
    is_editable: bool
    created_by_id: int | None
    created_at: datetime
    updated_by_id: int | None
    updated_at: datetime
    participants: list[ParticipantOut]
    links: list[LinkOut]


class GridQuery(Model):
    record: str = Field(
        description="The record whose tab to list, as type:id, e.g. plan:12.",
        pattern=r"^[a-z]+:\d+$",
    )
    show_for_last: str | None = Field(
        None, description="1m, 3m, 6m, 12m, 24m or all; 6m when not given."
    )
    limit: int = Field(50, ge=1, le=200)
    before: str | None = Field(None, description="next_cursor of the previous page.")
    search: str = Field(
        "", max_length=200, description="Only those whose title or body contains it."
    )


class GridParticipantOut(Model):
    role: str
    display_name: str
    contact_id: int | None
    address: str | None


class GridRowOut(Model):
    id: int
    occurred_at: datetime
    type_id: int
    type_name: str
    base_name: str
    title: str
    source: str
    created_by: str
    is_editable: bool
    participants: list[GridParticipantOut]
    links: list[LinkOut]


class GridPageOut(Model):
    record: str
    show_for_last: str
    interactions: list[GridRowOut]
    next_cursor: str | None


class LinkQuery(Model):
    record_type: str
    record_id: Id


class SearchQuery(Model):
    types: str = Field(description="Comma-separated record types, e.g. plan,prospect.")
    q: str = Field("", max_length=200)


class SearchResultOut(Model):
    record_type: str
    record_id: int
    name: str
    detail: str


class SearchResults(Model):
    results: list[SearchResultOut]


class MatchQuery(Model):
    email: list[str] = Field(min_length=1, max_length=500)


class ContactMatchOut(Model):
    contact_id: int
    name: str


class AddressMatch(Model):
    address: str
    contacts: list[ContactMatchOut]


class MatchResults(Model):
    matches: list[AddressMatch]


class CapturePerson(Model):
    address: str = Field(max_length=320)
    name: str = Field("", max_length=300)


class CaptureAttachment(Model):
    name: str = Field(max_length=500)
    content_type: str = Field("", max_length=200)
    size: int = Field(0, ge=0)
    is_inline: bool = False


class CaptureItem(Model):
    """The message as the pane read it from Office.js; what it leaves out is read
    from the mailbox by the worker."""

    model_config = ConfigDict(populate_by_name=True)

    rest_id: str | None = Field(None, max_length=1000)
    internet_message_id: str | None = Field(None, max_length=998)
    conversation_id: str | None = Field(None, max_length=500)
    #: Longer than a title holds, and cut to it with a note; never refused for its
    #: length, as a real message may have any subject (the request cap bounds it).
    subject: str = Field("", max_length=1_000_000)
    sender: CapturePerson | None = Field(None, alias="from")
    to: list[CapturePerson] = Field(default_factory=list, max_length=5000)
    cc: list[CapturePerson] = Field(default_factory=list, max_length=5000)
    sent_at: AwareDatetime | None = None
    body_html: str | None = Field(None, max_length=8_000_000)
    body_text: str | None = Field(None, max_length=4_000_000)
    attachments: list[CaptureAttachment] | None = Field(None, max_length=1000)


class CaptureIn(Model):
    item: CaptureItem
    source: Literal["outlook_addin", "file_import"] = Field(
        "outlook_addin",
        description="file_import for the item of a draft from POST /imports.",
    )
    type_id: Id | None = None
    title: str | None = None
    links: list[RecordIn] = Field(default_factory=list, max_length=100)
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=10_000)


class CaptureOut(Model):
    id: int
    status: str = Field(description="queued, processing, stored, duplicate or failed")
    reason: str
    interaction_id: int | None
    has_different_body: bool = Field(
        description="A duplicate whose message id was logged with another body"
    )
    attempts: int
    created_at: datetime
    updated_at: datetime


class CaptureLookupQuery(Model):
    internet_message_id: str = Field(min_length=1, max_length=998)


class CaptureLookup(Model):
    internet_message_id: str
    is_logged: bool
    interaction_id: int | None
    capture: CaptureOut | None


class ImportQuery(Model):
    record: str | None = Field(
        None,
        description="The record whose tab the file was dropped on, as type:id.",
        pattern=r"^[a-z]+:\d+$",
    )


class ImportedPersonOut(Model):
    role: str
    address: str
    display_name: str
    contact_id: int | None = Field(
        description="The contact, when exactly one has the address."
    )
    candidates: list[ContactMatchOut] = Field(
        description="Every contact with the address, to choose among."
    )


class ImportOut(Model):
    """A prefilled draft of the slider; nothing is stored until it is captured."""

    file_name: str
    type_id: int | None = Field(description="The firm's Email type.")
    title: str
    occurred_at: datetime | None
    is_logged: bool
    interaction_id: int | None = Field(description="Where it is logged already.")
    links: list[RecordIn]
    participants: list[ImportedPersonOut]
    attachments: list[CaptureAttachment]
    notes: list[str] = Field(
        description="What was odd in the file and how it was read."
    )
    item: dict[str, Any] = Field(
        description="The message; POST it to /captures as item, with source "
        "file_import, to log it."
    )


class ResendIn(Model):
    request_key: str | None = Field(
        None,
        max_length=100,
        description="Chosen by the caller per click: the same key again (a double "
        "click, a retried request) gives the same resend.",
    )


class ResendRecipientOut(Model):
    address: str
    name: str
    kind: str = Field(description="to or cc")


class ResendAttemptOut(Model):
    number: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    detail: str


class ResendOut(Model):
    id: int
    interaction_id: int | None
    status: str = Field(description="requested, sending, sent, unknown or failed")
    label: str = Field(description="The status as a person reads it.")
    is_final: bool
    reason: str
    subject: str
    recipients: list[ResendRecipientOut]
    requested_by: str
    attempts: list[ResendAttemptOut]
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None


class ResendHistory(Model):
    resends: list[ResendOut]


class ExchangePerson(Model):
    address: str = Field(max_length=320)
    name: str = Field("", max_length=300)


class ExchangedFileIn(Model):
    name: str = Field(min_length=1, max_length=500)
    size: int = Field(ge=0)


class FileExchangeIn(Model):
    """A sent exchange, as the firm's secure file exchange reports it."""

    exchange_id: str = Field(
        min_length=1,
        max_length=200,
        description="The exchange's own id: a report delivered again with it "
        "finds the interaction the first one made.",
    )
    sender: ExchangePerson = Field(description="The employee who sent the files.")
    recipients: list[ExchangePerson] = Field(min_length=1, max_length=1000)
    files: list[ExchangedFileIn] = Field(min_length=1, max_length=1000)
    sent_at: AwareDatetime
    expires_at: AwareDatetime | None = None
    plan_id: Id | None = None
    subject: str = Field("", max_length=500)


class FileExchangeOut(Model):
    interaction_id: int
    created: bool = Field(description="False when this report was delivered before.")


class ResendPreview(Model):
    """What a resend of the interaction would send, before anyone confirms it."""

    subject: str
    recipients: list[ResendRecipientOut]


class BlastRecipientOut(Model):
    id: int
    contact_id: int | None
    name: str
    address: str
    interaction_id: int | None
    resend_id: int | None = Field(description="The latest resend sending its message.")
    status: str | None = Field(
        description="Its resend's: requested, sending, sent, unknown or failed; "
        "null when its interaction was deleted."
    )
    label: str = Field(description="The status as a person reads it.")
    reason: str
    can_retry: bool


class BlastOut(Model):
    id: int
    subject: str
    sender_id: int
    created_at: datetime
    total: int
    sent: int
    failed: int
    waiting: int = Field(description="Recipients whose message is on its way.")
    is_finished: bool = Field(description="Every message sent or failed.")
    recipients: list[BlastRecipientOut]
