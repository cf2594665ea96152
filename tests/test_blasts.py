"""Blast Email: templates and their merge fields, choosing recipients, the preview,
the send through the resend pipeline, its progress and retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from interactions.demo import BLAST_TEMPLATES
from interactions.errors import Conflict, Forbidden, Invalid, NotFound
from interactions.mail import merge
from interactions.models import (
    AuditEvent,
    BlastTemplate,
    Client,
    Contact,
    Interaction,
    InteractionType,
    Plan,
    RecordType,
    Resend,
    ResendStatus,
    Source,
)
from interactions.queue import QUEUE, RecordingQueue
from interactions.services import blast_progress, blast_recipients, blasts, resends
from interactions.services.blast_recipients import Audience, Selection
from interactions.services.blast_templates import (
    TemplateFields,
    create_template,
    update_template,
)
from tests.conftest import Factory, World

GREETING = TemplateFields(
    name="Census reminder",
    subject="{{plan.name}}: census due",
    body="Dear {{contact.first_name}},\n\nPlease send the census.\n{{sender.name}}",
)


@dataclass
class Audiences:
    client: Client
    plan: Plan
    other_plan: Plan
    dana: Contact
    marcus: Contact
    no_address: Contact
    trustee: Contact


@pytest.fixture
def crm(make: Factory) -> Audiences:
    client = make.client("Northwind Traders")
    plan = make.plan(client, "Northwind 401(k) Plan")
    other_plan = make.plan(client, "Northwind Cash Balance Plan")
    dana = make.contact(
        "Rivera",
        "Dana",
        emails=("dana@northwind.test", "dana.home@example.test"),
        plan=plan,
    )
    marcus = make.contact(
        "Chen", "Marcus", emails=("marcus@northwind.test",), plan=plan
    )
    no_address = make.contact("Okafor", "Lee", plan=plan)
    trustee = make.contact("Bell", "Ann", emails=("ann@northwind.test",), client=client)
    return Audiences(client, plan, other_plan, dana, marcus, no_address, trustee)


@pytest.fixture
def template(db: Session, world: World) -> BlastTemplate:
    return create_template(db, world.actors["admin"], GREETING)


def by_plan(plan: Plan) -> Selection:
    return Selection(Audience.PLAN, plan_id=plan.id)


# -- templates -------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["subject", "body"])
def test_an_unknown_merge_field_is_refused_with_the_known_ones(
    db: Session, world: World, where: str
) -> None:
    values = {"name": "T", "subject": "Hello", "body": "Hi"}
    values[where] += " {{contact.nickname}}"

    with pytest.raises(Invalid) as refused:
        create_template(db, world.actors["admin"], TemplateFields(**values))

    assert refused.value.field == where
    assert "{{contact.nickname}} is not a merge field" in refused.value.message
    assert "{{contact.first_name}}" in refused.value.message
    assert "{{plan.name}}" in refused.value.message


def test_a_merge_field_left_open_is_refused(db: Session, world: World) -> None:
    fields = TemplateFields("T", "Hello", "Dear {{contact.first_name")

    with pytest.raises(Invalid, match="not closed"):
        create_template(db, world.actors["admin"], fields)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (TemplateFields(" ", "Subject", "Body"), "Name is required."),
        (TemplateFields("T", " ", "Body"), "Subject is required."),
        (TemplateFields("T", "Subject", "\n"), "Body is required."),
    ],
)
def test_a_template_needs_a_name_a_subject_and_a_body(
    db: Session, world: World, fields: TemplateFields, says: str
) -> None:
    with pytest.raises(Invalid, match=says):
        create_template(db, world.actors["admin"], fields)


def test_a_template_name_is_unique_in_the_firm(
    db: Session, world: World, template: BlastTemplate
) -> None:
    again = TemplateFields("census REMINDER", "Other", "Other")

    with pytest.raises(Conflict, match="already called"):
        create_template(db, world.actors["admin"], again)
    elsewhere = create_template(db, world.actors["other"], again)
    assert elsewhere.firm_id != template.firm_id


def test_editing_a_template_keeps_its_own_name_and_is_audited(
    db: Session, world: World, template: BlastTemplate
) -> None:
    fields = TemplateFields(GREETING.name, "New subject", "New body", is_active=False)

    update_template(db, world.actors["admin"], template.id, fields)

    assert (template.subject, template.is_active) == ("New subject", False)
    actions = db.scalars(
        select(AuditEvent.action).where(AuditEvent.record_type == "blast_template")
    ).all()
    assert actions == ["create", "update"]


def test_writing_templates_needs_maintain_list_values(
    db: Session, world: World
) -> None:
    with pytest.raises(Forbidden, match="Maintain List Values"):
        create_template(db, world.actors["editor"], GREETING)


def test_another_firms_template_is_not_found(
    db: Session, world: World, template: BlastTemplate
) -> None:
    with pytest.raises(NotFound):
        update_template(db, world.actors["other"], template.id, GREETING)


# -- rendering -------------------------------------------------------------------------


VALUES = {"contact.first_name": "<b>Dana</b> & co", "sender.name": "{{plan.name}}"}


def test_values_are_escaped_into_an_html_body_and_never_expanded_again() -> None:
    body = merge.fill_body(
        "<p>Dear {{contact.first_name}}, {{sender.name}}</p>", True, VALUES
    )

    assert body == "<p>Dear &lt;b&gt;Dana&lt;/b&gt; &amp; co, {{plan.name}}</p>"


def test_an_html_body_is_sanitized_like_any_stored_message() -> None:
    body = merge.fill_body('<p onclick="x()">Hi</p><script>alert(1)</script>', True, {})

    assert body == "<p>Hi</p>"


def test_a_text_body_keeps_its_lines_and_escapes_everything() -> None:
    body = merge.fill_body(
        "Dear {{contact.first_name}},\n\n<Thanks>\nAcme", False, VALUES
    )

    assert body == (
        "<p>Dear &lt;b&gt;Dana&lt;/b&gt; &amp; co,</p><p>&lt;Thanks&gt;<br>Acme</p>"
    )


def test_a_subject_stays_one_line() -> None:
    subject = merge.fill_subject(
        "Hi {{contact.name}}", {"contact.name": "Dana\r\nBcc: x"}
    )

    assert subject == "Hi Dana Bcc: x"


# -- recipients ------------------------------------------------------------------------


def test_a_plans_contacts_each_once_with_their_first_address(
    db: Session, world: World, crm: Audiences
) -> None:
    found = blast_recipients.select_recipients(
        db, world.actors["admin"], by_plan(crm.plan)
    )

    assert [(c.contact.name, c.address) for c in found.chosen] == [
        ("Marcus Chen", "marcus@northwind.test"),
        ("Dana Rivera", "dana@northwind.test"),
    ]
    assert [(s.contact.name, s.reason) for s in found.skipped] == [
        ("Lee Okafor", "No email address.")
    ]
    assert found.source_name == "Northwind 401(k) Plan"


def test_a_clients_contacts_are_those_at_the_client_and_at_its_plans(
    db: Session, world: World, crm: Audiences
) -> None:
    selection = Selection(Audience.CLIENT, client_id=crm.client.id)

    found = blast_recipients.select_recipients(db, world.actors["admin"], selection)

    assert [
        (c.contact.name, c.plan.name if c.plan else None) for c in found.chosen
    ] == [
        ("Ann Bell", None),
        ("Marcus Chen", "Northwind 401(k) Plan"),
        ("Dana Rivera", "Northwind 401(k) Plan"),
    ]
    assert {c.client.id for c in found.chosen if c.client} == {crm.client.id}


def test_contacts_chosen_by_hand_come_once_and_may_lack_a_plan(
    db: Session, world: World, crm: Audiences
) -> None:
    ids = (crm.dana.id, crm.trustee.id, crm.dana.id)
    selection = Selection(Audience.HAND, contact_ids=ids)

    found = blast_recipients.select_recipients(db, world.actors["admin"], selection)

    assert [c.contact.id for c in found.chosen] == [crm.dana.id, crm.trustee.id]
    assert all(c.plan is None for c in found.chosen)


def test_a_template_naming_the_plan_skips_contacts_without_one(
    db: Session, world: World, crm: Audiences, template: BlastTemplate
) -> None:
    selection = Selection(Audience.HAND, contact_ids=(crm.trustee.id,))

    found = blast_recipients.select_recipients(
        db, world.actors["admin"], selection, template
    )

    assert found.chosen == []
    assert [s.reason for s in found.skipped] == ["No plan to fill in {{plan.name}}."]


@pytest.mark.parametrize(
    "selection",
    [
        Selection(Audience.PLAN),
        Selection(Audience.CLIENT),
        Selection(Audience.HAND),
    ],
)
def test_a_selection_must_name_its_plan_client_or_contacts(
    db: Session, world: World, selection: Selection
) -> None:
    with pytest.raises(Invalid, match="Choose"):
        blast_recipients.select_recipients(db, world.actors["admin"], selection)


def test_another_firms_plan_and_contacts_are_not_found(
    db: Session, world: World, crm: Audiences
) -> None:
    other = world.actors["other"]

    with pytest.raises(NotFound):
        blast_recipients.select_recipients(db, other, by_plan(crm.plan))
    with pytest.raises(NotFound):
        blast_recipients.select_recipients(
            db, other, Selection(Audience.HAND, contact_ids=(crm.dana.id,))
        )


def test_the_preview_renders_the_first_recipients_messages(
    db: Session, world: World, crm: Audiences, template: BlastTemplate
) -> None:
    shown = blasts.preview(db, world.actors["admin"], template.id, by_plan(crm.plan))

    first = shown.samples[0]
    assert first.subject == "Northwind 401(k) Plan: census due"
    assert first.body_html == (
        "<p>Dear Marcus,</p><p>Please send the census.<br>Admin</p>"
    )
    assert len(shown.samples) == 2


def test_an_inactive_template_cannot_be_sent(
    db: Session, world: World, crm: Audiences, template: BlastTemplate
) -> None:
    template.is_active = False

    with pytest.raises(Invalid, match="inactive"):
        blasts.preview(db, world.actors["admin"], template.id, by_plan(crm.plan))


# -- sending ---------------------------------------------------------------------------


def test_each_recipient_gets_a_read_only_interaction_sent_by_a_resend(
    db: Session,
    world: World,
    crm: Audiences,
    template: BlastTemplate,
    queue: RecordingQueue,
) -> None:
    db.info[QUEUE] = queue
    admin = world.actors["admin"]

    blast = blasts.send_blast(db, admin, template.id, by_plan(crm.plan), "k1")

    assert [r.address for r in blast.recipients] == [
        "marcus@northwind.test",
        "dana@northwind.test",
    ]
    dana = blast.recipients[1]
    interaction = db.get_one(Interaction, dana.interaction_id)
    assert interaction.source is Source.BLAST_EMAIL
    assert interaction.type.base_name.value == "Blast Email"
    assert not interaction.is_editable
    assert interaction.title == "Northwind 401(k) Plan: census due"
    assert "Dear Dana," in interaction.body_html
    assert "Dear Dana," in interaction.body_text
    assert {(link.record_type, link.record_id) for link in interaction.links} == {
        (RecordType.CONTACT, crm.dana.id),
        (RecordType.PLAN, crm.plan.id),
    }
    people = [
        (p.role, p.user_id, p.contact_id, p.address) for p in interaction.participants
    ]
    assert people == [
        ("From", admin.user_id, None, None),
        ("To", None, crm.dana.id, "dana@northwind.test"),
    ]
    resend = db.get_one(Resend, dana.resend_id)
    assert resend.request_key == f"blast-{blast.id}-{dana.id}"
    assert resend.recipients == [
        {"address": "dana@northwind.test", "name": "Dana Rivera", "kind": "to"}
    ]
    assert queue.sent == []
    db.commit()
    assert queue.sent == [
        (resends.RESEND_TASK, (r.resend_id,)) for r in blast.recipients
    ]


def test_sending_is_audited_once_for_the_blast(
    db: Session, world: World, crm: Audiences, template: BlastTemplate
) -> None:
    blast = blasts.send_blast(db, world.actors["admin"], template.id, by_plan(crm.plan))

    event = db.scalars(
        select(AuditEvent).where(AuditEvent.record_type == "blast")
    ).one()
    assert (event.action, event.record_id) == ("send", blast.id)
    assert event.details["recipients"] == 2


def test_a_double_click_on_send_makes_one_blast(
    db: Session, world: World, crm: Audiences, template: BlastTemplate
) -> None:
    admin = world.actors["admin"]

    first = blasts.send_blast(db, admin, template.id, by_plan(crm.plan), "click")
    again = blasts.send_blast(db, admin, template.id, by_plan(crm.plan), "click")

    assert first.id == again.id
    assert len(db.scalars(select(Resend)).all()) == 2


def test_a_blast_to_nobody_reachable_is_refused(
    db: Session, world: World, crm: Audiences, template: BlastTemplate
) -> None:
    selection = Selection(Audience.HAND, contact_ids=(crm.no_address.id,))

    with pytest.raises(Conflict, match="None of the chosen contacts"):
        blasts.send_blast(db, world.actors["admin"], template.id, selection)


def test_a_firm_without_an_active_blast_email_type_cannot_send(
    db: Session, world: World, crm: Audiences, template: BlastTemplate
) -> None:
    for found in db.scalars(
        select(InteractionType).where(
            InteractionType.firm_id == template.firm_id,
            InteractionType.display_name == "Blast Email",
        )
    ):
        found.is_active = False

    with pytest.raises(Conflict, match="no active Blast Email interaction type"):
        blasts.send_blast(db, world.actors["admin"], template.id, by_plan(crm.plan))


def test_sending_needs_add_edit_interaction(
    db: Session, world: World, crm: Audiences, template: BlastTemplate
) -> None:
    with pytest.raises(Forbidden, match="Add/Edit Interaction"):
        blasts.send_blast(db, world.actors["reader"], template.id, by_plan(crm.plan))


# -- progress and retries --------------------------------------------------------------


def finish(db: Session, recipient: Any, status: ResendStatus, reason: str = "") -> None:
    """What the worker does to a recipient's resend, in the end."""
    resend = db.get_one(Resend, recipient.resend_id)
    resend.status = status
    resend.reason = reason
    db.flush()


@pytest.fixture
def sent(db: Session, world: World, crm: Audiences, template: BlastTemplate) -> Any:
    return blasts.send_blast(db, world.actors["admin"], template.id, by_plan(crm.plan))


def test_progress_counts_sent_failed_and_on_their_way(
    db: Session, world: World, sent: Any
) -> None:
    admin = world.actors["admin"]
    before = blast_progress.progress(db, admin, sent.id)
    assert (before.total, before.sent, before.failed, before.waiting) == (2, 0, 0, 2)
    assert not before.is_finished

    finish(db, sent.recipients[0], ResendStatus.SENT)
    finish(db, sent.recipients[1], ResendStatus.FAILED, "Mailbox not found.")
    after = blast_progress.progress(db, admin, sent.id)

    assert (after.sent, after.failed, after.waiting, after.is_finished) == (
        1,
        1,
        0,
        True,
    )
    failed = after.recipients[1]
    assert (failed.label, failed.reason, failed.can_retry) == (
        "Failed",
        "Mailbox not found.",
        True,
    )


def test_a_failed_recipient_is_retried_with_a_new_resend_of_its_interaction(
    db: Session, world: World, sent: Any
) -> None:
    admin = world.actors["admin"]
    recipient = sent.recipients[1]
    first = recipient.resend_id
    finish(db, recipient, ResendStatus.FAILED, "Mailbox not found.")

    retry = blast_progress.retry_recipient(db, admin, sent.id, recipient.id)
    again = blast_progress.retry_recipient(db, admin, sent.id, recipient.id)

    assert retry.id == again.id != first
    assert retry.interaction_id == recipient.interaction_id
    assert recipient.resend_id == retry.id
    assert blast_progress.progress(db, admin, sent.id).waiting == 2
    assert db.scalars(
        select(AuditEvent.action).where(AuditEvent.action == "retry")
    ).all() == ["retry"]


def test_a_sent_recipient_has_nothing_to_retry(
    db: Session, world: World, sent: Any
) -> None:
    finish(db, sent.recipients[0], ResendStatus.SENT)

    with pytest.raises(Conflict, match="nothing to retry"):
        blast_progress.retry_recipient(
            db, world.actors["admin"], sent.id, sent.recipients[0].id
        )


def test_only_the_sender_retries(db: Session, world: World, sent: Any) -> None:
    finish(db, sent.recipients[0], ResendStatus.FAILED)

    with pytest.raises(Conflict, match="Only the person who sent"):
        blast_progress.retry_recipient(
            db, world.actors["editor"], sent.id, sent.recipients[0].id
        )


def test_another_firms_blast_is_not_found(db: Session, world: World, sent: Any) -> None:
    with pytest.raises(NotFound):
        blast_progress.progress(db, world.actors["other"], sent.id)
    with pytest.raises(NotFound):
        blast_progress.retry_recipient(
            db, world.actors["other"], sent.id, sent.recipients[0].id
        )


@pytest.mark.parametrize(("name", "subject", "body"), BLAST_TEMPLATES)
def test_the_demo_templates_name_only_known_fields(
    name: str, subject: str, body: str
) -> None:
    merge.check(subject, "subject")
    merge.check(body, "body")
