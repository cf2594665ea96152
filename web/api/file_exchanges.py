"""Reports from the firm's secure file exchange, with its integration key."""

from __future__ import annotations

from flask import g

from interactions.services import file_exchanges
from interactions.services.file_exchanges import ExchangedFile, ExchangeReport
from web.api import api
from web.api.schemas import FileExchangeIn, FileExchangeOut
from web.context import db


@api.operation(
    "POST",
    "/file-exchanges",
    summary="Log a sent secure file exchange as a non-editable interaction, once",
    tag="integrations",
    body=FileExchangeIn,
    response=FileExchangeOut,
    errors=(409,),
    integration=True,
)
def report_exchange(body: FileExchangeIn) -> FileExchangeOut:
    interaction, created = file_exchanges.record_exchange(
        db(),
        g.integration_firm,
        ExchangeReport(
            exchange_id=body.exchange_id.strip(),
            sender=body.sender.address,
            recipients=[(r.address, r.name) for r in body.recipients],
            files=[ExchangedFile(f.name, f.size) for f in body.files],
            sent_at=body.sent_at,
            expires_at=body.expires_at,
            plan_id=body.plan_id,
            subject=body.subject.strip(),
            raw=body.model_dump(mode="json"),
        ),
    )
    return FileExchangeOut(interaction_id=interaction.id, created=created)
