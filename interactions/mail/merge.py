"""Merge fields: ``{{contact.first_name}}`` in a Blast Email template, filled in per
recipient.

A template is the firm's own text, not code: the only thing it can do is name a
field below, written between double braces (spaces inside are allowed). Values are
inserted as text: HTML-escaped into an HTML body (which is then sanitized like any
stored message), and with line breaks removed in a subject, so that a contact's
name can never add markup or a header.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from html import escape

from interactions.errors import Invalid
from interactions.mail.html import sanitize_html

#: Every merge field, with what it is filled with.
FIELDS: dict[str, str] = {
    "contact.first_name": "the contact's first name",
    "contact.last_name": "the contact's last name",
    "contact.name": "the contact's full name",
    "plan.name": "the plan's name",
    "client.name": "the client's name",
    "sender.name": "your name, as the sender",
}

_FIELD = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def known_fields() -> str:
    return ", ".join(f"{{{{{name}}}}}" for name in FIELDS)


def fields_in(text: str) -> list[str]:
    """The merge fields a text names, each once, in order."""
    return list(dict.fromkeys(match.group(1) for match in _FIELD.finditer(text)))


def check(text: str, field: str) -> None:
    """Refuse a text naming an unknown field, or with braces left open."""
    for name in fields_in(text):
        if name not in FIELDS:
            raise Invalid(
                f"{{{{{name}}}}} is not a merge field; use one of: {known_fields()}.",
                field,
            )

    rest = _FIELD.sub("", text)
    if "{{" in rest or "}}" in rest:
        raise Invalid(
            "A merge field is not closed: write it as {{contact.first_name}}.", field
        )


def fill_subject(text: str, values: Mapping[str, str]) -> str:
    """A subject with its fields filled in: one line of plain text."""
    return " ".join(_fill(text, values, str).split())


def fill_body(body: str, is_html: bool, values: Mapping[str, str]) -> str:
    """A body with its fields filled in, as sanitized HTML.

    One pass: a value that looks like a merge field stays as it is.
    """
    if is_html:
        return sanitize_html(_fill(body, values, escape))

    return text_to_html(_fill(body, values, str))


def _fill(text: str, values: Mapping[str, str], quote: Callable[[str], str]) -> str:
    return _FIELD.sub(lambda match: quote(values.get(match.group(1), "")), text)


def text_to_html(text: str) -> str:
    """A plain text body as HTML: escaped, a paragraph per blank-line block."""
    blocks = [block for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]
    return "".join(
        "<p>" + "<br>".join(escape(line) for line in block.splitlines()) + "</p>"
        for block in blocks
    )
