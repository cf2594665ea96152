"""Drag-and-drop import: an .eml or .msg file becomes a prefilled draft."""

from __future__ import annotations

from werkzeug.datastructures import FileStorage

from interactions.services import imports, records
from interactions.services.imports import ImportDraft
from interactions.services.records import RecordRef
from web.api import api
from web.api.schemas import (
    CaptureAttachment,
    ContactMatchOut,
    ImportedPersonOut,
    ImportOut,
    ImportQuery,
    RecordIn,
)
from web.context import actor, db


@api.operation(
    "POST",
    "/imports",
    summary="Read a dropped email file into a draft for the slider; stores nothing",
    tag="captures",
    query=ImportQuery,
    upload="file",
    response=ImportOut,
    errors=(403, 404),
    browser=True,
)
def read_import(query: ImportQuery, upload: FileStorage) -> ImportOut:
    links = (
        [records.parse_link(db(), actor(), query.record, "record")]
        if query.record
        else []
    )
    draft = imports.read_file(db(), actor(), upload.filename or "", upload.read())
    return import_out(draft, links)


def import_out(draft: ImportDraft, links: list[RecordRef]) -> ImportOut:
    message = draft.message
    return ImportOut(
        file_name=draft.file_name,
        type_id=draft.email_type.id if draft.email_type else None,
        title=message.subject,
        occurred_at=message.sent_at,
        is_logged=draft.logged_interaction_id is not None,
        interaction_id=draft.logged_interaction_id,
        links=[
            RecordIn(record_type=r.record_type.value, record_id=r.record_id)
            for r in links
        ],
        participants=[
            ImportedPersonOut(
                role=person.role,
                address=person.address,
                display_name=person.display_name,
                contact_id=person.as_participant().contact_id,
                candidates=[
                    ContactMatchOut.model_validate(c) for c in person.candidates
                ],
            )
            for person in draft.people
        ],
        attachments=[
            CaptureAttachment.model_validate(vars(a)) for a in message.attachments
        ],
        notes=message.defects,
        item=draft.item,
    )
