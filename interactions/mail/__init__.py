"""Turning a Graph message, an .eml or an Outlook .msg into one NormalizedMessage."""

from interactions.mail.graph import from_graph
from interactions.mail.html import html_to_text, sanitize_html
from interactions.mail.message import (
    Address,
    AttachmentInfo,
    NormalizedMessage,
    UnreadableMessage,
)
from interactions.mail.mime import from_mime
from interactions.mail.outlook import from_msg

__all__ = [
    "Address",
    "AttachmentInfo",
    "NormalizedMessage",
    "UnreadableMessage",
    "from_graph",
    "from_mime",
    "from_msg",
    "html_to_text",
    "sanitize_html",
]
